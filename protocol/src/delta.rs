//! Snapshot deltas: the difference between the table a client holds (its baseline) and now.
//!
//! Each list is in ascending slot-index order and gap-coded: an entry stores
//! `gap = index - previous_index - 1` (the first entry: `gap = index`), so runs of neighbouring
//! entities cost one varint byte each. Applying order: despawns, spawns, moves, changes.
//! A moving entity costs `gap + dx + dy` = 3 bytes when its one-tick move is under 7.8 units
//! (`quant::SCALE` 16; zig-zag values below 251 fit one varint byte).

use serde::{Deserialize, Serialize};

use crate::limits::MAX_ENTITY_INDEX;
use crate::table::{EntityId, EntityState, EntityTable, TableError};

/// Changes from a baseline table to the current one. A full snapshot is the delta from the
/// empty table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// Baseline entities that are gone (their slot indices).
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub despawned: Vec<u32>,
    /// New entities, in full.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub spawned: Vec<Spawn>,
    /// Entities whose position alone changed: offsets from the baseline position.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub moved: Vec<Move>,
    /// Entities whose other fields changed: their whole new state.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub changed: Vec<Change>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spawn {
    pub gap: u32,
    pub version: u32,
    pub state: EntityState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub gap: u32,
    pub dx: i32,
    pub dy: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub gap: u32,
    pub state: EntityState,
}

/// A delta that does not fit the table it is applied to. The table is then in an unspecified
/// (but memory-safe, bounded) state: the client should drop it and ask for a full snapshot
/// (reconnect, or ack nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("entity index overflows the limit of {MAX_ENTITY_INDEX}")]
    IndexOutOfRange,
    #[error("delta despawns, moves or changes entity slot {0}, which the baseline does not hold")]
    UnknownEntity(u32),
    #[error("delta spawns into entity slot {0}, which is occupied")]
    SlotOccupied(u32),
    #[error("delta moves entity slot {0} out of the i32 coordinate range")]
    PositionOverflow(u32),
}

impl From<TableError> for DeltaError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::IndexOutOfRange(_) => DeltaError::IndexOutOfRange,
            TableError::Occupied(i) => DeltaError::SlotOccupied(i),
            TableError::Vacant(i) => DeltaError::UnknownEntity(i),
        }
    }
}

/// Turns absolute indices into gaps. Indices must ascend.
struct GapEncoder {
    next: u32,
}

impl GapEncoder {
    fn new() -> Self {
        Self { next: 0 }
    }
    fn gap(&mut self, index: u32) -> u32 {
        debug_assert!(index >= self.next, "indices must ascend");
        let gap = index - self.next;
        self.next = index + 1;
        gap
    }
}

/// Turns gaps back into indices, refusing any past `MAX_ENTITY_INDEX`.
pub(crate) struct GapDecoder {
    next: u32,
}

impl GapDecoder {
    pub(crate) fn new() -> Self {
        Self { next: 0 }
    }
    #[inline(always)]
    pub(crate) fn index(&mut self, gap: u32) -> Result<u32, DeltaError> {
        let index = self.next.checked_add(gap).filter(|&i| i < MAX_ENTITY_INDEX);
        let index = index.ok_or(DeltaError::IndexOutOfRange)?;
        self.next = index + 1;
        Ok(index)
    }
}

/// Moves the entity in slot `index` by an offset (the `moved` entries of a delta).
#[inline(always)]
pub(crate) fn move_by(
    table: &mut EntityTable,
    index: u32,
    dx: i32,
    dy: i32,
) -> Result<(), DeltaError> {
    let st = table.state_mut(index)?;
    let x =
        st.x.checked_add(dx)
            .ok_or(DeltaError::PositionOverflow(index))?;
    let y =
        st.y.checked_add(dy)
            .ok_or(DeltaError::PositionOverflow(index))?;
    (st.x, st.y) = (x, y);
    Ok(())
}

