//! Opening a connection: TCP (with the socket options a bot wants), TLS over it for `wss://`,
//! and the WebSocket upgrade (fastwebsockets' client handshake); then the stream back as a
//! `Socket` for `wire` to frame.

use std::sync::Arc;

use bytes::Bytes;
use fastwebsockets::handshake;
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, ORIGIN, UPGRADE};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use tokio::net::{TcpSocket, lookup_host};

use super::error::ClientError;
use super::options::{ConnectOptions, WsUrl};
use super::socket::Socket;
use crate::tls::{self, MaybeTls, TlsSocket};

/// Connects to `host:port`: TCP without Nagle, then TLS when `tls` is given (verifying the
/// server's certificate for `host`). The one way bots and their matchmaker requests connect.
/// `recv_buffer`: `SO_RCVBUF`, set before connecting so the TCP window is negotiated with it.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    recv_buffer: Option<usize>,
) -> Result<MaybeTls, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let addr = lookup_host((host, port))
        .await
        .map_err(|e| err(&format!("resolve {host}"), &e))?
        .next()
        .ok_or_else(|| format!("{host} resolves to nothing"))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| err("socket", &e))?;
    if let Some(size) = recv_buffer {
        socket
            .set_recv_buffer_size(u32::try_from(size).unwrap_or(u32::MAX))
            .map_err(|e| err("SO_RCVBUF", &e))?;
    }
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| err(&format!("tcp connect {addr}"), &e))?;
    // Inputs are tiny and latency is what we measure: no Nagle (under TLS too).
    tcp.set_nodelay(true).map_err(|e| err("TCP_NODELAY", &e))?;
    match tls {
        None => Ok(MaybeTls::Plain(tcp)),
        Some(config) => Ok(MaybeTls::Tls(Box::new(
            tls::handshake(tcp, host, port, config).await?,
        ))),
    }
}

/// The TLS configuration for a connection to a URL: `None` for a plain one; for a secure one,
/// `given` or else the process-wide default (the public web's CAs).
pub(crate) fn tls_for(
    secure: bool,
    given: Option<&Arc<ClientConfig>>,
) -> Option<Arc<ClientConfig>> {
    secure.then(|| given.cloned().unwrap_or_else(tls::default_config))
}

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
