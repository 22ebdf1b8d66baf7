//! The socket side of a client: TCP, the WebSocket handshake, and the two tasks that own the
//! halves of the socket.
//!
//! fastwebsockets' `read_frame` is not cancel-safe, so it runs alone in a reader task and hands
//! decoded messages to the `Client` over a bounded channel (when the client stops taking them,
//! the reader stops reading and TCP pushes back on the server, as a slow player would). The
//! writer task owns the write half; the reader sends it the pong and close replies that
//! fastwebsockets obliges it to send, which go out before any queued data.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocket, WebSocketRead, WebSocketWrite, handshake};
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, ORIGIN, UPGRADE};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use protocol::{ServerMsg, codec, limits::MAX_SERVER_MSG_BYTES};
use tokio::io::{BufWriter, ReadHalf, WriteHalf};
use tokio::net::{TcpSocket, lookup_host};
use tokio::sync::mpsc;

use super::error::{ClientError, NO_STATUS};
use super::options::{ConnectOptions, WsUrl};

type Stream = TokioIo<Upgraded>;
type Reader = WebSocketRead<ReadHalf<Stream>>;
type Writer = WebSocketWrite<BufWriter<WriteHalf<Stream>>>;

/// Decoded messages waiting for `Client::recv`. Small: a client that falls behind should push
/// back through TCP to the server (whose latest-wins slot then drops stale snapshots), not
/// hoard decoded snapshots (about 12 KB each at 1000 entities).
pub const INBOUND_QUEUE: usize = 8;
/// Client messages waiting for the writer.
pub const OUTBOUND_QUEUE: usize = 1024;
const CONTROL_QUEUE: usize = 16;

/// One frame for the writer, or two written together (an ack riding with an input leaves in
/// one syscall).
pub struct Outgoing(pub Frame<'static>, pub Option<Frame<'static>>);

/// What the reader hands to the client.
pub enum Inbound {
    Message {
        msg: ServerMsg,
        /// Payload size on the wire.
        bytes: usize,
        /// When the reader had the whole message: latency is measured to here, not to when
        /// the application got round to it.
        at: Instant,
    },
    /// A message that is not valid protocol: undecodable, or a text frame.
    Invalid(String),
    /// The server's close frame.
    Closed { code: u16, reason: String },
    /// The connection ended without a close frame.
    Lost(String),
}

/// The client's ends of the two tasks.
pub struct Channels {
    pub inbound: mpsc::Receiver<Inbound>,
    /// Set when the client is closing: the reader then skips decoding what still arrives and
    /// only looks for the close frame (a backlog of snapshots is not worth the CPU).
    pub closing: Arc<AtomicBool>,
    pub data: mpsc::Sender<Outgoing>,
    pub control: mpsc::Sender<Frame<'static>>,
    /// Aborted when the client is dropped.
    pub reader: tokio::task::AbortHandle,
    /// Ends by itself once it has sent a close frame, or once every sender is gone (after it
    /// wrote what was queued, such as the reply to the server's close).
    pub writer: tokio::task::JoinHandle<()>,
}

/// TCP connect and the WebSocket upgrade.
pub async fn open(url: &WsUrl, opts: &ConnectOptions) -> Result<WebSocket<Stream>, ClientError> {
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
    let (mut ws, _) = handshake::client(&TokioExecutor::new(), req, tcp)
        .await
        .map_err(|e| err("websocket handshake", &e))?;
    ws.set_max_message_size(MAX_SERVER_MSG_BYTES);
    Ok(ws)
}

