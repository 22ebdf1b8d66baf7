//! Decoded snapshots shared by the clients of one process.
//!
//! Applying a delta is a pure function of the plan, the baseline table(s), the tick and the
//! delta bytes, and the server encodes the shared part of a delta once per baseline: hundreds
//! of bots in one room receive the same bytes against the same acked table every tick. So the
//! first bot to get a snapshot decodes it and checksums the result; the others find that table
//! here and share it. Every bot still checks the checksum in its own header, and bytes or a
//! baseline that differ in any way are a different entry (decoded by that bot), so a bot
//! detects exactly what it would detect decoding alone, for a fraction of the CPU and memory.
//!
//! Only games without owner-only fields share: with them, each client's table holds its own
//! player's private values, and each decodes alone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::{Descriptor, Plan, StateTable};

/// How many decoded snapshots are kept, oldest dropped first: some 20 ticks of a room whose
/// clients are spread over a dozen baselines. A bot that lags further decodes alone.
pub const DEFAULT_ENTRIES: usize = 256;
/// How many of a tick's cached tables a new one is compared with, to merge equal ones.
const MERGE_CANDIDATES: usize = 4;
/// How many distinct plans (games) are interned.
const MAX_PLANS: usize = 64;

/// What a decode depends on. The entry holds its plan and baselines, so their addresses
/// cannot be reused by other tables while it is cached: comparing pointers is exact.
#[derive(Clone)]
pub(crate) struct Key {
    /// The game, compiled.
    pub plan: Arc<Plan>,
    /// The snapshot's tick.
    pub tick: u32,
    /// The table the delta is against (`None`: a full snapshot).
    pub base: Option<Arc<StateTable>>,
    /// The second baseline, for linear predictors.
    pub base2: Option<Arc<StateTable>>,
}

impl Key {
    fn same(&self, other: &Key) -> bool {
        fn same_table(a: &Option<Arc<StateTable>>, b: &Option<Arc<StateTable>>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
        }
        self.tick == other.tick
            && Arc::ptr_eq(&self.plan, &other.plan)
            && same_table(&self.base, &other.base)
            && same_table(&self.base2, &other.base2)
    }
}

/// A decoded snapshot: its table and the checksum of that table (any client's: only games
/// without private fields share).
#[derive(Clone)]
pub(crate) struct Decoded {
    /// The world after the delta.
    pub table: Arc<StateTable>,
    /// The table's checksum, to compare with each client's header.
    pub checksum: u32,
}

struct Entry {
    key: Key,
    delta: Box<[u8]>,
    decoded: Decoded,
}

#[derive(Default)]
struct Inner {
    plans: Vec<Arc<Plan>>,
    entries: VecDeque<Entry>,
    hits: u64,
    misses: u64,
}

/// Decoded snapshots shared by the clients given the same `DecodeCache` (see the module
/// docs). Bounded: at most `capacity` snapshots and 64 plans.
pub struct DecodeCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self::new(DEFAULT_ENTRIES)
    }
}

impl std::fmt::Debug for DecodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (hits, misses) = self.counts();
        f.debug_struct("DecodeCache")
            .field("capacity", &self.capacity)
            .field("hits", &hits)
            .field("misses", &misses)
            .finish()
    }
}

impl DecodeCache {
    /// A cache keeping the `capacity` newest decoded snapshots (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; and a half-updated cache is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The plan of `schema`, the same `Arc` for every client whose server sent an equal schema
    /// (so their decodes can be shared).
    pub fn plan(&self, schema: &Descriptor) -> Arc<Plan> {
        let plan = Plan::new(schema);
        let mut inner = self.lock();
        if let Some(p) = inner.plans.iter().find(|p| ***p == plan) {
            return p.clone();
        }
        let plan = Arc::new(plan);
        if inner.plans.len() < MAX_PLANS {
            inner.plans.push(plan.clone());
        }
        plan
    }

    /// The snapshot decoded from `delta` against `key`, if a client already did.
    pub(crate) fn get(&self, key: &Key, delta: &[u8]) -> Option<Decoded> {
        let mut inner = self.lock();
        // Newest first: clients mostly ask for the tick just decoded.
        let hit = inner
            .entries
            .iter()
            .rev()
            .find(|e| e.key.same(key) && *e.delta == *delta)
            .map(|e| e.decoded.clone());
        match hit {
            Some(_) => inner.hits += 1,
            None => inner.misses += 1,
        }
        hit
    }

    /// Offers a client's decode of `delta` against `key` to the others, and returns what is
    /// now cached. When another client holds a table of the same tick with the same contents
    /// (decoded from other bytes, against other baselines: clients join at different ticks),
    /// that one is returned, so the clients' chains of baselines merge and their next deltas
    /// find each other's tables.
    pub(crate) fn insert(&self, key: Key, delta: &[u8], table: Arc<StateTable>) -> Decoded {
        let mut inner = self.lock();
        let same_tick = |e: &&Entry| e.key.tick == key.tick && Arc::ptr_eq(&e.key.plan, &key.plan);
        // A few tables of the tick suffice to meet the others' chains; under views every
        // client's table differs, and comparing with all of them would cost more than decoding.
        let decoded = match inner
            .entries
            .iter()
            .rev()
            .filter(same_tick)
            .take(MERGE_CANDIDATES)
            .find(|e| Arc::ptr_eq(&e.decoded.table, &table) || *e.decoded.table == *table)
        {
            Some(e) if e.key.same(&key) && *e.delta == *delta => return e.decoded.clone(),
            Some(e) => e.decoded.clone(),
            None => Decoded {
                checksum: key.plan.checksum(&table, None),
                table,
            },
        };
        if inner.entries.len() >= self.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(Entry {
            key,
            delta: delta.into(),
            decoded: decoded.clone(),
        });
        decoded
    }

    /// Lookups that found a decoded snapshot, and lookups that did not.
    pub fn counts(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.hits, inner.misses)
    }
}
