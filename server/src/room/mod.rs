//! A room: one task, on a thread of its own, that owns a world and runs it on a fixed tick.
//!
//! Each tick: drain the inbox (joins, leaves, inputs), apply each player's newest input, step
//! the game (catching up at most `max_catchup` ticks, then dropping lost time), record the
//! world, publish the tick (`published`), and hand every client an order for its snapshot
//! without waiting: the client's writer builds it when its socket can take one.

mod built_once;
mod history;
pub mod published;
pub mod saves;
mod stats;
pub mod views;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use protocol::schema::{Predictor, Value};
use protocol::state_delta::{Baseline, Steady};
use protocol::{
    EntityId, Event, PlayerInfo, ServerMsg, StateTable, ViewTime, Welcome, codec, codes,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::game::RoomGame;
use crate::metrics::{CodeLabel, RoomMetrics};
use crate::rejection::Rejection;
use crate::rewind::{self, Clamp, Past};
pub use history::History;
use published::{Pending, Publish, PublishedTick};
pub use saves::{SaveQueue, SavedPlayer, SavedRoom};
pub use stats::{RoomInfo, Simulated, TickStats};
use views::{Grid, ViewTick};

/// A connection's id, unique for the server's life.
pub type ConnId = u64;

/// A connection's outbox: what the room and the connection's reader hand its writer.
pub type Outbox = crate::outbox::Outbox<Pending>;
/// What a connection's writer takes from its outbox.
pub type Outgoing = crate::outbox::Outgoing<Pending>;

/// Where a room is listed (the registry), which it leaves when it stops.
pub(crate) trait Listing: Send + Sync {
    /// Unlists room `id` if it is still listed under `name` and nothing waits in its inbox,
    /// so that no join can find it afterwards; true if it is not listed (any more).
    fn remove_if_idle(&self, name: &str, id: u64, inbox: &mpsc::Receiver<RoomMsg>) -> bool;
    /// Unlists room `id` (it failed, or goes to another node).
    fn remove(&self, name: &str, id: u64);
}

/// What a room gets from the registry that starts it.
pub(crate) struct Host {
    /// The server's config.
    pub cfg: Arc<Config>,
    /// The server's clock (snapshots carry the time since).
    pub epoch: Instant,
    /// Cancelled at server shutdown: the room closes its clients (1001) and stops.
    pub stop: CancellationToken,
    /// What the room counts for `/metrics`.
    pub metrics: RoomMetrics,
    /// Where it is listed.
    pub listing: Arc<dyn Listing>,
    /// Where its checkpoints go (`--checkpoint-interval`), if anywhere.
    pub saves: Option<Arc<SaveQueue>>,
}

/// What connections (and the server) tell a room.
pub enum RoomMsg {
    /// A connection's `Hello`: a player to admit (or resume), answered on its `reply`.
    Join(JoinRequest),
    /// The connection ended.
    Leave {
        /// The connection it comes from.
        conn: ConnId,
        /// It dropped (rather than closed on purpose): its player waits for it to resume.
        resumable: bool,
    },
    /// A validated input.
    Input {
        /// The connection it comes from.
        conn: ConnId,
        /// The client's input sequence number: older or repeated ones are ignored.
        seq: u32,
        /// In the game's input field order.
        values: Vec<Value>,
        /// The input's ack: its age is the client's round trip, for the rewind cap.
        ack: Option<u32>,
        /// What the client was drawing (unchecked: clamped when applied).
        view: Option<ViewTime>,
    },
    /// A validated game action.
    Action {
        /// The connection it comes from.
        conn: ConnId,
        /// The action's id in the game's declaration.
        id: u16,
        /// Its fields, in declaration order.
        values: Vec<Value>,
    },
    /// A chat line for every client, from this connection's player.
    Chat {
        /// The connection it comes from.
        conn: ConnId,
        /// What it said.
        text: String,
    },
    /// An operator's notice for every client.
    Notice(String),
    /// The node is draining: stop, and answer with the room's state and its clients' outboxes
    /// (the drain tells them where the room went).
    Handoff(oneshot::Sender<Handoff>),
    /// Test and debug hook: the room's latest recorded tick and per-client state.
    Inspect(oneshot::Sender<RoomInspect>),
}

/// A connection that asks to play in the room.
pub struct JoinRequest {
    /// The connection.
    pub conn: ConnId,
    /// The player's name, from the `Hello`.
    pub name: String,
    /// From the `Hello`: take back a disconnected player instead of spawning a new one.
    pub resume_token: Option<String>,
    /// Where the room sends the client its `Welcome`, events and snapshots.
    pub outbox: Arc<Outbox>,
    /// The answer: the player's entity, or why not.
    pub reply: oneshot::Sender<Result<EntityId, Rejection>>,
}

/// What a room hands over when its node drains.
pub struct Handoff {
    /// The room's state, for the next node.
    pub saved: SavedRoom,
    /// Its connected clients', to close with where the room went.
    pub outboxes: Vec<Arc<Outbox>>,
    /// Its inbox, kept open until they are: a client whose room's inbox closed would leave
    /// with `ROOM_CLOSED` before it hears where to go.
    pub inbox: mpsc::Receiver<RoomMsg>,
}

/// A room's state as seen from outside, for tests and debugging.
#[derive(Clone, Debug)]
pub struct RoomInspect {
    /// The current tick.
    pub tick: u32,
    /// The game it plays.
    pub game: String,
    /// The world as recorded at `tick` (empty before the first record).
    pub table: StateTable,
    /// Its connected clients.
    pub clients: Vec<ClientInspect>,
}

/// One client of a room, as `RoomInspect` shows it.
#[derive(Clone, Debug)]
pub struct ClientInspect {
    /// Its connection.
    pub conn: ConnId,
    /// Its player's name.
    pub name: String,
    /// Its player's entity.
    pub player: EntityId,
    /// Snapshots waiting for its writer (0 or 1: latest wins).
    pub pending_snapshots: usize,
    /// Reliable messages waiting for its writer.
    pub reliable_queued: usize,
    /// Snapshots replaced before its writer took them.
    pub stale_dropped: u64,
    /// The newest tick it acked.
    pub acked: Option<u32>,
    /// Ticks between the newest snapshot its writer took and its newest ack.
    pub ack_lag: u32,
}

struct Member {
    name: String,
    player: EntityId,
    outbox: Arc<Outbox>,
    /// Presented in a later `Hello` to take this player back after a disconnect.
    resume_token: String,
    /// Newest input received, applied at the next tick.
    pending: Option<QueuedInput>,
    /// Newest seq received (older or duplicate seqs are ignored).
    newest_seq: u32,
    /// Newest seq applied, reported in snapshots.
    applied_seq: u32,
    /// Its outbox's snapshots taken at tick `counting_since`, for its send rate.
    taken_since: u64,
    counting_since: Option<u32>,
    /// Snapshots in a row its writer did not take, with the send window open, before the
    /// next was put: the writer had no CPU for them (one alone is a hiccup).
    missed: u32,
    /// When `missed` last reached `BEHIND_AFTER`: for `BEHIND_FOR` ticks after, it gets only
    /// the ticks on the `BEHIND_EVERY` grid.
    behind_at: Option<u32>,
}

impl Member {
    fn new(name: String, player: EntityId, outbox: Arc<Outbox>) -> Self {
        Member {
            name,
            player,
            outbox,
            resume_token: String::new(),
            pending: None,
            newest_seq: 0,
            applied_seq: 0,
            taken_since: 0,
            counting_since: None,
            missed: 0,
            behind_at: None,
        }
    }
}

/// An input waiting for the next tick.
struct QueuedInput {
    seq: u32,
    values: Vec<Value>,
    ack: Option<u32>,
    view: Option<ViewTime>,
}

/// A player whose connection dropped, kept until `until` for its client to resume.
struct Detached {
    member: Member,
    until: Instant,
}

/// A room's task: its world, its players, its tick loop (`run`).
pub struct Room {
    name: String,
    id: u64,
    cfg: Arc<Config>,
    epoch: Instant,
    stop: CancellationToken,
    metrics: RoomMetrics,
    listing: Arc<dyn Listing>,
    inbox: mpsc::Receiver<RoomMsg>,
    game: Box<dyn RoomGame>,
    schema_hash: u32,
    /// Whether any field predicts linearly: only then do deltas use a second baseline.
    linear: bool,
    /// The tick recorded last, and the one before.
    recorded: (Option<u32>, Option<u32>),
    members: HashMap<ConnId, Member>,
    detached: Vec<Detached>,
    history: History,
    /// Each player's clamped view time of its newest input (lag compensation).
    views: HashMap<EntityId, ViewTime>,
    /// `metrics.rewinds` by how (kept, future, cap): looked up once, counted per input.
    rewinds: [prometheus_client::metrics::counter::Counter; 3],
    /// Since when each entity of the tick recorded last has kept to its prediction.
    steady: Arc<Steady>,
    /// Slots whose entity left its track at the tick recorded last (reused buffer).
    moved: Vec<u32>,
    /// Interest management, for a game with a view: its grid.
    grid: Option<Arc<Grid>>,
    /// Encodes made for the tick published before the last (by then its snapshots are built).
    encodes_last: usize,
    /// The encodes of the tick published last, counted by the writers that build from it.
    /// The room keeps nothing else of it: the last writer done with it frees it, not the room.
    encodes: Option<Arc<AtomicUsize>>,
    tick: u32,
    stats: TickStats,
    info: Arc<Mutex<RoomInfo>>,
    empty_since: Option<Instant>,
    /// Clients whose send window was full at the last tick.
    lagging: usize,
    /// Where its checkpoints go, and when, if it keeps any.
    checkpoints: Option<Checkpoints>,
}

/// A room's checkpoint schedule.
struct Checkpoints {
    queue: Arc<SaveQueue>,
    /// Ticks between two (`--checkpoint-interval`).
    every: u32,
    /// The tick the next is due at.
    due: u32,
}

/// Ticks after a new player is seated within which the room checkpoints (its resume token is
/// in the next checkpoint soon, and a burst of joins still makes one save).
const SAVE_AFTER_SEAT: u32 = 6;

/// A client that is behind (its writer finds no CPU to take its snapshots) gets only ticks
/// that are multiples of this. Clients behind then share ticks, so they ack the same ticks,
/// and the deltas (or view parts) built against one client's baseline serve the others:
/// overload makes snapshots fewer, not each one dearer.
const BEHIND_EVERY: u32 = 4;
/// Snapshots in a row its writer had no CPU for that put a client behind.
const BEHIND_AFTER: u32 = 4;
/// Ticks a client stays behind after that last happened.
const BEHIND_FOR: u32 = 30;

/// Why the loop stopped.
enum Stop {
    Idle,
    Shutdown,
    Panicked(String),
    Handoff(oneshot::Sender<Handoff>),
}

impl Room {
    /// A room listed by `host` (whose config and clock it uses), running `game`.
    pub(crate) fn new(
        name: String,
        id: u64,
        host: Host,
        inbox: mpsc::Receiver<RoomMsg>,
        info: Arc<Mutex<RoomInfo>>,
        game: Box<dyn RoomGame>,
    ) -> Self {
        let Host {
            cfg,
            epoch,
            stop,
            metrics,
            listing,
            saves,
        } = host;
        let checkpoints = saves
            .filter(|_| !cfg.checkpoint_interval.is_zero())
            .map(|queue| Checkpoints {
                queue,
                every: cfg.ticks_of(cfg.checkpoint_interval).max(1),
                due: 0,
            });
        let schema_hash = game.descriptor().hash();
        let linear = game
            .descriptor()
            .types
            .iter()
            .flat_map(|t| &t.fields)
            .any(|f| f.predictor == Predictor::Linear);
        let view = game
            .view()
            .map(|v| crate::game::View {
                radius: cfg.view_radius.unwrap_or(v.radius),
                ..v
            })
            .filter(|v| v.radius > 0.0);
        let grid = view
            .and_then(|v| Grid::new(game.descriptor(), v))
            .map(Arc::new);
        // Under views a second baseline is not used (see `state_delta::Encoder::part`).
        let linear = linear && grid.is_none();
        Self {
            // The recorder's previous two ticks, and the newest.
            // The recorder's previous two ticks and the newest, or what rewinding needs.
            history: History::new(
                3.max(cfg.rewind_ticks() + 2),
                game.plan().stride,
                cfg.history as usize,
            ),
            views: HashMap::new(),
            rewinds: ["kept", "future", "cap"].map(|how| {
                metrics
                    .rewinds
                    .get_or_create(&CodeLabel { code: how.into() })
                    .clone()
            }),
            stats: TickStats::new(Instant::now()),
            name,
            id,
            cfg,
            epoch,
            stop,
            metrics,
            listing,
            inbox,
            game,
            schema_hash,
            linear,
            recorded: (None, None),
            members: HashMap::new(),
            detached: Vec::new(),
            grid,
            steady: Arc::default(),
            moved: Vec::new(),
            encodes_last: 0,
            encodes: None,
            tick: 0,
            info,
            empty_since: Some(Instant::now()),
            lagging: 0,
            checkpoints,
        }
    }

    /// Ticks until the room idles out, fails, is handed over or the server stops; then
    /// closes its clients (or hands them over) and disposes of the game.
    pub async fn run(mut self) {
        let period = self.cfg.tick_period();
        let mut next = tokio::time::Instant::now() + period;
        let shutdown = self.stop.clone();
        let stop = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = shutdown.cancelled() => break Stop::Shutdown,
            }
            let started = tokio::time::Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                self.tick_once(started, &mut next, period)
            }));
            match outcome {
                Ok(None) => {}
                Ok(Some(stop)) => break stop,
                Err(panic) => break Stop::Panicked(panic_message(&panic)),
            }
            let took = started.elapsed();
            self.stats.record(took);
            let m = &self.metrics;
            m.ticks.inc();
            m.tick_seconds.observe(took.as_secs_f64());
            if took > period {
                m.tick_overruns.inc();
            }
            if self.tick % 30 == 0 {
                self.publish_info();
            }
            self.checkpoint_if_due();
        };
        let panicked = matches!(stop, Stop::Panicked(_));
        let (code, reason) = match stop {
            Stop::Handoff(reply) => {
                // Out of the registry first: a join that comes now goes through the directory.
                self.listing.remove(&self.name, self.id);
                let handoff = Handoff {
                    saved: self.save(),
                    outboxes: self.members.values().map(|m| m.outbox.clone()).collect(),
                    inbox: std::mem::replace(&mut self.inbox, mpsc::channel(1).1),
                };
                tracing::info!(room = %self.name, players = handoff.saved.players.len(), "room stopped to be handed over");
                if let Err(h) = reply.send(handoff) {
                    for o in h.outboxes {
                        o.close(codes::GOING_AWAY, "server shutting down");
                    }
                }
                // No `dispose`: the game goes on elsewhere.
                return;
            }
            Stop::Idle => {
                tracing::info!(room = %self.name, "room closed after its idle grace period");
                self.forget_checkpoint();
                self.game.dispose();
                return;
            }
            Stop::Shutdown => (codes::GOING_AWAY, "server shutting down".to_string()),
            Stop::Panicked(ref msg) => {
                tracing::error!(room = %self.name, panic = %msg, "room game logic panicked; closing the room");
                self.listing.remove(&self.name, self.id);
                // Its state may be what made it fail: not restored again.
                self.forget_checkpoint();
                (
                    codes::SERVER_ERROR,
                    "the room failed; please rejoin".to_string(),
                )
            }
        };
        for m in self.members.values() {
            m.outbox.close(code, reason.clone());
        }
        if !panicked {
            self.game.dispose();
        }
    }

    /// One pass of the loop: returns `Some` to stop.
    fn tick_once(
        &mut self,
        started: tokio::time::Instant,
        next: &mut tokio::time::Instant,
        period: std::time::Duration,
    ) -> Option<Stop> {
        if let Some(stop) = self.drain_inbox() {
            return Some(stop);
        }
        self.expire_detached();
        let mut steps = 0;
        while *next <= started && steps < self.cfg.max_catchup.max(1) {
            self.step(period.as_secs_f32());
            *next += period;
            steps += 1;
        }
        if *next <= started {
            // Too far behind: drop the lost time instead of spiralling (invariant 6).
            let behind = started - *next;
            let lost = (behind.as_secs_f64() / period.as_secs_f64()).floor() as u64 + 1;
            self.stats.lost_ticks += lost;
            self.metrics.ticks_lost.inc_by(lost);
            *next += period * lost as u32;
        }
        self.publish_snapshots();
        self.idle_expired().then_some(Stop::Idle)
    }

    fn drain_inbox(&mut self) -> Option<Stop> {
        // Bounded by the inbox capacity, so a flood cannot keep the room here.
        for _ in 0..self.cfg.inbox {
            let Ok(msg) = self.inbox.try_recv() else {
                break;
            };
            match msg {
                RoomMsg::Join(req) => self.join(req),
                RoomMsg::Leave { conn, resumable } => self.leave(conn, resumable),
                RoomMsg::Input {
                    conn,
                    seq,
                    values,
                    ack,
                    view,
                } => {
                    if let Some(m) = self.members.get_mut(&conn)
                        && seq > m.newest_seq
                    {
                        m.newest_seq = seq;
                        m.pending = Some(QueuedInput {
                            seq,
                            values,
                            ack,
                            view,
                        });
                    }
                }
                RoomMsg::Action { conn, id, values } => {
                    if let Some(m) = self.members.get(&conn) {
                        let player = m.player;
                        let past = Past::new(&self.history, self.tick, &self.views);
                        self.game.action(player, id, &values, &past);
                        self.send_events();
                    }
                }
                RoomMsg::Chat { conn, text } => {
                    if let Some(m) = self.members.get(&conn) {
                        let from = m.player;
                        self.broadcast(&Event::Chat { from, text });
                    }
                }
                RoomMsg::Notice(text) => self.broadcast(&Event::Notice { text }),
                RoomMsg::Handoff(reply) => return Some(Stop::Handoff(reply)),
                RoomMsg::Inspect(reply) => {
                    let _ = reply.send(self.inspect());
                }
            }
        }
        None
    }

    fn join(&mut self, req: JoinRequest) {
        let result = match req.resume_token.as_deref() {
            Some(token) => self.resume(req.conn, token, &req.name, req.outbox),
            None => self.admit(req.conn, req.name, req.outbox),
        };
        let joined = result.as_ref().ok().copied();
        if req.reply.send(result).is_err()
            && let Some(player) = joined
        {
            // The connection gave up waiting: undo. A resumed player goes back to waiting for
            // its client, under the token that client still holds.
            self.leave(req.conn, req.resume_token.is_some());
            if let Some(token) = req.resume_token
                && let Some(d) = self.detached.iter_mut().find(|d| d.member.player == player)
            {
                d.member.resume_token = token;
            }
        }
    }

    fn admit(
        &mut self,
        conn: ConnId,
        name: String,
        outbox: Arc<Outbox>,
    ) -> Result<EntityId, Rejection> {
        let players = self.members.len() + self.detached.len();
        if players >= self.cfg.max_players_per_room {
            let reason = format!("room '{}' is full ({players} players)", self.name);
            return Err(Rejection {
                code: codes::ROOM_FULL,
                reason,
            });
        }
        let player = self.game.join(&name);
        let id = player;
        self.broadcast(&Event::PlayerJoined(PlayerInfo {
            entity: id,
            name: name.clone(),
        }));
        self.seat(conn, Member::new(name, player, outbox));
        if let Some(c) = &mut self.checkpoints {
            c.due = c.due.min(self.tick.wrapping_add(SAVE_AFTER_SEAT));
        }
        Ok(id)
    }

    /// Gives a detached player back to a reconnecting client holding its resume token.
    fn resume(
        &mut self,
        conn: ConnId,
        token: &str,
        name: &str,
        outbox: Arc<Outbox>,
    ) -> Result<EntityId, Rejection> {
        let matches = |m: &Member| m.resume_token == token && m.name == name;
        let detached = self.detached.iter().position(|d| matches(&d.member));
        // A connected player is taken over only once its connection has gone silent: a live
        // one is not kicked by whoever else holds its token.
        let quiet = self.cfg.resume_takeover_after;
        let connected = self
            .members
            .iter()
            .find(|(_, m)| matches(m) && m.outbox.silent_for() >= quiet)
            .map(|(conn, _)| *conn);
        let (mut member, was_detached) = match (detached, connected) {
            (Some(i), _) => (self.detached.swap_remove(i).member, true),
            // Still connected as far as the room knows, but silent: its client reconnected
            // before the old connection's drop showed (a phone changing networks). The new
            // connection takes the player over, and the old one is closed.
            (None, Some(old)) => {
                let m = self.members.remove(&old).expect("found just now");
                m.outbox
                    .close(codes::REPLACED, "another connection resumed this player");
                (m, false)
            }
            (None, None) => {
                let reason = if self.members.values().any(matches) {
                    "resume token of a player still connected"
                } else {
                    "unknown or expired resume token"
                };
                return Err(Rejection {
                    code: codes::BAD_RESUME,
                    reason: reason.into(),
                });
            }
        };
        member.outbox = outbox;
        // A new connection numbers its inputs afresh, and has its own round trip.
        member.newest_seq = 0;
        member.applied_seq = 0;
        member.pending = None;
        (member.taken_since, member.counting_since) = (0, None);
        let id = member.player;
        if was_detached {
            self.game.rejoined(id);
        }
        self.seat(conn, member);
        self.send_events();
        Ok(id)
    }

    /// Queues a checkpoint if one is due: every `--checkpoint-interval`, and soon after a new
    /// player is seated. Saving copies the declared state; encoding and storing it are the
    /// writer's, off this thread.
    fn checkpoint_if_due(&mut self) {
        // Wrapping: ticks are u32 and a due tick may lie past the wrap.
        let due = |c: &Checkpoints| (self.tick.wrapping_sub(c.due) as i32) >= 0;
        if !self.checkpoints.as_ref().is_some_and(due) {
            return;
        }
        let saved = self.save();
        if let Some(c) = &mut self.checkpoints {
            c.queue.save(saved, self.schema_hash);
            c.due = self.tick.wrapping_add(c.every);
        }
    }

    /// The room closed for good (idle, or failed): its checkpoint goes, so it is not restored.
    fn forget_checkpoint(&self) {
        if let Some(c) = &self.checkpoints {
            c.queue.delete(&self.name);
        }
    }

    /// The room's state and players, to go on elsewhere.
    fn save(&self) -> SavedRoom {
        let detached = self.detached.iter().map(|d| &d.member);
        SavedRoom {
            name: self.name.clone(),
            game: self.game.descriptor().game.clone(),
            world: self.game.save(),
            players: self
                .members
                .values()
                .chain(detached)
                .map(|m| SavedPlayer {
                    name: m.name.clone(),
                    player: m.player,
                    resume_token: m.resume_token.clone(),
                })
                .collect(),
        }
    }

    /// Takes the players of a room restored from `players` (its game's world already is):
    /// each waits, for the resume grace, for its client to come back with its token.
    pub(crate) fn adopt(&mut self, tick: u32, players: Vec<SavedPlayer>) {
        self.tick = tick;
        let until = Instant::now() + self.cfg.resume_grace;
        for p in players {
            self.game.disconnected(p.player);
            let outbox = Arc::new(Outbox::new(self.cfg.reliable_queue, self.cfg.send_window()));
            let mut member = Member::new(p.name, p.player, outbox);
            member.resume_token = p.resume_token;
            self.detached.push(Detached { member, until });
        }
        if !self.detached.is_empty() {
            self.empty_since = None;
        }
    }

    /// Adds a member and sends its `Welcome`, with its resume token: a new player's is new; a
    /// resumed player keeps its own, so a checkpoint taken before the resume still holds it
    /// (a crash then loses no player).
    fn seat(&mut self, conn: ConnId, mut member: Member) {
        if member.resume_token.is_empty() {
            member.resume_token = crate::tokens::random_token();
        }
        let mut players: Vec<PlayerInfo> = self.roster().collect();
        players.push(PlayerInfo {
            entity: member.player,
            name: member.name.clone(),
        });
        let schema = (**self.game.descriptor()).clone();
        let welcome = ServerMsg::Welcome(Box::new(Welcome {
            version: protocol::PROTOCOL_VERSION,
            player: member.player,
            room: self.name.clone(),
            game: schema.game.clone(),
            tick_rate: self.cfg.tick_rate,
            tick: self.tick,
            resume_token: member.resume_token.clone(),
            players,
            schema_hash: self.schema_hash,
            schema,
        }));
        // Welcome goes first: the reliable queue is sent before any snapshot.
        member
            .outbox
            .put_reliable(Bytes::from(codec::encode_server(&welcome)));
        self.members.insert(conn, member);
        self.empty_since = None;
    }

    /// Every player in the room, connected or waiting to resume.
    fn roster(&self) -> impl Iterator<Item = PlayerInfo> + '_ {
        let detached = self.detached.iter().map(|d| &d.member);
        self.members.values().chain(detached).map(|m| PlayerInfo {
            entity: m.player,
            name: m.name.clone(),
        })
    }

    /// A connection ended. A `resumable` player (its socket dropped) keeps its entity, standing
    /// still, for the resume grace period; otherwise it leaves now.
    fn leave(&mut self, conn: ConnId, resumable: bool) {
        let Some(m) = self.members.remove(&conn) else {
            return;
        };
        self.views.remove(&m.player);
        if resumable && !self.cfg.resume_grace.is_zero() {
            self.game.disconnected(m.player);
            self.detached.push(Detached {
                member: m,
                until: Instant::now() + self.cfg.resume_grace,
            });
        } else {
            self.depart(m);
        }
    }

    /// Players whose resume grace ran out leave.
    fn expire_detached(&mut self) {
        let now = Instant::now();
        while let Some(i) = self.detached.iter().position(|d| d.until <= now) {
            let d = self.detached.swap_remove(i);
            self.depart(d.member);
        }
    }

    fn depart(&mut self, m: Member) {
        self.game.leave(m.player);
        self.send_events();
        self.broadcast(&Event::PlayerLeft { entity: m.player });
        if self.members.is_empty() && self.detached.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }

    fn broadcast(&self, event: &Event) {
        let bytes = Bytes::from(codec::encode_server(&ServerMsg::Event(event.clone())));
        for m in self.members.values() {
            // Overflow closes that client (TOO_SLOW) inside put_reliable; the room moves on.
            m.outbox.put_reliable(bytes.clone());
        }
    }

    /// Sends the game's events raised since the last call to whom they are for.
    fn send_events(&mut self) {
        let mut events = Vec::new();
        self.game.take_events(&mut events);
        for (to, bytes) in events {
            for m in self.members.values() {
                if to.is_none_or(|p| p == m.player) {
                    m.outbox.put_reliable(bytes.clone());
                }
            }
        }
    }

    fn step(&mut self, dt: f32) {
        let now = self.tick;
        let max_rewind = self.cfg.max_rewind_ticks();
        // The oldest table kept, less one: a view between it and the next needs both.
        let oldest = now.wrapping_sub(self.history.capacity().saturating_sub(2) as u32);
        for m in self.members.values_mut() {
            if let Some(p) = m.pending.take() {
                let (view, clamp) = rewind::clamp_view(p.view, p.ack, now, max_rewind, oldest);
                match view {
                    Some(v) => {
                        self.views.insert(m.player, v);
                        let how = match clamp {
                            None => 0,
                            Some(Clamp::Future) => 1,
                            Some(Clamp::Cap) => 2,
                        };
                        self.rewinds[how].inc();
                    }
                    None => {
                        self.views.remove(&m.player);
                    }
                }
                let past = Past::new(&self.history, now, &self.views);
                self.game.input(m.player, &p.values, &past);
                m.applied_seq = p.seq;
            }
        }
        let past = Past::new(&self.history, now, &self.views);
        self.game.step(dt, &past);
        self.tick = self.tick.wrapping_add(1);
        self.send_events();
    }

    /// Records this tick's replicated state, publishes it, and hands every client that is due
    /// one an order for its snapshot (its writer builds it).
    fn publish_snapshots(&mut self) {
        let tick = self.tick;
        if let Some(last) = self.encodes.take() {
            self.encodes_last = last.load(Ordering::Relaxed);
        }
        let (prev, prev2) = self.recorded;
        let before = prev.filter(|&p| p != tick);
        let game = &mut self.game;
        let moved = &mut self.moved;
        moved.clear();
        let now = self
            .history
            .record(tick, |h, table| {
                let prev = before.and_then(|p| {
                    Some(Baseline {
                        table: h.get(p)?,
                        tick: p,
                        second: prev2.and_then(|p2| Some((&**h.get(p2)?, p2))),
                    })
                });
                game.record(tick, prev, table, moved);
            })
            .clone();
        if prev != Some(tick) {
            self.recorded = (Some(tick), prev);
        }
        let plan = self.game.plan();
        // What the recorder found against the tick recorded before serves every baseline.
        let before = before.and_then(|p| self.history.get(p));
        Arc::make_mut(&mut self.steady).advance_moved(
            before.map(|t| &**t),
            &now,
            &self.moved,
            tick,
        );
        let steady = &self.steady;
        let views = self
            .grid
            .as_ref()
            .map(|grid| ViewTick::new(grid.clone(), steady.clone(), tick));
        let published = Arc::new(PublishedTick::new(Publish {
            tick,
            server_time_us: self.epoch.elapsed().as_micros() as u64,
            plan: plan.clone(),
            now: now.clone(),
            steady: self.steady.clone(),
            keep: self.cfg.history as usize,
            full_every: self.cfg.full_interval_ticks(),
            throttled: self.metrics.snapshots_throttled.clone(),
            linear: self.linear,
            checksum: self.cfg.checksum,
            views,
        }));
        self.lagging = 0;
        let off_grid = tick % BEHIND_EVERY != 0;
        for m in self.members.values_mut() {
            let behind = m
                .behind_at
                .is_some_and(|t| tick.wrapping_sub(t) < BEHIND_FOR);
            if behind && off_grid {
                self.lagging += 1;
                self.metrics.snapshots_throttled.inc();
                continue;
            }
            let put = m.outbox.put_snapshot(
                tick,
                Pending {
                    tick: published.clone(),
                    player: m.player,
                    input_seq: m.applied_seq,
                },
            );
            // Replaced with the window open: its writer could have taken it but had no CPU.
            // (With the window full, this snapshot waits for the ack that opens it: that is
            // the client's own pace, and the window already holds it back.)
            m.missed = if put.replaced && !put.window_full {
                m.missed + 1
            } else {
                0
            };
            if m.missed >= BEHIND_AFTER {
                m.behind_at = Some(tick);
            }
            if put.window_full {
                self.lagging += 1;
                self.metrics.snapshots_throttled.inc();
            }
        }
        self.encodes = Some(published.encodes());
    }

    fn idle_expired(&self) -> bool {
        self.empty_since
            .is_some_and(|t| t.elapsed() >= self.cfg.room_grace)
            && self
                .listing
                .remove_if_idle(&self.name, self.id, &self.inbox)
    }

    fn inspect(&self) -> RoomInspect {
        RoomInspect {
            tick: self.tick,
            game: self.game.descriptor().game.clone(),
            table: self
                .history
                .get(self.tick)
                .map(|t| (**t).clone())
                .unwrap_or_default(),
            clients: self
                .members
                .iter()
                .map(|(&conn, m)| ClientInspect {
                    conn,
                    name: m.name.clone(),
                    player: m.player,
                    pending_snapshots: usize::from(m.outbox.has_pending_snapshot()),
                    reliable_queued: m.outbox.reliable_len(),
                    stale_dropped: m.outbox.stale_dropped(),
                    acked: m.outbox.acked(),
                    ack_lag: m.outbox.ack_lag(),
                })
                .collect(),
        }
    }

    fn publish_info(&mut self) {
        let (tick, rate) = (self.tick, f64::from(self.cfg.tick_rate));
        // Each client's send rate since the last report; clients counted for too short a
        // time (they just joined) are left out.
        let mut rates: Vec<f64> = Vec::with_capacity(self.members.len());
        for m in self.members.values_mut() {
            let taken = m.outbox.snapshots_taken();
            let span = m.counting_since.map(|t| tick.wrapping_sub(t));
            if let Some(span) = span.filter(|&s| s >= 15) {
                rates.push((taken - m.taken_since) as f64 * rate / f64::from(span));
            }
            (m.taken_since, m.counting_since) = (taken, Some(tick));
        }
        rates.sort_by(f64::total_cmp);
        let mut info = self.info.lock().unwrap_or_else(|e| e.into_inner());
        info.send_rate_min = rates.first().map(|r| (r * 10.0).round() / 10.0);
        info.send_rate_p50 = rates
            .get(rates.len() / 2)
            .map(|r| (r * 10.0).round() / 10.0);
        self.stats.fill(&mut info);
        info.players = self.members.len() + self.detached.len();
        info.entities = self.game.entities();
        info.tick = self.tick;
        info.encodes_per_tick = self.encodes_last;
        info.lagging_clients = self.lagging;
        info.stale_dropped = self
            .members
            .values()
            .map(|m| m.outbox.stale_dropped())
            .sum();
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Drives one room's tick synchronously, without sockets or timers: for benchmarks.
#[doc(hidden)]
pub mod bench {
    use std::sync::Arc;

    use super::*;
    use published::ClientState;

    /// A room and its clients' outboxes, driven by hand.
    pub struct BenchRoom {
        pub(in crate::room) room: Room,
        /// The room's inbox, as the clients' readers hold it.
        inbox: mpsc::Sender<RoomMsg>,
        /// Each client's outbox and what its writer keeps.
        pub(in crate::room) clients: Vec<(Arc<Outbox>, Mutex<ClientState>)>,
        seq: u32,
    }

    impl BenchRoom {
        /// A room of `game` (from `games`) with `clients` joined players.
        pub fn new(games: &crate::game::Games, game: &str, clients: usize) -> Self {
            // Every client is sent every tick, so the ticks the bench acks were all sent (a
            // throttled full snapshot would leave its ack pointing at a tick never sent).
            let cfg = Arc::new(Config {
                full_rate: Config::default().tick_rate,
                ..Config::default()
            });
            let host = Host {
                cfg: cfg.clone(),
                epoch: Instant::now(),
                stop: CancellationToken::new(),
                metrics: RoomMetrics::default(),
                listing: Arc::new(Unlisted),
                saves: None,
            };
            let (inbox, rx) = mpsc::channel(clients.max(1));
            let info = Arc::default();
            let g = games
                .get(game)
                .expect("a registered game")
                .create(cfg.tick_rate)
                .expect("a valid game");
            let mut room = Room::new("bench".into(), 0, host, rx, info, g);
            let outboxes: Vec<_> = (0..clients)
                .map(|_| Arc::new(Outbox::new(1 << 20, cfg.send_window())))
                .collect();
            for (i, outbox) in outboxes.iter().enumerate() {
                let (reply, _answer) = oneshot::channel();
                room.join(JoinRequest {
                    resume_token: None,
                    conn: i as u64,
                    name: format!("bot{i}"),
                    outbox: outbox.clone(),
                    reply,
                });
            }
            let mut bench = Self {
                room,
                inbox,
                clients: outboxes
                    .into_iter()
                    .map(|o| (o, Mutex::default()))
                    .collect(),
                seq: 0,
            };
            // Welcomes and join events are not part of a steady tick.
            for (o, _) in &bench.clients {
                while let Some(Outgoing::Reliable(_)) = o.take() {}
            }
            for _ in 0..8 {
                bench.receive();
                bench.tick();
                bench.drain(1);
            }
            bench
        }

        /// The readers' part: every client's input (a steady turn per client) into the
        /// room's inbox, and its ack: client `i` has acked the tick `1 + i % 6` ticks back.
        pub fn receive(&mut self) {
            self.seq += 1;
            let tick = self.room.tick;
            for (i, (conn, m)) in self.room.members.iter().enumerate() {
                let angle = (*conn as f64) * 2.4 + f64::from(self.seq) * 0.01;
                let values = vec![Value::Num(angle.cos()), Value::Num(angle.sin())];
                let age = 1 + (i as u32 % 6);
                // As a client that draws 2.5 ticks behind its newest snapshot.
                let ack = tick.checked_sub(age);
                let input = RoomMsg::Input {
                    conn: *conn,
                    seq: self.seq,
                    values,
                    ack,
                    view: ack
                        .and_then(|a| a.checked_sub(3))
                        .map(|tick| ViewTime { tick, frac: 128 }),
                };
                self.inbox.try_send(input).expect("room for every client");
                if tick > age {
                    m.outbox.set_acked(tick - age);
                    m.outbox.set_acked(tick + 1 - age);
                }
            }
        }

        /// The room task's part of a tick: take the inputs, step, record, publish.
        pub fn tick(&mut self) {
            self.room.drain_inbox();
            self.room.step(1.0 / 60.0);
            self.room.publish_snapshots();
        }

        /// The writers' part: builds every client's pending snapshot, on `threads` threads
        /// (as writers run on the runtime's workers). Returns the bytes built and the encodes
        /// the tick needed.
        pub fn drain(&self, threads: usize) -> (usize, usize) {
            let threads = threads.clamp(1, self.clients.len().max(1));
            let chunk = self.clients.len().div_ceil(threads).max(1);
            let bytes = std::thread::scope(|scope| {
                let workers: Vec<_> = self
                    .clients
                    .chunks(chunk)
                    .map(|clients| scope.spawn(move || build_all(clients)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("a builder thread"))
                    .sum()
            });
            (bytes, self.encodes_now())
        }

        /// Encodes made so far for the newest published tick.
        pub fn encodes_now(&self) -> usize {
            self.room
                .encodes
                .as_ref()
                .map_or(0, |e| e.load(Ordering::Relaxed))
        }

        /// Encodes made for the tick published before the newest.
        pub fn encodes_before(&self) -> usize {
            self.room.encodes_last
        }
    }

    /// A bench room is listed nowhere.
    struct Unlisted;

    impl Listing for Unlisted {
        fn remove_if_idle(&self, _: &str, _: u64, _: &mpsc::Receiver<RoomMsg>) -> bool {
            true
        }
        fn remove(&self, _: &str, _: u64) {}
    }

    /// What a writer does with each pending snapshot: builds it (bytes are counted).
    fn build_all(clients: &[(Arc<Outbox>, Mutex<ClientState>)]) -> usize {
        let mut out = Vec::new();
        let mut bytes = 0;
        for (outbox, state) in clients {
            if let Some(Outgoing::Snapshot(p)) = outbox.take() {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                // Acks reset each tick, as the bench sets them.
                if p.tick.build(&p, outbox.acked_pair(), &mut state, &mut out) {
                    bytes += out.len();
                }
            }
            outbox.reset_ack();
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::bench::BenchRoom;
    use crate::testing::games;

    #[test]
    fn a_snapshot_is_built_only_when_its_writer_takes_it_and_of_the_newest_tick() {
        for game in ["drift", "drift-view"] {
            let mut room = BenchRoom::new(&games(), game, 3);
            room.tick();
            room.tick();
            assert_eq!(room.encodes_before(), 0, "{game}: a tick no writer took");
            assert_eq!(room.encodes_now(), 0, "{game}: nothing built at publish");
            let (bytes, encodes) = room.drain(1);
            assert!(bytes > 0 && encodes > 0, "{game}: built when taken");
            room.tick();
            assert_eq!(room.encodes_before(), encodes, "{game}: counted once");
        }
    }

    #[test]
    fn a_client_that_keeps_not_taking_its_snapshots_in_time_gets_every_fourth_tick() {
        let mut room = BenchRoom::new(&games(), "drift", 3);
        let slow = room.clients[0].0.clone();
        let fast = room.clients[1].0.clone();
        let hiccups = room.clients[2].0.clone();
        let (mut taken, mut last_missed) = (Vec::new(), 0);
        for k in 0..80 {
            room.tick();
            let tick = room.room.tick;
            if k == 9 {
                // Its last put before it takes again: behind, it gets grid ticks only.
                last_missed = tick - tick % BEHIND_EVERY;
            }
            // The fast writer takes every snapshot at once; one misses a single tick now and
            // then (that alone is no reason to fall back).
            for (outbox, takes) in [(&fast, true), (&hiccups, tick % 5 != 0)] {
                if takes {
                    let Some(Outgoing::Snapshot(p)) = outbox.take() else {
                        panic!("a client that keeps up gets every tick");
                    };
                    assert_eq!(p.tick.tick(), tick);
                }
            }
            // The slow one takes nothing for ten ticks, then every snapshot it is given.
            if k >= 10
                && let Some(Outgoing::Snapshot(p)) = slow.take()
            {
                taken.push((k, p.tick.tick()));
            }
        }
        let (behind, after): (Vec<_>, Vec<_>) = taken
            .iter()
            .partition(|(_, t)| *t < last_missed + BEHIND_FOR);
        assert!(
            behind.iter().all(|(_, t)| t % BEHIND_EVERY == 0) && behind.len() >= 5,
            "behind: only grid ticks {behind:?}"
        );
        // Caught up for longer than it stays behind: every tick again.
        assert!(after.len() >= 30, "back to every tick: {after:?}");
    }
}
