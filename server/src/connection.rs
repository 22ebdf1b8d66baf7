//! One WebSocket connection: a reader (decode, forward to the room without waiting) and a
//! writer (fed by the connection's `Outbox`). Split because `read_frame` is not cancel-safe.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastwebsockets::{
    Frame, OpCode, Payload, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use protocol::netsim::{NetSim, Schedule};
use protocol::seat::Seat;
use protocol::{ClientMsg, Hello, ServerMsg, codec, codes, schema};
use tokio::io::{BufWriter, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tracing::Instrument;

use crate::checkpoint;
use crate::cluster::Place;
use crate::ctx::ServerCtx;
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimit, Verdict};
use crate::registry::RoomHandle;
use crate::rejection::Rejection;
use crate::rng::Mulberry32;
use crate::room::published::ClientState;
use crate::room::{ConnId, JoinRequest, Outbox, Outgoing, RoomMsg, SavedRoom};

type Io = TokioIo<Upgraded>;
/// The writer's side: frames gather in a buffer and go out in one write when the outbox is
/// empty, so a burst (a room's join and leave events, a pong behind a snapshot) costs one
/// system call, not one per frame.
type WriteIo = BufWriter<WriteHalf<Io>>;
/// Frames a writer gathers before it writes; a larger frame goes out by itself.
const WRITE_BUFFER: usize = 16 * 1024;

/// Under a network simulation (`--simulate-*`): client messages read but not yet delivered to
/// the connection. When full the reader stops reading, as a full TCP window would.
const SIM_INBOUND_QUEUE: usize = 256;
/// Under a network simulation: frames taken from the outbox but not yet written. When full
/// the writer takes no more (snapshots wait in the latest-wins slot, reliable messages in the
/// outbox's bounded queue, as behind a slow socket).
const SIM_OUTBOUND_QUEUE: usize = 256;

/// How long a closing peer gets to answer our close frame before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Why the reader stopped.
enum End {
    /// The peer sent a close frame: it left on purpose.
    PeerClosed,
    /// The socket failed or hit EOF: the client may come back and resume.
    Lost,
    /// Close the connection with this code and reason.
    Close(u16, String),
}

impl From<Rejection> for End {
    fn from(r: Rejection) -> Self {
        End::Close(r.code, r.reason)
    }
}

/// Why the writer stopped.
enum WriterEnd {
    /// It sent a close frame with this code (or echoed the peer's).
    Closed(u16),
    /// A write failed or timed out (the peer stopped reading).
    Failed,
}

/// Serves one WebSocket, in a span naming it and its client's address (the room joins it).
pub async fn serve(ws: WebSocket<Io>, ctx: Arc<ServerCtx>, conn: ConnId, ip: IpAddr) {
    let span = tracing::info_span!("conn", id = conn, client = %ip, room = tracing::field::Empty);
    serve_in_span(ws, ctx, conn).instrument(span).await
}

