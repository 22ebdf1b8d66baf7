//! The browser client library (`client/src/`), built into the binary so any server serves it
//! with nothing else installed, at one versioned path: `/client/v1/FILE` (`ticksync.js`, the
//! module a page imports, the generic page `generic.html`...). Release builds embed the files;
//! debug builds read them from disk (rust-embed). `build.rs` makes a file added to
//! `client/src/` rebuild the server.

use std::borrow::Cow;

use bytes::Bytes;
use rust_embed::RustEmbed;

/// The client library's major version: its files are served under `/client/{CLIENT_VERSION}/`.
/// A page importing them keeps working as long as this does not change, so it changes only
/// with an incompatible change of the client's API.
pub const CLIENT_VERSION: &str = "v1";

#[derive(RustEmbed)]
#[folder = "../client/src/"]
struct Assets;

/// One file of the client.
pub(crate) struct Asset {
    /// The file's bytes.
    pub data: Bytes,
    /// Its `Content-Type` (`statics::content_type`).
    pub content_type: String,
    /// A strong validator: the file's SHA-256 (its first 128 bits).
    pub etag: String,
}

/// `/client/v1/` followed by `file`.
pub fn client_path(file: &str) -> String {
    format!("/client/{CLIENT_VERSION}/{file}")
}

/// The file of the path after `/client/`, e.g. `v1/ticksync.js`, if it names one of this
/// version.
pub(crate) fn file_of(rest: &str) -> Option<&str> {
    rest.strip_prefix(CLIENT_VERSION)?.strip_prefix('/')
}

/// The client's file `name` (`ticksync.js`, `types/x.d.ts`), with its content type.
pub(crate) fn get(name: &str) -> Option<Asset> {
    let safe = !name.is_empty()
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && !seg.starts_with('.'))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if !safe {
        return None;
    }
    let file = Assets::get(name)?;
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    // Embedded (release) files are served without a copy.
    let data = match file.data {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    Some(Asset {
        data,
        content_type: crate::statics::content_type(name),
        etag,
    })
}
