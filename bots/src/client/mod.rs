//! One connection to a ticksync server that keeps the world exactly as a browser does: decodes
//! any game from the schema its `Welcome` carries, applies every snapshot's delta to its
//! baselines, verifies the checksum, and acks (on its inputs).

pub mod decode_cache;
mod drawn;
pub mod netsim;
mod options;
pub mod read;
pub mod ring;
mod socket;
pub mod stats;
mod upgrade;
mod wire;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use protocol::declare::{Fields, Writer};
use protocol::limits::MAX_SERVER_MSG_BYTES;
use protocol::{
    Action, ClientMsg, Descriptor, EntityId, Event, Hello, Input, PROTOCOL_VERSION, Plan,
    ServerMsg, SnapshotHeader, StateTable, Value, Welcome, codec, codes, schema,
};

use decode_cache::DecodeCache;
pub use drawn::Drawn;
pub use options::ConnectOptions;
use ring::{RingError, TableRing};
use socket::Socket;
pub use stats::{ClientStats, Counters, GameEventCounts};
use wire::{FrameReader, FrameWriter, Incoming, OP_BINARY, OP_CLOSE, OP_PONG, OP_TEXT, WriteError};

pub use crate::error::{ABNORMAL_CLOSURE, ClientError, NO_STATUS, close_code_name};
pub use crate::url::WsUrl;

/// How long `close` waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long `connect` waits for the close frame that follows a `Reject`.
const REJECT_CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Inputs waiting for a snapshot that acks them. A server that never acks (or a client that
/// sends much faster than the tick) loses the oldest samples rather than growing memory.
const MAX_PENDING_INPUTS: usize = 1024;

/// One message from the server, as `Client::recv` hands it over.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    /// A snapshot, already applied (and verified, and acked when `auto_ack`): read the world
    /// with `Client::latest` or `Client::table_at(tick)`.
    Snapshot {
        /// The server tick whose world the snapshot carries.
        tick: u32,
        /// The tick its delta was against; `None` for a full snapshot.
        baseline: Option<u32>,
        /// The second baseline, for linear predictors; `None` when not used.
        baseline2: Option<u32>,
        /// The newest of this client's inputs the server had applied (0: none yet).
        input_seq: u32,
        /// The server's clock when it sent the snapshot, µs since it started.
        server_time_us: u64,
        /// `Some(true)` when the snapshot carried a checksum (a mismatch is an error instead);
        /// `None` when the server sends no checksums.
        checksum_ok: Option<bool>,
        /// Size of the message on the wire.
        bytes: usize,
    },
    /// A room event every game has (players joining and leaving, chat, notices).
    Event(Event),
    /// A game-declared event, decoded with the schema (`events[id]`).
    GameEvent {
        /// Its id: its position in the schema's `events`.
        id: u16,
        /// Its name in the schema.
        name: String,
        /// One per field of the event, in field-id order.
        values: Vec<Value>,
    },
    /// The answer to a `Client::send_ping`.
    Pong {
        /// From sending the ping to reading the pong.
        rtt: Duration,
    },
}

/// One connection. It has no tasks of its own: `recv` reads and parses the socket and `send`
/// writes to it without waiting (see `wire`), so a bot is a single task.
pub struct Client {
    /// TCP, or TLS over it for `wss://`.
    sock: Socket,
    reader: FrameReader,
    writer: FrameWriter,
    /// When the bytes now being parsed were read: latency is measured to the moment a message
    /// arrived, not to when the application got round to it.
    read_at: Instant,
    /// Closing: what still arrives is skipped undecoded (a backlog of snapshots is not worth
    /// the CPU); only the close frame matters.
    discarding: bool,
    player: EntityId,
    tick_rate: u16,
    /// The game's schema (from `Welcome`) and its compiled plan.
    schema: Descriptor,
    plan: Arc<Plan>,
    /// Shares decoded snapshots with the other clients of this process (`ConnectOptions`).
    decode_cache: Option<Arc<DecodeCache>>,
    auto_ack: bool,
    coalesce_acks: bool,
    /// `ConnectOptions::input_interval` (`None`: a tick).
    input_interval: Option<Duration>,
    /// When the last input went out: a snapshot that comes within `ack_delay` of it is acked
    /// by the next input; later, the client is not playing and acks it alone.
    last_input_at: Option<Instant>,
    /// `ConnectOptions::verify`.
    verify: bool,
    /// A standalone ack is due for the newest applied tick: `recv` sends it once the frames
    /// already read are handled.
    ack_owed: bool,
    /// The coded values of the input being sent, reused.
    input_values: Vec<u8>,
    ring: TableRing,
    /// The delta of the snapshot being handled, copied out of the read buffer.
    delta_buf: Vec<u8>,
    newest_tick: Option<u32>,
    next_input_seq: u32,
    /// (seq, sent at), ascending.
    pending_inputs: VecDeque<(u32, Instant)>,
    /// Ping times are microseconds since this instant.
    epoch: Instant,
    stats: ClientStats,
    /// Set once the connection has ended, so later calls to `recv` repeat why.
    ended: Option<ClientError>,
    /// A simulated link's incoming side (`ConnectOptions::simulate`); its outgoing side is in
    /// `writer`. `None`: the socket is read directly.
    inbound: Option<Box<netsim::Inbound>>,
    /// `ConnectOptions::draw_behind_ticks`.
    draw_behind_ticks: f64,
}