impl Delta {
    /// The delta that turns `base` into `now`.
    pub fn between(base: &EntityTable, now: &EntityTable) -> Delta {
        let mut d = Delta::default();
        d.build(base, now);
        d
    }

    /// A full snapshot of `now`.
    pub fn full(now: &EntityTable) -> Delta {
        Self::between(&EntityTable::new(), now)
    }

    /// Like `between`, reusing this delta's allocations.
    pub fn build(&mut self, base: &EntityTable, now: &EntityTable) {
        self.despawned.clear();
        self.spawned.clear();
        self.moved.clear();
        self.changed.clear();
        let (mut gd, mut gs, mut gm, mut gc) = (
            GapEncoder::new(),
            GapEncoder::new(),
            GapEncoder::new(),
            GapEncoder::new(),
        );
        let (bs, ns) = (base.slots(), now.slots());
        for i in 0..bs.len().max(ns.len()) {
            let index = i as u32;
            match (bs.get(i).copied().flatten(), ns.get(i).copied().flatten()) {
                (None, None) => {}
                (Some(_), None) => self.despawned.push(gd.gap(index)),
                (b, Some(n)) if b.is_none_or(|b| b.version != n.version) => {
                    if b.is_some() {
                        self.despawned.push(gd.gap(index));
                    }
                    self.spawned.push(Spawn {
                        gap: gs.gap(index),
                        version: n.version,
                        state: n.state,
                    });
                }
                (Some(b), Some(n)) => {
                    let (b, n) = (b.state, n.state);
                    if b == n {
                        continue;
                    }
                    let offsets = n.x.checked_sub(b.x).zip(n.y.checked_sub(b.y));
                    match offsets {
                        Some((dx, dy)) if b.kind == n.kind => self.moved.push(Move {
                            gap: gm.gap(index),
                            dx,
                            dy,
                        }),
                        _ => self.changed.push(Change {
                            gap: gc.gap(index),
                            state: n,
                        }),
                    }
                }
                (None, Some(_)) => unreachable!("handled by the spawn arm"),
            }
        }
    }

