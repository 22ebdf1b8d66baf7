//! A room's bounded history: the world table of each of the last N snapshot ticks, so a
//! client's delta can be taken against the tick it acked (invariant 5).

use protocol::EntityTable;

pub struct History {
    slots: Vec<Option<(u32, EntityTable)>>,
}

impl History {
    pub fn new(len: u32) -> Self {
        Self {
            slots: (0..len).map(|_| None).collect(),
        }
    }

    fn slot(&self, tick: u32) -> usize {
        tick as usize % self.slots.len()
    }

    /// The table recorded for `tick`, if it is still in the ring.
    pub fn get(&self, tick: u32) -> Option<&EntityTable> {
        match &self.slots[self.slot(tick)] {
            Some((t, table)) if *t == tick => Some(table),
            _ => None,
        }
    }

    /// Records `tick`, filling the table with `fill` in the allocation of the entry it evicts.
    pub fn record(&mut self, tick: u32, fill: impl FnOnce(&mut EntityTable)) -> &EntityTable {
        let i = self.slot(tick);
        let mut table = self.slots[i].take().map(|(_, t)| t).unwrap_or_default();
        table.clear();
        fill(&mut table);
        &self.slots[i].insert((tick, table)).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{EntityId, EntityState};

    #[test]
    fn keeps_the_last_n_ticks() {
        let mut h = History::new(4);
        for tick in 10..20 {
            h.record(tick, |t| {
                t.insert(
                    EntityId {
                        index: 0,
                        version: 1,
                    },
                    EntityState {
                        kind: 0,
                        x: tick as i32,
                        y: 0,
                    },
                )
                .unwrap()
            });
        }
        assert!(h.get(15).is_none());
        for tick in 16..20 {
            assert_eq!(h.get(tick).unwrap().slot(0).unwrap().state.x, tick as i32);
        }
        assert!(h.get(20).is_none());
    }
}
