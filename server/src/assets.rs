//! The browser client (`web/static/`), built into the binary so `cargo run --release` serves a
//! playable game with nothing else installed. (Debug builds read the files from disk.)

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../web/static/"]
struct Assets;

/// The file at `path` ("" means index.html) with its content type.
pub fn get(path: &str) -> Option<(Vec<u8>, String)> {
    let path = if path.is_empty() { "index.html" } else { path };
    let file = Assets::get(path)?;
    let mime = mime_guess::from_path(path)
        .first_or_octet_stream()
        .to_string();
    Some((file.data.into_owned(), mime))
}
