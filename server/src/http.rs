//! HTTP routes (hyper 1): `/ws` upgrades to a WebSocket; `/healthz`, `/rooms`, `/metrics`,
//! `POST /matchmake`, the operator's `POST /admin/...`, and the browser client's files; 404
//! for anything else.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue, ORIGIN};
use hyper::{Method, Request, Response, StatusCode};

use crate::ServerCtx;
use crate::metrics::Metrics;

type Body = Full<Bytes>;

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
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/rooms") => rooms(&ctx).await,
        (&Method::POST, "/matchmake") => match read_body(req, crate::matchmake::MAX_BODY).await {
            Ok(body) => match crate::matchmake::matchmake(&ctx, &body).await {
                Ok(answer) => json(StatusCode::OK, &answer),
                Err(e) => error(
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                    e.message(),
                ),
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
        (&Method::GET, p) => match crate::assets::get(p.trim_start_matches('/')) {
            Some((data, mime)) => {
                let mut r = respond(StatusCode::OK, &mime, data);
                r.headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                r
            }
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(resp)
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
    if !origin_allowed(req, &ctx.cfg.allowed_origins) {
        return refuse(StatusCode::FORBIDDEN, "origin", "origin not allowed\n");
    }
    // Counted before answering 101, so the limits hold under a burst; the guard uncounts.
    let Some(guard) = crate::ConnectionGuard::acquire(ctx, ip) else {
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
/// origin must be the server's own host, a loopback host, or on the configured allow-list.
fn origin_allowed(req: &Request<Incoming>, allowed: &[String]) -> bool {
    let Some(origin) = req.headers().get(ORIGIN).and_then(|o| o.to_str().ok()) else {
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
    let own_host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
    if own_host.is_some_and(|h| h.eq_ignore_ascii_case(host_port)) {
        return true;
    }
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}
