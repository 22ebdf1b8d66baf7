//! The tables a client holds, keyed by tick, so that each delta can be applied to whichever
//! baseline the server built it against.
//!
//! The server only ever uses a baseline the client acked, and never goes back to an older one
//! than it has used, so everything older than the newest snapshot's baseline can go. Tables are
//! recycled (a pool of spares) so the steady state allocates nothing per snapshot.

use std::collections::VecDeque;

use protocol::{ApplyError, Delta, EncodedDelta, EntityTable};

/// A delta as it arrives: decoded, or still in its wire bytes (applied without decoding).
pub trait DeltaSource {
    fn apply_to(&self, table: &mut EntityTable) -> Result<(), ApplyError>;
}

impl DeltaSource for Delta {
    fn apply_to(&self, table: &mut EntityTable) -> Result<(), ApplyError> {
        Ok(self.apply(table)?)
    }
}

impl DeltaSource for EncodedDelta<'_> {
    fn apply_to(&self, table: &mut EntityTable) -> Result<(), ApplyError> {
        self.apply(table)
    }
}

/// How many tables a client keeps by default: about one second at 60 Hz, far more than the
/// server's acked baseline ever lags on a working connection.
pub const DEFAULT_RING_CAPACITY: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("snapshot {tick} is not newer than the newest table, {newest}")]
    OutOfOrder { tick: u32, newest: u32 },
    #[error("snapshot {tick} is against baseline {baseline}, which this client does not hold")]
    UnknownBaseline { tick: u32, baseline: u32 },
    /// The baseline was dropped to stay within capacity: this client fell more than
    /// `capacity` snapshots behind the acks the server has (its own fault, not the server's).
    #[error(
        "snapshot {tick} is against baseline {baseline}, which this client dropped: it fell too far behind"
    )]
    Evicted { tick: u32, baseline: u32 },
    #[error("snapshot {tick} does not apply to its baseline: {error}")]
    BadDelta { tick: u32, error: ApplyError },
    #[error("snapshot {tick}: checksum {actual:#010x} differs from the server's {expected:#010x}")]
    ChecksumMismatch {
        tick: u32,
        expected: u32,
        actual: u32,
    },
}

/// Tables by ascending tick, at most `capacity` of them.
#[derive(Debug)]
pub struct TableRing {
    tables: VecDeque<(u32, EntityTable)>,
    spare: Vec<EntityTable>,
    capacity: usize,
    /// The newest tick dropped for capacity rather than by the baseline rule.
    evicted_through: Option<u32>,
}

impl Default for TableRing {
    fn default() -> Self {
        Self::new(DEFAULT_RING_CAPACITY)
    }
}

