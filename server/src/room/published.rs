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
use std::sync::{Arc, Mutex, OnceLock};

use protocol::schema::MAX_PREDICT_TICKS;
use protocol::state_delta::{Baseline, Encoder, Steady};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable, codec};

use prometheus_client::metrics::counter::Counter;

use super::views::{Placement, ViewClient, ViewTick};

/// The baselines a delta is taken against: `(baseline, baseline2)`; `(None, None)` is full.
type BaseKey = (Option<u32>, Option<u32>);

/// One tick as the room published it.
pub struct PublishedTick {
    pub tick: u32,
    server_time_us: u64,
    plan: Arc<Plan>,
    now: Arc<StateTable>,
    /// Since when each entity of `now` has kept to its prediction.
    steady: Arc<Steady>,
    /// Snapshots each writer keeps of what it sent (`--history`).
    keep: usize,
    /// Ticks between two full snapshots to one client (`--full-rate`), and where the ones
    /// held back are counted.
    full_every: u32,
    throttled: Counter,
    /// Whether deltas use a second baseline (a linear predictor, and no views).
    linear: bool,
    checksum: bool,
    /// All-see-all: the public checksum of `now`.
    public: OnceLock<u32>,
    /// All-see-all: the delta per baseline pair.
    shared: BuiltOnce<BaseKey, Vec<u8>>,
    views: Option<ViewTick>,
    /// Deltas (or parts) encoded for this tick so far.
    encodes: AtomicUsize,
}

/// A client's order for the snapshot of a published tick.
pub struct Pending {
    pub tick: Arc<PublishedTick>,
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
    body: Vec<u8>,
    private: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// What the room publishes with a tick.
pub struct Publish {
    pub tick: u32,
    pub server_time_us: u64,
    pub plan: Arc<Plan>,
    pub now: Arc<StateTable>,
    pub steady: Arc<Steady>,
    pub keep: usize,
    pub full_every: u32,
    pub throttled: Counter,
    pub linear: bool,
    pub checksum: bool,
    pub views: Option<ViewTick>,
}

impl PublishedTick {
    pub fn new(p: Publish) -> Self {
        Self {
            tick: p.tick,
            server_time_us: p.server_time_us,
            plan: p.plan,
            now: p.now,
            steady: p.steady,
            keep: p.keep.max(1),
            full_every: p.full_every,
            throttled: p.throttled,
            linear: p.linear,
            checksum: p.checksum,
            public: OnceLock::new(),
            shared: BuiltOnce::default(),
            views: p.views,
            encodes: AtomicUsize::new(0),
        }
    }

    /// Deltas (or parts, under views) encoded for this tick so far.
    pub fn encodes(&self) -> usize {
        self.encodes.load(Ordering::Relaxed)
    }

    /// The delta from `base` to now, encoded by the first client on these baselines.
    fn shared(
        &self,
        key: BaseKey,
        base: Option<&Baseline<'_>>,
        encoder: &mut Encoder,
    ) -> Arc<OnceLock<Vec<u8>>> {
        self.shared.get_or_build(key, || {
            let mut bytes = Vec::new();
            encoder.shared_steady(
                &self.plan,
                base,
                &self.now,
                self.tick,
                &self.steady,
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
        let (tick, plan, now) = (self.tick, &*self.plan, &*self.now);
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
                .is_some_and(|t| tick.wrapping_sub(t) < self.full_every)
            {
                self.throttled.inc();
                return false;
            }
            client.last_full = Some(tick);
        }
        let mut header = SnapshotHeader {
            tick,
            baseline: base.map(|b| b.tick),
            baseline2: None,
            input_seq: order.input_seq,
            server_time_us: self.server_time_us,
            checksum: None,
        };
        let owner = || plan.owner_checksum(now, Some(order.player));
        out.clear();
        let own_cell = SCRATCH.with_borrow_mut(|s| {
            let (baseline, own_cell) = if let Some(v) = &self.views {
                let c = ViewClient {
                    now,
                    base: base.and_then(|b| {
                        let (placed, cell) = b.view.as_ref()?;
                        Some((b.tick, &*b.table, &**placed, *cell))
                    }),
                    own: order.player,
                };
                header.baseline = c.base.map(|b| b.0);
                s.body.clear();
                let sum = v.write_delta(
                    plan,
                    tick,
                    &c,
                    self.checksum,
                    &mut s.encoder,
                    &self.encodes,
                    &mut s.body,
                );
                header.checksum = sum.map(|sum| sum ^ owner());
                codec::encode_snapshot_header(&header, out);
                out.extend_from_slice(&s.body);
                let baseline = c.base.map(|(tick, table, _, _)| Baseline {
                    table,
                    tick,
                    second: None,
                });
                (baseline, v.cell_of(now, order.player))
            } else {
                let second = base
                    .filter(|_| self.linear)
                    .and(acked.1.filter(usable))
                    .and_then(|a2| sent_at(&client.sent, a2));
                header.baseline2 = second.map(|s| s.tick);
                let baseline = base.map(|b| Baseline {
                    table: &b.table,
                    tick: b.tick,
                    second: second.map(|s| (&*s.table, s.tick)),
                });
                if self.checksum {
                    let public = *self.public.get_or_init(|| plan.public_checksum(now));
                    header.checksum = Some(public ^ owner());
                }
                let key = (header.baseline, header.baseline2);
                let shared = self.shared(key, baseline.as_ref(), &mut s.encoder);
                let shared = shared.get().expect("encoded above");
                out.reserve(shared.len() + 48);
                codec::encode_snapshot_header(&header, out);
                out.extend_from_slice(shared);
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
        // too old to be one.
        while client.sent.len() >= self.keep
            || client
                .sent
                .front()
                .is_some_and(|s| i64::from(tick.wrapping_sub(s.tick)) > MAX_PREDICT_TICKS)
        {
            client.sent.pop_front();
        }
        client.sent.push_back(Sent {
            tick,
            table: self.now.clone(),
            view: self
                .views
                .as_ref()
                .map(|v| (v.placement().clone(), own_cell)),
        });
        true
    }
}

/// Values built once per key by whichever thread asks first; the others asking meanwhile wait
/// for it (the lock is only held to find the key's cell, not while building).
pub(super) struct BuiltOnce<K, V>(Mutex<Vec<(K, Arc<OnceLock<V>>)>>);

impl<K, V> Default for BuiltOnce<K, V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<K: PartialEq, V> BuiltOnce<K, V> {
    /// The value of `key`, built with `build` if no one has.
    pub(super) fn get_or_build(&self, key: K, build: impl FnOnce() -> V) -> Arc<OnceLock<V>> {
        let cell = {
            let mut cells = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match cells.iter().find(|(k, _)| *k == key) {
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell = Arc::new(OnceLock::new());
                    cells.push((key, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_init(build);
        cell
    }
}
