//! The browser client (`web/static/`), built into the binary so `cargo run --release` serves a
//! playable game with nothing else installed. (Debug builds read the files from disk.)

use std::borrow::Cow;

use bytes::Bytes;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../client/src/"]
struct Assets;

/// The file at `path` ("" means index.html) with its content type.
pub fn get(path: &str) -> Option<(Bytes, String)> {
    let path = if path.is_empty() { "index.html" } else { path };
    let file = Assets::get(path)?;
    let mime = mime_guess::from_path(path)
        .first_or_octet_stream()
        .to_string();
    // Embedded (release) files are served without a copy.
    let data = match file.data {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    Some((data, mime))
}
