//! A room's bounded history: the replicated state of each of the last N recorded ticks (the
//! recorder keeps fields on the track predicted from the previous two). Tables are shared with
//! the published ticks and with the connections that keep them as their clients' baselines.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::StateTable;

/// The tables of a room's last recorded ticks, by tick, and spare tables to record into.
pub struct History {
    slots: Vec<Option<(u32, Arc<StateTable>)>>,
    stride: usize,
    /// Evicted tables that writers still held as baselines, oldest first: reused once the
    /// last holder lets go, so a tick records into memory already faulted in instead of a
    /// fresh table. At most `spare_cap`; past that the oldest is let go (freed by its holders).
    spare: VecDeque<Arc<StateTable>>,
    spare_cap: usize,
}

/// Spare tables nobody holds kept beyond the one a tick reuses: memory a room keeps in
/// reserve, not a cost that grows with its clients.
const FREE_KEPT: usize = 2;

impl History {
    /// The last `len` ticks; `held`: for how many ticks writers may keep a table as a baseline
    /// (`--history`), so that evicted tables come back for reuse.
    pub fn new(len: u32, stride: usize, held: usize) -> Self {
        Self {
            slots: (0..len).map(|_| None).collect(),
            stride,
            spare: VecDeque::new(),
            spare_cap: held + FREE_KEPT + 1,
        }
    }

    /// How many ticks it keeps.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn slot(&self, tick: u32) -> usize {
        tick as usize % self.slots.len()
    }

    /// The table recorded for `tick`, if it is still in the ring.
    pub fn get(&self, tick: u32) -> Option<&Arc<StateTable>> {
        match &self.slots[self.slot(tick)] {
            Some((t, table)) if *t == tick => Some(table),
            _ => None,
        }
    }

    /// Records `tick`: `fill` writes the (cleared) table and may read the rest of the ring
    /// meanwhile. The table reuses the memory of one evicted earlier that nobody holds any
    /// more; failing that, a new one starts with room for as many slots as the evicted one.
    pub fn record(
        &mut self,
        tick: u32,
        fill: impl FnOnce(&History, &mut StateTable),
    ) -> &Arc<StateTable> {
        let i = self.slot(tick);
        let slots = match self.slots[i].take() {
            Some((_, t)) => {
                let n = t.slot_count();
                self.spare.push_back(t);
                n
            }
            None => 0,
        };
        let mut table = self
            .take_spare()
            .unwrap_or_else(|| StateTable::with_slots(self.stride, slots));
        table.clear();
        fill(self, &mut table);
        &self.slots[i].insert((tick, Arc::new(table))).1
    }

    /// The oldest spare table nobody else holds; lets go of free ones beyond `FREE_KEPT` and
    /// of the oldest past the cap.
    fn take_spare(&mut self) -> Option<StateTable> {
        let mut taken = None;
        let mut free = 0;
        // Holding the only strong reference (there are no weak ones), it cannot be cloned
        // meanwhile: `try_unwrap` succeeds.
        self.spare.retain(|t| {
            if Arc::strong_count(t) > 1 {
                return true;
            }
            if taken.is_none() {
                taken = Some(t.clone());
                return false;
            }
            free += 1;
            free <= FREE_KEPT
        });
        while self.spare.len() > self.spare_cap {
            self.spare.pop_front();
        }
        taken.and_then(|t| Arc::try_unwrap(t).ok())
    }
}

impl crate::rewind::Tables for History {
    fn table(&self, tick: u32) -> Option<&StateTable> {
        self.get(tick).map(|t| &**t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::EntityId;

    #[test]
    fn keeps_the_last_n_ticks() {
        let mut h = History::new(4, 1, 0);
        for tick in 10..20 {
            h.record(tick, |h, t| {
                assert!(h.get(tick).is_none());
                let id = EntityId {
                    index: 1,
                    version: 1,
                };
                t.insert(id, 0).unwrap()[0] = tick as i32;
            });
        }
        assert!(h.get(15).is_none());
        for tick in 16..20 {
            assert_eq!(h.get(tick).unwrap().at(1).unwrap().values[0], tick as i32);
        }
        assert!(h.get(20).is_none());
    }

    #[test]
    fn tables_writers_hold_come_back_once_let_go_and_spares_stay_bounded() {
        let record = |h: &mut History, tick: u32| h.record(tick, |_, _| {}).clone();
        let mut h = History::new(2, 1, 4);
        // Writers hold every table: each eviction becomes a spare, up to the cap (4 + 3).
        let held: Vec<_> = (0..20).map(|tick| record(&mut h, tick)).collect();
        assert_eq!(h.spare.len(), 7);
        drop(held);
        // All let go: one is reused, two kept free, the rest let go.
        record(&mut h, 20);
        assert_eq!(h.spare.len(), FREE_KEPT);
        assert!(h.spare.iter().all(|t| Arc::strong_count(t) == 1));
        // The table evicted next is free too: the spares stay as they are.
        record(&mut h, 21);
        assert_eq!(h.spare.len(), FREE_KEPT);
    }
}
