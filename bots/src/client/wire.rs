//! WebSocket framing on the client's side of an upgraded connection (RFC 6455), polled by the
//! `Client` itself rather than by reader and writer tasks.
//!
//! Why not fastwebsockets' `read_frame` here: it is not cancel-safe, so it needs a task of its
//! own, plus a writer task and channels between them: three tasks and two hand-offs per
//! snapshot. With hundreds of bots sharing two cores with the server, that was about a tenth
//! of a bot's CPU (profiled: tokio's share fell from 14% to 9%, the whole bot by about 8%),
//! and decoded snapshots queued between the tasks. This reader only parses bytes already read
//! (synchronous), and reading more is `readable().await` + `try_read` (cancel-safe), so
//! `Client::recv` can be a `select!` branch. Writes are non-blocking `try_write`s; what the
//! kernel does not take waits in a bounded buffer until the socket is writable again.
//! fastwebsockets still does the HTTP upgrade. The socket is TCP or TLS over it (`socket`).

use std::collections::VecDeque;
use std::io;
use std::sync::Mutex;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use super::netsim::Link;
use super::socket::Socket;
use crate::error::NO_STATUS;
use crate::tcp::READ_CHUNK;

/// A later fragment of a message (RFC 6455's opcodes, section 5.2).
pub const OP_CONTINUATION: u8 = 0x0;
/// A text message: ticksync never sends one.
pub const OP_TEXT: u8 = 0x1;
/// A binary message: every ticksync message.
pub const OP_BINARY: u8 = 0x2;
/// A close frame (its payload: a code and a reason).
pub const OP_CLOSE: u8 = 0x8;
/// A ping, answered with a pong carrying its payload.
pub const OP_PING: u8 = 0x9;
/// The answer to a ping.
pub const OP_PONG: u8 = 0xA;

/// Outgoing bytes the kernel has not taken yet. Client messages are a few bytes each: this is
/// hundreds of them, so reaching it means the server stopped reading.
pub const MAX_PENDING_WRITE: usize = 64 * 1024;

/// A framing violation by the server; the connection cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Framing RFC 6455 forbids (or a server must not use), named.
    #[error("{0}")]
    Protocol(&'static str),
    /// A message (its size so far, or its declared length) larger than the limit.
    #[error("message of {0} bytes or more exceeds the limit of {1}")]
    TooBig(u64, usize),
}

