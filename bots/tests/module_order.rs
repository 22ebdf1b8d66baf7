//! The crate's modules form the floors listed in `lib.rs`'s doc: the `floors` crate checks
//! that every `crate::` path leads down, so the crate reads top-down with no import circle.
//! The client's submodules (`client::wire`) sit below `client`.

#[test]
fn modules_only_use_lower_floors() {
    floors::assert_floors(env!("CARGO_MANIFEST_DIR"), |_, _| None);
}
