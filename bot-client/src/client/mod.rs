//! One connection to a ticksync server that keeps the world exactly as a browser does: applies
//! every snapshot's delta to its baseline, verifies the checksum, acks.

mod error;
mod options;
pub mod ring;
pub mod stats;
mod transport;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use fastwebsockets::Frame;
use protocol::{
    ClientMsg, EntityId, EntityTable, Event, Hello, Input, PROTOCOL_VERSION, ServerMsg, Snapshot,
    Welcome, codec, codes, quant,
};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{self, Sender};

pub use error::{ABNORMAL_CLOSURE, ClientError, NO_STATUS, close_code_name};
pub use options::{ConnectOptions, WsUrl};
use ring::{RingError, TableRing};
pub use stats::{ClientStats, Counters};
use transport::{Inbound, Outgoing};

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
        tick: u32,
        baseline: Option<u32>,
        input_seq: u32,
        server_time_us: u64,
        /// `Some(true)` when the snapshot carried a checksum (a mismatch is an error instead);
        /// `None` when the server sends no checksums.
        checksum_ok: Option<bool>,
        /// Size of the message on the wire.
        bytes: usize,
    },
    Event(Event),
    /// The answer to a `Client::send_ping`.
    Pong {
        rtt: Duration,
    },
}

pub struct Client {
    inbound: mpsc::Receiver<Inbound>,
    closing: Arc<AtomicBool>,
    data: Sender<Outgoing>,
    control: Sender<Frame<'static>>,
    reader: tokio::task::AbortHandle,
    writer: Option<tokio::task::JoinHandle<()>>,
    player: EntityId,
    auto_ack: bool,
    coalesce_acks: bool,
    /// With `coalesce_acks`: the ack waiting to go out with the next input.
    pending_ack: Option<u32>,
    ring: TableRing,
    newest_tick: Option<u32>,
    next_input_seq: u32,
    /// (seq, sent at), ascending.
    pending_inputs: VecDeque<(u32, Instant)>,
    /// Ping times are microseconds since this instant.
    epoch: Instant,
    stats: ClientStats,
    /// Set once the connection has ended, so later calls to `recv` repeat why.
    ended: Option<ClientError>,
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
        let ws = transport::open(&url, &opts).await?;
        let channels = transport::start(ws);
        let mut client = Client {
            inbound: channels.inbound,
            closing: channels.closing,
            data: channels.data,
            control: channels.control,
            reader: channels.reader,
            writer: Some(channels.writer),
            player: EntityId {
                index: 0,
                version: 0,
            },
            auto_ack: opts.auto_ack,
            coalesce_acks: opts.coalesce_acks,
            pending_ack: None,
            ring: TableRing::default(),
            newest_tick: None,
            next_input_seq: 1,
            pending_inputs: VecDeque::new(),
            epoch: Instant::now(),
            stats: ClientStats::default(),
            ended: None,
        };
        client.send(ClientMsg::Hello(Hello {
            version: PROTOCOL_VERSION,
            room: opts.room,
            name: opts.name,
            auth_token: opts.auth_token,
            resume_token: opts.resume_token,
        }))?;
        let welcome = client.wait_for_welcome().await?;
        client.player = welcome.player;
        Ok((client, welcome))
    }

    async fn wait_for_welcome(&mut self) -> Result<Welcome, ClientError> {
        let first = self.inbound.recv().await;
        match first {
            Some(Inbound::Message { msg, bytes, .. }) => {
                self.stats.counters.bytes_in += bytes as u64;
                match msg {
                    ServerMsg::Welcome(w) => Ok(w),
                    ServerMsg::Reject { code, reason } => {
                        // Let the close handshake that follows finish, so the server sees a
                        // clean close rather than a reset.
                        self.closing.store(true, Relaxed);
                        let _ = self.wait_for_close(REJECT_CLOSE_WAIT).await;
                        Err(ClientError::Rejected { code, reason })
                    }
                    other => Err(ClientError::Connect(format!(
                        "expected Welcome, got {}",
                        message_name(&other)
                    ))),
                }
            }
            Some(Inbound::Invalid(e)) => Err(ClientError::Connect(format!(
                "invalid answer to Hello: {e}"
            ))),
            Some(Inbound::Closed { code, reason }) => Err(ClientError::Closed { code, reason }),
            Some(Inbound::Lost(e)) => Err(ClientError::Connect(format!(
                "connection lost before Welcome: {e}"
            ))),
            None => Err(ClientError::Connect(
                "connection lost before Welcome".to_owned(),
            )),
        }
    }

    /// The next message from the server. Cancel-safe: messages queue in the reader task until
    /// taken. Snapshots are applied and verified here, and acked when `auto_ack`.
    /// `Err(ClientError::Closed { .. })` once the server has closed, and on every later call.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        if let Some(e) = &self.ended {
            return Err(e.clone());
        }
        let Some(inbound) = self.inbound.recv().await else {
            return Err(self.end(ClientError::Transport("connection ended".to_owned())));
        };
        // Nothing below awaits, so a cancelled `recv` never loses a message.
        match inbound {
            Inbound::Message { msg, bytes, at } => {
                self.stats.counters.bytes_in += bytes as u64;
                self.on_message(msg, bytes, at)
            }
            Inbound::Invalid(e) => Err(self.protocol_error(e)),
            Inbound::Closed { code, reason } => Err(self.end(ClientError::Closed { code, reason })),
            Inbound::Lost(e) => Err(self.end(ClientError::Transport(e))),
        }
    }

    fn on_message(
        &mut self,
        msg: ServerMsg,
        bytes: usize,
        at: Instant,
    ) -> Result<Received, ClientError> {
        match msg {
            ServerMsg::Snapshot(s) => self.on_snapshot(s, bytes, at),
            ServerMsg::Event(e) => {
                self.stats.counters.events += 1;
                Ok(Received::Event(e))
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
        s: Snapshot,
        bytes: usize,
        at: Instant,
    ) -> Result<Received, ClientError> {
        if let Some(prev) = self.newest_tick
            && s.tick > prev
        {
            self.stats.counters.stale_dropped += u64::from(s.tick - prev - 1);
        }
        match self.ring.apply(s.tick, s.baseline, &s.delta, s.checksum) {
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
        if self.auto_ack {
            // An ack still waiting means no input went out for a whole snapshot: send it now,
            // so the server's baseline never lags more than one snapshot behind.
            let now = match self.coalesce_acks {
                true => self.pending_ack.replace(s.tick),
                false => Some(s.tick),
            };
            if let Some(tick) = now {
                // A full queue drops this ack; the next one supersedes it anyway. A stopped
                // writer means the connection is closing: the close itself is still queued
                // behind this snapshot, and `recv` reports it next.
                match self.send(ClientMsg::Ack { tick }) {
                    Ok(()) | Err(ClientError::SendQueueFull | ClientError::NotConnected) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Received::Snapshot {
            tick: s.tick,
            baseline: s.baseline,
            input_seq: s.input_seq,
            server_time_us: s.server_time_us,
            checksum_ok: s.checksum.map(|_| true),
            bytes,
        })
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

    /// Queues a message for the writer without waiting.
    pub fn send(&self, msg: ClientMsg) -> Result<(), ClientError> {
        self.send_frame(transport::binary_frame(codec::encode_client(&msg), false))
    }

    fn send_frame(&self, frame: Frame<'static>) -> Result<(), ClientError> {
        self.send_frames(Outgoing(frame, None))
    }

    fn send_frames(&self, frames: Outgoing) -> Result<(), ClientError> {
        self.data.try_send(frames).map_err(|e| match e {
            TrySendError::Full(_) => ClientError::SendQueueFull,
            TrySendError::Closed(_) => ClientError::NotConnected,
        })
    }

    /// Sends the next `Input` (direction components in -1.0..=1.0) and returns its seq.
    pub fn send_input(&mut self, dx: f32, dy: f32, buttons: u8) -> Result<u32, ClientError> {
        let seq = self.next_input_seq;
        let input = Input {
            seq,
            dx: quant::axis_to_wire(dx),
            dy: quant::axis_to_wire(dy),
            buttons,
        };
        let input = transport::binary_frame(codec::encode_client(&ClientMsg::Input(input)), false);
        let sent = match self.pending_ack {
            Some(tick) => {
                let ack =
                    transport::binary_frame(codec::encode_client(&ClientMsg::Ack { tick }), false);
                self.send_frames(Outgoing(ack, Some(input)))
            }
            None => self.send_frame(input),
        };
        if let Err(ClientError::SendQueueFull) = sent {
            self.stats.counters.send_queue_full += 1;
        }
        sent?;
        self.pending_ack = None;
        self.next_input_seq += 1;
        self.stats.counters.inputs_sent += 1;
        if self.pending_inputs.len() == MAX_PENDING_INPUTS {
            self.pending_inputs.pop_front();
        }
        self.pending_inputs.push_back((seq, Instant::now()));
        Ok(seq)
    }

    /// Sends a `Ping` stamped with this client's clock; the `Pong` comes back from `recv` with
    /// the round-trip time (and is recorded in `stats().rtt_us`).
    pub fn send_ping(&self) -> Result<(), ClientError> {
        let client_time_us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.send(ClientMsg::Ping { client_time_us })
    }

    /// Sends any payload as one frame: binary, or text when `opcode_text` (hostile-client tests).
    pub fn send_raw(&self, frame_payload: Vec<u8>, opcode_text: bool) -> Result<(), ClientError> {
        self.send_frame(transport::binary_frame(frame_payload, opcode_text))
    }

    /// The entity this client steers (from `Welcome`).
    pub fn player(&self) -> EntityId {
        self.player
    }

    /// The newest tick and its table.
    pub fn latest(&self) -> Option<(u32, &EntityTable)> {
        self.ring.latest()
    }

    /// The table at `tick`, while the client still holds it (the ring drops tables older than
    /// the newest baseline, and keeps at most 64).
    pub fn table_at(&self, tick: u32) -> Option<&EntityTable> {
        self.ring.get(tick)
    }

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
        // Through the control queue: it goes out ahead of any queued data.
        let _ = self.control.try_send(Frame::close(code, reason.as_bytes()));
        self.closing.store(true, Relaxed);
        self.wait_for_close(CLOSE_WAIT).await
    }

    /// Drains messages until the server's close frame (its code) or the end of the connection,
    /// then lets the writer finish sending the close reply.
    async fn wait_for_close(&mut self, limit: Duration) -> u16 {
        let drain = async {
            let code = loop {
                match self.inbound.recv().await {
                    Some(Inbound::Closed { code, .. }) => break code,
                    Some(Inbound::Lost(_)) | None => return ABNORMAL_CLOSURE,
                    Some(Inbound::Message { .. } | Inbound::Invalid(_)) => {}
                }
            };
            if let Some(writer) = self.writer.take() {
                let _ = writer.await;
            }
            code
        };
        tokio::time::timeout(limit, drain)
            .await
            .unwrap_or(ABNORMAL_CLOSURE)
    }
}

impl Drop for Client {
    /// Without `close`, the connection is dropped: the reader stops at once; the writer sends
    /// what is queued (such as the reply to a close the server sent) and then ends, which
    /// closes the socket.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn message_name(msg: &ServerMsg) -> &'static str {
    match msg {
        ServerMsg::Welcome(_) => "Welcome",
        ServerMsg::Reject { .. } => "Reject",
        ServerMsg::Snapshot(_) => "Snapshot",
        ServerMsg::Pong { .. } => "Pong",
        ServerMsg::Event(_) => "Event",
    }
}
