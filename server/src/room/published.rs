//! A published tick: what the room hands each client's outbox instead of a finished snapshot.
//!
//! The room records the world, publishes the tick and moves on. A client's writer builds its
//! snapshot from the newest published tick when its socket can take one, so a snapshot is
//! only built if it is sent (a client that falls behind skips ticks at no cost to the room),
//! and the per-client work (baseline lookup, view, framing, private section) runs on the
//! writers' tasks across the runtime's worker threads. What clients share, a delta per
//! baseline (or under views a part per grid cell and baseline), is built once per tick by
//! whichever writer needs it first; the others wait for it or find it done.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use protocol::schema::MAX_PREDICT_TICKS;
use protocol::state_delta::{Baseline, Encoder, Steady};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable, codec};

use prometheus_client::metrics::counter::Counter;

use super::built_once::{Built, BuiltOnce};
use super::views::{Placement, ViewClient, ViewTick};

/// The baselines a delta is taken against: `(baseline, baseline2)`; `(None, None)` is full.
type BaseKey = (Option<u32>, Option<u32>);

/// One tick as the room published it, with what its clients' snapshots share.
pub struct PublishedTick {
    p: Publish,
    /// All-see-all: the public checksum of `now`.
    public: OnceLock<u32>,
    /// All-see-all: the delta per baseline pair.
    shared: BuiltOnce<BaseKey, Vec<u8>>,
    /// Deltas (or parts) encoded for this tick so far.
    encodes: Arc<AtomicUsize>,
}

/// A client's order for the snapshot of a published tick.
pub struct Pending {
    /// The tick to build it from.
    pub tick: Arc<PublishedTick>,
    /// The client's player (its private fields go in the snapshot).
    pub player: EntityId,
    /// The newest input applied for this client, reported in the header.
    pub input_seq: u32,
}

/// What a client's writer keeps between its snapshots: what it sent, so that whatever the
/// client acks is a baseline (as long as it is one of the last `--history` sent, however old:
/// a client that lags gets deltas, not full snapshots), and when it sent a full one.
#[derive(Default)]
pub struct ClientState {
    sent: VecDeque<Sent>,
    last_full: Option<u32>,
}

/// A snapshot sent: its tick's table and, under views, where everything was then and the
/// cell the client's player was in.
struct Sent {
    tick: u32,
    table: Arc<StateTable>,
    view: Option<(Arc<Placement>, Option<u32>)>,
}

/// The snapshot of `tick` among those sent.
fn sent_at(sent: &VecDeque<Sent>, tick: u32) -> Option<&Sent> {
    sent.iter().rev().find(|s| s.tick == tick)
}

/// Per-thread buffers, reused by every snapshot a thread builds.
#[derive(Default)]
struct Scratch {
    encoder: Encoder,
    private: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// What the room publishes with a tick.
pub struct Publish {
    /// The tick recorded.
    pub tick: u32,
    /// When, in µs since the server started (sent in the snapshot header).
    pub server_time_us: u64,
    /// The game's table layout.
    pub plan: Arc<Plan>,
    /// The world recorded at `tick`.
    pub now: Arc<StateTable>,
    /// Since when each entity of `now` has kept to its prediction.
    pub steady: Arc<Steady>,
    /// Snapshots each writer keeps of what it sent (`--history`).
    pub keep: usize,
    /// Ticks between two full snapshots to one client (`--full-rate`).
    pub full_every: u32,
    /// Where the full snapshots `full_every` holds back are counted.
    pub throttled: Counter,
    /// Whether deltas use a second baseline (a linear predictor, and no views).
    pub linear: bool,
    /// Whether snapshots carry a checksum (`--checksum`).
    pub checksum: bool,
    /// Under interest management: the grid and where this tick's entities sit on it.
    pub views: Option<ViewTick>,
}

impl PublishedTick {
    /// The tick it publishes.
    pub fn tick(&self) -> u32 {
        self.p.tick
    }

    /// Publishes `p`; nothing is encoded until a writer asks.
    pub fn new(p: Publish) -> Self {
        Self {
            p: Publish {
                keep: p.keep.max(1),
                ..p
            },
            public: OnceLock::new(),
            shared: BuiltOnce::default(),
            encodes: Arc::default(),
        }
    }

    /// Deltas (or parts, under views) encoded for this tick, counted as they are.
    pub fn encodes(&self) -> Arc<AtomicUsize> {
        self.encodes.clone()
    }

    /// The delta from `base` to now, encoded by the first client on these baselines.
    fn shared(
        &self,
        key: BaseKey,
        base: Option<&Baseline<'_>>,
        encoder: &mut Encoder,
    ) -> Built<'_, Vec<u8>> {
        self.shared.get_or_build(key, || {
            let mut bytes = Vec::new();
            encoder.shared_steady(
                &self.p.plan,
                base,
                &self.p.now,
                self.p.tick,
                &self.p.steady,
                &mut bytes,
            );
            self.encodes.fetch_add(1, Ordering::Relaxed);
            bytes
        })
    }