impl Client {
    /// Connects, sends `Hello`, waits for `Welcome`. A `Reject` gives
    /// `Err(ClientError::Rejected { code, reason })`. Bounded by `opts.connect_timeout`.
    pub async fn connect(opts: ConnectOptions) -> Result<(Client, Welcome), ClientError> {
        let url = WsUrl::parse(&opts.url).map_err(ClientError::Connect)?;
        let limit = opts.connect_timeout;
        tokio::time::timeout(limit, Self::connect_inner(url, opts))
            .await
            .unwrap_or_else(|_| {
                Err(ClientError::Connect(format!(
                    "no Welcome within {}",
                    humantime::format_duration(limit)
                )))
            })
    }

    async fn connect_inner(
        url: WsUrl,
        opts: ConnectOptions,
    ) -> Result<(Client, Welcome), ClientError> {
        let (sock, already_read) = upgrade::open(&url, &opts).await?;
        let mut client = Client {
            sock,
            reader: FrameReader::new(&already_read, MAX_SERVER_MSG_BYTES),
            writer: match opts.simulate {
                Some(sim) => FrameWriter::simulated(sim),
                None => FrameWriter::new(),
            },
            read_at: Instant::now(),
            discarding: false,
            player: EntityId {
                index: 0,
                version: 0,
            },
            tick_rate: 0,
            schema: empty_schema(),
            plan: Arc::default(),
            decode_cache: opts.decode_cache.clone(),
            auto_ack: opts.auto_ack,
            coalesce_acks: opts.coalesce_acks,
            input_interval: opts.input_interval,
            last_input_at: None,
            verify: opts.verify,
            ack_owed: false,
            input_values: Vec::with_capacity(32),
            ring: TableRing::default(),
            delta_buf: Vec::new(),
            newest_tick: None,
            next_input_seq: 1,
            pending_inputs: VecDeque::new(),
            epoch: Instant::now(),
            stats: ClientStats::default(),
            ended: None,
            inbound: opts.simulate.map(|sim| Box::new(netsim::Inbound::new(sim))),
            draw_behind_ticks: opts.draw_behind_ticks,
        };
        client.send(ClientMsg::Hello(Hello {
            version: PROTOCOL_VERSION,
            room: opts.room,
            name: opts.name,
            auth_token: opts.auth_token,
            resume_token: opts.resume_token,
            game: opts.game.clone(),
        }))?;
        let welcome = client.wait_for_welcome().await?;
        if let Err(why) = check_welcome(&welcome, opts.game.as_deref()) {
            // Best effort: say why on the way out.
            let code = codes::PROTOCOL_ERROR.to_be_bytes();
            let _ = client.writer.write(&client.sock, &[(OP_CLOSE, &code)]);
            return Err(client.protocol_error(why));
        }
        client.player = welcome.player;
        client.tick_rate = welcome.tick_rate;
        client.plan = match &client.decode_cache {
            Some(cache) => cache.plan(&welcome.schema),
            None => Arc::new(Plan::new(&welcome.schema)),
        };
        client.schema = welcome.schema.clone();
        Ok((client, welcome))
    }

