//! Opening a connection: TCP (with the socket options a bot wants) and the WebSocket upgrade
//! (fastwebsockets' client handshake), then the raw TCP stream back for `wire` to frame.

use bytes::Bytes;
use fastwebsockets::handshake;
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, ORIGIN, UPGRADE};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpSocket, TcpStream, lookup_host};

use super::error::ClientError;
use super::options::{ConnectOptions, WsUrl};

/// TCP connect and the WebSocket upgrade. Returns the stream and any bytes that were read past
/// the upgrade response (the start of the first frames).
pub async fn open(url: &WsUrl, opts: &ConnectOptions) -> Result<(TcpStream, Bytes), ClientError> {
    let err = |what: &str, e: &dyn std::fmt::Display| ClientError::Connect(format!("{what}: {e}"));
    let addr = lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(|e| err("resolve", &e))?
        .next()
        .ok_or_else(|| ClientError::Connect(format!("{} resolves to nothing", url.host)))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| err("socket", &e))?;
    if let Some(size) = opts.recv_buffer {
        // Before connect, so the TCP window is negotiated with it.
        socket
            .set_recv_buffer_size(u32::try_from(size).unwrap_or(u32::MAX))
            .map_err(|e| err("SO_RCVBUF", &e))?;
    }
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| err(&format!("tcp connect {addr}"), &e))?;
    // Inputs are tiny and latency is what we measure: no Nagle.
    tcp.set_nodelay(true).map_err(|e| err("TCP_NODELAY", &e))?;

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
        None => req = req.header(ORIGIN, format!("http://{authority}")),
        Some("") => {}
        Some(origin) => req = req.header(ORIGIN, origin),
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| err("request", &e))?;
    let (ws, _) = handshake::client(&TokioExecutor::new(), req, tcp)
        .await
        .map_err(|e| err("websocket handshake", &e))?;
    // hyper wraps the stream it upgraded; take the TCP stream back out (plus anything hyper
    // read beyond the response) so the client can poll it directly.
    let parts = ws
        .into_inner()
        .into_inner()
        .downcast::<TokioIo<TcpStream>>()
        .map_err(|_| ClientError::Connect("upgraded stream is not the TCP stream".to_owned()))?;
    Ok((parts.io.into_inner(), parts.read_buf))
}