async fn serve_in_span(mut ws: WebSocket<Io>, ctx: Arc<ServerCtx>, conn: ConnId) {
    // `>=` is refused by fastwebsockets, before the payload is allocated.
    ws.set_max_message_size(ctx.cfg.max_client_frame + 1);
    // Pings are answered in `next_message`, so they count against the rate limit too.
    ws.set_auto_pong(false);
    ws.set_auto_close(true);
    // Every frame as its head and payload handed to the BufWriter, which copies them into its
    // buffer: below the default threshold (1,024 bytes, most snapshots) fastwebsockets first
    // copied head and payload into a buffer of its own, a second copy of every snapshot.
    ws.set_writev_threshold(0);
    let (mut rd, wr) = ws.split(|io| {
        let (r, w) = tokio::io::split(io);
        (r, BufWriter::with_capacity(WRITE_BUFFER, w))
    });
    let outbox = Arc::new(Outbox::new(ctx.cfg.reliable_queue, ctx.cfg.send_window()));
    ctx.register(conn, outbox.clone());

    let mut writer =
        tokio::spawn(write_loop(wr, outbox.clone(), ctx.clone(), conn).in_current_span());
    let mut room: Option<RoomHandle> = None;
    let end = {
        let reading = read_side(&mut rd, &outbox, &ctx, conn, &mut room);
        tokio::pin!(reading);
        tokio::select! {
            end = &mut reading => Ok(end),
            // The writer stopped first: it sent a close (server-initiated) or the socket failed.
            w = &mut writer => {
                let _ = timeout(CLOSE_GRACE, &mut reading).await;
                Err(w.unwrap_or(WriterEnd::Failed))
            }
        }
    };
    let resumable = match &end {
        Ok(End::Lost) | Err(WriterEnd::Failed) => true,
        // A client timed out for silence may be a phone that slept: let it resume.
        Ok(End::Close(code, _)) | Err(WriterEnd::Closed(code)) => *code == codes::TIMEOUT,
        Ok(End::PeerClosed) => false,
    };
    if let Some(room) = &room {
        let _ = room.inbox.send(RoomMsg::Leave { conn, resumable }).await;
    }
    if let Ok(end) = end {
        let ours = matches!(end, End::Close(..));
        let (code, reason) = match end {
            End::Close(code, reason) => (code, reason),
            // Any close echo the reader queued goes out first (control frames lead).
            End::PeerClosed | End::Lost => (codes::NORMAL, String::new()),
        };
        if ours {
            tracing::debug!(conn, code, %reason, "closing connection");
        }
        outbox.close(code, reason);
        if timeout(CLOSE_GRACE, &mut writer).await.is_ok() && ours {
            // Read what the peer still sends (its close reply) so the close frame is not lost
            // to a TCP reset caused by unread data.
            let _ = timeout(CLOSE_GRACE, drain(&mut rd)).await;
        }
    }
    writer.abort();
    ctx.unregister(conn);
}

/// The frames of one connection's socket, within its rate limit.
struct Frames<'a> {
    rd: &'a mut WebSocketRead<ReadHalf<Io>>,
    outbox: &'a Outbox,
    limit: RateLimit,
    metrics: &'a Metrics,
}

impl Frames<'_> {
    /// The next complete binary message (see `next_message`).
    async fn next(&mut self) -> Result<Vec<u8>, End> {
        let outbox = self.outbox;
        let mut send_fn = |frame: Frame<'_>| {
            outbox.put_control(frame.opcode, frame.payload.to_vec());
            std::future::ready(Ok::<(), WebSocketError>(()))
        };
        next_message(self.rd, outbox, &mut self.limit, self.metrics, &mut send_fn).await
    }
}

