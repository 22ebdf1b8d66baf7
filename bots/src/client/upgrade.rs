//! Opening a client's connection: TCP and TLS (`transport`), then the WebSocket upgrade
//! (fastwebsockets' client handshake); then the stream back as a `Socket` for `wire` to frame.

use bytes::Bytes;
use fastwebsockets::handshake;
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, ORIGIN, UPGRADE};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::options::ConnectOptions;
use super::socket::Socket;
use crate::error::ClientError;
use crate::tls::{MaybeTls, TlsSocket};
use crate::transport::{connect, tls_for};
use crate::url::WsUrl;

/// Connect (TCP, TLS for `wss://`) and the WebSocket upgrade. Returns the socket and any bytes
/// that were read past the upgrade response (the start of the first frames).
pub async fn open(url: &WsUrl, opts: &ConnectOptions) -> Result<(Socket, Bytes), ClientError> {
    let tls = tls_for(url.secure, opts.tls.as_ref());
    let stream = connect(&url.host, url.port, tls, opts.recv_buffer)
        .await
        .map_err(ClientError::Connect)?;

    let err = |what: &str, e: &dyn std::fmt::Display| ClientError::Connect(format!("{what}: {e}"));
    let authority = url.authority();
    let mut req = Request::builder()
        .method("GET")
        .uri(url.path.as_str())
        .header(HOST, authority.as_str())
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "upgrade")
        .header("Sec-WebSocket-Key", handshake::generate_key())
        .header("Sec-WebSocket-Version", "13");
    match opts.origin.as_deref() {
        None => req = req.header(ORIGIN, url.origin()),
        Some("") => {}
        Some(origin) => req = req.header(ORIGIN, origin),
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| err("request", &e))?;
    let (ws, _) = handshake::client(&TokioExecutor::new(), req, stream)
        .await
        .map_err(|e| {
            // A TLS server answers a plain request with TLS bytes, which hyper cannot read.
            let hint = if !url.secure && e.to_string().contains("invalid HTTP version") {
                " (the server did not answer in HTTP: if it serves TLS, use wss://)"
            } else {
                ""
            };
            ClientError::Connect(format!("websocket handshake: {e}{hint}"))
        })?;
    // hyper wraps the stream it upgraded; take it back out (plus anything hyper read beyond
    // the response) so the client can poll it directly.
    let parts = ws
        .into_inner()
        .into_inner()
        .downcast::<TokioIo<MaybeTls>>()
        .map_err(|_| ClientError::Connect("upgraded stream is not the one opened".to_owned()))?;
    let sock = match parts.io.into_inner() {
        MaybeTls::Plain(tcp) => Socket::Plain(tcp),
        MaybeTls::Tls(tls) => Socket::Tls(Box::new(TlsSocket::new(*tls))),
    };
    Ok((sock, parts.read_buf))
}
