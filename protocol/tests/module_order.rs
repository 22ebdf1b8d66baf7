//! The crate's modules form the floors listed in `lib.rs`'s doc (the `floors` crate checks
//! every `crate::` path leads down), and only `codec` calls bincode.

#[test]
fn modules_only_use_lower_floors_and_only_codec_calls_bincode() {
    floors::assert_floors(env!("CARGO_MANIFEST_DIR"), |module, line| {
        (line.contains("bincode") && module != "codec")
            .then(|| format!("{module} calls bincode: only codec may"))
    });
}
