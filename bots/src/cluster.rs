//! What a bot needs from a ticksync cluster: a seat from the matchmaker (`POST /matchmake`,
//! HTTP/1.1 over one TCP or TLS connection per request, bounded in time and answer size), and
//! checks on the node URLs that the matchmaker and `MOVED` hand out before a bot follows them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use protocol::limits::MAX_TOKEN_BYTES;
use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

pub use crate::error::MatchmakeError;
use crate::transport::{connect, tls_for};
use crate::url::{WsUrl, authority, is_loopback_host, split_authority, split_scheme};

/// The largest matchmaker answer read: a seat answer is a few hundred bytes, so anything
/// bigger is not one, and reading it would only cost memory.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Where `POST /matchmake` goes: `http://HOST[:PORT][/PATH]` or `https://...`. A URL without a
/// path (or `/`) means the node's own `/matchmake`; any other path is used as given (a proxy's
/// prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchmakerUrl {
    /// `https://`: over TLS. Then the nodes it names must be `wss://` too (`node_url`).
    pub secure: bool,
    /// Without brackets for IPv6 literals.
    pub host: String,
    /// 80 (`http://`) or 443 (`https://`) when the URL has none.
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

impl MatchmakerUrl {
    /// `http://` or `https://` (port 80 or 443 by default).
    pub fn parse(url: &str) -> Result<MatchmakerUrl, String> {
        let (secure, rest) = match split_scheme(url) {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            _ => {
                return Err(format!(
                    "{url:?}: the matchmaker URL must be http:// or https://"
                ));
            }
        };
        let (host, port, mut path) = split_authority(url, rest, if secure { 443 } else { 80 })?;
        if path == "/" {
            path = "/matchmake".to_owned();
        }
        Ok(MatchmakerUrl {
            secure,
            host,
            port,
            path,
        })
    }

    /// `host:port` as the `Host` header wants it.
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// True when the host is `localhost` or a loopback address literal.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// The body of `POST /matchmake`. Absent fields are left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SeatRequest {
    /// The game to play (a new room is created with it); `None`: the cluster's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<String>,
    /// A room to join; `None` lets the matchmaker choose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The player's name, which the seat is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A join token, for a cluster that requires one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
}