/// Splits the socket and starts the reader and writer tasks.
pub fn start(ws: WebSocket<Stream>) -> Channels {
    // Buffered writes: the writer flushes once per burst of queued frames, so an ack and an
    // input queued together leave in one syscall.
    let (read, write) = ws.split(|s| {
        let (r, w) = tokio::io::split(s);
        (r, BufWriter::with_capacity(4096, w))
    });
    let (inbound_tx, inbound) = mpsc::channel(INBOUND_QUEUE);
    let (data, data_rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let closing = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(read_loop(
        read,
        inbound_tx,
        control.clone(),
        closing.clone(),
    ));
    let writer = tokio::spawn(write_loop(write, control_rx, data_rx));
    Channels {
        inbound,
        closing,
        data,
        control,
        reader: reader.abort_handle(),
        writer,
    }
}

async fn read_loop(
    mut ws: Reader,
    out: mpsc::Sender<Inbound>,
    control: mpsc::Sender<Frame<'static>>,
    closing: Arc<AtomicBool>,
) {
    // Pong and close replies go to the writer. If the writer is gone (it already sent our own
    // close) there is nothing left to reply on, which is not the reader's error.
    let mut reply = move |frame: Frame<'static>| {
        let control = control.clone();
        async move {
            let _ = control.send(frame).await;
            Ok::<(), Infallible>(())
        }
    };
    let mut fragments = Reassembly::default();
    loop {
        let frame = match ws.read_frame(&mut reply).await {
            Ok(frame) => frame,
            Err(e) => {
                let _ = out.send(Inbound::Lost(e.to_string())).await;
                return;
            }
        };
        let item = match frame.opcode {
            OpCode::Binary | OpCode::Continuation if closing.load(Relaxed) => continue,
            OpCode::Binary | OpCode::Continuation => {
                match fragments.push(frame.opcode, frame.fin, &frame.payload) {
                    Err(e) => Inbound::Invalid(e),
                    Ok(None) => continue,
                    Ok(Some(bytes)) => decode(bytes),
                }
            }
            OpCode::Text => Inbound::Invalid("text frame (ticksync is binary only)".to_owned()),
            OpCode::Close => {
                let (code, reason) = parse_close(&frame.payload);
                let _ = out.send(Inbound::Closed { code, reason }).await;
                return;
            }
            OpCode::Ping | OpCode::Pong => continue,
        };
        if out.send(item).await.is_err() {
            return; // the client is gone
        }
    }
}

fn decode(bytes: &[u8]) -> Inbound {
    let at = Instant::now();
    match codec::decode_server(bytes) {
        Ok(msg) => Inbound::Message {
            msg,
            bytes: bytes.len(),
            at,
        },
        Err(e) => Inbound::Invalid(e.to_string()),
    }
}

fn parse_close(payload: &[u8]) -> (u16, String) {
    match payload {
        [hi, lo, reason @ ..] => (
            u16::from_be_bytes([*hi, *lo]),
            String::from_utf8_lossy(reason).into_owned(),
        ),
        _ => (NO_STATUS, String::new()),
    }
}

/// Joins fragmented binary messages, bounded by `MAX_SERVER_MSG_BYTES` in total
/// (fastwebsockets bounds each frame, not the sum).
#[derive(Default)]
struct Reassembly {
    partial: Option<Vec<u8>>,
    joined: Vec<u8>,
}

impl Reassembly {
    /// The whole message once its last frame is in. Unfragmented messages are not copied.
    fn push<'a>(
        &'a mut self,
        opcode: OpCode,
        fin: bool,
        payload: &'a [u8],
    ) -> Result<Option<&'a [u8]>, String> {
        match (opcode, self.partial.as_mut()) {
            (OpCode::Binary, Some(_)) => Err("new message inside a fragmented one".to_owned()),
            (OpCode::Binary, None) if fin => Ok(Some(payload)),
            (OpCode::Binary, None) => {
                self.partial = Some(payload.to_vec());
                Ok(None)
            }
            (_, None) => Err("continuation frame without a message".to_owned()),
            (_, Some(buf)) => {
                if buf.len() + payload.len() > MAX_SERVER_MSG_BYTES {
                    return Err(format!(
                        "fragmented message exceeds {MAX_SERVER_MSG_BYTES} bytes"
                    ));
                }
                buf.extend_from_slice(payload);
                if !fin {
                    return Ok(None);
                }
                self.joined = self.partial.take().unwrap_or_default();
                Ok(Some(&self.joined))
            }
        }
    }
}

async fn write_loop(
    mut ws: Writer,
    mut control: mpsc::Receiver<Frame<'static>>,
    mut data: mpsc::Receiver<Outgoing>,
) {
    loop {
        // Control frames first: a close reply stuck behind data would lose the handshake.
        let first = tokio::select! {
            biased;
            Some(f) = control.recv() => Outgoing(f, None),
            Some(o) = data.recv() => o,
            else => break,
        };
        let mut next = Some(first);
        // Write everything already queued, then flush once.
        while let Some(Outgoing(frame, then)) = next {
            for frame in std::iter::once(frame).chain(then) {
                let closing = frame.opcode == OpCode::Close;
                if ws.write_frame(frame).await.is_err() {
                    return;
                }
                if closing {
                    let _ = ws.flush().await;
                    return;
                }
            }
            next = control
                .try_recv()
                .map(|f| Outgoing(f, None))
                .or_else(|_| data.try_recv())
                .ok();
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}

/// A binary frame the writer can own (clients mask in place, so an owned payload avoids a copy).
pub fn binary_frame(payload: Vec<u8>, text: bool) -> Frame<'static> {
    if text {
        Frame::text(Payload::Owned(payload))
    } else {
        Frame::binary(Payload::Owned(payload))
    }
}
