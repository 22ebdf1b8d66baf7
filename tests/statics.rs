//! The browser's routes on a real server: the launcher (`/?game=`), the client library at
//! `/client/v1/` (content types, CORS), and games' page folders at `/games/NAME/` from disk
//! (`--static`), which serve nothing outside their folder.

mod support;

use std::net::SocketAddr;
use std::path::Path;

use server::statics::{MAX_FILE_BYTES, StaticDir};
use server::{Config, Games, Server};
use support::tls::TempDir;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP response: status, headers (names lower-case) and body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `headers`; the path goes on the request line as it is (no
/// normalising: `..` and escapes reach the server).
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    bounded("http request", async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Resp {
            status,
            headers,
            body: body.to_owned(),
        }
    })
    .await
}

async fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[]).await
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `--static` for `game` (or the default game) at `dir`.
fn static_dir(game: Option<&str>, dir: &Path) -> StaticDir {
    StaticDir {
        game: game.map(str::to_owned),
        dir: dir.to_owned(),
    }
}

/// A folder `root` with a page folder `root/page` (index.html, files of several types, a
/// subfolder, a symlink inside and one leading out) and a secret beside it.
fn page_tree(root: &TempDir) -> std::path::PathBuf {
    let page = root.path("page");
    write(
        &page.join("index.html"),
        "<!doctype html><title>custom</title>",
    );
    write(&page.join("game.js"), "export const x = 1;");
    write(&page.join("mod.mjs"), "export const y = 2;");
    write(&page.join("style.css"), "body {}");
    write(&page.join("data.json"), "{}");
    std::fs::write(page.join("code.wasm"), b"\0asm\x01\0\0\0").unwrap();
    write(&page.join("levels/index.html"), "levels");
    write(&page.join("levels/one.txt"), "level one");
    write(&page.join(".hidden"), "hidden");
    write(&root.path("secret.txt"), "the secret");
    std::os::unix::fs::symlink(root.path("secret.txt"), page.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(root.path("."), page.join("up")).unwrap();
    std::os::unix::fs::symlink(page.join("levels/one.txt"), page.join("in.txt")).unwrap();
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_files_are_served_with_their_content_types_and_read_at_each_request() {
    let root = TempDir::new("statics-types");
    let page = page_tree(&root);
    let server = start_server(|c| {
        c.npcs = 0;
        c.static_dirs = vec![static_dir(Some("skirmish"), &page)];
    })
    .await;
    let addr = server.local_addr();
    for (path, ty) in [
        ("/games/skirmish/", "text/html"),
        ("/games/skirmish/index.html", "text/html"),
        ("/games/skirmish/game.js", "text/javascript"),
        ("/games/skirmish/mod.mjs", "text/javascript"),
        ("/games/skirmish/style.css", "text/css"),
        ("/games/skirmish/data.json", "application/json"),
        ("/games/skirmish/code.wasm", "application/wasm"),
        ("/games/skirmish/levels/one.txt", "text/plain"),
        ("/games/skirmish/in.txt", "text/plain"),
        // The code-given pages are served too.
        ("/games/arena/", "text/html"),
        ("/games/arena/arena.js", "text/javascript"),
        ("/games/arena-large/render.js", "text/javascript"),
        // The client library.
        ("/client/v1/ticksync.js", "text/javascript"),
        ("/client/v1/generic.html", "text/html"),
        ("/client/v1/style.css", "text/css"),
        ("/client/v1/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let got = r.header("content-type").unwrap_or_default();
        assert!(
            got == ty || got.starts_with(&format!("{ty};")),
            "{path}: {got}"
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    }
    assert!(get(addr, "/games/skirmish/").await.body.contains("custom"));
    assert_eq!(get(addr, "/games/skirmish/levels/").await.body, "levels");
    assert_eq!(get(addr, "/games/skirmish/in.txt").await.body, "level one");

    // A folder without its slash is redirected to it, query kept.
    for (path, to) in [
        ("/games/skirmish", "/games/skirmish/"),
        ("/games/skirmish?room=r", "/games/skirmish/?room=r"),
        ("/games/skirmish/levels", "/games/skirmish/levels/"),
    ] {
        let r = get(addr, path).await;
        assert!(matches!(r.status, 301 | 302 | 308), "{path}: {}", r.status);
        assert_eq!(r.header("location"), Some(to), "{path}");
    }

    // Edited on disk: the next request has it, no restart.
    write(&page.join("game.js"), "export const x = 2;");
    assert_eq!(
        get(addr, "/games/skirmish/game.js").await.body,
        "export const x = 2;"
    );
    // A new file too.
    write(&page.join("new.js"), "new");
    assert_eq!(get(addr, "/games/skirmish/new.js").await.status, 200);

    // Revalidation: the ETag answers 304.
    let r = get(addr, "/client/v1/ticksync.js").await;
    let etag = r.header("etag").expect("an etag").to_owned();
    let again = request(
        addr,
        "GET",
        "/client/v1/ticksync.js",
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(again.status, 304);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_a_page_folder_is_served() {
    let root = TempDir::new("statics-escape");
    let page = page_tree(&root);
    // Without `GAME=`: the default game's (arena).
    let server = start_server(|c| {
        c.npcs = 0;
        c.static_dirs = vec![static_dir(None, &page)];
    })
    .await;
    let addr = server.local_addr();
    assert!(get(addr, "/games/arena/").await.body.contains("custom"));
    for path in [
        "/games/arena/../secret.txt",
        "/games/arena/levels/../../secret.txt",
        "/games/arena/%2e%2e/secret.txt",
        "/games/arena/%2E%2E%2Fsecret.txt",
        "/games/arena/..%2fsecret.txt",
        "/games/arena/levels%2f..%2f..%2fsecret.txt",
        "/games/arena/%252e%252e/secret.txt",
        "/games/arena//etc/passwd",
        "/games/arena/%2fetc%2fpasswd",
        "/games/arena/out.txt",
        "/games/arena/up/secret.txt",
        "/games/arena/up/",
        "/games/arena/.hidden",
        "/games/arena/game.js%00.html",
        "/games/arena/levels%5c..%5c..%5csecret.txt",
        "/games/arena/%zz",
        "/games/arena/%",
        "/games/arena/index.html/",
        "/games/arena/missing.js",
        "/games/nosuchgame/index.html",
        "/games/",
        "/games/../secret.txt",
        "/client/v1/../../Cargo.toml",
        "/client/v1/%2e%2e/ticksync.js",
        "/client/v1/.hidden",
        "/client/v2/ticksync.js",
        // The client's files are no longer at the root.
        "/ticksync.js",
        "/index.html",
        "/style.css",
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("the secret"), "{path}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_size_limit_is_refused() {
    let root = TempDir::new("statics-big");
    let page = root.path("page");
    std::fs::create_dir_all(&page).unwrap();
    // Sparse: no disk space taken.
    let big = std::fs::File::create(page.join("big.bin")).unwrap();
    big.set_len(MAX_FILE_BYTES + 1).unwrap();
    let server = start_server(|c| {
        c.npcs = 0;
        c.static_dirs = vec![static_dir(Some("arena"), &page)];
    })
    .await;
    let r = get(server.local_addr(), "/games/arena/big.bin").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("size limit"), "{}", r.body);
    // Nothing there: not found.
    assert_eq!(get(server.local_addr(), "/games/arena/").await.status, 404);
    server.shutdown().await;
}

/// Starting with `tweak`ed settings and the reference games: the error, if it fails.
async fn start_error(tweak: impl FnOnce(&mut TestConfig)) -> String {
    let (cfg, games) = TestConfig::new(tweak).split();
    match Server::start_with(cfg, games).await {
        Ok(server) => {
            server.shutdown().await;
            panic!("the server started");
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_static_folder_or_an_unknown_game_stops_the_start() {
    let root = TempDir::new("statics-start");
    let missing = root.path("no-such-folder");
    let e = start_error(|c| c.static_dirs = vec![static_dir(Some("skirmish"), &missing)]).await;
    assert!(
        e.contains("--static") && e.contains("no-such-folder"),
        "{e}"
    );
    let e = start_error(|c| c.static_dirs = vec![static_dir(None, &missing)]).await;
    assert!(e.contains("no-such-folder"), "{e}");

    let file = root.path("a-file");
    write(&file, "not a folder");
    let e = start_error(|c| c.static_dirs = vec![static_dir(Some("arena"), &file)]).await;
    assert!(e.contains("a-file") && e.contains("not a folder"), "{e}");

    let e = start_error(|c| c.static_dirs = vec![static_dir(Some("chess"), &root.0)]).await;
    assert!(e.contains("no game named chess"), "{e}");

    // As the command line gives it: `GAME=DIR`, or `DIR` for the default game.
    assert_eq!(
        StaticDir::parse("skirmish=/srv/web").unwrap(),
        static_dir(Some("skirmish"), Path::new("/srv/web"))
    );
    assert_eq!(
        StaticDir::parse("web").unwrap(),
        static_dir(None, Path::new("web"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_library_answers_cors_for_allowed_origins_only() {
    let server = start_server(|c| {
        c.npcs = 0;
        c.allowed_origins = vec!["https://studio.example".into()];
    })
    .await;
    let addr = server.local_addr();
    let js = "/client/v1/ticksync.js";
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:9999",
        "https://studio.example",
    ] {
        let r = request(addr, "GET", js, &[("Origin", origin)]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        assert_eq!(r.header("vary"), Some("Origin"));
    }
    let own = format!("http://{addr}");
    let r = request(addr, "GET", js, &[("Origin", &own)]).await;
    assert_eq!(r.header("access-control-allow-origin"), Some(own.as_str()));

    // Refused origins get the file (a script tag needs no CORS) but no permission to read it.
    for origin in ["https://evil.example", "null"] {
        let r = request(addr, "GET", js, &[("Origin", origin)]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), None, "{origin}");
        assert_eq!(r.header("vary"), Some("Origin"));
    }
    // No Origin, no CORS header.
    assert_eq!(
        get(addr, js).await.header("access-control-allow-origin"),
        None
    );

    // Preflights.
    let r = request(
        addr,
        "OPTIONS",
        js,
        &[
            ("Origin", "https://studio.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-studio"),
        ],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://studio.example")
    );
    assert!(
        r.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET"))
    );
    assert_eq!(r.header("access-control-allow-headers"), Some("x-studio"));
    let r = request(
        addr,
        "OPTIONS",
        js,
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_ne!(r.status, 204);
    server.shutdown().await;

    // `*` allows any origin.
    let server = start_server(|c| {
        c.npcs = 0;
        c.allowed_origins = vec!["*".into()];
    })
    .await;
    let r = request(
        server.local_addr(),
        "GET",
        js,
        &[("Origin", "https://anywhere.example")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://anywhere.example")
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_launcher_sends_each_game_to_its_page_or_the_generic_page() {
    let server = start_server(|c| c.npcs = 0).await;
    let addr = server.local_addr();
    for (path, to) in [
        ("/", "/games/arena/?game=arena"),
        ("/?room=r1", "/games/arena/?game=arena&room=r1"),
        ("/?game=skirmish", "/games/skirmish/?game=skirmish"),
        (
            "/?game=skirmish&room=tanks&name=ann",
            "/games/skirmish/?game=skirmish&room=tanks&name=ann",
        ),
        (
            "/?room=tanks&game=arena-large",
            "/games/arena-large/?room=tanks&game=arena-large",
        ),
        (
            "/?game=skirmish&page=generic",
            "/client/v1/generic.html?game=skirmish&page=generic",
        ),
        (
            "/?page=generic&room=x",
            "/client/v1/generic.html?game=arena&page=generic&room=x",
        ),
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(r.header("location"), Some(to), "{path}");
    }
    // An unknown game: a page that says so and lists the games, never another game.
    let r = get(addr, "/?game=nope&room=r").await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(
        r.body.contains("no game named <code>nope</code>"),
        "{}",
        r.body
    );
    for g in ["arena", "arena-large", "skirmish"] {
        assert!(
            r.body.contains(&format!("<a href=\"/?game={g}\">{g}</a>")),
            "{g}: {}",
            r.body
        );
    }
    assert!(r.header("location").is_none());
    // Its name is shown as text, not markup.
    let r = get(addr, "/?game=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("<script>"), "{}", r.body);
    assert!(r.body.contains("&lt;script&gt;"), "{}", r.body);
    assert_eq!(get(addr, "/?game=").await.status, 404);
    server.shutdown().await;

    // A game without a page goes to the generic page; so does the default game.
    let server = start_server_with(
        |c: &mut Config| c.addr = "127.0.0.1:0".parse().unwrap(),
        |_| {
            let mut games = Games::default();
            games.register("plain", |ctx| {
                arena::Arena::new(ctx, 10, arena::DEFAULT_SEED)
            });
            games
        },
    )
    .await;
    let addr = server.local_addr();
    for (path, to) in [
        ("/?game=plain", "/client/v1/generic.html?game=plain"),
        ("/", "/client/v1/generic.html?game=plain"),
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(r.header("location"), Some(to), "{path}");
    }
    assert_eq!(get(addr, "/games/plain/").await.status, 404);
    assert_eq!(get(addr, "/client/v1/generic.html").await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_folder_given_in_code_that_is_missing_plays_on_the_generic_page() {
    let root = TempDir::new("statics-missing-page");
    let gone = root.path("gone");
    let server = start_server_with(
        |c: &mut Config| c.addr = "127.0.0.1:0".parse().unwrap(),
        |_| {
            let mut games = Games::default();
            games.register("plain", |ctx| {
                arena::Arena::new(ctx, 10, arena::DEFAULT_SEED)
            });
            games.set_page("plain", gone.clone()).unwrap();
            games
        },
    )
    .await;
    let r = get(server.local_addr(), "/?game=plain").await;
    assert_eq!(
        r.header("location"),
        Some("/client/v1/generic.html?game=plain")
    );
    server.shutdown().await;
}
