//! The tables a client holds, keyed by tick, so that each delta can be applied to whichever
//! baseline (and second baseline, for linear predictors) the server built it against.
//!
//! The server only ever uses baselines the client acked, and never goes back to an older one
//! than it has used, so everything older than the newest snapshot's oldest baseline (the lesser
//! of `baseline` and `baseline2`) can go. Tables this client decoded alone are recycled (a pool
//! of spares, refilled with `StateTable::clone_from`), so the steady state allocates nothing
//! per snapshot. With a `DecodeCache`, tables other clients decoded are shared instead.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::state_delta::{self, Baseline, DeltaError};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable};

use super::decode_cache::{DecodeCache, Decoded, Key};

/// Shared lookups after which a client that rarely finds another's table stops looking.
const SHARING_TRIAL: u64 = 120;
/// How many tables a client keeps by default: about one second at 60 Hz, far more than the
/// server's acked baseline ever lags on a working connection.
pub const DEFAULT_RING_CAPACITY: usize = 64;

/// Tables kept behind the newest whatever the baselines need: what a client draws from
/// (`Client::drawn`), a few ticks in the past.
pub const KEPT_FOR_DRAWING: u32 = 8;

/// Why a snapshot could not be applied. Each names the snapshot's `tick`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// Snapshots only move forward: the server never sends an older tick after a newer one.
    #[error("snapshot {tick} is not newer than the newest table, {newest}")]
    OutOfOrder {
        /// The snapshot's tick.
        tick: u32,
        /// The newest tick held.
        newest: u32,
    },
    /// The server built the delta against a tick this client never had (or acked).
    #[error("snapshot {tick} is against baseline {baseline}, which this client does not hold")]
    UnknownBaseline {
        /// The snapshot's tick.
        tick: u32,
        /// The tick its delta is against.
        baseline: u32,
    },
    /// A baseline was dropped to stay within capacity: this client fell more than `capacity`
    /// snapshots behind the acks the server has (its own fault, not the server's).
    #[error(
        "snapshot {tick} is against baseline {baseline}, which this client dropped: it fell too far behind"
    )]
    Evicted {
        /// The snapshot's tick.
        tick: u32,
        /// The tick its delta is against.
        baseline: u32,
    },
    /// A second baseline only refines a first one.
    #[error("snapshot {tick} names a second baseline ({baseline2}) but no baseline")]
    SecondWithoutFirst {
        /// The snapshot's tick.
        tick: u32,
        /// The second baseline it names.
        baseline2: u32,
    },
    /// The delta bytes do not decode against the baseline(s).
    #[error("snapshot {tick} does not apply to its baseline: {error}")]
    BadDelta {
        /// The snapshot's tick.
        tick: u32,
        /// What is wrong with the delta.
        error: DeltaError,
    },
    /// The world after applying the delta is not the one the server checksummed: this
    /// client's world is wrong.
    #[error("snapshot {tick}: checksum {actual:#010x} differs from the server's {expected:#010x}")]
    ChecksumMismatch {
        /// The snapshot's tick.
        tick: u32,
        /// The server's checksum, from the snapshot's header.
        expected: u32,
        /// The checksum of this client's table.
        actual: u32,
    },
}

/// Tables by ascending tick, at most `capacity` of them.
#[derive(Debug)]
pub struct TableRing {
    tables: VecDeque<(u32, Arc<StateTable>)>,
    /// Tables no one else holds, to decode into.
    spare: Vec<Arc<StateTable>>,
    capacity: usize,
    /// Ticks behind the newest kept whatever the baselines need (`KEPT_FOR_DRAWING`, or 0).
    drawing: u32,
    /// The newest tick dropped for capacity rather than by the baseline rule.
    evicted_through: Option<u32>,
    /// `apply_shared` lookups, and those that found another client's table.
    shared_lookups: u64,
    shared_hits: u64,
}

impl Default for TableRing {
    /// What a client holds: `DEFAULT_RING_CAPACITY`, keeping `KEPT_FOR_DRAWING` to draw from.
    fn default() -> Self {
        Self {
            drawing: KEPT_FOR_DRAWING,
            ..Self::new(DEFAULT_RING_CAPACITY)
        }
    }
}

