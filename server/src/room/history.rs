//! A room's bounded history: the replicated state of each of the last N recorded ticks (the
//! recorder keeps fields on the track predicted from the previous two). Tables are shared with
//! the published ticks and with the connections that keep them as their clients' baselines.

use std::sync::Arc;

use protocol::StateTable;

pub struct History {
    slots: Vec<Option<(u32, Arc<StateTable>)>>,
    stride: usize,
}

impl History {
    pub fn new(len: u32, stride: usize) -> Self {
        Self {
            slots: (0..len).map(|_| None).collect(),
            stride,
        }
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
    /// meanwhile. The table reuses the evicted entry's memory unless a published tick or a
    /// connection still holds it; a new one starts with room for as many slots as that one.
    pub fn record(
        &mut self,
        tick: u32,
        fill: impl FnOnce(&History, &mut StateTable),
    ) -> &Arc<StateTable> {
        let i = self.slot(tick);
        let mut table = match self.slots[i].take() {
            Some((_, t)) => Arc::try_unwrap(t)
                .unwrap_or_else(|held| StateTable::with_slots(self.stride, held.slot_count())),
            None => StateTable::new(self.stride),
        };
        table.clear();
        fill(self, &mut table);
        &self.slots[i].insert((tick, Arc::new(table))).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::EntityId;

    #[test]
    fn keeps_the_last_n_ticks() {
        let mut h = History::new(4, 1);
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
}
