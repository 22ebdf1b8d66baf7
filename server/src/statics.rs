//! Games' page folders, served from disk at `/games/NAME/PATH` and read at request time (editing
//! a page needs no rebuild). A game's folder is the one its program gives
//! ([`Games::set_page`](crate::game::Games::set_page)) unless `--static [GAME=]DIR` names
//! another.
//!
//! Only files under a folder are served: a request path is percent-decoded once and refused if
//! any segment is empty, `.`, `..` or hidden (starts with a dot), or it holds a NUL or a
//! backslash; the file's canonical path (symlinks resolved) must then lie under the folder's
//! canonical path, taken once at start. Anything else, and anything missing, is not found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use tokio::io::AsyncReadExt;

pub use crate::config::StaticDir;
use crate::game::Games;

/// The largest file served from a page folder (bigger ones are refused: each is read whole
/// into memory for its response).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The HTTP path under which game `NAME`'s folder is served: `/games/NAME/`.
pub const GAMES_PREFIX: &str = "/games/";

/// Every game's page folder (canonical), by game.
#[derive(Debug, Default)]
pub(crate) struct Statics {
    roots: BTreeMap<String, PathBuf>,
}

/// What a request for a page file comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    File {
        data: Bytes,
        content_type: String,
        etag: String,
    },
    /// The client's copy (`If-None-Match`) is current.
    NotModified {
        etag: String,
    },
    /// A folder asked for without its trailing slash: this path (and query) instead.
    Redirect(String),
    /// A file over [`MAX_FILE_BYTES`].
    TooLarge,
    NotFound,
}

impl Statics {
    /// The folders of `games`' pages with `overrides` (`--static`) over them. An override whose
    /// folder is missing or not a folder, or that names no game of `games`, is an error naming
    /// it. A folder given in code that is missing is only warned about: its game is then
    /// played on the generic page (a binary deployed without its source tree still starts).
    pub(crate) fn resolve(
        games: &Games,
        default_game: &str,
        overrides: &[StaticDir],
    ) -> Result<Statics, String> {
        let mut roots = BTreeMap::new();
        for name in games.names() {
            let Some(dir) = games.page(name) else {
                continue;
            };
            match canonical_dir(dir) {
                Ok(root) => {
                    roots.insert(name.to_owned(), root);
                }
                Err(e) => tracing::warn!(
                    game = name,
                    dir = %dir.display(),
                    error = %e,
                    "the game's page folder is unusable: it is played on the generic page \
                     (--static GAME=DIR gives it one)"
                ),
            }
        }
        for o in overrides {
            let game = o.game.as_deref().unwrap_or(default_game);
            if games.get(game).is_none() {
                let known: Vec<&str> = games.names().collect();
                return Err(format!(
                    "--static {o}: no game named {game} (known: {})",
                    known.join(", ")
                ));
            }
            let root = canonical_dir(&o.dir).map_err(|e| format!("--static {o}: {e}"))?;
            roots.insert(game.to_owned(), root);
        }
        Ok(Statics { roots })
    }

    /// Whether game `name` has a page folder.
    pub(crate) fn has_page(&self, name: &str) -> bool {
        self.roots.contains_key(name)
    }