impl TableRing {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            tables: VecDeque::with_capacity(capacity),
            spare: Vec::new(),
            capacity,
            evicted_through: None,
        }
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The newest tick and its table.
    pub fn latest(&self) -> Option<(u32, &EntityTable)> {
        self.tables.back().map(|(tick, table)| (*tick, table))
    }

    pub fn get(&self, tick: u32) -> Option<&EntityTable> {
        let i = self.tables.binary_search_by_key(&tick, |(t, _)| *t).ok()?;
        Some(&self.tables[i].1)
    }

    /// Builds the table at `tick` (the delta applied to a copy of the table at `baseline`, or to
    /// the empty table), checks it against `checksum` when given, and keeps it. On success
    /// returns whether a checksum was checked. On error nothing is kept.
    pub fn apply(
        &mut self,
        tick: u32,
        baseline: Option<u32>,
        delta: &impl DeltaSource,
        checksum: Option<u32>,
    ) -> Result<bool, RingError> {
        if let Some((newest, _)) = self.latest()
            && tick <= newest
        {
            return Err(RingError::OutOfOrder { tick, newest });
        }
        let mut table = self.spare.pop().unwrap_or_default();
        match baseline {
            None => table.clear(),
            Some(b) => match self.get(b) {
                Some(base) => table.clone_from(base),
                None => {
                    self.spare.push(table);
                    return Err(if self.evicted_through >= Some(b) {
                        RingError::Evicted { tick, baseline: b }
                    } else {
                        RingError::UnknownBaseline { tick, baseline: b }
                    });
                }
            },
        }
        if let Err(error) = delta.apply_to(&mut table) {
            self.spare.push(table);
            return Err(RingError::BadDelta { tick, error });
        }
        if let Some(expected) = checksum {
            let actual = table.checksum();
            if actual != expected {
                self.spare.push(table);
                return Err(RingError::ChecksumMismatch {
                    tick,
                    expected,
                    actual,
                });
            }
        }
        self.tables.push_back((tick, table));
        if let Some(b) = baseline {
            self.drop_older_than(b);
        }
        while self.tables.len() > self.capacity {
            self.evicted_through = self.recycle_oldest().max(self.evicted_through);
        }
        Ok(checksum.is_some())
    }

    fn drop_older_than(&mut self, tick: u32) {
        while self.tables.front().is_some_and(|(t, _)| *t < tick) {
            self.recycle_oldest();
        }
    }

    fn recycle_oldest(&mut self) -> Option<u32> {
        let (tick, table) = self.tables.pop_front()?;
        self.spare.push(table);
        Some(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::table::KIND_NPC;
    use protocol::{EntityId, EntityState};

    fn world(xs: &[i32]) -> EntityTable {
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                let id = EntityId {
                    index: i as u32,
                    version: 1,
                };
                (
                    id,
                    EntityState {
                        kind: KIND_NPC,
                        x,
                        y: 0,
                    },
                )
            })
            .collect()
    }

    /// Applies the delta from `base` (the ring's table at `baseline`, or empty) to `now`.
    fn send(ring: &mut TableRing, tick: u32, baseline: Option<u32>, now: &EntityTable) {
        let base = baseline.map_or_else(EntityTable::new, |b| ring.get(b).unwrap().clone());
        let delta = Delta::between(&base, now);
        assert_eq!(
            ring.apply(tick, baseline, &delta, Some(now.checksum())),
            Ok(true)
        );
        assert_eq!(ring.get(tick), Some(now));
    }

    #[test]
    fn applies_against_the_named_baseline() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 10, None, &world(&[1, 2, 3]));
        send(&mut ring, 11, Some(10), &world(&[2, 2, 3]));
        // The server may still use an older acked baseline.
        send(&mut ring, 12, Some(10), &world(&[3, 2, 4, 7]));
        send(&mut ring, 13, Some(12), &world(&[3, 9]));
        assert_eq!(
            ring.latest().map(|(t, w)| (t, w.clone())),
            Some((13, world(&[3, 9])))
        );
    }

    #[test]
    fn prunes_tables_older_than_the_newest_baseline() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 1, None, &world(&[1]));
        send(&mut ring, 2, Some(1), &world(&[2]));
        send(&mut ring, 3, Some(1), &world(&[3]));
        assert_eq!(ring.len(), 3);
        send(&mut ring, 4, Some(3), &world(&[4]));
        assert!(ring.get(1).is_none() && ring.get(2).is_none());
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn caps_the_number_of_tables() {
        let mut ring = TableRing::new(4);
        for tick in 1..=10 {
            // Full snapshots never prune by baseline: only the cap bounds the ring.
            send(&mut ring, tick, None, &world(&[tick as i32]));
        }
        assert_eq!(ring.len(), 4);
        assert!(ring.get(6).is_none());
        assert!(ring.get(7).is_some());
        // A baseline dropped for capacity is this client's fault, told apart from a server
        // that names a baseline the client never had or was told it could drop.
        assert_eq!(
            ring.apply(11, Some(6), &Delta::default(), None),
            Err(RingError::Evicted {
                tick: 11,
                baseline: 6
            })
        );
        send(&mut ring, 11, Some(9), &world(&[11]));
        assert_eq!(
            ring.apply(12, Some(8), &Delta::default(), None),
            Err(RingError::UnknownBaseline {
                tick: 12,
                baseline: 8
            })
        );
    }

    #[test]
    fn unknown_baseline_is_an_error_and_keeps_nothing() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 5, None, &world(&[1]));
        let err = ring.apply(6, Some(4), &Delta::default(), None);
        assert_eq!(
            err,
            Err(RingError::UnknownBaseline {
                tick: 6,
                baseline: 4
            })
        );
        assert!(ring.get(6).is_none());
        assert_eq!(ring.latest().map(|(t, _)| t), Some(5));
    }

    #[test]
    fn checksum_mismatch_is_an_error_and_keeps_nothing() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 1, None, &world(&[1]));
        let now = world(&[5]);
        let delta = Delta::between(ring.get(1).unwrap(), &now);
        let err = ring.apply(2, Some(1), &delta, Some(now.checksum() ^ 1));
        assert!(matches!(
            err,
            Err(RingError::ChecksumMismatch { tick: 2, .. })
        ));
        assert!(ring.get(2).is_none());
        // Without a checksum the same delta applies, unverified.
        assert_eq!(ring.apply(2, Some(1), &delta, None), Ok(false));
    }

    #[test]
    fn bad_delta_and_old_ticks_are_errors() {
        let mut ring = TableRing::new(8);
        send(&mut ring, 3, None, &world(&[1]));
        // Moves an entity the baseline does not hold.
        let delta = Delta::between(&world(&[1, 1]), &world(&[1, 2]));
        assert!(matches!(
            ring.apply(4, Some(3), &delta, None),
            Err(RingError::BadDelta { tick: 4, .. })
        ));
        assert_eq!(
            ring.apply(3, Some(3), &Delta::default(), None),
            Err(RingError::OutOfOrder { tick: 3, newest: 3 })
        );
    }
}