/// Reads the client's messages and acts on them (`read_loop`). Under a network simulation
/// each message (and the end of the stream) is handed over at its delivery time: the socket
/// is read as frames come, into a bounded queue, so the room never sees a message early.
async fn read_side(
    rd: &mut WebSocketRead<ReadHalf<Io>>,
    outbox: &Arc<Outbox>,
    ctx: &Arc<ServerCtx>,
    conn: ConnId,
    joined: &mut Option<RoomHandle>,
) -> End {
    let (rate, burst) = ctx.cfg.message_rate();
    let mut frames = Frames {
        rd,
        outbox,
        limit: RateLimit::new(rate, burst, Instant::now()),
        metrics: &ctx.metrics,
    };
    let Some(sim) = ctx.cfg.network_simulation() else {
        return read_loop(Source::Socket(frames), outbox, ctx, conn, joined).await;
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(SIM_INBOUND_QUEUE);
    let link = async move {
        let epoch = tokio::time::Instant::now();
        let mut schedule = Schedule::new(sim);
        let mut jitter = Mulberry32::new(sim_seed(conn, 1));
        loop {
            let got = frames.next().await;
            let last = got.is_err();
            let at = epoch + schedule.deliver(epoch.elapsed(), jitter.next_f64());
            if tx.send((at, got)).await.is_err() || last {
                return std::future::pending::<End>().await;
            }
        }
    };
    tokio::select! {
        end = read_loop(Source::Delayed(&mut rx), outbox, ctx, conn, joined) => end,
        never = link => never,
    }
}

/// Messages read under a simulation, each with its delivery time (the stream's end last).
type Delayed = tokio::sync::mpsc::Receiver<(tokio::time::Instant, Result<Vec<u8>, End>)>;

/// Where `read_loop` gets the client's messages.
enum Source<'a> {
    /// Straight from the socket.
    Socket(Frames<'a>),
    /// Through a simulated link, at their delivery times.
    Delayed(&'a mut Delayed),
}

impl Source<'_> {
    async fn next(&mut self) -> Result<Vec<u8>, End> {
        match self {
            Source::Socket(frames) => frames.next().await,
            Source::Delayed(rx) => match rx.recv().await {
                Some((at, got)) => {
                    tokio::time::sleep_until(at).await;
                    got
                }
                None => Err(End::Lost),
            },
        }
    }
}

/// A jitter seed per connection and direction.
fn sim_seed(conn: ConnId, direction: u32) -> u32 {
    (conn as u32).wrapping_mul(0x9E37_79B9) ^ (conn >> 32) as u32 ^ direction
}

async fn read_loop(
    mut src: Source<'_>,
    outbox: &Arc<Outbox>,
    ctx: &Arc<ServerCtx>,
    conn: ConnId,
    joined: &mut Option<RoomHandle>,
) -> End {
    // The handshake: a `Hello` within the timeout, then the room's answer.
    let first = match timeout(ctx.cfg.handshake_timeout, src.next()).await {
        Err(_) => {
            return End::Close(
                codes::TIMEOUT,
                "no Hello within the handshake timeout".into(),
            );
        }
        Ok(Err(end)) => return end,
        Ok(Ok(bytes)) => bytes,
    };
    let hello = match parse_hello(&first).and_then(|h| authorize(ctx, h)) {
        Ok(h) => h,
        Err(rej) => return reject(ctx, outbox, rej),
    };
    let (room, player) = match join(ctx, conn, hello, outbox).await {
        Ok(joined) => joined,
        Err(rej) => return reject(ctx, outbox, rej),
    };
    tracing::Span::current().record("room", room.name.as_str());
    tracing::debug!(conn, ?player, "joined");
    let room = joined.insert(room);

    loop {
        let bytes = match src.next().await {
            Ok(b) => b,
            Err(end) => return end,
        };
        let msg = match codec::decode_client(&bytes) {
            Ok(m) => m,
            Err(e) => return End::Close(codes::PROTOCOL_ERROR, e.to_string()),
        };
        match msg {
            ClientMsg::Input(input) => {
                if let Some(tick) = input.ack {
                    outbox.set_acked(tick);
                }
                let values = match schema::decode_values(&room.schema.input, &input.values) {
                    Ok(v) => v,
                    Err(e) => return invalid(ctx, "input", e),
                };
                let msg = RoomMsg::Input {
                    conn,
                    seq: input.seq,
                    values,
                    ack: input.ack,
                    view: input.view,
                };
                if let Err(e) = room.inbox.try_send(msg) {
                    match e {
                        tokio::sync::mpsc::error::TrySendError::Full(_) => {
                            ctx.metrics.inputs_dropped.inc();
                        }
                        tokio::sync::mpsc::error::TrySendError::Closed(_) => {
                            return End::Close(codes::ROOM_CLOSED, "the room closed".into());
                        }
                    }
                }
            }
            ClientMsg::Ack { tick } => outbox.set_acked(tick),
            ClientMsg::Ping { client_time_us } => {
                let server_time_us = ctx.epoch.elapsed().as_micros() as u64;
                let pong = ServerMsg::Pong {
                    client_time_us,
                    server_time_us,
                };
                outbox.put_reliable(Bytes::from(codec::encode_server(&pong)));
            }
            ClientMsg::Chat { text } => {
                let _ = room.inbox.try_send(RoomMsg::Chat { conn, text });
            }
            ClientMsg::Action(action) => {
                let Some(desc) = room.schema.actions.get(usize::from(action.id)) else {
                    Metrics::count(&ctx.metrics.invalid_messages, "action");
                    return End::Close(
                        codes::UNKNOWN_MESSAGE,
                        format!("action {} is not declared by this game", action.id),
                    );
                };
                let values = match schema::decode_values(&desc.fields, &action.values) {
                    Ok(v) => v,
                    Err(e) => return invalid(ctx, "action", e),
                };
                // Reliable: wait for room in the inbox (this client only waits on itself).
                let msg = RoomMsg::Action {
                    conn,
                    id: action.id,
                    values,
                };
                if room.inbox.send(msg).await.is_err() {
                    return End::Close(codes::ROOM_CLOSED, "the room closed".into());
                }
            }
            ClientMsg::Hello(_) => return End::Close(codes::BAD_HELLO, "Hello sent twice".into()),
        }
    }
}

/// The next complete binary message within the rate limit (every frame counts; excess ones
/// are dropped). Pings are answered here; a close is echoed through `send_fn`.
async fn next_message<F, R>(
    rd: &mut WebSocketRead<ReadHalf<Io>>,
    outbox: &Outbox,
    limit: &mut RateLimit,
    metrics: &Metrics,
    send_fn: &mut F,
) -> Result<Vec<u8>, End>
where
    F: FnMut(Frame<'static>) -> R,
    R: std::future::Future<Output = Result<(), WebSocketError>>,
{
    loop {
        let mut frame = rd.read_frame(send_fn).await.map_err(frame_error)?;
        // RFC 6455 5.1: a server closes on a frame the client did not mask. A close frame is
        // exempt: its echo is already queued, and the connection ends with it anyway.
        if frame.opcode != OpCode::Close && !masked(&mut frame) {
            return Err(End::Close(
                codes::PROTOCOL_ERROR,
                "client frames must be masked (RFC 6455 section 5.1)".into(),
            ));
        }
        // One clock read per frame, for both.
        let now = Instant::now();
        outbox.heard(now);
        // A close is always honoured (its echo is already queued).
        let verdict = match frame.opcode {
            OpCode::Close => Verdict::Allow,
            _ => limit.check(now),
        };
        match verdict {
            Verdict::Allow => {}
            Verdict::Drop => {
                metrics.rate_limited.inc();
                continue;
            }
            Verdict::Abuse => {
                return Err(End::Close(
                    codes::POLICY_VIOLATION,
                    "message rate limit exceeded".into(),
                ));
            }
        }
        match frame.opcode {
            OpCode::Binary if frame.fin => return Ok(frame.payload.to_vec()),
            // Client messages are tiny: a fragmented one is either a bug or an attack.
            OpCode::Binary | OpCode::Continuation => {
                return Err(End::Close(
                    codes::PROTOCOL_ERROR,
                    "fragmented messages are not accepted".into(),
                ));
            }
            OpCode::Text => {
                return Err(End::Close(
                    codes::UNSUPPORTED_DATA,
                    "text frames are not accepted".into(),
                ));
            }
            OpCode::Close => return Err(End::PeerClosed),
            OpCode::Ping => outbox.put_control(OpCode::Pong, frame.payload.to_vec()),
            OpCode::Pong => {}
        }
    }
}

/// Whether the client masked `frame`. fastwebsockets unmasks the payload as it reads but keeps
/// the masking key, and formats the header's MASK bit from it.
fn masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 14]; // the longest frame header
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
}

