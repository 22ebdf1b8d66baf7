//! The byte stream under a connection's WebSocket frames once upgraded: plain TCP (`ws://`) or
//! TLS over it (`wss://`, `crate::tls`). Both are used the same way: wait for readiness, then
//! read or write without waiting, so `wire` stays cancel-safe and a bot needs no task for I/O.

use std::io;

use tokio::net::TcpStream;

use crate::tcp::read_available;
use crate::tls::TlsSocket;

/// An upgraded connection's byte stream.
pub enum Socket {
    /// `ws://`.
    Plain(TcpStream),
    /// Boxed: the rustls state is large, and most runs are plain.
    Tls(Box<TlsSocket>),
}

impl Socket {
    /// Appends what the socket has to `out` (at least one byte, or 0 at the end of the stream;
    /// `out` should have room reserved). Cancel-safe: nothing is consumed until it returns.
    pub async fn read(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Socket::Plain(tcp) => loop {
                tcp.readable().await?;
                match read_available(tcp, out) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    read => return read,
                }
            },
            Socket::Tls(tls) => tls.read(out).await,
        }
    }

    /// Writes as much of `data` as the socket takes now; `WouldBlock` when it takes nothing.
    pub fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(tcp) => tcp.try_write(data),
            Socket::Tls(tls) => tls.try_write(data),
        }
    }

    /// Sends what the socket layer itself still holds (TLS records), as far as it goes now.
    pub fn flush_buffered(&self) -> io::Result<()> {
        match self {
            Socket::Plain(_) => Ok(()),
            Socket::Tls(tls) => tls.flush_buffered(),
        }
    }

    /// The socket layer itself holds bytes to send (TLS records the kernel did not take).
    pub fn has_buffered(&self) -> bool {
        match self {
            Socket::Plain(_) => false,
            Socket::Tls(tls) => tls.has_buffered(),
        }
    }

    /// Resolves when the socket may take more bytes.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Socket::Plain(tcp) => tcp.writable().await,
            Socket::Tls(tls) => tls.writable().await,
        }
    }
}
