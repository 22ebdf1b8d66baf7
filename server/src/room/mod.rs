//! A room: one task that owns a world and runs it on a fixed tick (DESIGN.md "room task").
//!
//! Each tick: drain the inbox (joins, leaves, inputs), apply each player's newest input, step
//! the game (catching up at most `max_catchup` ticks, then dropping lost time), record the
//! world in the history ring, and hand every client its delta snapshot without waiting.

mod history;
pub mod snapshots;
mod stats;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use protocol::{
    EntityId, EntityTable, Event, Input, PlayerInfo, ServerMsg, SnapshotHeader, Welcome, codec,
    codes,
};
use tokio::sync::{mpsc, oneshot};

use crate::Rejection;
use crate::config::Config;
use crate::game::{EntityKey, Game, World, fill_table, wire_id};
use crate::outbox::Outbox;
use crate::registry::Rooms;
pub use history::History;
use snapshots::{DeltaCache, client_snapshot};
pub use stats::{RoomInfo, TickStats};

/// A connection's id, unique for the server's life.
pub type ConnId = u64;

/// What connections (and the server) tell a room.
pub enum RoomMsg {
    Join(JoinRequest),
    /// The connection ended; `resumable` when it dropped (rather than closed on purpose).
    Leave {
        conn: ConnId,
        resumable: bool,
    },
    Input {
        conn: ConnId,
        input: Input,
    },
    Chat {
        conn: ConnId,
        text: String,
    },
    /// Test and debug hook: the room's latest recorded tick and per-client state.
    Inspect(oneshot::Sender<RoomInspect>),
}

pub struct JoinRequest {
    pub conn: ConnId,
    pub name: String,
    /// From the `Hello`: take back a disconnected player instead of spawning a new one.
    pub resume_token: Option<String>,
    pub outbox: Arc<Outbox>,
    pub reply: oneshot::Sender<Result<EntityId, Rejection>>,
}

/// A room's state as seen from outside, for tests and debugging.
#[derive(Clone, Debug)]
pub struct RoomInspect {
    pub tick: u32,
    pub table: EntityTable,
    pub clients: Vec<ClientInspect>,
}

#[derive(Clone, Debug)]
pub struct ClientInspect {
    pub conn: ConnId,
    pub name: String,
    pub player: EntityId,
    pub pending_snapshots: usize,
    pub reliable_queued: usize,
    pub stale_dropped: u64,
    pub acked: Option<u32>,
}

struct Member {
    name: String,
    player: EntityKey,
    outbox: Arc<Outbox>,
    /// Presented in a later `Hello` to take this player back after a disconnect.
    resume_token: String,
    /// Newest input received, applied at the next tick.
    pending: Option<Input>,
    /// Newest seq received (older or duplicate seqs are ignored).
    newest_seq: u32,
    /// Newest seq applied, reported in snapshots.
    applied_seq: u32,
}

/// A player whose connection dropped, kept until `until` for its client to resume.
struct Detached {
    member: Member,
    until: Instant,
}

pub struct Room {
    name: String,
    id: u64,
    cfg: Arc<Config>,
    rooms: Arc<Rooms>,
    epoch: Instant,
    inbox: mpsc::Receiver<RoomMsg>,
    world: World,
    game: Box<dyn Game>,
    members: HashMap<ConnId, Member>,
    detached: Vec<Detached>,
    history: History,
    cache: DeltaCache,
    tick: u32,
    stats: TickStats,
    info: Arc<Mutex<RoomInfo>>,
    empty_since: Option<Instant>,
}

/// Why the loop stopped.
enum Stop {
    Idle,
    Shutdown,
    Panicked(String),
}

impl Room {
    /// A room registered in `rooms` (whose config, clock and game factory it uses).
    pub(crate) fn new(
        name: String,
        id: u64,
        rooms: Arc<Rooms>,
        inbox: mpsc::Receiver<RoomMsg>,
        info: Arc<Mutex<RoomInfo>>,
    ) -> Self {
        let (cfg, epoch) = (rooms.cfg.clone(), rooms.epoch);
        let mut world = World::with_key();
        let game = rooms.factory.create(&name, &mut world);
        Self {
            history: History::new(cfg.history),
            stats: TickStats::new(Instant::now()),
            name,
            id,
            cfg,
            rooms,
            epoch,
            inbox,
            world,
            game,
            members: HashMap::new(),
            detached: Vec::new(),
            cache: DeltaCache::default(),
            tick: 0,
            info,
            empty_since: Some(Instant::now()),
        }
    }

