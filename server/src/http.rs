//! HTTP routes (hyper 1): `/ws` upgrades to a WebSocket; `/healthz`, `/rooms`, `/metrics`,
//! `POST /matchmake`, the operator's `POST /admin/...`; the browser's: `/` (the launcher:
//! `?game=NAME` to that game's page or the generic page), `/client/v1/FILE` (the client
//! library, with CORS), `/games/NAME/PATH` (a game's page folder, `statics.rs`); 404 for
//! anything else.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, CACHE_CONTROL, CONTENT_TYPE, ETAG,
    HOST, HeaderMap, HeaderValue, IF_NONE_MATCH, LOCATION, ORIGIN, RETRY_AFTER, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};

use crate::ctx::{ConnectionGuard, ServerCtx};
use crate::metrics::Metrics;

type Body = Full<Bytes>;

/// Answers one request from `peer` (upgrades to a WebSocket go on in a task of their own).
pub async fn route(
    mut req: Request<Incoming>,
    ctx: Arc<ServerCtx>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET, "/ws") => {
            let ip = crate::forwarded::client_ip(peer.ip(), req.headers(), &ctx.cfg.trusted_proxy);
            upgrade(&mut req, &ctx, ip)
        }
        (&Method::GET, "/metrics") => {
            ctx.metrics.rooms_open.set(ctx.rooms.count() as i64);
            let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            respond(StatusCode::OK, ct, ctx.metrics.render())
        }
        (&Method::GET, "/healthz") => healthz(&ctx),
        (&Method::GET, "/rooms") => rooms(&ctx).await,
        (&Method::POST, "/matchmake") => match read_body(req, crate::matchmake::MAX_BODY).await {
            Ok(body) => match crate::matchmake::matchmake(&ctx, &body).await {
                Ok(answer) => json(StatusCode::OK, &answer),
                Err(e) => {
                    let mut r = error(
                        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                        e.message(),
                    );
                    if let Some(secs) = e.retry_after() {
                        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
                    }
                    r
                }
            },
            Err(resp) => resp,
        },
        (&Method::POST, "/admin/notice") => match admin_body(req, &ctx).await {
            Ok(body) => notice(&ctx, &body).await,
            Err(resp) => resp,
        },
        (&Method::POST, "/admin/drain") => match admin_body(req, &ctx).await {
            Ok(_) => json(StatusCode::OK, &crate::drain::drain(&ctx).await),
            Err(resp) => resp,
        },
        (&Method::GET | &Method::HEAD, "/") => launcher(&ctx, req.uri().query()),
        (&Method::GET | &Method::HEAD, "/favicon.ico" | "/favicon.svg") => {
            client_file(&req, &ctx, "favicon.svg")
        }
        (&Method::GET | &Method::HEAD, p) if p.starts_with(CLIENT_PREFIX) => {
            match crate::assets::file_of(&p[CLIENT_PREFIX.len()..]) {
                Some(file) => client_file(&req, &ctx, file),
                None => not_found(),
            }
        }
        (&Method::OPTIONS, p) if p.starts_with(CLIENT_PREFIX) => preflight(&req, &ctx),
        (&Method::GET | &Method::HEAD, p) if p.starts_with(crate::statics::GAMES_PREFIX) => {
            game_file(&req, &ctx, &p[crate::statics::GAMES_PREFIX.len()..]).await
        }
        _ => not_found(),
    };
    Ok(resp)
}

/// Where the client library is served: `/client/v1/FILE`.
const CLIENT_PREFIX: &str = "/client/";

fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

