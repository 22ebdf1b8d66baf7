//! A stand-in for a cluster's `POST /matchmake`: a real hyper HTTP/1.1 server that answers
//! each request with the next of its node URLs (the last one over and over) and a numbered
//! seat, and logs the request bodies.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The room the matchmaker picks when the request names none.
pub const PICKED_ROOM: &str = "picked";

pub struct Matchmaker {
    pub addr: SocketAddr,
    /// Over TLS: an `https://` URL.
    pub secure: bool,
    /// The JSON bodies of the requests, in order.
    pub requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Matchmaker {
    /// Answers request i with `nodes[min(i, len - 1)]`; with no nodes, 503 "no capacity".
    pub async fn start(nodes: Vec<String>) -> Matchmaker {
        Self::listen(nodes, None).await
    }

    /// The same over TLS (`https://`), with the certificate of `tls`.
    pub async fn start_tls(nodes: Vec<String>, tls: TlsAcceptor) -> Matchmaker {
        Self::listen(nodes, Some(tls)).await
    }

    async fn listen(nodes: Vec<String>, tls: Option<TlsAcceptor>) -> Matchmaker {
        let secure = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let (log, nodes) = (requests.clone(), Arc::new(nodes));
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (log, nodes) = (log.clone(), nodes.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (log, nodes) = (log.clone(), nodes.clone());
                    async move { Ok::<_, Infallible>(answer(req, &log, &nodes).await) }
                });
                let tls = tls.clone();
                tokio::spawn(async move {
                    let http = http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        Matchmaker {
            addr,
            secure,
            requests,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.requests.lock().unwrap().clone()
    }
}

async fn answer(
    req: Request<Incoming>,
    log: &Mutex<Vec<serde_json::Value>>,
    nodes: &[String],
) -> Response<Full<Bytes>> {
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let n = {
        let mut log = log.lock().unwrap();
        log.push(json.clone());
        log.len()
    };
    let (status, body) = match nodes.get((n - 1).min(nodes.len().saturating_sub(1))) {
        None => (503, serde_json::json!({"error": "no capacity"})),
        Some(url) => {
            let room = json["room"].as_str().unwrap_or(PICKED_ROOM);
            let seat = format!("seat1.{n}");
            (
                200,
                serde_json::json!({"url": url, "room": room, "seat": seat, "node": "n"}),
            )
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}