/// A value list that does not fit the game's declaration: counted, and the client closed.
fn invalid(ctx: &ServerCtx, what: &str, e: schema::ValueError) -> End {
    Metrics::count(&ctx.metrics.invalid_messages, what);
    End::Close(codes::INVALID_VALUE, format!("invalid {what}: {e}"))
}

fn frame_error(e: WebSocketError) -> End {
    match e {
        WebSocketError::FrameTooLarge => {
            End::Close(codes::TOO_BIG, "frame larger than the limit".into())
        }
        WebSocketError::UnexpectedEOF
        | WebSocketError::IoError(_)
        | WebSocketError::ConnectionClosed => End::Lost,
        other => End::Close(codes::PROTOCOL_ERROR, other.to_string()),
    }
}

fn parse_hello(bytes: &[u8]) -> Result<Hello, Rejection> {
    match codec::peek_hello_version(bytes) {
        Some(v) if v != protocol::PROTOCOL_VERSION => {
            return Err(Rejection {
                code: codes::VERSION_MISMATCH,
                reason: format!(
                    "protocol version {v} is not supported; this server speaks {}",
                    protocol::PROTOCOL_VERSION
                ),
            });
        }
        Some(_) => {}
        None => {
            return Err(Rejection {
                code: codes::BAD_HELLO,
                reason: "the first message must be Hello".into(),
            });
        }
    }
    match codec::decode_client(bytes) {
        Ok(ClientMsg::Hello(h)) => Ok(h),
        Ok(_) => unreachable!("peek_hello_version checked the tag"),
        Err(e) => Err(Rejection {
            code: codes::BAD_HELLO,
            reason: e.to_string(),
        }),
    }
}