/// A seat: connect to `url` and send `Hello { room, auth_token: Some(seat), .. }` within
/// about 15 s (a seat admits once).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SeatAnswer {
    /// The node's WebSocket URL (`ws://` or `wss://`, checked by `node_url`).
    pub url: String,
    /// The room the seat is in (the one asked for, or the matchmaker's choice).
    pub room: String,
    /// The seat token: the `auth_token` of the `Hello`, good for one join.
    pub seat: String,
    /// The node's id, for logs.
    #[serde(default)]
    pub node: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Asks the matchmaker at `url` for a seat, within `limit` (connect, TLS, request and answer
/// together). `tls`: the CAs to trust for an `https://` matchmaker (`None`: the public web's,
/// as in `ConnectOptions::tls`). The answer's `url` passes `node_url(.., loopback_only,
/// url.secure)`: an `https://` matchmaker may only send bots to `wss://` nodes.
pub async fn request_seat(
    url: &MatchmakerUrl,
    req: &SeatRequest,
    limit: Duration,
    loopback_only: bool,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<SeatAnswer, MatchmakeError> {
    let (status, body) = tokio::time::timeout(limit, exchange(url, req, tls))
        .await
        .unwrap_or_else(|_| {
            Err(MatchmakeError::Request(format!(
                "no answer from {} within {}",
                url.authority(),
                humantime::format_duration(limit)
            )))
        })?;
    if status != 200 {
        let error = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => b.error,
            Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        };
        return Err(MatchmakeError::Refused { status, error });
    }
    let answer: SeatAnswer =
        serde_json::from_slice(&body).map_err(|e| MatchmakeError::BadAnswer(e.to_string()))?;
    node_url(&answer.url, loopback_only, url.secure).map_err(MatchmakeError::BadAnswer)?;
    if !protocol::codec::valid_name(&answer.room) {
        return Err(MatchmakeError::BadAnswer(format!(
            "room {:?} is not a valid room name",
            answer.room
        )));
    }
    if answer.seat.is_empty() || answer.seat.len() > MAX_TOKEN_BYTES {
        return Err(MatchmakeError::BadAnswer(format!(
            "a seat of {} bytes (1-{MAX_TOKEN_BYTES})",
            answer.seat.len()
        )));
    }
    Ok(answer)
}

/// One request on a fresh connection: the status and the (size-capped) body.
async fn exchange(
    url: &MatchmakerUrl,
    req: &SeatRequest,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<(u16, Bytes), MatchmakeError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        MatchmakeError::Request(format!("{what} {}: {e}", url.authority()))
    };
    let stream = connect(&url.host, url.port, tls_for(url.secure, tls), None)
        .await
        .map_err(MatchmakeError::Request)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail("http handshake with", &e))?;
    let body = serde_json::to_vec(req).expect("a seat request always serializes");
    let request = Request::post(url.path.as_str())
        .header(HOST, url.authority())
        .header(CONTENT_TYPE, "application/json")
        // One request per connection: the server need not keep it open for us.
        .header(CONNECTION, "close")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| fail("request to", &e))?;
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| fail("request to", &e))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| fail("answer from", &e))?
            .to_bytes();
        Ok((status, body))
    };
    // The connection is driven here rather than spawned, so a timeout leaves nothing behind.
    // Its end is not the answer's: the body may still be buffered, so wait for `answer`, which
    // fails on its own when the connection broke.
    tokio::pin!(conn, answer);
    let mut conn_done = false;
    loop {
        tokio::select! {
            result = &mut answer => return result,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

/// Checks a node URL from the matchmaker or a `MOVED` before following it: `ws://` or `wss://`,
/// but not `ws://` when the bot's home (the `https://` matchmaker, or the `wss://` URL it was
/// given) is secure: that downgrade would carry its seat or resume token in the clear, and a
/// browser refuses it too (`movedTarget` in web/static/status.js); and a loopback host when
/// `loopback_only` (a load run that may not leave this machine must not be sent off it either).
pub fn node_url(url: &str, loopback_only: bool, secure_home: bool) -> Result<WsUrl, String> {
    let parsed = WsUrl::parse(url)?;
    if secure_home && !parsed.secure {
        return Err(format!(
            "{url:?} is plain ws:// but this bot came over TLS (a downgrade is not followed)"
        ));
    }
    if loopback_only && !parsed.is_loopback() {
        return Err(format!(
            "{url:?} is not a loopback address (allow remote hosts to follow it)"
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Response, StatusCode};
    use tokio::net::TcpListener;

    const LIMIT: Duration = Duration::from_secs(5);

    /// What the test matchmaker saw: method, path, content type, body (as JSON).
    type Seen = Arc<Mutex<Vec<(String, String, String, serde_json::Value)>>>;

    /// A real hyper server on 127.0.0.1:0 answering every request with `status` and `body`.
    async fn matchmaker(status: u16, body: String) -> (SocketAddr, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Seen = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (log, body) = (log.clone(), body.clone());
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let (log, body) = (log.clone(), body.clone());
                    async move {
                        let method = req.method().to_string();
                        let path = req.uri().path().to_owned();
                        let ctype = req
                            .headers()
                            .get(CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        let bytes = req.into_body().collect().await.unwrap().to_bytes();
                        let json = serde_json::from_slice(&bytes).unwrap_or_default();
                        log.lock().unwrap().push((method, path, ctype, json));
                        let mut r = Response::new(Full::new(Bytes::from(body)));
                        *r.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(r)
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        (addr, seen)
    }

    fn url_of(addr: SocketAddr) -> MatchmakerUrl {
        MatchmakerUrl::parse(&format!("http://{addr}")).unwrap()
    }

    fn answer(url: &str) -> String {
        serde_json::json!({"url": url, "room": "arena", "seat": "seat1.9.n.sig", "node": "a"})
            .to_string()
    }

    #[tokio::test]
    async fn posts_json_and_reads_the_seat() {
        let (addr, seen) = matchmaker(200, answer("ws://127.0.0.1:9001/ws")).await;
        let req = SeatRequest {
            game: Some("arena".into()),
            name: Some("bot3".into()),
            ..SeatRequest::default()
        };
        let a = request_seat(&url_of(addr), &req, LIMIT, true, None)
            .await
            .unwrap();
        assert_eq!(
            a,
            SeatAnswer {
                url: "ws://127.0.0.1:9001/ws".into(),
                room: "arena".into(),
                seat: "seat1.9.n.sig".into(),
                node: "a".into(),
            }
        );
        let seen = seen.lock().unwrap();
        let (method, path, ctype, body) = &seen[0];
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/matchmake"));
        assert_eq!(ctype, "application/json");
        // No room asked for: the key is absent, not null.
        assert_eq!(body, &serde_json::json!({"game": "arena", "name": "bot3"}));
    }

    #[tokio::test]
    async fn a_refusal_carries_its_status_and_error() {
        let (addr, _) = matchmaker(503, r#"{"error":"no capacity"}"#.into()).await;
        let err = request_seat(&url_of(addr), &SeatRequest::default(), LIMIT, true, None)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            MatchmakeError::Refused {
                status: 503,
                error: "no capacity".into()
            }
        );
        // A body that is not the JSON error shape is shown as text.
        let (addr, _) = matchmaker(401, "go away".into()).await;
        let err = request_seat(&url_of(addr), &SeatRequest::default(), LIMIT, true, None)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "refused with HTTP 401: go away");
    }

    #[tokio::test]
    async fn answers_that_are_not_seats_are_refused() {
        let remote = answer("ws://10.0.0.1:9001/ws");
        let bad = [
            (answer("http://127.0.0.1/ws"), "ws://"),
            (remote.clone(), "loopback"),
            ("{\"url\": 5}".to_owned(), "invalid type"),
            (
                answer("ws://127.0.0.1:1/ws").replace("\"arena\"", "\"no room\""),
                "room",
            ),
            (
                answer("ws://127.0.0.1:1/ws").replace("seat1.9.n.sig", ""),
                "seat",
            ),
        ];
        for (body, why) in bad {
            let (addr, _) = matchmaker(200, body.clone()).await;
            let err = request_seat(&url_of(addr), &SeatRequest::default(), LIMIT, true, None)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, MatchmakeError::BadAnswer(e) if e.contains(why)),
                "{body}: {err}"
            );
        }
        // A remote node is fine when the run may leave this machine.
        let (addr, _) = matchmaker(200, remote).await;
        let req = SeatRequest::default();
        assert!(
            request_seat(&url_of(addr), &req, LIMIT, false, None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn an_oversize_answer_is_cut_off() {
        let (addr, _) = matchmaker(200, "x".repeat(MAX_ANSWER_BYTES + 1)).await;
        let err = request_seat(&url_of(addr), &SeatRequest::default(), LIMIT, true, None)
            .await
            .unwrap_err();
        assert!(matches!(err, MatchmakeError::Request(_)), "{err}");
    }

    #[tokio::test]
    async fn silence_and_absence_fail_in_bounded_time() {
        // Accepts and holds the connection, never answering.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move { listener.accept().await });
        let limit = Duration::from_millis(200);
        let err = request_seat(&url_of(addr), &SeatRequest::default(), limit, true, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no answer"), "{err}");
        held.abort();
        // Nothing listening.
        let closed = MatchmakerUrl::parse("http://127.0.0.1:1").unwrap();
        let err = request_seat(&closed, &SeatRequest::default(), LIMIT, true, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("tcp connect"), "{err}");
    }

    #[test]
    fn matchmaker_urls_are_http_or_https() {
        let u = MatchmakerUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 8080, "/matchmake")
        );
        assert!(u.is_loopback());
        let u = MatchmakerUrl::parse("http://[::1]:9/lb/matchmake").unwrap();
        assert_eq!(
            (u.authority().as_str(), u.path.as_str()),
            ("[::1]:9", "/lb/matchmake")
        );
        assert_eq!(MatchmakerUrl::parse("http://h/").unwrap().port, 80);
        let u = MatchmakerUrl::parse("https://127.0.0.1:9443/").unwrap();
        assert_eq!(
            (u.secure, u.port, u.path.as_str()),
            (true, 9443, "/matchmake")
        );
        let u = MatchmakerUrl::parse("HTTPS://mm.example.com").unwrap();
        assert_eq!((u.secure, u.port), (true, 443));
        for bad in [
            "ws://127.0.0.1/",
            "wss://127.0.0.1/",
            "127.0.0.1:8080",
            "http://:1/",
            "https://:1/",
            "http://h:x/",
            "https://u@h/",
        ] {
            let err = MatchmakerUrl::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
        assert!(
            !MatchmakerUrl::parse("https://10.0.0.1/")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn node_urls_are_ws_or_wss_and_loopback_when_asked() {
        assert!(node_url("ws://127.0.0.1:9001/ws", true, false).is_ok());
        assert!(node_url("ws://localhost:9001/ws", true, false).is_ok());
        assert!(node_url("ws://10.1.2.3:9001/ws", false, false).is_ok());
        let err = node_url("ws://10.1.2.3:9001/ws", true, false).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        // wss: from a plain home (an upgrade) or a secure one; the loopback rule holds.
        let u = node_url("wss://127.0.0.1:9001/ws", true, false).unwrap();
        assert!(u.secure);
        assert!(node_url("wss://127.0.0.1:9001/ws", true, true).is_ok());
        let err = node_url("wss://10.1.2.3/ws", true, true).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(node_url("wss://10.1.2.3/ws", false, true).is_ok());
        for bad in ["http://127.0.0.1/ws", "https://127.0.0.1/ws", "", "node-b"] {
            assert!(node_url(bad, false, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plain_node_url_from_a_secure_home_is_a_downgrade() {
        for url in ["ws://127.0.0.1:9001/ws", "WS://127.0.0.1/"] {
            let err = node_url(url, false, true).unwrap_err();
            assert!(err.contains("downgrade"), "{err}");
        }
    }
}
