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

/// The room the matchmaker picks when the request names none.
pub const PICKED_ROOM: &str = "picked";

pub struct Matchmaker {
    pub addr: SocketAddr,
    /// The JSON bodies of the requests, in order.
    pub requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Matchmaker {
    /// Answers request i with `nodes[min(i, len - 1)]`; with no nodes, 503 "no capacity".
    pub async fn start(nodes: Vec<String>) -> Matchmaker {
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
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Matchmaker { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