/// A seat from the matchmaker admits a `Hello` to its room (checked here, spent in `join`
/// once the room is known to be here). Otherwise, with a join secret configured, the `Hello`
/// must carry a valid join token for its room and name.
fn authorize(ctx: &ServerCtx, hello: Hello) -> Result<(Hello, Option<Seat>), Rejection> {
    if let Some(token) = hello.auth_token.as_deref()
        && protocol::seat::is_seat(token)
    {
        return match ctx.seats.check(token, &hello.room) {
            Ok(seat) => Ok((hello, Some(seat))),
            Err(e) => Err(unauthorized(e.to_string())),
        };
    }
    let Some(secret) = &ctx.cfg.join_secret else {
        return Ok((hello, None));
    };
    let token = hello.auth_token.as_deref();
    protocol::join_token::verify(
        secret.as_bytes(),
        token,
        &hello.room,
        &hello.name,
        protocol::join_token::now_unix(),
    )
    .map(|()| (hello, None))
    .map_err(|e| unauthorized(e.to_string()))
}

fn unauthorized(reason: String) -> Rejection {
    Rejection {
        code: codes::UNAUTHORIZED,
        reason,
    }
}

/// In a cluster, a room this node does not play is claimed here, or the client is sent to
/// the node that holds it (`MOVED`, with its URL). A room claimed here that a draining node
/// handed over, or whose node died, comes with its saved state.
async fn place(ctx: &ServerCtx, room: &str) -> Result<Option<SavedRoom>, Rejection> {
    let Some(cluster) = &ctx.cluster else {
        return Ok(None);
    };
    if ctx.rooms.get(room).is_some() {
        return Ok(None);
    }
    if ctx.rooms.draining() {
        return Err(crate::drain::redirect(ctx, cluster, room).await);
    }
    let unreachable = |e: redis::RedisError| {
        tracing::warn!(room, error = %e, "the room directory did not answer");
        Rejection {
            code: codes::SERVER_ERROR,
            reason: "the cluster's room directory is unreachable".into(),
        }
    };
    match cluster.place(room).await.map_err(unreachable)? {
        Place::Here => {
            let m = &ctx.metrics.checkpoints;
            checkpoint::restorable(cluster, room, &ctx.rooms, &ctx.cfg, m)
                .await
                .map_err(unreachable)
        }
        Place::Elsewhere { url } => Err(Rejection {
            code: codes::MOVED,
            reason: url,
        }),
    }
}

/// Spends a seat: a second use is refused.
async fn spend(ctx: &ServerCtx, room: &str, seat: &Seat) -> Result<(), Rejection> {
    match ctx.seats.admit(ctx.cluster.as_ref(), room, seat).await {
        Ok(()) => Ok(()),
        Err(Some(e)) => Err(unauthorized(e.to_string())),
        Err(None) => Err(Rejection {
            code: codes::SERVER_ERROR,
            reason: "seats cannot be checked now; ask the matchmaker again".into(),
        }),
    }
}

async fn join(
    ctx: &Arc<ServerCtx>,
    conn: ConnId,
    (hello, seat): (Hello, Option<Seat>),
    outbox: &Arc<Outbox>,
) -> Result<(RoomHandle, protocol::EntityId), Rejection> {
    let mut saved = place(ctx, &hello.room).await?;
    if let Some(seat) = &seat {
        spend(ctx, &hello.room, seat).await?;
    }
    // A room may close between lookup and join (idle grace ran out): retry on a fresh one.
    for _ in 0..3 {
        let restoring = saved.is_some();
        let room = ctx
            .rooms
            .get_or_restore(&hello.room, hello.game.as_deref(), saved.take())?;
        if restoring && let Some(cluster) = &ctx.cluster {
            // Restored (by this join or a concurrent one): nobody restores it again.
            if let Err(e) = cluster.drop_state(&hello.room).await {
                tracing::warn!(room = %hello.room, error = %e, "could not drop a restored room's state");
            }
        }
        let (reply, answer) = oneshot::channel();
        let req = JoinRequest {
            resume_token: hello.resume_token.clone(),
            conn,
            name: hello.name.clone(),
            outbox: outbox.clone(),
            reply,
        };
        if room.inbox.send(RoomMsg::Join(req)).await.is_err() {
            continue;
        }
        match timeout(ctx.cfg.handshake_timeout, answer).await {
            Ok(Ok(result)) => return result.map(|player| (room, player)),
            Ok(Err(_)) => continue,
            Err(_) => break,
        }
    }
    Err(Rejection {
        code: codes::SERVER_ERROR,
        reason: "could not join the room".into(),
    })
}