impl TableRing {
    /// A ring that holds at most `capacity` tables (at least one), none beyond what the
    /// baselines need.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            tables: VecDeque::with_capacity(capacity + 1),
            spare: Vec::with_capacity(capacity + 1),
            capacity,
            drawing: 0,
            evicted_through: None,
            shared_lookups: 0,
            shared_hits: 0,
        }
    }

    /// Whether sharing still pays: after `SHARING_TRIAL` lookups, only if at least one in ten
    /// found another client's table. Under interest management every client sees its own part
    /// of the world, and then decodes alone.
    fn sharing_pays(&self) -> bool {
        self.shared_lookups < SHARING_TRIAL || self.shared_hits * 10 >= self.shared_lookups
    }

    /// How many tables are held.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// No table yet (before the first snapshot).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The ticks held, oldest first.
    pub fn ticks(&self) -> impl Iterator<Item = u32> + '_ {
        self.tables.iter().map(|(t, _)| *t)
    }

    /// Every held table with its tick, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &StateTable)> + Clone + '_ {
        self.tables.iter().map(|(t, table)| (*t, &**table))
    }

    /// The newest tick and its table.
    pub fn latest(&self) -> Option<(u32, &StateTable)> {
        self.tables.back().map(|(tick, table)| (*tick, &**table))
    }

    /// The table at `tick`, while it is held.
    pub fn get(&self, tick: u32) -> Option<&StateTable> {
        self.position(tick).map(|i| &*self.tables[i].1)
    }

    fn position(&self, tick: u32) -> Option<usize> {
        self.tables.binary_search_by_key(&tick, |(t, _)| *t).ok()
    }

    /// Where the table at `baseline` is, or why it is not there.
    fn find(&self, tick: u32, baseline: u32) -> Result<usize, RingError> {
        self.position(baseline)
            .ok_or(if self.evicted_through >= Some(baseline) {
                RingError::Evicted { tick, baseline }
            } else {
                RingError::UnknownBaseline { tick, baseline }
            })
    }

    /// Builds the table at `header.tick` from `delta` (the snapshot's delta bytes) against the
    /// tables at `header.baseline` and `header.baseline2` (or the empty table), checks it
    /// against `header.checksum` when given (as the client whose player is `own` sees it), and
    /// keeps it. Returns whether a checksum was checked. On error nothing is kept.
    pub fn apply(
        &mut self,
        plan: &Plan,
        own: Option<EntityId>,
        header: &SnapshotHeader,
        delta: &[u8],
    ) -> Result<bool, RingError> {
        self.apply_with(plan, own, header, delta, None)
    }

    /// `apply`, sharing decoded tables with the other clients of `cache` (`plan` from
    /// `DecodeCache::plan`): the result, and every error, is the same as `apply`'s.
    pub fn apply_shared(
        &mut self,
        plan: &Arc<Plan>,
        own: Option<EntityId>,
        header: &SnapshotHeader,
        delta: &[u8],
        cache: &DecodeCache,
    ) -> Result<bool, RingError> {
        self.apply_with(plan, own, header, delta, Some((plan, cache)))
    }

    fn apply_with(
        &mut self,
        plan: &Plan,
        own: Option<EntityId>,
        header: &SnapshotHeader,
        delta: &[u8],
        shared: Option<(&Arc<Plan>, &DecodeCache)>,
    ) -> Result<bool, RingError> {
        let tick = header.tick;
        if let Some((newest, _)) = self.latest()
            && tick <= newest
        {
            return Err(RingError::OutOfOrder { tick, newest });
        }
        let (first, second) = match (header.baseline, header.baseline2) {
            (None, None) => (None, None),
            (None, Some(baseline2)) => {
                return Err(RingError::SecondWithoutFirst { tick, baseline2 });
            }
            (Some(b), b2) => (
                Some((self.find(tick, b)?, b)),
                match b2 {
                    Some(b2) => Some((self.find(tick, b2)?, b2)),
                    None => None,
                },
            ),
        };
        // A table that holds no player's private values is the same for every client.
        let decoded = match shared.filter(|_| !plan.has_private_fields() && self.sharing_pays()) {
            Some((plan, cache)) => self.decode_shared(plan, cache, tick, first, second, delta),
            None => None,
        };
        let (table, actual) = match decoded {
            Some(d) => (d.table, d.checksum),
            None => {
                let table = self.decode_alone(plan, own, tick, first, second, delta)?;
                let actual = match header.checksum {
                    Some(_) => plan.checksum(&table, own),
                    None => 0,
                };
                (table, actual)
            }
        };
        if let Some(expected) = header.checksum
            && actual != expected
        {
            self.recycle(table);
            return Err(RingError::ChecksumMismatch {
                tick,
                expected,
                actual,
            });
        }
        self.tables.push_back((tick, table));
        let oldest_needed = match (header.baseline, header.baseline2) {
            (Some(b), Some(b2)) => Some(b.min(b2)),
            (b, _) => b,
        };
        if let Some(b) = oldest_needed {
            self.drop_older_than(b.min(tick.saturating_sub(self.drawing)));
        }
        while self.tables.len() > self.capacity {
            self.evicted_through = self.recycle_oldest().max(self.evicted_through);
        }
        Ok(header.checksum.is_some())
    }

    /// The delta applied to the tables at ring positions `first` and `second`, in a spare.
    fn decode_alone(
        &mut self,
        plan: &Plan,
        own: Option<EntityId>,
        tick: u32,
        first: Option<(usize, u32)>,
        second: Option<(usize, u32)>,
        delta: &[u8],
    ) -> Result<Arc<StateTable>, RingError> {
        let mut spare = self.spare.pop().unwrap_or_default();
        let table = Arc::get_mut(&mut spare).expect("spares are held by no one else");
        let base = first.map(|(i, b)| Baseline {
            table: &self.tables[i].1,
            tick: b,
            second: second.map(|(j, b2)| (&*self.tables[j].1, b2)),
        });
        match state_delta::apply(plan, own, base.as_ref(), tick, delta, table) {
            Ok(()) => {
                // A full snapshot sets the layout the tables built on it copy: compact when
                // the client holds a few of the world's slots (under interest management a
                // few hundred entities spread over thousands), dense otherwise.
                let sparse = table.len() * 4 < table.slot_count();
                if first.is_none() && sparse != table.is_compact() {
                    *table = if sparse {
                        table.to_compact()
                    } else {
                        table.to_dense()
                    };
                }
                Ok(spare)
            }
            Err(error) => {
                self.spare.push(spare);
                Err(RingError::BadDelta { tick, error })
            }
        }
    }

    /// The snapshot from `cache`, or decoded here and offered to it. `None` when the delta
    /// does not apply as any client's: `decode_alone` then gives this client's own answer.
    fn decode_shared(
        &mut self,
        plan: &Arc<Plan>,
        cache: &DecodeCache,
        tick: u32,
        first: Option<(usize, u32)>,
        second: Option<(usize, u32)>,
        delta: &[u8],
    ) -> Option<Decoded> {
        let key = Key {
            plan: plan.clone(),
            tick,
            base: first.map(|(i, _)| self.tables[i].1.clone()),
            base2: second.map(|(j, _)| self.tables[j].1.clone()),
        };
        self.shared_lookups += 1;
        if let Some(hit) = cache.get(&key, delta) {
            self.shared_hits += 1;
            return Some(hit);
        }
        let table = self
            .decode_alone(plan, None, tick, first, second, delta)
            .ok()?;
        Some(cache.insert(key, delta, table))
    }

    fn drop_older_than(&mut self, tick: u32) {
        while self.tables.front().is_some_and(|(t, _)| *t < tick) {
            self.recycle_oldest();
        }
    }

    fn recycle_oldest(&mut self) -> Option<u32> {
        let (tick, table) = self.tables.pop_front()?;
        self.recycle(table);
        Some(tick)
    }

    /// Keeps `table` as a spare if no one else holds it.
    fn recycle(&mut self, mut table: Arc<StateTable>) {
        if Arc::get_mut(&mut table).is_some() {
            self.spare.push(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::schema::{
        Coding, Descriptor, FieldDesc, Predictor, TypeDesc, Visibility, number,
    };
    use protocol::state_delta::Encoder;

    /// One type: `x` (linear prediction), `v` and `x2` (velocity-predicted by `v`), and an
    /// owner-only `secret`.
    fn plan() -> Plan {
        Plan::new(&descriptor(Visibility::Owner))
    }

    /// `plan`'s descriptor, with `secret` visible as given.
    fn descriptor(secret_visibility: Visibility) -> protocol::Descriptor {
        let fixed = |min, max| Coding::Fixed {
            scale: 16,
            min,
            max,
            tolerance: 0,
        };
        let mut x = FieldDesc::new("x", fixed(-100_000, 100_000));
        x.predictor = Predictor::Linear;
        let mut x2 = FieldDesc::new("x2", fixed(-100_000, 100_000));
        x2.predictor = Predictor::Velocity {
            field: 1,
            num: 0,
            den: 0,
        };
        let mut secret = FieldDesc::new("secret", Coding::Int { min: 0, max: 1000 });
        secret.visibility = secret_visibility;
        Descriptor {
            game: "t".into(),
            types: vec![TypeDesc {
                id: 0,
                name: "thing".into(),
                fields: number(vec![x, FieldDesc::new("v", fixed(-160, 160)), x2, secret]),
            }],
            room_type: None,
            input: vec![],
            actions: vec![],
            events: vec![],
            params: vec![],
        }
        .resolve(16)
        .unwrap()
    }

    const OWN: EntityId = EntityId {
        index: 0,
        version: 1,
    };

    fn world(xs: &[i32]) -> StateTable {
        let mut t = StateTable::new(4);
        for (i, &x) in xs.iter().enumerate() {
            let id = EntityId {
                index: i as u32,
                version: 1,
            };
            // Only the client's own entity has a private value: it never sees the others'.
            let secret = if i == 0 { x.abs() % 1000 } else { 0 };
            t.insert(id, 0)
                .unwrap()
                .copy_from_slice(&[x, x % 7, x * 3, secret]);
        }
        t
    }

    fn header(tick: u32, baseline: Option<u32>, baseline2: Option<u32>) -> SnapshotHeader {
        SnapshotHeader {
            tick,
            baseline,
            baseline2,
            input_seq: 0,
            server_time_us: 0,
            checksum: None,
        }
    }

    /// The delta from the ring's tables at `baseline` (and `baseline2`) to `now`, as a server
    /// builds it.
    fn delta(
        plan: &Plan,
        ring: &TableRing,
        tick: u32,
        baseline: Option<u32>,
        baseline2: Option<u32>,
        now: &StateTable,
    ) -> Vec<u8> {
        let base = baseline.map(|b| Baseline {
            table: ring.get(b).unwrap(),
            tick: b,
            second: baseline2.map(|b2| (ring.get(b2).unwrap(), b2)),
        });
        let mut enc = Encoder::default();
        let mut out = Vec::new();
        enc.shared(plan, base.as_ref(), now, tick, &mut out);
        if plan.has_private_fields() {
            enc.private(plan, OWN, base.as_ref(), now, tick, &mut out);
        }
        out
    }

    fn send(ring: &mut TableRing, tick: u32, b: Option<u32>, b2: Option<u32>, now: &StateTable) {
        let bytes = delta(&plan(), ring, tick, b, b2, now);
        let mut h = header(tick, b, b2);
        h.checksum = Some(plan().checksum(now, Some(OWN)));
        assert_eq!(ring.apply(&plan(), Some(OWN), &h, &bytes), Ok(true));
        assert_eq!(ring.get(tick), Some(now));
    }

    /// `world(xs)` with its entities moved to slots `stride` apart.
    fn spread(xs: &[i32], stride: u32) -> StateTable {
        let mut t = StateTable::new(4);
        for e in world(xs).iter() {
            let id = EntityId {
                index: e.id.index * stride,
                version: 1,
            };
            t.insert(id, e.ty).unwrap().copy_from_slice(e.values);
        }
        t
    }

    #[test]
    fn a_client_holding_few_of_the_worlds_slots_keeps_compact_tables() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 1, None, None, &spread(&[5, 6, 7], 1000));
        assert!(ring.get(1).unwrap().is_compact(), "sparse: compact");
        send(&mut ring, 2, Some(1), None, &spread(&[5, 9, 7, 8], 1000));
        assert!(
            ring.get(2).unwrap().is_compact(),
            "built on a compact table"
        );
        send(&mut ring, 3, None, None, &world(&[5, 9, 7, 8]));
        assert!(
            !ring.get(3).unwrap().is_compact(),
            "dense again from a full snapshot"
        );
    }

    #[test]
    fn applies_against_the_named_baselines() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 10, None, None, &world(&[1, 2, 3]));
        send(&mut ring, 11, Some(10), None, &world(&[2, 2, 3]));
        // The server may still use an older acked baseline, and a second one.
        send(&mut ring, 12, Some(10), None, &world(&[3, 2, 4, 7]));
        send(&mut ring, 14, Some(12), Some(11), &world(&[5, 9, 4, 8]));
        send(&mut ring, 15, Some(14), Some(12), &world(&[3, 9]));
        assert_eq!(
            ring.latest().map(|(t, w)| (t, w.clone())),
            Some((15, world(&[3, 9])))
        );
    }

    #[test]
    fn keeps_what_either_baseline_may_still_need() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 1, None, None, &world(&[1]));
        send(&mut ring, 2, Some(1), None, &world(&[2]));
        send(&mut ring, 3, Some(1), None, &world(&[3]));
        assert_eq!(ring.ticks().collect::<Vec<_>>(), [1, 2, 3]);
        // Baseline 3, second baseline 2: tick 1 can go, 2 stays.
        send(&mut ring, 4, Some(3), Some(2), &world(&[4]));
        assert_eq!(ring.ticks().collect::<Vec<_>>(), [2, 3, 4]);
        send(&mut ring, 5, Some(4), None, &world(&[5]));
        assert_eq!(ring.ticks().collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn caps_the_number_of_tables() {
        let mut ring = TableRing::new(4);
        for tick in 1..=10 {
            // Full snapshots never prune by baseline: only the cap bounds the ring.
            send(&mut ring, tick, None, None, &world(&[tick as i32]));
        }
        assert_eq!(ring.len(), 4);
        assert!(ring.get(6).is_none());
        assert!(ring.get(7).is_some());
        // A baseline dropped for capacity is this client's fault, told apart from a server
        // that names a baseline the client never had or was told it could drop.
        assert_eq!(
            ring.apply(
                &plan(),
                Some(OWN),
                &header(11, Some(6), None),
                &[1, 0, 0, 0, 0]
            ),
            Err(RingError::Evicted {
                tick: 11,
                baseline: 6
            })
        );
        assert_eq!(
            ring.apply(&plan(), Some(OWN), &header(11, Some(9), Some(5)), &[0]),
            Err(RingError::Evicted {
                tick: 11,
                baseline: 5
            })
        );
        send(&mut ring, 11, Some(9), None, &world(&[11]));
        assert_eq!(
            ring.apply(&plan(), Some(OWN), &header(12, Some(8), None), &[0]),
            Err(RingError::UnknownBaseline {
                tick: 12,
                baseline: 8
            })
        );
    }

    #[test]
    fn unknown_baselines_are_errors_and_keep_nothing() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 5, None, None, &world(&[1]));
        for (b, b2, want) in [(Some(4), None, 4), (Some(5), Some(3), 3)] {
            assert_eq!(
                ring.apply(&plan(), Some(OWN), &header(6, b, b2), &[0]),
                Err(RingError::UnknownBaseline {
                    tick: 6,
                    baseline: want
                })
            );
        }
        assert_eq!(
            ring.apply(&plan(), Some(OWN), &header(6, None, Some(5)), &[0]),
            Err(RingError::SecondWithoutFirst {
                tick: 6,
                baseline2: 5
            })
        );
        assert!(ring.get(6).is_none());
        assert_eq!(ring.latest().map(|(t, _)| t), Some(5));
    }

    #[test]
    fn checksum_mismatch_is_an_error_and_keeps_nothing() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 1, None, None, &world(&[1]));
        let now = world(&[5]);
        let bytes = delta(&plan(), &ring, 2, Some(1), None, &now);
        let mut h = header(2, Some(1), None);
        h.checksum = Some(plan().checksum(&now, Some(OWN)) ^ 1);
        let err = ring.apply(&plan(), Some(OWN), &h, &bytes);
        assert!(matches!(
            err,
            Err(RingError::ChecksumMismatch { tick: 2, .. })
        ));
        assert!(ring.get(2).is_none());
        // Without a checksum the same delta applies, unverified.
        h.checksum = None;
        assert_eq!(ring.apply(&plan(), Some(OWN), &h, &bytes), Ok(false));
        assert_eq!(ring.get(2), Some(&now));
    }

    #[test]
    fn bad_deltas_and_old_ticks_are_errors() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 3, None, None, &world(&[1]));
        // Updates an entity the baseline does not hold.
        let mut two = world(&[1, 1]);
        let mut other = TableRing::new(8);
        send(&mut other, 3, None, None, &two);
        two.values_mut(1).unwrap()[0] = 9;
        let bytes = delta(&plan(), &other, 4, Some(3), None, &two);
        assert!(matches!(
            ring.apply(&plan(), Some(OWN), &header(4, Some(3), None), &bytes),
            Err(RingError::BadDelta { tick: 4, .. })
        ));
        assert_eq!(
            ring.apply(&plan(), Some(OWN), &header(3, Some(3), None), &[0]),
            Err(RingError::OutOfOrder { tick: 3, newest: 3 })
        );
    }

    /// Sends `now` at `tick` to a client sharing `cache`, as the server would; returns the
    /// table the client now holds.
    fn send_shared<'a>(
        ring: &'a mut TableRing,
        plan: &Arc<Plan>,
        cache: &DecodeCache,
        tick: u32,
        b: Option<u32>,
        now: &StateTable,
    ) -> &'a StateTable {
        let bytes = delta(plan, ring, tick, b, None, now);
        let mut h = header(tick, b, None);
        h.checksum = Some(plan.checksum(now, Some(OWN)));
        assert_eq!(
            ring.apply_shared(plan, Some(OWN), &h, &bytes, cache),
            Ok(true)
        );
        let got = ring.get(tick).unwrap();
        assert_eq!(got, now);
        got
    }

    #[test]
    fn clients_share_decoded_tables_once_their_baselines_meet() {
        let cache = DecodeCache::default();
        let d = descriptor(Visibility::Everyone);
        let plan = cache.plan(&d);
        assert!(Arc::ptr_eq(&plan, &cache.plan(&d)), "one plan per schema");
        let (mut a, mut b) = (TableRing::new(8), TableRing::new(8));
        // `a` joined earlier: its chain starts at tick 10, `b`'s at 12 (a full snapshot).
        send_shared(&mut a, &plan, &cache, 10, None, &world(&[1, 2]));
        send_shared(&mut a, &plan, &cache, 11, Some(10), &world(&[2, 2]));
        let a12: *const StateTable =
            send_shared(&mut a, &plan, &cache, 12, Some(11), &world(&[3, 2, 5]));
        let b12: *const StateTable =
            send_shared(&mut b, &plan, &cache, 12, None, &world(&[3, 2, 5]));
        assert_eq!(a12, b12, "equal tables of one tick are merged");
        // From there the same bytes against the same baseline: decoded once.
        let (hits, _) = cache.counts();
        let a13: *const StateTable =
            send_shared(&mut a, &plan, &cache, 13, Some(12), &world(&[4, 2, 6]));
        let b13: *const StateTable =
            send_shared(&mut b, &plan, &cache, 13, Some(12), &world(&[4, 2, 6]));
        assert_eq!(a13, b13);
        assert_eq!(cache.counts().0, hits + 1);
        // Other bytes (another state) are never taken for a cached entry's.
        send_shared(&mut a, &plan, &cache, 14, Some(13), &world(&[5, 2, 7]));
        let b14: *const StateTable =
            send_shared(&mut b, &plan, &cache, 14, Some(13), &world(&[5, 9, 7]));
        assert_ne!(a.get(14).unwrap() as *const StateTable, b14);
    }

    #[test]
    fn a_shared_table_is_still_checked_against_each_clients_checksum() {
        let cache = DecodeCache::default();
        let plan = cache.plan(&descriptor(Visibility::Everyone));
        let (mut a, mut b) = (TableRing::new(8), TableRing::new(8));
        for ring in [&mut a, &mut b] {
            send_shared(ring, &plan, &cache, 1, None, &world(&[1]));
        }
        send_shared(&mut a, &plan, &cache, 2, Some(1), &world(&[2]));
        let bytes = delta(&plan, &b, 2, Some(1), None, &world(&[2]));
        let mut h = header(2, Some(1), None);
        h.checksum = Some(plan.checksum(&world(&[2]), Some(OWN)) ^ 1);
        let (hits, _) = cache.counts();
        assert!(matches!(
            b.apply_shared(&plan, Some(OWN), &h, &bytes, &cache),
            Err(RingError::ChecksumMismatch { tick: 2, .. })
        ));
        assert_eq!(cache.counts().0, hits + 1, "the table came from the cache");
        assert!(b.get(2).is_none());
        // A delta that does not apply is each client's own error, as without the cache.
        let err = b.apply_shared(&plan, Some(OWN), &header(2, Some(1), None), &[0, 1], &cache);
        assert!(matches!(err, Err(RingError::BadDelta { tick: 2, .. })));
    }

    #[test]
    fn a_client_that_never_finds_anothers_table_stops_looking() {
        let cache = DecodeCache::default();
        let plan = cache.plan(&descriptor(Visibility::Everyone));
        let mut a = TableRing::new(8);
        send_shared(&mut a, &plan, &cache, 1, None, &world(&[1]));
        // Alone on the cache, every lookup misses (as under views, where every client's
        // bytes differ): after the trial it decodes alone, with the same results.
        for tick in 2..SHARING_TRIAL as u32 + 20 {
            let now = world(&[tick as i32]);
            send_shared(&mut a, &plan, &cache, tick, Some(tick - 1), &now);
        }
        assert_eq!(cache.counts(), (0, SHARING_TRIAL));
    }

    #[test]
    fn games_with_private_fields_and_evicted_entries_decode_alone() {
        let cache = DecodeCache::new(1);
        // `secret` is owner-only: each client's table holds its own, so nothing is shared.
        let private = cache.plan(&descriptor(Visibility::Owner));
        let mut a = TableRing::new(8);
        send_shared(&mut a, &private, &cache, 1, None, &world(&[1]));
        send_shared(&mut a, &private, &cache, 2, Some(1), &world(&[2]));
        assert_eq!(cache.counts(), (0, 0));
        // With room for one entry, the tick-2 decode pushes out tick 1's: a client that
        // asks for tick 1 later decodes it alone, with the same result.
        let plan = cache.plan(&descriptor(Visibility::Everyone));
        let (mut b, mut c) = (TableRing::new(8), TableRing::new(8));
        send_shared(&mut b, &plan, &cache, 1, None, &world(&[1]));
        send_shared(&mut b, &plan, &cache, 2, Some(1), &world(&[2]));
        let (hits, misses) = cache.counts();
        send_shared(&mut c, &plan, &cache, 1, None, &world(&[1]));
        assert_eq!(cache.counts(), (hits, misses + 1));
    }
}
