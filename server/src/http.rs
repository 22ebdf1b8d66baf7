//! HTTP routes (hyper 1): `/ws` upgrades to a WebSocket; `/healthz`, `/rooms`, and the
//! browser client's files; 404 for anything else.

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
        (&Method::GET, "/ws") => upgrade(&mut req, &ctx, peer.ip()),
        (&Method::GET, "/metrics") => {
            let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            respond(StatusCode::OK, ct, ctx.metrics.render())
        }
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/rooms") => {
            let json = serde_json::to_vec_pretty(&ctx.rooms.infos()).unwrap_or_default();
            respond(StatusCode::OK, "application/json", json)
        }
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
            Ok(ws) => crate::connection::serve(ws, task_ctx, conn).await,
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