/// Sends `Reject` and asks for a close with the same code.
fn reject(ctx: &ServerCtx, outbox: &Outbox, mut rej: Rejection) -> End {
    truncate(&mut rej.reason, protocol::limits::MAX_REASON_BYTES);
    Metrics::count(&ctx.metrics.rejects, codes::name(rej.code));
    let msg = ServerMsg::Reject {
        code: rej.code,
        reason: rej.reason.clone(),
    };
    outbox.put_reliable(Bytes::from(codec::encode_server(&msg)));
    End::from(rej)
}

async fn write_loop(
    mut wr: WebSocketWrite<WriteIo>,
    outbox: Arc<Outbox>,
    ctx: Arc<ServerCtx>,
    conn: ConnId,
) -> WriterEnd {
    let cfg = &ctx.cfg;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + cfg.ping_interval,
        cfg.ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if let Some(sim) = cfg.network_simulation() {
        return write_loop_simulated(wr, outbox, ctx, ping, (sim, conn)).await;
    }
    // Where snapshots are built: reused, so it stays warm.
    let mut built = Vec::new();
    let mut client = ClientState::default();
    loop {
        while let Some(out) = outbox.take() {
            // `closing`: the close code when this frame is the last one.
            let Some((frame, closing)) = frame_of(&out, &outbox, &ctx, &mut client, &mut built)
            else {
                continue;
            };
            if !within_timeout(cfg.write_timeout, wr.write_frame(frame)).await {
                return WriterEnd::Failed;
            }
            if let Some(code) = closing {
                let _ = within_timeout(cfg.write_timeout, wr.flush()).await;
                return WriterEnd::Closed(code);
            }
        }
        if !within_timeout(cfg.write_timeout, wr.flush()).await {
            return WriterEnd::Failed;
        }
        tokio::select! {
            biased;
            _ = outbox.ready() => {}
            _ = ping.tick() => {
                if outbox.silent_for() >= cfg.idle_timeout {
                    outbox.close(codes::TIMEOUT, "no traffic from the client within the idle timeout");
                } else {
                    outbox.put_control(OpCode::Ping, b"ticksync".to_vec());
                }
            }
        }
    }
}

/// The frame `out` goes out as, and the close code when it is the last one; `None` for a
/// snapshot held back (a full snapshot too soon after the last).
fn frame_of<'a>(
    out: &'a Outgoing,
    outbox: &Outbox,
    ctx: &ServerCtx,
    client: &mut ClientState,
    built: &'a mut Vec<u8>,
) -> Option<(Frame<'a>, Option<u16>)> {
    Some(match out {
        Outgoing::Close(code, reason) => {
            // Every close the server decides (reader, room, limits, shutdown) comes
            // through here once; echoes of the client's own close do not.
            Metrics::count(&ctx.metrics.closes, codes::name(*code));
            (Frame::close(*code, close_reason(reason)), Some(*code))
        }
        Outgoing::Control(op, payload) => {
            let echo = (*op == OpCode::Close).then(|| echoed_code(payload));
            (
                Frame::new(true, *op, None, Payload::Borrowed(payload)),
                echo,
            )
        }
        Outgoing::Reliable(b) => (Frame::binary(Payload::Borrowed(b)), None),
        Outgoing::Snapshot(order) => {
            // Built now, from the newest tick published for this client (unless it
            // is a full snapshot too soon after the last).
            if !order.tick.build(order, outbox.acked_pair(), client, built) {
                return None;
            }
            outbox.snapshot_sent(order.tick.tick());
            (Frame::binary(Payload::Borrowed(built)), None)
        }
    })
}

