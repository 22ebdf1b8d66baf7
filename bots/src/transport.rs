//! Opening a TCP connection the way bots want it (no Nagle, the receive buffer set before
//! connecting), with TLS over it when the URL calls for it: the one way both the client
//! (`client::upgrade`) and the matchmaker requests (`cluster`) connect.

use std::sync::Arc;

use rustls::ClientConfig;
use tokio::net::{TcpSocket, lookup_host};

use crate::tls::{self, MaybeTls};

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