    async fn wait_for_welcome(&mut self) -> Result<Welcome, ClientError> {
        let (msg, _) = self.next_message().await.map_err(|e| match e {
            closed @ ClientError::Closed { .. } => closed,
            other => ClientError::Connect(format!("no Welcome: {other}")),
        })?;
        let Msg::Other(msg) = msg else {
            return Err(ClientError::Connect(
                "expected Welcome, got Snapshot".to_owned(),
            ));
        };
        match msg {
            ServerMsg::Welcome(w) => Ok(*w),
            ServerMsg::Reject { code, reason } => {
                // Let the close handshake that follows finish, so the server sees a clean close
                // rather than a reset.
                let _ = self.wait_for_close(REJECT_CLOSE_WAIT).await;
                Err(ClientError::Rejected { code, reason })
            }
            other => Err(ClientError::Connect(format!(
                "expected Welcome, got {}",
                message_name(&other)
            ))),
        }
    }

    /// The next message from the server. Cancel-safe: bytes wait in the socket and in this
    /// client's buffer until a whole message is there, and nothing waits after that point.
    /// Snapshots are applied and verified here, and acked when `auto_ack`.
    /// `Err(ClientError::Closed { .. })` once the server has closed, and on every later call.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        let (msg, bytes) = self.next_message().await?;
        let received = self.on_message(msg, bytes, self.read_at);
        // Once the frames already read are handled: a client draining a backlog acks the
        // newest snapshot once, not each one.
        if self.ack_owed && !self.reader.has_whole_frame() {
            self.ack_owed = false;
            self.send_ack()?;
        }
        received
    }

    /// The next message if one is already read or readable now, without waiting: `None` when
    /// the socket has nothing more (or this task's scheduling budget ran out). A load bot that
    /// reads in batches (`ConnectOptions::verify` off) calls this at its own pace.
    pub fn try_recv(&mut self) -> Option<Result<Received, ClientError>> {
        let recv = std::pin::pin!(self.recv());
        // `recv` is cancel-safe: dropping it pending leaves every byte where it was.
        match recv.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(received) => Some(received),
            Poll::Pending => None,
        }
    }

    /// The next decoded message, reading as needed; answers pings and close frames on the way.
    async fn next_message(&mut self) -> Result<(Msg, usize), ClientError> {
        // A message already buffered is returned without waiting: without this, a client
        // draining a backlog would never yield, and its neighbours on the same worker (and its
        // own timers) would starve. Before anything is consumed, so `recv` stays cancel-safe.
        tokio::task::consume_budget().await;
        loop {
            if let Some(e) = &self.ended {
                return Err(e.clone());
            }
            if self.inbound.is_some() {
                // Under a simulated link, what the client wrote goes out when due.
                self.writer.release(&self.sock);
            }
            if let Some(next) = self.next_buffered() {
                return next;
            }
            self.read_more().await?;
        }
    }

    /// The next message among the bytes already read, if a whole one is there.
    fn next_buffered(&mut self) -> Option<Result<(Msg, usize), ClientError>> {
        loop {
            let incoming = match self.reader.next() {
                Ok(Some(incoming)) => incoming,
                Ok(None) => return None,
                Err(e) => {
                    // The stream is out of sync: nothing after this can be trusted.
                    self.stats.counters.protocol_errors += 1;
                    let code = codes::PROTOCOL_ERROR.to_be_bytes();
                    let _ = self.writer.write(&self.sock, &[(OP_CLOSE, &code)]);
                    return Some(Err(self.end(ClientError::Protocol(e.to_string()))));
                }
            };
            match incoming {
                Incoming::Binary(_) | Incoming::Text if self.discarding => {}
                Incoming::Binary(bytes) => {
                    let len = bytes.len();
                    // A snapshot's delta stays encoded: `on_snapshot` applies it straight from
                    // the bytes (copied out of the read buffer, which the next read reuses).
                    let decoded = match codec::decode_snapshot_header(bytes) {
                        Ok(Some((header, delta))) => {
                            self.delta_buf.clear();
                            if self.verify {
                                self.delta_buf.extend_from_slice(delta);
                            }
                            Ok(Msg::Snapshot(header))
                        }
                        Ok(None) => codec::decode_server(bytes).map(Msg::Other),
                        Err(e) => Err(e),
                    };
                    self.stats.counters.bytes_in += len as u64;
                    return Some(match decoded {
                        Ok(msg) => Ok((msg, len)),
                        Err(e) => Err(self.protocol_error(e.to_string())),
                    });
                }
                Incoming::Text => {
                    let what = "text frame (ticksync is binary only)".to_owned();
                    return Some(Err(self.protocol_error(what)));
                }
                Incoming::Ping(payload) => {
                    // Best effort: a full or closed writer means the connection is ending.
                    let _ = self.writer.write(&self.sock, &[(OP_PONG, payload)]);
                }
                Incoming::Close { code, reason } => {
                    // Echo the code to complete the closing handshake (a no-op when we closed
                    // first). 1005 stands for "no code" and is never sent.
                    let echo = match code {
                        NO_STATUS => Vec::new(),
                        code => code.to_be_bytes().to_vec(),
                    };
                    let _ = self.writer.write(&self.sock, &[(OP_CLOSE, &echo)]);
                    return Some(Err(self.end(ClientError::Closed { code, reason })));
                }
            }
        }
    }

    /// Reads more bytes, meanwhile flushing writes the kernel did not take at once.
    /// Cancel-safe.
    async fn read_more(&mut self) -> Result<(), ClientError> {
        if self.inbound.is_some() {
            return self.read_more_simulated().await;
        }
        let read = if self.writer.has_pending(&self.sock) {
            tokio::select! {
                read = self.reader.fill(&self.sock) => Some(read),
                // A failed write shows up on the read side too, as a reset or EOF.
                _ = self.writer.flush(&self.sock) => None,
            }
        } else {
            Some(self.reader.fill(&self.sock).await)
        };
        match read {
            None => Ok(()),
            Some(Ok(0)) => Err(self.end(ClientError::Transport(
                "connection closed without a close frame".to_owned(),
            ))),
            Some(Ok(_)) => {
                self.read_at = Instant::now();
                Ok(())
            }
            Some(Err(e)) => Err(self.end(ClientError::Transport(e.to_string()))),
        }
    }

    /// `read_more` under a simulated link: hands the parser what is due, or reads into the
    /// link, sends what is due, or waits for the next of these. Cancel-safe.
    async fn read_more_simulated(&mut self) -> Result<(), ClientError> {
        let Some(inbound) = self.inbound.as_deref_mut() else {
            return Ok(());
        };
        let now = tokio::time::Instant::now();
        let mut delivered = false;
        let mut ended = None;
        // The frames before the end are parsed first; the end comes on a later call.
        while !(delivered && inbound.end_is_next())
            && let Some(chunk) = inbound.due(now)
        {
            match chunk {
                netsim::Chunk::Bytes(b) => {
                    self.reader.feed(&b);
                    delivered = true;
                }
                netsim::Chunk::End(why) => {
                    ended =
                        Some(why.unwrap_or_else(|| {
                            "connection closed without a close frame".to_owned()
                        }));
                    break;
                }
            }
        }
        if delivered {
            self.read_at = now.into_std();
            return Ok(());
        }
        if let Some(why) = ended {
            return Err(self.end(ClientError::Transport(why)));
        }
        self.writer.release(&self.sock);
        let next = match (inbound.next_due(), self.writer.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let reading = inbound.wants_more();
        let flushing = self.writer.has_pending(&self.sock);
        let mut buf = Vec::new();
        if reading {
            buf.reserve(crate::tcp::READ_CHUNK);
        }
        tokio::select! {
            read = self.sock.read(&mut buf), if reading => inbound.arrived(match read {
                Ok(0) => netsim::Chunk::End(None),
                Ok(_) => netsim::Chunk::Bytes(buf),
                Err(e) => netsim::Chunk::End(Some(e.to_string())),
            }),
            _ = self.writer.flush(&self.sock), if flushing => {}
            _ = tokio::time::sleep_until(next.unwrap_or(now)), if next.is_some() => {}
            else => {}
        }
        Ok(())
    }

    fn on_message(&mut self, msg: Msg, bytes: usize, at: Instant) -> Result<Received, ClientError> {
        let msg = match msg {
            Msg::Snapshot(header) => return self.on_snapshot(header, bytes, at),
            Msg::Other(msg) => msg,
        };
        match msg {
            ServerMsg::Snapshot(_) => unreachable!("snapshots are decoded as Msg::Snapshot"),
            ServerMsg::Event(e) => {
                self.stats.counters.events += 1;
                Ok(Received::Event(e))
            }
            ServerMsg::GameEvent(Action { id, values }) => {
                let declared = self.schema.events.len();
                self.stats.game_events.count(id, declared);
                let Some(event) = self.schema.events.get(usize::from(id)) else {
                    return Err(
                        self.protocol_error(format!("game event {id} is not in the schema"))
                    );
                };
                match schema::decode_values(&event.fields, &values) {
                    Ok(values) => {
                        self.stats.counters.game_events += 1;
                        Ok(Received::GameEvent {
                            id,
                            name: event.name.clone(),
                            values,
                        })
                    }
                    Err(e) => {
                        let what = format!("game event {}: {e}", event.name);
                        Err(self.protocol_error(what))
                    }
                }
            }
            ServerMsg::Pong { client_time_us, .. } => {
                let sent = self.epoch + Duration::from_micros(client_time_us);
                let rtt = at.saturating_duration_since(sent);
                stats::record_latency(&mut self.stats.rtt_us, rtt);
                Ok(Received::Pong { rtt })
            }
            // The close frame with the same code follows; report the reason now.
            ServerMsg::Reject { code, reason } => {
                Err(self.end(ClientError::Closed { code, reason }))
            }
            ServerMsg::Welcome(_) => Err(self.protocol_error("a second Welcome".to_owned())),
        }
    }

    fn on_snapshot(
        &mut self,
        s: SnapshotHeader,
        bytes: usize,
        at: Instant,
    ) -> Result<Received, ClientError> {
        if let Some(prev) = self.newest_tick
            && s.tick > prev
        {
            self.stats.counters.stale_dropped += u64::from(s.tick - prev - 1);
        }
        if !self.verify {
            return Ok(self.on_header_only(s, bytes, at));
        }
        let own = Some(self.player);
        let applied = match &self.decode_cache {
            Some(cache) => self
                .ring
                .apply_shared(&self.plan, own, &s, &self.delta_buf, cache),
            None => self.ring.apply(&self.plan, own, &s, &self.delta_buf),
        };
        match applied {
            Ok(_) => {}
            Err(RingError::ChecksumMismatch { tick, .. }) => {
                self.newest_tick = Some(s.tick);
                self.stats.counters.checksum_mismatches += 1;
                return Err(ClientError::ChecksumMismatch { tick });
            }
            Err(RingError::Evicted { tick, baseline }) => {
                self.newest_tick = Some(s.tick);
                self.stats.counters.fell_behind += 1;
                return Err(ClientError::FellBehind { tick, baseline });
            }
            Err(e) => {
                self.newest_tick = self.newest_tick.max(Some(s.tick));
                return Err(self.protocol_error(e.to_string()));
            }
        }
        self.newest_tick = Some(s.tick);
        self.stats.counters.snapshots += 1;
        self.record_input_latency(s.input_seq, at);
        self.ack_snapshot(at)?;
        Ok(Received::Snapshot {
            tick: s.tick,
            baseline: s.baseline,
            baseline2: s.baseline2,
            input_seq: s.input_seq,
            server_time_us: s.server_time_us,
            checksum_ok: s.checksum.map(|_| true),
            bytes,
        })
    }

    /// A snapshot when not verifying (`ConnectOptions::verify` off): its header is all that
    /// is read. Acked as any other, so the server's baselines move on as for a real client.
    fn on_header_only(&mut self, s: SnapshotHeader, bytes: usize, at: Instant) -> Received {
        self.newest_tick = Some(s.tick);
        self.stats.counters.snapshots += 1;
        // Only a standalone ack can fail, and its errors are dropped as in `send_ack`.
        let _ = self.ack_snapshot(at);
        Received::Snapshot {
            tick: s.tick,
            baseline: s.baseline,
            baseline2: s.baseline2,
            input_seq: s.input_seq,
            server_time_us: s.server_time_us,
            checksum_ok: None,
            bytes,
        }
    }

    /// Acks the snapshot just applied, per `auto_ack` and `coalesce_acks`: acks ride on
    /// inputs, so a snapshot that comes while the client is playing (an input went out within
    /// `ack_delay`) is acked by the next input; otherwise the client is not playing (or is
    /// late with its input) and acks it alone, so the server's baseline never lags far.
    fn ack_snapshot(&mut self, at: Instant) -> Result<(), ClientError> {
        if !self.auto_ack {
            return Ok(());
        }
        let playing = self
            .last_input_at
            .is_some_and(|sent| at.saturating_duration_since(sent) < self.ack_delay());
        if !self.coalesce_acks {
            self.send_ack()?;
        } else if !playing {
            self.ack_owed = true;
        }
        Ok(())
    }

    /// How long after its last input this client still counts as playing: one and a half
    /// input intervals (a late input still carries the ack; one more interval means it is
    /// not playing).
    fn ack_delay(&self) -> Duration {
        let interval = self
            .input_interval
            .unwrap_or_else(|| Duration::from_secs(1) / u32::from(self.tick_rate.max(1)));
        interval.mul_f64(1.5)
    }

    /// The tick this client acks: the newest it applied, or when not verifying, the newest
    /// whose header it read.
    fn ack_tick(&self) -> Option<u32> {
        match self.verify {
            true => self.ring.latest().map(|(tick, _)| tick),
            false => self.newest_tick,
        }
    }

    /// Acks the newest applied tick in its own frame. A full queue drops the ack; the next
    /// one supersedes it anyway. A stopped writer means the connection is closing: the close
    /// itself is still queued, and `recv` reports it next.
    fn send_ack(&mut self) -> Result<(), ClientError> {
        let Some(tick) = self.ack_tick() else {
            return Ok(());
        };
        match self.send(ClientMsg::Ack { tick }) {
            Ok(()) => self.stats.counters.acks_sent += 1,
            Err(ClientError::SendQueueFull | ClientError::NotConnected) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn record_input_latency(&mut self, acked_seq: u32, at: Instant) {
        while let Some(&(seq, sent)) = self.pending_inputs.front() {
            if seq > acked_seq {
                break;
            }
            self.pending_inputs.pop_front();
            stats::record_latency(
                &mut self.stats.input_latency_us,
                at.saturating_duration_since(sent),
            );
        }
    }

    fn protocol_error(&mut self, what: String) -> ClientError {
        self.stats.counters.protocol_errors += 1;
        ClientError::Protocol(what)
    }

    fn end(&mut self, e: ClientError) -> ClientError {
        self.ended = Some(e.clone());
        e
    }

    /// Sends a message without waiting. What the kernel does not take at once goes out from
    /// `recv` or `close` (up to 64 KB, then `SendQueueFull`).
    pub fn send(&self, msg: ClientMsg) -> Result<(), ClientError> {
        self.write(&[(OP_BINARY, &codec::encode_client(&msg))])
    }

    fn write(&self, frames: &[(u8, &[u8])]) -> Result<(), ClientError> {
        self.writer.write(&self.sock, frames).map_err(|e| match e {
            WriteError::Full => ClientError::SendQueueFull,
            WriteError::Closed => ClientError::NotConnected,
        })
    }

    /// Sends the next `Input` (the game's input fields, `schema().input`, in field-id order)
    /// and returns its seq. With `auto_ack` it carries the newest applied tick: a playing
    /// client acks with its inputs. Missing trailing values are sent as their field's default
    /// (0, the first variant, ""), extra ones are dropped; numbers are clamped into range.
    pub fn send_input(&mut self, values: &[Value]) -> Result<u32, ClientError> {
        let seq = self.next_input_seq;
        let ack = match self.auto_ack {
            true => self.ack_tick(),
            false => None,
        };
        let mut coded = std::mem::take(&mut self.input_values);
        coded.clear();
        read::encode_values(&self.schema.input, values, &mut coded);
        let msg = ClientMsg::Input(Input {
            seq,
            ack,
            view: self.drawn().map(|d| d.view),
            values: coded,
        });
        let bytes = codec::encode_client(&msg);
        if let ClientMsg::Input(input) = msg {
            self.input_values = input.values;
        }
        let sent = self.write(&[(OP_BINARY, &bytes)]);
        if let Err(ClientError::SendQueueFull) = sent {
            self.stats.counters.send_queue_full += 1;
        }
        sent?;
        // The next snapshot's ack rides on the next input.
        self.last_input_at = Some(Instant::now());
        if ack.is_some() {
            self.ack_owed = false;
        }
        self.next_input_seq += 1;
        self.stats.counters.inputs_sent += 1;
        // A client that does not verify is load, not a player: it reads in batches, so its
        // latencies would measure its own pace.
        if self.verify {
            if self.pending_inputs.len() == MAX_PENDING_INPUTS {
                self.pending_inputs.pop_front();
            }
            self.pending_inputs.push_back((seq, Instant::now()));
        }
        Ok(seq)
    }

    /// `send_input` with the values of a typed input struct.
    pub fn send_input_as<T: Fields>(&mut self, input: &T) -> Result<u32, ClientError> {
        let mut w = Writer::default();
        input.write(&mut w);
        self.send_input(&w.values())
    }

    /// Sends the game's action `id` (`schema().actions[id]`) with its fields' values (padded
    /// and clamped as in `send_input`). Reliable: the server handles every one, in order.
    pub fn send_action(&mut self, id: u16, values: &[Value]) -> Result<(), ClientError> {
        let action = self
            .schema
            .actions
            .get(usize::from(id))
            .ok_or(ClientError::UnknownAction(id))?;
        let mut coded = Vec::new();
        read::encode_values(&action.fields, values, &mut coded);
        let sent = self.send(ClientMsg::Action(Action { id, values: coded }));
        if let Err(ClientError::SendQueueFull) = sent {
            self.stats.counters.send_queue_full += 1;
        }
        sent
    }

    /// Sends a `Ping` stamped with this client's clock; the `Pong` comes back from `recv` with
    /// the round-trip time (and is recorded in `stats().rtt_us`).
    pub fn send_ping(&self) -> Result<(), ClientError> {
        let client_time_us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.send(ClientMsg::Ping { client_time_us })
    }

    /// Sends any payload as one frame: binary, or text when `opcode_text` (hostile-client tests).
    pub fn send_raw(&self, frame_payload: Vec<u8>, opcode_text: bool) -> Result<(), ClientError> {
        let opcode = if opcode_text { OP_TEXT } else { OP_BINARY };
        self.write(&[(opcode, &frame_payload)])
    }

    /// Whether this client applies and checks every snapshot (`ConnectOptions::verify`).
    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// The entity this client steers (from `Welcome`).
    pub fn player(&self) -> EntityId {
        self.player
    }

    /// The game's schema, from `Welcome`: its entity types, input fields, actions and events.
    pub fn schema(&self) -> &Descriptor {
        &self.schema
    }

    /// The schema compiled for applying and checking snapshots.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Snapshots per second (from `Welcome`).
    pub fn tick_rate(&self) -> u16 {
        self.tick_rate
    }

    /// The newest tick and its table.
    pub fn latest(&self) -> Option<(u32, &StateTable)> {
        self.ring.latest()
    }

    /// What this client draws now: `ConnectOptions::draw_behind_ticks` behind its newest
    /// snapshot, between the tables around that moment. `None` before the first snapshot.
    pub fn drawn(&self) -> Option<Drawn<'_>> {
        Drawn::pick(self.ring.iter(), self.draw_behind_ticks)
    }

    /// The table at `tick`, while the client still holds it (the ring drops tables older than
    /// the newest snapshot's baselines, and keeps at most 64).
    pub fn table_at(&self, tick: u32) -> Option<&StateTable> {
        self.ring.get(tick)
    }

    /// Every field of entity `id` in the newest table, as game values in field-id order
    /// (numbers dequantised, strings as text). Other entities' owner-only fields read as 0.
    pub fn entity_values(&self, id: EntityId) -> Option<Vec<Value>> {
        read::entity_values(&self.schema, self.ring.latest()?.1, id)
    }

    /// The field called `name` (e.g. `"pos.x"`) of entity `id` in the newest table.
    pub fn field(&self, id: EntityId, name: &str) -> Option<Value> {
        read::field_value(&self.schema, self.ring.latest()?.1, id, name)
    }

    /// Entity `id` in the newest table read as `T`. A `T` declaring fewer fields than the
    /// server's type (an older client) reads the fields it knows: field ids only grow.
    pub fn entity_as<T: Fields>(&self, id: EntityId) -> Option<T> {
        read::entity_as(&self.schema, self.ring.latest()?.1, id)
    }

    /// The room state's fields in the newest table, for games that declare one.
    pub fn room_values(&self) -> Option<Vec<Value>> {
        self.entity_values(read::ROOM)
    }

    /// What this connection measured so far: counters, game events, latency histograms.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// Empties the latency histograms (counters go on), to start a measured window.
    pub fn clear_samples(&mut self) {
        self.stats.input_latency_us.reset();
        self.stats.rtt_us.reset();
    }

    /// Closes with 1000 and waits briefly (bounded) for the server's close frame.
    pub async fn close(self) {
        self.close_with(codes::NORMAL, "").await;
    }

    /// Closes with `code` and waits up to 2 s for the server's close frame. Returns how the
    /// connection ended: the code of the server's close frame (its reply, or its own close if it
    /// closed first), or `ABNORMAL_CLOSURE` when none came.
    pub async fn close_with(mut self, code: u16, reason: &str) -> u16 {
        if let Some(e) = &self.ended {
            return e.close_code().unwrap_or(ABNORMAL_CLOSURE);
        }
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        let _ = self.writer.write(&self.sock, &[(OP_CLOSE, &payload)]);
        self.wait_for_close(CLOSE_WAIT).await
    }

    /// Reads, without decoding, until the server's close frame (its code) or the end of the
    /// connection; then makes sure our close (or reply to theirs) has left.
    async fn wait_for_close(&mut self, limit: Duration) -> u16 {
        self.discarding = true;
        let drain = async {
            let code = loop {
                match self.next_message().await {
                    Err(ClientError::Closed { code, .. }) => break code,
                    _ if self.ended.is_some() => return ABNORMAL_CLOSURE,
                    _ => {}
                }
            };
            self.writer.release_all(&self.sock).await;
            let _ = self.writer.flush(&self.sock).await;
            code
        };
        tokio::time::timeout(limit, drain)
            .await
            .unwrap_or(ABNORMAL_CLOSURE)
    }
}

/// A message as `next_message` hands it over: a snapshot's delta waits in `Client::delta_buf`.
enum Msg {
    Snapshot(SnapshotHeader),
    Other(ServerMsg),
}

fn message_name(msg: &ServerMsg) -> &'static str {
    match msg {
        ServerMsg::Welcome(_) => "Welcome",
        ServerMsg::Reject { .. } => "Reject",
        ServerMsg::Snapshot(_) => "Snapshot",
        ServerMsg::Pong { .. } => "Pong",
        ServerMsg::Event(_) => "Event",
        ServerMsg::GameEvent(_) => "GameEvent",
    }
}