/// `/?game=NAME[&page=generic]...`, the launcher (no `game`: the server's default game). A
/// game with a page goes to it (`/games/NAME/`), any other, or any with `page=generic`, to the
/// generic page, each with the same query (and `game=NAME` in it). An unknown game gets a page
/// saying so, with the games this server hosts.
fn launcher(ctx: &ServerCtx, query: Option<&str>) -> Response<Body> {
    let query = query.unwrap_or("");
    let param = |key: &str| {
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| crate::statics::percent_decode(&v.replace('+', " ")))
        })
    };
    let game = match param("game") {
        None => ctx.cfg.default_game().to_owned(),
        Some(Some(g)) if ctx.rooms.games.get(&g).is_some() => g,
        Some(named) => return unknown_game(ctx, named.as_deref().unwrap_or(query)),
    };
    let generic = param("page").flatten().as_deref() == Some("generic");
    // The page reads its game from the query: it always names it.
    let query = match param("game") {
        Some(_) => query.to_owned(),
        None if query.is_empty() => format!("game={game}"),
        None => format!("game={game}&{query}"),
    };
    let location = if ctx.statics.has_page(&game) && !generic {
        format!("{}{game}/?{query}", crate::statics::GAMES_PREFIX)
    } else {
        format!("{}?{query}", crate::assets::client_path("generic.html"))
    };
    redirect(StatusCode::FOUND, &location)
}

/// The launcher's answer to a game this server does not host: 404, naming it, and every game
/// it hosts with a link.
fn unknown_game(ctx: &ServerCtx, name: &str) -> Response<Body> {
    let items: String = ctx
        .rooms
        .games
        .names()
        .map(|g| {
            let generic = if ctx.statics.has_page(g) {
                format!(" · <a href=\"/?game={g}&amp;page=generic\">generic page</a>")
            } else {
                String::new()
            };
            format!("<li><a href=\"/?game={g}\">{g}</a>{generic}</li>\n")
        })
        .collect();
    let name = escape_html(name);
    let favicon = crate::assets::client_path("favicon.svg");
    let style = crate::assets::client_path("style.css");
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>ticksync: no game named {name}</title>\n\
         <link rel=\"icon\" href=\"{favicon}\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"{style}\">\n</head>\n\
         <body class=\"launcher\">\n<main>\n<h1>No game named <code>{name}</code></h1>\n\
         <p>This server has no game named <code>{name}</code>. It hosts:</p>\n<ul>\n{items}</ul>\n</main>\n</body>\n</html>\n"
    );
    let mut r = respond(StatusCode::NOT_FOUND, "text/html; charset=utf-8", body);
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let Ok(value) = HeaderValue::from_str(location) else {
        return text(StatusCode::BAD_REQUEST, "bad request path\n");
    };
    let mut r = text(status, "");
    r.headers_mut().insert(LOCATION, value);
    r
}

/// A file of the client library (`/client/v1/FILE`), with CORS for the origins allowed to open
/// WebSockets: a page served from elsewhere may import the client from its game server.
fn client_file(req: &Request<Incoming>, ctx: &ServerCtx, file: &str) -> Response<Body> {
    let mut r = match crate::assets::get(file) {
        Some(asset) if matches_etag(req, &asset.etag) => not_modified(&asset.etag),
        Some(asset) => {
            let mut r = respond(StatusCode::OK, &asset.content_type, asset.data);
            cacheable(&mut r, &asset.etag);
            r
        }
        None => not_found(),
    };
    cors(req, ctx, &mut r);
    r
}

/// `OPTIONS` on the client's paths: a CORS preflight, answered for allowed origins.
fn preflight(req: &Request<Incoming>, ctx: &ServerCtx) -> Response<Body> {
    if !origin_allowed(req.headers(), &ctx.cfg.allowed_origins) {
        let mut r = text(StatusCode::FORBIDDEN, "origin not allowed\n");
        r.headers_mut()
            .insert(VARY, HeaderValue::from_static("Origin"));
        return r;
    }
    let mut r = text(StatusCode::NO_CONTENT, "");
    let h = r.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    if let Some(asked) = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    cors(req, ctx, &mut r);
    r
}