    /// Applies this delta to `table` (the baseline it was built against), giving the new table.
    pub fn apply(&self, table: &mut EntityTable) -> Result<(), DeltaError> {
        let mut g = GapDecoder::new();
        for &gap in &self.despawned {
            table.remove(g.index(gap)?)?;
        }
        let mut g = GapDecoder::new();
        for s in &self.spawned {
            let id = EntityId {
                index: g.index(s.gap)?,
                version: s.version,
            };
            table.insert(id, s.state)?;
        }
        let mut g = GapDecoder::new();
        for m in &self.moved {
            let index = g.index(m.gap)?;
            move_by(table, index, m.dx, m.dy)?;
        }
        let mut g = GapDecoder::new();
        for c in &self.changed {
            *table.state_mut(g.index(c.gap)?)? = c.state;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.despawned.is_empty()
            && self.spawned.is_empty()
            && self.moved.is_empty()
            && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{KIND_NPC, KIND_PLAYER};

    fn id(index: u32, version: u32) -> EntityId {
        EntityId { index, version }
    }
    fn npc(x: i32, y: i32) -> EntityState {
        EntityState {
            kind: KIND_NPC,
            x,
            y,
        }
    }

    #[test]
    fn builds_each_kind_of_entry_gap_coded() {
        let base: EntityTable = [
            (id(0, 1), npc(0, 0)),
            (id(1, 1), npc(5, 5)),
            (id(2, 1), npc(9, 9)),
            (id(5, 1), npc(1, 1)),
        ]
        .into_iter()
        .collect();
        let now: EntityTable = [
            (id(0, 1), npc(3, -2)), // moved
            (id(2, 3), npc(9, 9)),  // replaced: new version
            (
                id(5, 1),
                EntityState {
                    kind: KIND_PLAYER,
                    x: 1,
                    y: 1,
                },
            ), // changed kind
            (id(7, 1), npc(4, 4)),  // spawned
        ]
        .into_iter()
        .collect();
        let d = Delta::between(&base, &now);
        assert_eq!(d.despawned, vec![1, 0]); // indices 1, 2
        assert_eq!(
            d.spawned,
            vec![
                Spawn {
                    gap: 2,
                    version: 3,
                    state: npc(9, 9)
                },
                Spawn {
                    gap: 4,
                    version: 1,
                    state: npc(4, 4)
                }
            ]
        );
        assert_eq!(
            d.moved,
            vec![Move {
                gap: 0,
                dx: 3,
                dy: -2
            }]
        );
        assert_eq!(
            d.changed,
            vec![Change {
                gap: 5,
                state: now.slot(5).unwrap().state
            }]
        );
        let mut t = base.clone();
        d.apply(&mut t).unwrap();
        assert_eq!(t, now);
    }

    #[test]
    fn identical_tables_give_an_empty_delta() {
        let t: EntityTable = (0..10).map(|i| (id(i, 1), npc(i as i32, 0))).collect();
        assert!(Delta::between(&t, &t).is_empty());
    }

    #[test]
    fn full_snapshot_rebuilds_from_empty() {
        let t: EntityTable = (0..10).map(|i| (id(i * 3, 1), npc(i as i32, 7))).collect();
        let mut got = EntityTable::new();
        Delta::full(&t).apply(&mut got).unwrap();
        assert_eq!(got, t);
    }

    #[test]
    fn huge_offsets_fall_back_to_change() {
        let base: EntityTable = [(id(0, 1), npc(i32::MIN, 0))].into_iter().collect();
        let now: EntityTable = [(id(0, 1), npc(i32::MAX, 0))].into_iter().collect();
        let d = Delta::between(&base, &now);
        assert_eq!(d.moved.len(), 0);
        assert_eq!(d.changed.len(), 1);
    }

    #[test]
    fn errors_on_a_mismatched_baseline() {
        let base: EntityTable = [(id(0, 1), npc(0, 0))].into_iter().collect();
        let empty = EntityTable::new();
        let despawn = Delta {
            despawned: vec![4],
            ..Delta::default()
        };
        assert_eq!(
            despawn.apply(&mut base.clone()),
            Err(DeltaError::UnknownEntity(4))
        );
        let spawn = Delta::full(&base);
        assert_eq!(
            spawn.apply(&mut base.clone()),
            Err(DeltaError::SlotOccupied(0))
        );
        let mv = Delta {
            moved: vec![Move {
                gap: 0,
                dx: 1,
                dy: 1,
            }],
            ..Delta::default()
        };
        assert_eq!(
            mv.apply(&mut empty.clone()),
            Err(DeltaError::UnknownEntity(0))
        );
        let ch = Delta {
            changed: vec![Change {
                gap: 1,
                state: npc(0, 0),
            }],
            ..Delta::default()
        };
        assert_eq!(
            ch.apply(&mut base.clone()),
            Err(DeltaError::UnknownEntity(1))
        );
    }

    #[test]
    fn errors_on_index_and_position_overflow() {
        let far = Delta {
            despawned: vec![MAX_ENTITY_INDEX],
            ..Delta::default()
        };
        assert_eq!(
            far.apply(&mut EntityTable::new()),
            Err(DeltaError::IndexOutOfRange)
        );
        let wrap = Delta {
            despawned: vec![0, u32::MAX],
            ..Delta::default()
        };
        let mut t: EntityTable = [(id(0, 1), npc(0, 0))].into_iter().collect();
        assert_eq!(wrap.apply(&mut t), Err(DeltaError::IndexOutOfRange));
        let base: EntityTable = [(id(0, 1), npc(i32::MAX, 0))].into_iter().collect();
        let mv = Delta {
            moved: vec![Move {
                gap: 0,
                dx: 1,
                dy: 0,
            }],
            ..Delta::default()
        };
        assert_eq!(
            mv.apply(&mut base.clone()),
            Err(DeltaError::PositionOverflow(0))
        );
    }
}