    pub async fn run(mut self) {
        let period = self.cfg.tick_period();
        let mut next = tokio::time::Instant::now() + period;
        let shutdown = self.rooms.stop.clone();
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
            self.stats.record(started.elapsed());
            if self.tick % 30 == 0 {
                self.publish_info();
            }
        };
        let (code, reason) = match stop {
            Stop::Idle => {
                tracing::info!(room = %self.name, "room closed after its idle grace period");
                return;
            }
            Stop::Shutdown => (codes::GOING_AWAY, "server shutting down".to_string()),
            Stop::Panicked(msg) => {
                tracing::error!(room = %self.name, panic = %msg, "room game logic panicked; closing the room");
                self.rooms.remove(&self.name, self.id);
                (
                    codes::SERVER_ERROR,
                    "the room failed; please rejoin".to_string(),
                )
            }
        };
        for m in self.members.values() {
            m.outbox.close(code, reason.clone());
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
                RoomMsg::Input { conn, input } => {
                    if let Some(m) = self.members.get_mut(&conn)
                        && input.seq > m.newest_seq
                    {
                        m.newest_seq = input.seq;
                        m.pending = Some(input);
                    }
                }
                RoomMsg::Chat { conn, text } => {
                    if let Some(m) = self.members.get(&conn) {
                        let from = wire_id(m.player);
                        self.broadcast(&Event::Chat { from, text });
                    }
                }
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
            && let Some(_) = joined
        {
            // The connection gave up waiting: undo.
            self.leave(req.conn, false);
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
        let player = self.game.join(&mut self.world, &name);
        let id = wire_id(player);
        self.broadcast(&Event::PlayerJoined(PlayerInfo {
            entity: id,
            name: name.clone(),
        }));
        let member = Member {
            name,
            player,
            outbox,
            resume_token: String::new(),
            pending: None,
            newest_seq: 0,
            applied_seq: 0,
        };
        self.seat(conn, member);
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
        let Some(i) = self
            .detached
            .iter()
            .position(|d| d.member.resume_token == token && d.member.name == name)
        else {
            let reason = if self.members.values().any(|m| m.resume_token == token) {
                "resume token belongs to a connected player"
            } else {
                "unknown or expired resume token"
            };
            return Err(Rejection {
                code: codes::BAD_RESUME,
                reason: reason.into(),
            });
        };
        let mut member = self.detached.swap_remove(i).member;
        member.outbox = outbox;
        // A new connection numbers its inputs afresh.
        member.newest_seq = 0;
        member.applied_seq = 0;
        member.pending = None;
        let id = wire_id(member.player);
        self.seat(conn, member);
        Ok(id)
    }

    /// Adds a member and sends its `Welcome` (with a fresh resume token).
    fn seat(&mut self, conn: ConnId, mut member: Member) {
        member.resume_token = crate::tokens::random_token();
        let info = self.game.info();
        let mut players: Vec<PlayerInfo> = self.roster().collect();
        players.push(PlayerInfo {
            entity: wire_id(member.player),
            name: member.name.clone(),
        });
        let welcome = ServerMsg::Welcome(Welcome {
            version: protocol::PROTOCOL_VERSION,
            player: wire_id(member.player),
            room: self.name.clone(),
            tick_rate: self.cfg.tick_rate,
            tick: self.tick,
            resume_token: member.resume_token.clone(),
            world_width: info.world_size.x,
            world_height: info.world_size.y,
            player_speed: info.player_speed,
            players,
        });
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
            entity: wire_id(m.player),
            name: m.name.clone(),
        })
    }

    /// A connection ended. A `resumable` player (its socket dropped) keeps its entity, standing
    /// still, for the resume grace period; otherwise it leaves now.
    fn leave(&mut self, conn: ConnId, resumable: bool) {
        let Some(m) = self.members.remove(&conn) else {
            return;
        };
        if resumable && !self.cfg.resume_grace.is_zero() {
            let stop = Input {
                seq: m.applied_seq,
                dx: 0,
                dy: 0,
                buttons: 0,
            };
            self.game.input(&mut self.world, m.player, &stop);
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
        self.game.leave(&mut self.world, m.player);
        self.broadcast(&Event::PlayerLeft {
            entity: wire_id(m.player),
        });
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

    fn step(&mut self, dt: f32) {
        for m in self.members.values_mut() {
            if let Some(input) = m.pending.take() {
                self.game.input(&mut self.world, m.player, &input);
                m.applied_seq = input.seq;
            }
        }
        self.game.step(&mut self.world, dt);
        self.tick = self.tick.wrapping_add(1);
    }

    fn publish_snapshots(&mut self) {
        let tick = self.tick;
        let world = &self.world;
        self.history.record(tick, |t| fill_table(world, t));
        let now = self.history.get(tick).expect("just recorded");
        let checksum = self.cfg.checksum.then(|| now.checksum());
        let server_time_us = self.epoch.elapsed().as_micros() as u64;
        self.cache.clear();
        for m in self.members.values() {
            // The client's acked tick, if the ring still holds it; else a full snapshot.
            let base = m
                .outbox
                .acked()
                .filter(|&a| a != tick)
                .and_then(|a| Some((a, self.history.get(a)?)));
            let baseline = base.map(|(a, _)| a);
            let delta = self.cache.get(baseline, base.map(|(_, t)| t), now);
            let header = SnapshotHeader {
                tick,
                baseline,
                input_seq: m.applied_seq,
                server_time_us,
                checksum,
            };
            m.outbox.put_snapshot(client_snapshot(&header, delta));
        }
    }

    fn idle_expired(&self) -> bool {
        self.empty_since
            .is_some_and(|t| t.elapsed() >= self.cfg.room_grace)
            && self.rooms.remove_if_idle(&self.name, self.id, &self.inbox)
    }

    fn inspect(&self) -> RoomInspect {
        RoomInspect {
            tick: self.tick,
            table: self.history.get(self.tick).cloned().unwrap_or_default(),
            clients: self
                .members
                .iter()
                .map(|(&conn, m)| ClientInspect {
                    conn,
                    name: m.name.clone(),
                    player: wire_id(m.player),
                    pending_snapshots: usize::from(m.outbox.has_pending_snapshot()),
                    reliable_queued: m.outbox.reliable_len(),
                    stale_dropped: m.outbox.stale_dropped(),
                    acked: m.outbox.acked(),
                })
                .collect(),
        }
    }

    fn publish_info(&self) {
        let mut info = self.info.lock().unwrap_or_else(|e| e.into_inner());
        self.stats.fill(&mut info);
        info.players = self.members.len() + self.detached.len();
        info.entities = self.world.len();
        info.tick = self.tick;
        info.encodes_per_tick = self.cache.encodes;
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

    use protocol::Input;

    use super::*;

    pub struct BenchRoom {
        room: Room,
        clients: Vec<Arc<Outbox>>,
        seq: u32,
    }

    impl BenchRoom {
        /// An arena room with `npcs` NPCs and `clients` joined players.
        pub fn new(npcs: usize, clients: usize) -> Self {
            let cfg = Arc::new(Config {
                npcs,
                ..Config::default()
            });
            let factory = Arc::new(crate::arena::ArenaFactory {
                npc_count: npcs,
                seed: cfg.seed,
            });
            let stop = tokio_util::sync::CancellationToken::new();
            let rooms = Rooms::new(cfg.clone(), factory.clone(), Instant::now(), stop);
            let (_tx, rx) = mpsc::channel(1);
            let info = Arc::default();
            let mut room = Room::new("bench".into(), 0, rooms, rx, info);
            let outboxes: Vec<_> = (0..clients)
                .map(|_| Arc::new(Outbox::new(1 << 20)))
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
                clients: outboxes,
                seq: 0,
            };
            for _ in 0..8 {
                bench.tick();
            }
            // Welcomes and join events: not part of a steady tick.
            for o in &bench.clients {
                while o.take().is_some() {}
            }
            bench
        }

        /// One whole tick: every client's input, step, history, every client's snapshot.
        /// Client `i` has acked the tick `1 + i % 6` ticks back. Returns the encodes made.
        pub fn tick(&mut self) -> usize {
            self.seq += 1;
            let tick = self.room.tick;
            for (i, (conn, m)) in self.room.members.iter_mut().enumerate() {
                let angle = (*conn as f32) * 2.4 + self.seq as f32 * 0.01;
                let input = Input {
                    seq: self.seq,
                    dx: protocol::quant::axis_to_wire(angle.cos()),
                    dy: protocol::quant::axis_to_wire(angle.sin()),
                    buttons: 0,
                };
                m.newest_seq = input.seq;
                m.pending = Some(input);
                let age = 1 + (i as u32 % 6);
                m.outbox.reset_ack();
                if tick >= age {
                    m.outbox.set_acked(tick + 1 - age);
                }
            }
            self.room.step(1.0 / 60.0);
            self.room.publish_snapshots();
            self.room.cache.encodes
        }

        /// Takes every client's pending snapshot (what the writers would do), returning bytes.
        pub fn drain(&self) -> usize {
            self.clients
                .iter()
                .map(|o| match o.take() {
                    Some(crate::outbox::Outgoing::Snapshot(b)) => b.len(),
                    _ => 0,
                })
                .sum()
        }
    }
}