/// `write_loop` under a network simulation: each frame is stamped with its delivery time when
/// taken from the outbox and written then, in order. What the outbox holds meanwhile still
/// follows its rules (a newer snapshot replaces a waiting one; the send window, which counts
/// the delayed ones as in flight, holds snapshots back), as a slow link would.
async fn write_loop_simulated(
    mut wr: WebSocketWrite<WriteIo>,
    outbox: Arc<Outbox>,
    ctx: Arc<ServerCtx>,
    mut ping: tokio::time::Interval,
    (sim, conn): (NetSim, ConnId),
) -> WriterEnd {
    let cfg = &ctx.cfg;
    let mut built = Vec::new();
    let mut client = ClientState::default();
    let epoch = tokio::time::Instant::now();
    let mut schedule = Schedule::new(sim);
    let mut jitter = Mulberry32::new(sim_seed(conn, 2));
    // (delivery time, opcode, payload, close code when it is the last frame), in order.
    let mut line: VecDeque<(tokio::time::Instant, OpCode, Vec<u8>, Option<u16>)> = VecDeque::new();
    loop {
        while line.len() < SIM_OUTBOUND_QUEUE
            && let Some(out) = outbox.take()
        {
            let Some((frame, closing)) = frame_of(&out, &outbox, &ctx, &mut client, &mut built)
            else {
                continue;
            };
            let at = epoch + schedule.deliver(epoch.elapsed(), jitter.next_f64());
            line.push_back((at, frame.opcode, frame.payload.to_vec(), closing));
        }
        let now = tokio::time::Instant::now();
        let mut wrote = false;
        while line.front().is_some_and(|f| f.0 <= now) {
            let Some((_, op, payload, closing)) = line.pop_front() else {
                break;
            };
            let frame = Frame::new(true, op, None, Payload::Owned(payload));
            if !within_timeout(cfg.write_timeout, wr.write_frame(frame)).await {
                return WriterEnd::Failed;
            }
            wrote = true;
            if let Some(code) = closing {
                let _ = within_timeout(cfg.write_timeout, wr.flush()).await;
                return WriterEnd::Closed(code);
            }
        }
        if wrote && !within_timeout(cfg.write_timeout, wr.flush()).await {
            return WriterEnd::Failed;
        }
        let next = line.front().map(|f| f.0);
        tokio::select! {
            biased;
            _ = tokio::time::sleep_until(next.unwrap_or(now)), if next.is_some() => {}
            _ = outbox.ready(), if line.len() < SIM_OUTBOUND_QUEUE => {}
            _ = ping.tick() => {
                if outbox.silent_for() >= cfg.idle_timeout {
                    outbox.close(codes::TIMEOUT, "no traffic from the client within the idle timeout");
                } else {
                    outbox.put_control(OpCode::Ping, b"ticksync".to_vec());
                }
            }
        }
    }
}

/// Runs a write; false if it fails or the socket takes none of it for `limit`. A peer that
/// stops reading fills its socket; past the limit it is dropped (no close frame can get
/// through a full socket). The timer is only armed for a write the socket does not take at
/// once: arming and dropping one per frame was a lock on the timer wheel per client per tick.
async fn within_timeout<E>(
    limit: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    let mut write = std::pin::pin!(write);
    let done = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    match done {
        Poll::Ready(r) => r.is_ok(),
        Poll::Pending => matches!(timeout(limit, write).await, Ok(Ok(()))),
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The code in a close frame's payload (1005 "no status" when it has none).
fn echoed_code(payload: &[u8]) -> u16 {
    match payload {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 1005,
    }
}

/// Close reasons are limited to 123 bytes by the WebSocket spec; cut at a char boundary.
fn close_reason(reason: &str) -> &[u8] {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason.as_bytes()[..end]
}

async fn drain(rd: &mut WebSocketRead<ReadHalf<Io>>) {
    let mut ignore = |_: Frame<'_>| std::future::ready(Ok::<(), WebSocketError>(()));
    while let Ok(frame) = rd.read_frame(&mut ignore).await {
        if frame.opcode == OpCode::Close {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_read_unmasked_still_shows_it_was_masked() {
        let mut payload = b"ticksync".to_vec();
        fastwebsockets::unmask(&mut payload, [1, 2, 3, 4]);
        let mut frame = Frame::new(true, OpCode::Binary, Some([1, 2, 3, 4]), payload.into());
        // What the read path does to a client's frame.
        frame.unmask();
        assert_eq!(&frame.payload[..], b"ticksync");
        assert!(masked(&mut frame));
        let mut bare = Frame::binary(Payload::Owned(vec![0; 300]));
        assert!(!masked(&mut bare));
    }

    #[test]
    fn close_reasons_are_cut_at_a_char_boundary() {
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert_eq!(cut.len(), 122);
        assert!(std::str::from_utf8(cut).is_ok());
    }
}
