//! rust-embed builds `client/src/` into the server (`src/assets.rs`), but a release build does not
//! notice a file added there: this reruns the build on any change in that folder.

fn main() {
    println!("cargo:rerun-if-changed=../client/src");
}
