//! A cheap 32-bit checksum of an entity table, so a client can prove it holds the server's world.
//!
//! MurmurHash3 (x86, 32-bit) over the words `index, version, kind, x, y` of each entity in index
//! order, seeded with `SEED`, finished with the entity count. Word-wise (not byte-wise) so a
//! browser computes it with `Math.imul` at the same speed; not cryptographic.

use crate::table::EntityTable;

pub const SEED: u32 = 0x7469_636b; // "tick"

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

#[inline]
fn mix(h: u32, k: u32) -> u32 {
    let k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

#[inline]
fn finish(mut h: u32, words: u32) -> u32 {
    h ^= words.wrapping_mul(4);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

pub fn table_checksum(table: &EntityTable) -> u32 {
    let mut h = SEED;
    let mut words = 0u32;
    for (id, s) in table.iter() {
        h = mix(h, id.index);
        h = mix(h, id.version);
        h = mix(h, u32::from(s.kind));
        h = mix(h, s.x as u32);
        h = mix(h, s.y as u32);
        words = words.wrapping_add(5);
    }
    finish(h, words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{EntityId, EntityState};

    #[test]
    fn empty_table_has_a_fixed_checksum() {
        // Pinned: the browser's implementation is tested against the same value via golden files.
        assert_eq!(table_checksum(&EntityTable::new()), finish(SEED, 0));
    }

    #[test]
    fn any_field_change_changes_the_checksum() {
        let id = EntityId {
            index: 2,
            version: 1,
        };
        let s = EntityState {
            kind: 0,
            x: 10,
            y: 20,
        };
        let base: EntityTable = [(id, s)].into_iter().collect();
        let variants = [
            [(EntityId { index: 3, ..id }, s)],
            [(EntityId { version: 3, ..id }, s)],
            [(id, EntityState { kind: 1, ..s })],
            [(id, EntityState { x: 11, ..s })],
            [(id, EntityState { y: 19, ..s })],
        ];
        for v in variants {
            let t: EntityTable = v.into_iter().collect();
            assert_ne!(t.checksum(), base.checksum(), "{t:?}");
        }
    }
}