    /// Builds the snapshot message of `order` into `out` (cleared first), against the
    /// client's newest acks (`acked`: the newest and the one before) if they are among what
    /// it was sent, else full. False when nothing is to be sent: a full snapshot too soon
    /// after the last (`--full-rate`).
    pub fn build(
        &self,
        order: &Pending,
        acked: (Option<u32>, Option<u32>),
        client: &mut ClientState,
        out: &mut Vec<u8>,
    ) -> bool {
        let (tick, plan, now) = (self.p.tick, &*self.p.plan, &*self.p.now);
        // However old, up to the longest span a prediction may cover.
        let usable = |a: &u32| *a != tick && i64::from(tick.wrapping_sub(*a)) <= MAX_PREDICT_TICKS;
        let base = acked
            .0
            .filter(usable)
            .and_then(|a| sent_at(&client.sent, a));
        if base.is_none() {
            // A client that never acks keeps getting full snapshots, at this rate.
            if client
                .last_full
                .is_some_and(|t| tick.wrapping_sub(t) < self.p.full_every)
            {
                self.p.throttled.inc();
                return false;
            }
            client.last_full = Some(tick);
        }
        let mut header = SnapshotHeader {
            tick,
            baseline: base.map(|b| b.tick),
            baseline2: None,
            input_seq: order.input_seq,
            server_time_us: self.p.server_time_us,
            checksum: None,
        };
        let owner = || plan.owner_checksum(now, Some(order.player));
        out.clear();
        let own_cell = SCRATCH.with_borrow_mut(|s| {
            let (baseline, own_cell) = if let Some(v) = &self.p.views {
                let c = ViewClient {
                    now,
                    base: base.and_then(|b| {
                        let (placed, cell) = b.view.as_ref()?;
                        Some((b.tick, &*b.table, &**placed, *cell))
                    }),
                    cell: v.cell_of(now, order.player),
                };
                header.baseline = c.base.map(|b| b.0);
                if self.p.checksum {
                    header.checksum = Some(v.checksum(plan, now, c.cell) ^ owner());
                }
                codec::encode_snapshot_header(&header, out);
                v.write_delta(plan, tick, &c, &mut s.encoder, &self.encodes, out);
                let baseline = c.base.map(|(tick, table, _, _)| Baseline {
                    table,
                    tick,
                    second: None,
                });
                (baseline, c.cell)
            } else {
                let second = base
                    .filter(|_| self.p.linear)
                    .and(acked.1.filter(usable))
                    .and_then(|a2| sent_at(&client.sent, a2));
                header.baseline2 = second.map(|s| s.tick);
                let baseline = base.map(|b| Baseline {
                    table: &b.table,
                    tick: b.tick,
                    second: second.map(|s| (&*s.table, s.tick)),
                });
                if self.p.checksum {
                    let public = *self.public.get_or_init(|| plan.public_checksum(now));
                    header.checksum = Some(public ^ owner());
                }
                let key = (header.baseline, header.baseline2);
                let shared = self.shared(key, baseline.as_ref(), &mut s.encoder);
                out.reserve(shared.len() + 48);
                codec::encode_snapshot_header(&header, out);
                out.extend_from_slice(&shared);
                (baseline, None)
            };
            let has_private = now
                .get(order.player)
                .and_then(|e| plan.types.get(usize::from(e.ty)))
                .is_some_and(|t| !t.owner.is_empty());
            if has_private {
                s.private.clear();
                s.encoder.private(
                    plan,
                    order.player,
                    baseline.as_ref(),
                    now,
                    tick,
                    &mut s.private,
                );
                // A section with no entry is left out: the delta simply ends.
                if s.private != [0] {
                    out.extend_from_slice(&s.private);
                }
            }
            own_cell
        });
        // The client may ack it: keep it as a baseline, and let go of what is too many or
        // too old to be one, or older than the acks a later snapshot may use (acks only move
        // forward): what a slow client holds in memory is its snapshots in flight, not
        // `--history` ticks of tables.
        let oldest_usable = acked.1.filter(|_| self.p.linear).or(acked.0);
        let older = |s: &Sent, than: u32| tick.wrapping_sub(s.tick) > tick.wrapping_sub(than);
        while client.sent.len() >= self.p.keep
            || client.sent.front().is_some_and(|s| {
                i64::from(tick.wrapping_sub(s.tick)) > MAX_PREDICT_TICKS
                    || oldest_usable.is_some_and(|a| older(s, a))
            })
        {
            client.sent.pop_front();
        }
        client.sent.push_back(Sent {
            tick,
            table: self.p.now.clone(),
            view: self
                .p
                .views
                .as_ref()
                .map(|v| (v.placement(&self.p.now).clone(), own_cell)),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{RoomGame, Sim};
    use crate::testing::Drift;

    /// `sim`'s world published as `tick`; writers keep `keep` snapshots and send a full one
    /// at most every `full_every` ticks.
    fn publish(
        sim: &mut Sim<Drift>,
        tick: u32,
        keep: usize,
        full_every: u32,
    ) -> Arc<PublishedTick> {
        let plan = RoomGame::plan(sim).clone();
        let mut now = StateTable::new(plan.stride);
        RoomGame::record(sim, tick, None, &mut now, &mut Vec::new());
        let mut steady = Steady::default();
        steady.advance(&plan, None, &now, tick);
        Arc::new(PublishedTick::new(Publish {
            tick,
            server_time_us: 0,
            plan,
            now: Arc::new(now),
            steady: Arc::new(steady),
            keep,
            full_every,
            throttled: Counter::default(),
            linear: false,
            checksum: true,
            views: None,
        }))
    }

    /// Builds `tick` for the client whose newest ack is `acked`: the baseline it names, or
    /// `None` when nothing is sent.
    fn send(
        sim: &mut Sim<Drift>,
        client: &mut ClientState,
        (tick, acked): (u32, Option<u32>),
        (keep, full_every): (usize, u32),
    ) -> Option<Option<u32>> {
        let player = EntityId {
            index: 1,
            version: 1,
        };
        let published = publish(sim, tick, keep, full_every);
        let order = Pending {
            tick: published.clone(),
            player,
            input_seq: 0,
        };
        let mut out = Vec::new();
        published
            .build(&order, (acked, None), client, &mut out)
            .then(|| {
                let (header, _) = codec::decode_snapshot_header(&out).unwrap().unwrap();
                header.baseline
            })
    }

    #[test]
    fn an_ack_is_a_baseline_while_it_is_among_the_last_snapshots_sent_however_old() {
        let mut sim = Sim::new(|ctx| Drift::new(ctx, 20, 1, 1000.0, None));
        let mut c = ClientState::default();
        let limits = (4, 1);
        assert_eq!(
            send(&mut sim, &mut c, (10, None), limits),
            Some(None),
            "full"
        );
        // 490 ticks later: far past any room-wide history, still a baseline.
        assert_eq!(
            send(&mut sim, &mut c, (500, Some(10)), limits),
            Some(Some(10))
        );
        for tick in 501..=503 {
            assert_eq!(
                send(&mut sim, &mut c, (tick, Some(500)), limits),
                Some(Some(500))
            );
        }
        // Acked 500: tick 10 is never a baseline again, and is gone.
        assert_eq!(send(&mut sim, &mut c, (504, Some(10)), limits), Some(None));
        // Older than the longest prediction span: gone too.
        let late = 503 + MAX_PREDICT_TICKS as u32 + 1;
        assert_eq!(
            send(&mut sim, &mut c, (late, Some(503)), limits),
            Some(None)
        );
    }

    #[test]
    fn a_client_keeps_what_it_has_in_flight_and_its_ack_not_history_ticks() {
        let mut sim = Sim::new(|ctx| Drift::new(ctx, 20, 1, 1000.0, None));
        let mut c = ClientState::default();
        let limits = (64, 1);
        send(&mut sim, &mut c, (10, None), limits);
        // Acks trail by three snapshots, sent every fifth tick.
        for k in 1..40 {
            let acked = (k >= 3).then(|| 10 + 5 * (k - 3));
            let tick = 10 + 5 * k;
            assert_eq!(send(&mut sim, &mut c, (tick, acked), limits), Some(acked));
            // The acked one and the two sent after it, then this one.
            assert!(c.sent.len() <= 4, "{} kept at {tick}", c.sent.len());
        }
        assert_eq!(c.sent.front().map(|s| s.tick), Some(10 + 5 * 36));
    }

    #[test]
    fn full_snapshots_are_held_back_to_their_rate() {
        let mut sim = Sim::new(|ctx| Drift::new(ctx, 20, 1, 1000.0, None));
        let mut c = ClientState::default();
        let limits = (4, 15);
        assert_eq!(send(&mut sim, &mut c, (100, None), limits), Some(None));
        assert_eq!(
            send(&mut sim, &mut c, (101, None), limits),
            None,
            "too soon"
        );
        assert_eq!(send(&mut sim, &mut c, (114, None), limits), None);
        assert_eq!(send(&mut sim, &mut c, (115, None), limits), Some(None));
        // A delta is not held back.
        assert_eq!(
            send(&mut sim, &mut c, (116, Some(115)), limits),
            Some(Some(115))
        );
    }
}