/// One complete message or control frame from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A whole binary message, fragments joined: a ticksync message.
    Binary(&'a [u8]),
    /// A text message, payload dropped: ticksync is binary only (the client calls it a
    /// protocol error).
    Text,
    /// A ping, with its payload.
    Ping(&'a [u8]),
    /// A close frame: its code (`NO_STATUS` when it had none) and reason.
    Close {
        /// The close code.
        code: u16,
        /// Why, in words.
        reason: String,
    },
}

/// Bytes read from the socket and not yet parsed, and a fragmented message being joined.
pub struct FrameReader {
    buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`.
    pos: usize,
    /// Opcode and payload so far of a fragmented message.
    partial: Option<(u8, Vec<u8>)>,
    joined: Vec<u8>,
    max_message: usize,
}

struct Header {
    fin: bool,
    opcode: u8,
    len: usize,
    payload_at: usize,
}

impl FrameReader {
    /// `initial`: bytes already read past the HTTP upgrade response.
    pub fn new(initial: &[u8], max_message: usize) -> Self {
        let mut buf = Vec::with_capacity(READ_CHUNK.max(initial.len()));
        buf.extend_from_slice(initial);
        Self {
            buf,
            pos: 0,
            partial: None,
            joined: Vec::new(),
            max_message,
        }
    }

    /// Parses the header at `pos`: `Ok(None)` while it is incomplete.
    fn header(&self) -> Result<Option<Header>, FrameError> {
        let b = &self.buf[self.pos..];
        let [b0, b1, ..] = *b else { return Ok(None) };
        if b0 & 0x70 != 0 {
            return Err(FrameError::Protocol(
                "reserved bits set (no extension was agreed)",
            ));
        }
        if b1 & 0x80 != 0 {
            return Err(FrameError::Protocol("masked frame from the server"));
        }
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        let (len, at) = match b1 & 0x7F {
            126 => match b.get(2..4) {
                Some(l) => (u64::from(u16::from_be_bytes([l[0], l[1]])), 4),
                None => return Ok(None),
            },
            127 => match b.get(2..10) {
                Some(l) => (u64::from_be_bytes(l.try_into().expect("8 bytes")), 10),
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if opcode >= OP_CLOSE && (!fin || len > 125) {
            return Err(FrameError::Protocol(
                "fragmented or oversized control frame",
            ));
        }
        if len > self.max_message as u64 {
            return Err(FrameError::TooBig(len, self.max_message));
        }
        Ok(Some(Header {
            fin,
            opcode,
            len: len as usize,
            payload_at: at,
        }))
    }

    /// Whether a whole frame (or a framing error) waits among the bytes read so far.
    pub fn has_whole_frame(&self) -> bool {
        match self.header() {
            Ok(Some(h)) => self.buf.len() >= self.pos + h.payload_at + h.len,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The next complete message or control frame among the bytes read so far; `Ok(None)`
    /// when more bytes are needed. Pongs are skipped.
    pub fn next(&mut self) -> Result<Option<Incoming<'_>>, FrameError> {
        loop {
            let Some(h) = self.header()? else {
                return Ok(None);
            };
            let start = self.pos + h.payload_at;
            let end = start + h.len;
            if self.buf.len() < end {
                // Room for the rest of this frame before the next read.
                self.buf.reserve(end - self.buf.len());
                return Ok(None);
            }
            self.pos = end;
            match (h.opcode, self.partial.as_mut()) {
                (OP_PONG, _) => continue,
                (OP_PING, _) => return Ok(Some(Incoming::Ping(&self.buf[start..end]))),
                (OP_CLOSE, _) => return Ok(Some(parse_close(&self.buf[start..end])?)),
                (OP_BINARY | OP_TEXT, Some(_)) => {
                    return Err(FrameError::Protocol("new message inside a fragmented one"));
                }
                (OP_BINARY, None) if h.fin => {
                    return Ok(Some(Incoming::Binary(&self.buf[start..end])));
                }
                (OP_TEXT, None) if h.fin => return Ok(Some(Incoming::Text)),
                (OP_BINARY | OP_TEXT, None) => {
                    self.partial = Some((h.opcode, self.buf[start..end].to_vec()));
                }
                (OP_CONTINUATION, None) => {
                    return Err(FrameError::Protocol("continuation frame without a message"));
                }
                (OP_CONTINUATION, Some((_, joined))) => {
                    // fastwebsockets-style collectors bound each frame, not the sum: do both.
                    let total = joined.len() + h.len;
                    if total > self.max_message {
                        return Err(FrameError::TooBig(total as u64, self.max_message));
                    }
                    joined.extend_from_slice(&self.buf[start..end]);
                    if h.fin {
                        let (opcode, joined) = self.partial.take().expect("a partial message");
                        self.joined = joined;
                        return Ok(Some(match opcode {
                            OP_TEXT => Incoming::Text,
                            _ => Incoming::Binary(&self.joined),
                        }));
                    }
                }
                _ => return Err(FrameError::Protocol("unknown opcode")),
            }
        }
    }

    /// Reads what the socket has (at least one byte, or 0 at EOF). Cancel-safe: until the
    /// socket is readable nothing is consumed; the read itself does not wait.
    pub async fn fill(&mut self, sock: &Socket) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.capacity() - self.buf.len() < READ_CHUNK {
            // Move the unparsed tail to the front rather than grow.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        sock.read(&mut self.buf).await
    }

    /// Appends bytes read elsewhere (a simulated link delivering what it held).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.capacity() - self.buf.len() < bytes.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    #[cfg(test)]
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

fn parse_close(payload: &[u8]) -> Result<Incoming<'static>, FrameError> {
    match payload {
        [] => Ok(Incoming::Close {
            code: NO_STATUS,
            reason: String::new(),
        }),
        [_] => Err(FrameError::Protocol("close frame of one byte")),
        [hi, lo, reason @ ..] => Ok(Incoming::Close {
            code: u16::from_be_bytes([*hi, *lo]),
            reason: String::from_utf8_lossy(reason).into_owned(),
        }),
    }
}

/// Why a frame was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// More than `MAX_PENDING_WRITE` bytes are waiting: the server does not read.
    Full,
    /// A close frame went out already, or the socket failed.
    Closed,
}

/// The writing side: masks frames and hands them to the kernel without waiting.
/// Behind a mutex so `Client::send` can take `&self`; only the client's own task locks it.
pub struct FrameWriter {
    state: Mutex<WriteState>,
}

struct WriteState {
    /// Bytes the kernel has not taken yet, in order.
    pending: Vec<u8>,
    scratch: Vec<u8>,
    /// Masking keys (RFC 6455 wants them unpredictable to intermediaries, not secret).
    rng: SmallRng,
    closed: bool,
    /// A simulated link (`--simulate-*`): frames written, each held until its delivery time
    /// (then appended to `pending`), and the bytes they hold.
    delayed: Option<(Link, Held, usize)>,
}

/// Frames held by a simulated link, each with its delivery time, in order.
type Held = VecDeque<(tokio::time::Instant, Vec<u8>)>;

impl FrameWriter {
    /// An open writer with nothing pending.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(WriteState {
                pending: Vec::new(),
                scratch: Vec::with_capacity(256),
                rng: SmallRng::seed_from_u64(rand::random()),
                closed: false,
                delayed: None,
            }),
        }
    }

    /// A writer whose frames go through a simulated link: each write is held until its
    /// delivery time, and `release` (called by the client as it reads) sends what is due.
    pub fn simulated(sim: protocol::netsim::NetSim) -> Self {
        let w = Self::new();
        w.lock().delayed = Some((Link::new(sim), VecDeque::new(), 0));
        w
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WriteState> {
        // A panic while holding it cannot leave the bytes half-framed in `pending`.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `frames` (opcode, payload) as one burst: one syscall when nothing is pending.
    /// A close frame is the last thing this writer sends.
    pub fn write(&self, sock: &Socket, frames: &[(u8, &[u8])]) -> Result<(), WriteError> {
        let mut guard = self.lock();
        let s = &mut *guard;
        if s.closed {
            return Err(WriteError::Closed);
        }
        s.scratch.clear();
        let mut closing = false;
        for &(opcode, payload) in frames {
            encode_frame(
                opcode,
                payload,
                s.rng.next_u32().to_ne_bytes(),
                &mut s.scratch,
            );
            closing |= opcode == OP_CLOSE;
        }
        let held = s.delayed.as_ref().map_or(0, |d| d.2);
        // A close always goes out: it is what ends a stuck connection.
        if !closing && s.pending.len() + held + s.scratch.len() > MAX_PENDING_WRITE {
            return Err(WriteError::Full);
        }
        s.closed = closing;
        if let Some((link, queue, bytes)) = &mut s.delayed {
            *bytes += s.scratch.len();
            queue.push_back((link.deliver(), s.scratch.clone()));
            return Self::release_due(sock, s);
        }
        s.pending.extend_from_slice(&s.scratch);
        flush_some(sock, &mut s.pending).map_err(|_| {
            s.closed = true;
            WriteError::Closed
        })
    }

    /// Under a simulated link: hands the socket what is due. A failure shows on the read side.
    pub fn release(&self, sock: &Socket) {
        let mut guard = self.lock();
        let _ = Self::release_due(sock, &mut guard);
    }

    fn release_due(sock: &Socket, s: &mut WriteState) -> Result<(), WriteError> {
        let now = tokio::time::Instant::now();
        let Some((_, queue, bytes)) = &mut s.delayed else {
            return Ok(());
        };
        let mut any = false;
        while queue.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, frame)) = queue.pop_front() else {
                break;
            };
            *bytes -= frame.len();
            s.pending.extend_from_slice(&frame);
            any = true;
        }
        if !any {
            return Ok(());
        }
        flush_some(sock, &mut s.pending).map_err(|_| {
            s.closed = true;
            WriteError::Closed
        })
    }

    /// Under a simulated link: when the next held frame is due.
    pub fn next_due(&self) -> Option<tokio::time::Instant> {
        let s = self.lock();
        s.delayed.as_ref()?.1.front().map(|(at, _)| *at)
    }

    /// Under a simulated link: waits for every held frame to be due and hands them over
    /// (a closing client's last frames).
    pub async fn release_all(&self, sock: &Socket) {
        while let Some(at) = self.next_due() {
            tokio::time::sleep_until(at).await;
            self.release(sock);
        }
    }

    /// Bytes wait to be sent: here, or in the socket's TLS layer.
    pub fn has_pending(&self, sock: &Socket) -> bool {
        !self.lock().pending.is_empty() || sock.has_buffered()
    }

    /// Writes what is pending once the socket takes it (cancel-safe: nothing is lost if the
    /// wait is cancelled).
    pub async fn flush(&self, sock: &Socket) -> io::Result<()> {
        while self.has_pending(sock) {
            sock.writable().await?;
            flush_some(sock, &mut self.lock().pending)?;
        }
        Ok(())
    }
}

/// Hands the kernel as much of `pending` (and of what the TLS layer holds) as it takes now.
fn flush_some(sock: &Socket, pending: &mut Vec<u8>) -> io::Result<()> {
    let mut written = 0;
    while written < pending.len() {
        match sock.try_write(&pending[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    pending.drain(..written);
    if pending.is_empty() {
        sock.flush_buffered()?;
    }
    Ok(())
}

/// Appends one masked, final frame (client frames are always masked).
pub fn encode_frame(opcode: u8, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame (unmasked).
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![u8::from(fin) << 7 | opcode];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n @ 126..=0xFFFF => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    fn reader(bytes: &[u8]) -> FrameReader {
        FrameReader::new(bytes, 1 << 20)
    }

    #[test]
    fn parses_messages_of_every_length_form_byte_by_byte() {
        let big = vec![7u8; 70_000];
        let mid = vec![5u8; 300];
        let stream: Vec<u8> = [
            frame(true, OP_BINARY, b"hi"),
            frame(true, OP_BINARY, &mid),
            frame(true, OP_BINARY, &big),
        ]
        .concat();
        // Arriving one byte at a time, each message appears exactly when complete.
        let mut r = reader(&[]);
        let mut got = Vec::new();
        for b in &stream {
            r.push(&[*b]);
            while let Some(m) = r.next().unwrap() {
                match m {
                    Incoming::Binary(p) => got.push(p.to_vec()),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(got, vec![b"hi".to_vec(), mid, big]);
    }

    #[test]
    fn joins_fragments_across_interleaved_control_frames() {
        let stream = [
            frame(false, OP_BINARY, b"ab"),
            frame(true, OP_PING, b"p"),
            frame(false, OP_CONTINUATION, b"cd"),
            frame(true, OP_PONG, b""),
            frame(true, OP_CONTINUATION, b"e"),
        ]
        .concat();
        let mut r = reader(&stream);
        assert_eq!(r.next().unwrap(), Some(Incoming::Ping(b"p")));
        assert_eq!(r.next().unwrap(), Some(Incoming::Binary(b"abcde")));
        assert_eq!(r.next().unwrap(), None);
    }

    #[test]
    fn reports_text_and_close() {
        let stream = [
            frame(true, OP_TEXT, b"{}"),
            frame(true, OP_CLOSE, &[0x0f, 0xa5, b'b', b'y', b'e']),
        ]
        .concat();
        let mut r = reader(&stream);
        assert_eq!(r.next().unwrap(), Some(Incoming::Text));
        let close = Incoming::Close {
            code: 4005,
            reason: "bye".to_owned(),
        };
        assert_eq!(r.next().unwrap(), Some(close));
        let mut r = reader(&frame(true, OP_CLOSE, b""));
        let close = Incoming::Close {
            code: NO_STATUS,
            reason: String::new(),
        };
        assert_eq!(r.next().unwrap(), Some(close));
    }

    #[test]
    fn refuses_what_a_server_must_not_send() {
        let masked = {
            let mut f = frame(true, OP_BINARY, b"x");
            f[1] |= 0x80;
            f
        };
        let mut reserved = frame(true, OP_BINARY, b"x");
        reserved[0] |= 0x40;
        let cases: Vec<Vec<u8>> = vec![
            masked,
            reserved,
            frame(false, OP_PING, b""),
            frame(true, OP_PING, &[0; 126]),
            frame(true, OP_CONTINUATION, b"x"),
            [frame(false, OP_BINARY, b"a"), frame(true, OP_BINARY, b"b")].concat(),
            frame(true, 0x3, b""),
            frame(true, OP_CLOSE, b"x"),
        ];
        for bytes in cases {
            let mut r = reader(&bytes);
            let got = loop {
                match r.next() {
                    Ok(Some(_)) => continue,
                    other => break other,
                }
            };
            assert!(
                matches!(got, Err(FrameError::Protocol(_))),
                "{bytes:?}: {got:?}"
            );
        }
    }

    #[test]
    fn enforces_the_message_limit_per_frame_and_in_total() {
        let mut r = FrameReader::new(&frame(true, OP_BINARY, &[0; 11]), 10);
        assert_eq!(r.next(), Err(FrameError::TooBig(11, 10)));
        // A length claim is refused before any of it is buffered.
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(reader(&huge).next(), Err(FrameError::TooBig(..))));
        let pieces = [
            frame(false, OP_BINARY, &[0; 6]),
            frame(false, OP_CONTINUATION, &[0; 6]),
        ]
        .concat();
        let mut r = FrameReader::new(&pieces, 10);
        assert_eq!(r.next(), Err(FrameError::TooBig(12, 10)));
    }

    #[test]
    fn client_frames_are_masked() {
        let mut out = Vec::new();
        let mask = [1, 2, 3, 4];
        encode_frame(OP_BINARY, b"hello", mask, &mut out);
        assert_eq!(&out[..2], &[0x82, 0x80 | 5]);
        assert_eq!(&out[2..6], &mask);
        let unmasked: Vec<u8> = out[6..]
            .iter()
            .zip(mask.iter().cycle())
            .map(|(b, m)| b ^ m)
            .collect();
        assert_eq!(unmasked, b"hello");
        let mut out = Vec::new();
        encode_frame(OP_BINARY, &[0; 200], mask, &mut out);
        assert_eq!(&out[..4], &[0x82, 0x80 | 126, 0, 200]);
    }
}