/// `Access-Control-Allow-Origin: <origin>` when the request's origin may open WebSockets here
/// (`origin_allowed`); `Vary: Origin` always, since the answer depends on it.
fn cors(req: &Request<Incoming>, ctx: &ServerCtx, r: &mut Response<Body>) {
    r.headers_mut()
        .insert(VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = req.headers().get(ORIGIN) else {
        return;
    };
    if origin_allowed(req.headers(), &ctx.cfg.allowed_origins) {
        r.headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
}

/// A file of game `NAME`'s page folder: `rest` is the path after `/games/`, `NAME/PATH`.
async fn game_file(req: &Request<Incoming>, ctx: &ServerCtx, rest: &str) -> Response<Body> {
    use crate::statics::Served;
    let (game, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let if_none_match = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    match ctx
        .statics
        .serve(game, path, req.uri().query(), if_none_match)
        .await
    {
        Served::File {
            data,
            content_type,
            etag,
        } => {
            let mut r = respond(StatusCode::OK, &content_type, data);
            cacheable(&mut r, &etag);
            r
        }
        Served::NotModified { etag } => not_modified(&etag),
        Served::Redirect(location) => redirect(StatusCode::MOVED_PERMANENTLY, &location),
        Served::TooLarge => text(
            StatusCode::FORBIDDEN,
            "forbidden: the file is over the size limit of a served file\n",
        ),
        Served::NotFound => not_found(),
    }
}

/// Files may change at any time (a page being edited, a new build): browsers revalidate them
/// each time (`no-cache`), which costs a 304 when they did not.
fn cacheable(r: &mut Response<Body>, etag: &str) {
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(ETAG, v);
    }
}

fn matches_etag(req: &Request<Incoming>, etag: &str) -> bool {
    req.headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| crate::statics::etag_matches(h, etag))
}

fn not_modified(etag: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    cacheable(&mut r, etag);
    r
}

/// `GET /healthz`: 200 while the process serves, so a load balancer keeps sending players to
/// the rooms it plays. The body is `ok`, or in a cluster whose Redis this node cannot reach,
/// `degraded: ...` with how long and why (its rooms play on; matchmaking and new rooms wait).
fn healthz(ctx: &ServerCtx) -> Response<Body> {
    let Some(outage) = ctx.cluster.as_ref().and_then(|c| c.outage()) else {
        return text(StatusCode::OK, "ok\n");
    };
    let body = format!(
        "degraded: the cluster directory (Redis) has been unreachable for {}s ({}); \
         the rooms here play on, matchmaking and new rooms wait for it\n",
        outage.since.as_secs(),
        outage.error.replace(['\r', '\n'], " ")
    );
    respond(StatusCode::OK, "text/plain; charset=utf-8", body)
}

/// Every room: this node's, or in a cluster every node's, each with its node.
async fn rooms(ctx: &ServerCtx) -> Response<Body> {
    let local = ctx.rooms.infos();
    let Some(cluster) = &ctx.cluster else {
        return json(StatusCode::OK, &local);
    };
    let nodes = match cluster.nodes().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "/rooms: Redis failed");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the cluster's registry is unreachable",
            );
        }
    };
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        node: &'a str,
        url: &'a str,
        #[serde(flatten)]
        room: &'a crate::room::RoomInfo,
    }
    // This node's own rooms as of now; the others' as of their last heartbeat.
    let here = |room| Entry {
        node: &ctx.node_id,
        url: &ctx.public_url,
        room,
    };
    let mut all: Vec<Entry> = local.iter().map(here).collect();
    for n in nodes.iter().filter(|n| n.id != ctx.node_id) {
        all.extend(n.room_list.iter().map(|room| Entry {
            node: &n.id,
            url: &n.url,
            room,
        }));
    }
    all.sort_by(|a, b| a.room.name.cmp(&b.room.name));
    json(StatusCode::OK, &all)
}

