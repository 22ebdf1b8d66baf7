//! Reading a TCP socket without waiting: the one read under both plain connections
//! (`client::socket`) and TLS ones (`tls`), so neither needs the other for it.

use std::io;

use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes asked of the kernel per read at least.
pub const READ_CHUNK: usize = 16 * 1024;

/// One non-blocking read of what `tcp` has into `buf`'s spare capacity: `WouldBlock` when it has
/// nothing (tokio's readiness is then cleared, so call after `readable()`), 0 at EOF.
pub fn read_available(tcp: &TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let room = buf.capacity() - buf.len();
    let mut read = None;
    // A read shorter than the room offered emptied the socket: saying so here clears tokio's
    // readiness for it, which saves the read that would only find it empty (one syscall per
    // snapshot). Readiness that arrives during the read is kept.
    let cleared = tcp.try_io(Interest::READABLE, || {
        let n = tcp.try_read_buf(buf)?;
        read = Some(n);
        match n {
            n if n > 0 && n < room => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    });
    match (read, cleared) {
        (Some(n), _) => Ok(n),
        (None, r) => r,
    }
}