    /// Game `game`'s file at `rest`, the raw (percent-encoded) request path after
    /// `/games/GAME` (so `""` or starting with `/`); `query` is kept on redirects;
    /// `if_none_match` is the client's `If-None-Match`.
    pub(crate) async fn serve(
        &self,
        game: &str,
        rest: &str,
        query: Option<&str>,
        if_none_match: Option<&str>,
    ) -> Served {
        let Some(root) = self.roots.get(game) else {
            return Served::NotFound;
        };
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let Some(rel) = rest.strip_prefix('/') else {
            // `/games/NAME`: the folder without its slash.
            return if rest.is_empty() {
                Served::Redirect(format!("{GAMES_PREFIX}{game}/{query}"))
            } else {
                Served::NotFound
            };
        };
        let Some(segments) = clean_segments(rel) else {
            return Served::NotFound;
        };
        let wants_dir = rel.is_empty() || rel.ends_with('/');
        let mut path = root.clone();
        path.extend(&segments);
        let Some((file, meta)) = within(root, &path).await else {
            return Served::NotFound;
        };
        let (file, meta, name) = if meta.is_dir() {
            if !wants_dir {
                return Served::Redirect(format!("{GAMES_PREFIX}{game}/{rel}/{query}"));
            }
            match within(root, &file.join("index.html")).await {
                Some((f, m)) if m.is_file() => (f, m, "index.html"),
                _ => return Served::NotFound,
            }
        } else if wants_dir || !meta.is_file() {
            return Served::NotFound;
        } else {
            (file, meta, segments.last().map_or("", String::as_str))
        };
        if meta.len() > MAX_FILE_BYTES {
            tracing::warn!(file = %file.display(), limit = MAX_FILE_BYTES, "a page file over the size limit was asked for");
            return Served::TooLarge;
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("\"{:x}-{mtime:x}\"", meta.len());
        if if_none_match.is_some_and(|h| etag_matches(h, &etag)) {
            return Served::NotModified { etag };
        }
        match read_bounded(&file).await {
            Some(data) => Served::File {
                data,
                content_type: content_type(name),
                etag,
            },
            None => Served::TooLarge,
        }
    }
}

/// `dir` canonicalised, if it is a folder.
fn canonical_dir(dir: &Path) -> Result<PathBuf, String> {
    let root = dir
        .canonicalize()
        .map_err(|e| format!("folder {}: {e}", dir.display()))?;
    if !root.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    Ok(root)
}

/// `path` canonicalised with its metadata, if it exists and lies under `root`.
async fn within(root: &Path, path: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let canonical = tokio::fs::canonicalize(path).await.ok()?;
    if !canonical.starts_with(root) {
        tracing::debug!(path = %path.display(), "refused: resolves outside its page folder");
        return None;
    }
    let meta = tokio::fs::metadata(&canonical).await.ok()?;
    Some((canonical, meta))
}

/// The file's bytes, or `None` if it cannot be read or holds more than [`MAX_FILE_BYTES`] (it
/// may have grown since its metadata was read).
async fn read_bounded(path: &Path) -> Option<Bytes> {
    let file = tokio::fs::File::open(path).await.ok()?;
    let mut data = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .await
        .ok()?;
    (data.len() as u64 <= MAX_FILE_BYTES).then(|| Bytes::from(data))
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
pub(crate) fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// The path segments of `rel` (percent-decoded, the trailing empty one dropped), or `None` if
/// it must not be served: a bad escape, not UTF-8, a NUL or a backslash, or a segment that is
/// empty (`a//b`, an absolute path), `.`, `..` or hidden (`.git`).
pub(crate) fn clean_segments(rel: &str) -> Option<Vec<String>> {
    let decoded = percent_decode(rel)?;
    if decoded.contains(['\0', '\\']) {
        return None;
    }
    let body = decoded.strip_suffix('/').unwrap_or(&decoded);
    if body.is_empty() {
        // The folder itself (`rel` was "" or "/"...). "/" alone decodes to "" + a slash: a
        // leading empty segment, refused below unless `rel` is empty.
        return decoded.is_empty().then(Vec::new);
    }
    let mut out = Vec::new();
    for seg in body.split('/') {
        if seg.is_empty() || seg.starts_with('.') {
            return None;
        }
        out.push(seg.to_owned());
    }
    Some(out)
}

/// `%XX` escapes decoded (`+` stays a plus: this is a path), or `None` for a bad escape or
/// bytes that are not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `Content-Type` of a file named `name`: JavaScript modules as `text/javascript` (which
/// browsers require of module scripts), `.wasm` as `application/wasm` (which streaming
/// compilation requires), text with its charset, the rest as `mime_guess` says.
pub(crate) fn content_type(name: &str) -> String {
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let fixed = match ext.as_str() {
        "js" | "mjs" => Some("text/javascript; charset=utf-8"),
        "wasm" => Some("application/wasm"),
        "html" | "htm" => Some("text/html; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "json" | "map" => Some("application/json"),
        "svg" => Some("image/svg+xml"),
        // TypeScript declarations, not MPEG transport streams.
        "ts" => Some("text/plain; charset=utf-8"),
        _ => None,
    };
    if let Some(t) = fixed {
        return t.to_owned();
    }
    let guess = mime_guess::from_path(name).first_or_octet_stream();
    if guess.type_() == mime_guess::mime::TEXT {
        format!("{}; charset=utf-8", guess.essence_str())
    } else {
        guess.essence_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        for bad in [
            "..",
            "../x",
            "a/../b",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "..%2fx",
            "a%2f..%2f..%2fx",
            "/etc/passwd",
            "%2fetc%2fpasswd",
            "a//b",
            ".git/config",
            "a/.env",
            "x%00.js",
            "a%5c..%5cb",
            "a\\b",
            "%zz",
            "%e9",
            "%",
        ] {
            assert_eq!(clean_segments(bad), None, "{bad}");
        }
    }

    #[test]
    fn plain_paths_become_segments() {
        assert_eq!(clean_segments(""), Some(vec![]));
        assert_eq!(clean_segments("a.js"), Some(vec!["a.js".into()]));
        assert_eq!(
            clean_segments("img/a%20b.png"),
            Some(vec!["img".into(), "a b.png".into()])
        );
        assert_eq!(clean_segments("sub/"), Some(vec!["sub".into()]));
        assert_eq!(clean_segments("a+b"), Some(vec!["a+b".into()]));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.MJS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.wasm"), "application/wasm");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a.png"), "image/png");
        assert_eq!(content_type("a.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn static_dirs_parse() {
        let s = StaticDir::parse("skirmish=/srv/page").unwrap();
        assert_eq!(s.game.as_deref(), Some("skirmish"));
        assert_eq!(s.dir, PathBuf::from("/srv/page"));
        let s = StaticDir::parse("./a=b/web").unwrap();
        assert_eq!((s.game, s.dir), (None, PathBuf::from("./a=b/web")));
        assert!(StaticDir::parse("arena=").is_err());
        assert!(StaticDir::parse("").is_err());
    }

    #[test]
    fn etags_match() {
        assert!(etag_matches("\"1-2\"", "\"1-2\""));
        assert!(etag_matches("W/\"0\", \"1-2\"", "\"1-2\""));
        assert!(etag_matches("*", "\"1-2\""));
        assert!(!etag_matches("\"1-3\"", "\"1-2\""));
    }
}