/// A placeholder until `Welcome` brings the real schema.
fn empty_schema() -> Descriptor {
    Descriptor {
        game: String::new(),
        types: Vec::new(),
        room_type: None,
        input: Vec::new(),
        actions: Vec::new(),
        events: Vec::new(),
        params: Vec::new(),
    }
}

/// What a client relies on in `Welcome`: its version, a valid schema that hashes to
/// `schema_hash`, and the game asked for.
fn check_welcome(w: &Welcome, game: Option<&str>) -> Result<(), String> {
    if w.version != PROTOCOL_VERSION {
        return Err(format!(
            "Welcome of protocol version {}, expected {PROTOCOL_VERSION}",
            w.version
        ));
    }
    w.schema
        .validate()
        .map_err(|e| format!("Welcome carries an invalid {e}"))?;
    let hash = w.schema.hash();
    if hash != w.schema_hash {
        return Err(format!(
            "Welcome's schema hashes to {hash:#010x}, not the {:#010x} it claims",
            w.schema_hash
        ));
    }
    if w.game != w.schema.game {
        return Err(format!(
            "Welcome names game {:?} but its schema is {:?}",
            w.game, w.schema.game
        ));
    }
    if let Some(want) = game
        && want != w.game
    {
        return Err(format!("asked for game {want:?}, joined {:?}", w.game));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_can_move_between_threads_and_be_shared() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Client>();
    }
}