/// `POST /admin/notice {"text": ...}`: a notice to every room (of every node).
async fn notice(ctx: &ServerCtx, body: &[u8]) -> Response<Body> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Notice {
        text: String,
    }
    let text = match serde_json::from_slice::<Notice>(body) {
        Ok(n) => n.text,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad notice: {e}")),
    };
    let max = protocol::limits::MAX_TEXT_BYTES;
    if text.is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("a notice is 1-{max} bytes of text without control characters"),
        );
    }
    match &ctx.cluster {
        // Every node hears it on the channel, this one too.
        Some(cluster) => {
            if let Err(e) = cluster.publish_notice(&text).await {
                tracing::warn!(error = %e, "notice: Redis failed");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the cluster's bus is unreachable",
                );
            }
        }
        None => ctx.rooms.notice(&text),
    }
    json(StatusCode::OK, &serde_json::json!({ "sent": true }))
}

/// The body of an operator's request, which must carry `Authorization: Bearer <admin token>`.
async fn admin_body(req: Request<Incoming>, ctx: &ServerCtx) -> Result<Bytes, Response<Body>> {
    let Some(expected) = &ctx.cfg.admin_token else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "operator endpoints are off (no --admin-token)",
        ));
    };
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|g| crate::tokens::same(g, expected)) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "bad or missing admin token",
        ));
    }
    read_body(req, MAX_ADMIN_BODY).await
}

/// Largest body of an operator's request.
const MAX_ADMIN_BODY: usize = 4096;

/// A request's body, at most `max` bytes.
async fn read_body(req: Request<Incoming>, max: usize) -> Result<Bytes, Response<Body>> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(req.into_body(), max)
        .collect()
        .await
    {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over {max} bytes"),
        )),
        Err(_) => Err(error(StatusCode::BAD_REQUEST, "the body could not be read")),
    }
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    respond(status, "application/json", body)
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let ct = HeaderValue::from_str(content_type).expect("content types are valid header values");
    r.headers_mut().insert(CONTENT_TYPE, ct);
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body)
}

fn upgrade(req: &mut Request<Incoming>, ctx: &Arc<ServerCtx>, ip: IpAddr) -> Response<Body> {
    if !fastwebsockets::upgrade::is_upgrade_request(req) {
        return text(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade\n");
    }
    let refuse = |status, why: &'static str, body: &'static str| {
        Metrics::count(&ctx.metrics.upgrades_refused, why);
        text(status, body)
    };
    if !origin_allowed(req.headers(), &ctx.cfg.allowed_origins) {
        return refuse(StatusCode::FORBIDDEN, "origin", "origin not allowed\n");
    }
    // Counted before answering 101, so the limits hold under a burst; the guard uncounts.
    let Some(guard) = ConnectionGuard::acquire(ctx, ip) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "connection_limit",
            "too many connections\n",
        );
    };
    let (response, fut) = match fastwebsockets::upgrade::upgrade(req) {
        Ok(x) => x,
        Err(_) => return text(StatusCode::BAD_REQUEST, "bad WebSocket upgrade\n"),
    };
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    let task_ctx = ctx.clone();
    ctx.tracker.spawn(async move {
        let _guard = guard;
        match fut.await {
            Ok(ws) => crate::connection::serve(ws, task_ctx, conn, ip).await,
            Err(e) => tracing::debug!(conn, error = %e, "WebSocket upgrade failed"),
        }
    });
    response.map(|_| Full::new(Bytes::new()))
}

/// Browsers always send `Origin`; other clients (bots) usually do not and are allowed. A browser
/// origin must be the server's own host, a loopback host, or on the configured allow-list. The
/// same rule admits WebSockets and cross-origin imports of the client library (CORS).
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(host_port) = origin.split_once("://").map(|(_, rest)| rest) else {
        return false;
    };
    let own_host = headers.get(HOST).and_then(|h| h.to_str().ok());
    if own_host.is_some_and(|h| h.eq_ignore_ascii_case(host_port)) {
        return true;
    }
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}
