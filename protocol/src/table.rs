//! The entity table: what a snapshot describes, and what a client holds after applying one.

use serde::{Deserialize, Serialize};

use crate::limits::MAX_ENTITY_INDEX;

/// An entity's wire id: its slot index plus the slot's version. A reused index always comes with
/// a new version, so a client never confuses a new entity with an old one (slotmap's key layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityId {
    pub index: u32,
    pub version: u32,
}

/// What a client sees of an entity. Positions are quantised (`crate::quant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityState {
    /// Game-defined kind (arena: `KIND_NPC`, `KIND_PLAYER`).
    pub kind: u8,
    pub x: i32,
    pub y: i32,
}

/// Arena's entity kinds.
pub const KIND_NPC: u8 = 0;
pub const KIND_PLAYER: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub version: u32,
    pub state: EntityState,
}

/// Why an entity could not be put in a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("entity index {0} is out of range (limit {MAX_ENTITY_INDEX})")]
    IndexOutOfRange(u32),
    #[error("entity slot {0} is already occupied")]
    Occupied(u32),
    #[error("entity slot {0} is empty")]
    Vacant(u32),
}

/// Entities by slot index, iterated in index order. Dense like a slotmap: a `Vec` of slots, so
/// applying a change is O(1) and comparing two tables is one linear pass.
#[derive(Debug, Default)]
pub struct EntityTable {
    slots: Vec<Option<Slot>>,
    len: usize,
}

impl Clone for EntityTable {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            len: self.len,
        }
    }

    /// Reuses this table's allocation: clients copy a baseline for every snapshot.
    fn clone_from(&mut self, source: &Self) {
        self.slots.clone_from(&source.slots);
        self.len = source.len;
    }
}

impl PartialEq for EntityTable {
    /// Equal when they hold the same entities; trailing empty slots do not matter.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}
impl Eq for EntityTable {}

impl EntityTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the highest slot index ever used (the length of the slot array).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Removes every entity, keeping the allocation.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    pub fn slot(&self, index: u32) -> Option<&Slot> {
        self.slots.get(index as usize).and_then(Option::as_ref)
    }

    pub fn get(&self, id: EntityId) -> Option<&EntityState> {
        self.slot(id.index)
            .filter(|s| s.version == id.version)
            .map(|s| &s.state)
    }

    /// Adds an entity to an empty slot.
    pub fn insert(&mut self, id: EntityId, state: EntityState) -> Result<(), TableError> {
        if id.index >= MAX_ENTITY_INDEX {
            return Err(TableError::IndexOutOfRange(id.index));
        }
        let i = id.index as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        let slot = &mut self.slots[i];
        if slot.is_some() {
            return Err(TableError::Occupied(id.index));
        }
        *slot = Some(Slot {
            version: id.version,
            state,
        });
        self.len += 1;
        Ok(())
    }

    /// Removes the entity in slot `index`, returning it.
    pub fn remove(&mut self, index: u32) -> Result<Slot, TableError> {
        let slot = self
            .slots
            .get_mut(index as usize)
            .and_then(Option::take)
            .ok_or(TableError::Vacant(index))?;
        self.len -= 1;
        Ok(slot)
    }

    /// The state of the entity in slot `index`, to change in place.
    pub fn state_mut(&mut self, index: u32) -> Result<&mut EntityState, TableError> {
        self.slots
            .get_mut(index as usize)
            .and_then(Option::as_mut)
            .map(|s| &mut s.state)
            .ok_or(TableError::Vacant(index))
    }

    /// Entities in index order.
    pub fn iter(&self) -> impl Iterator<Item = (EntityId, &EntityState)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.as_ref().map(|s| {
                (
                    EntityId {
                        index: i as u32,
                        version: s.version,
                    },
                    &s.state,
                )
            })
        })
    }

    /// The raw slots, for linear merges (delta building).
    pub fn slots(&self) -> &[Option<Slot>] {
        &self.slots
    }

    /// The table's checksum (see `crate::checksum`).
    pub fn checksum(&self) -> u32 {
        crate::checksum::table_checksum(self)
    }
}

impl FromIterator<(EntityId, EntityState)> for EntityTable {
    /// Panics on a duplicate or out-of-range index: for trusted input (tests, tools) only.
    fn from_iter<I: IntoIterator<Item = (EntityId, EntityState)>>(iter: I) -> Self {
        let mut t = EntityTable::new();
        for (id, s) in iter {
            t.insert(id, s).expect("valid, unique entity ids");
        }
        t
    }
}

/// JSON shape of a table for golden vectors and tools: `[{id, state}, ...]` in index order.
impl Serialize for EntityTable {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry<'a> {
            id: EntityId,
            state: &'a EntityState,
        }
        ser.collect_seq(self.iter().map(|(id, state)| Entry { id, state }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(x: i32) -> EntityState {
        EntityState {
            kind: KIND_NPC,
            x,
            y: -x,
        }
    }

    #[test]
    fn insert_get_remove() {
        let mut t = EntityTable::new();
        let a = EntityId {
            index: 3,
            version: 1,
        };
        t.insert(a, st(5)).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(a), Some(&st(5)));
        assert_eq!(
            t.get(EntityId {
                index: 3,
                version: 3
            }),
            None
        );
        assert_eq!(t.insert(a, st(1)), Err(TableError::Occupied(3)));
        assert_eq!(t.remove(3).unwrap().state, st(5));
        assert_eq!(t.remove(3), Err(TableError::Vacant(3)));
        assert_eq!(t.remove(99), Err(TableError::Vacant(99)));
        assert!(t.is_empty());
    }

    #[test]
    fn index_limit_is_enforced() {
        let mut t = EntityTable::new();
        let id = EntityId {
            index: MAX_ENTITY_INDEX,
            version: 1,
        };
        assert_eq!(
            t.insert(id, st(0)),
            Err(TableError::IndexOutOfRange(MAX_ENTITY_INDEX))
        );
        assert_eq!(t.slot_count(), 0);
    }

    #[test]
    fn equality_ignores_trailing_empty_slots() {
        let mut a = EntityTable::new();
        let mut b = EntityTable::new();
        a.insert(
            EntityId {
                index: 0,
                version: 1,
            },
            st(1),
        )
        .unwrap();
        b.insert(
            EntityId {
                index: 0,
                version: 1,
            },
            st(1),
        )
        .unwrap();
        b.insert(
            EntityId {
                index: 9,
                version: 1,
            },
            st(2),
        )
        .unwrap();
        b.remove(9).unwrap();
        assert_eq!(a, b);
    }
}
