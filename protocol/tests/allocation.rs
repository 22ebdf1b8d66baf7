//! Decoding untrusted bytes never allocates more than a small multiple of the input: a length
//! prefix alone cannot size an allocation. Measured with a counting allocator (per thread, so
//! parallel tests do not disturb each other).
//!
//! Delta apply is bounded differently: a client's table has a slot for every index up to the
//! highest it holds, so its memory follows the highest index a delta names (at most
//! `MAX_ENTITY_INDEX`), not the delta's length. That bound is checked too.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use protocol::codec;
use protocol::schema;
use protocol::state_delta;
use support::*;

struct Counting;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    let _ = CURRENT.try_with(|c| {
        c.set(c.get() + n);
        let _ = PEAK.try_with(|p| p.set(p.get().max(c.get())));
    });
}

fn sub(n: usize) {
    let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(n)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size);
        sub(layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated (above what was live before) while running `f`.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

/// Fixed overhead: list preallocation (at most 256 entries a list, a few nested lists of a
/// descriptor open at once) and error messages.
const OVERHEAD: usize = 64 * 1024;

fn bound(input: usize) -> usize {
    // Each decoded entry takes at least one input byte and at most ~100 bytes of memory (a
    // field description); vectors grow by doubling.
    OVERHEAD + 2 * 100 * input
}

/// A message tag and prefix followed by a length claim of `len` (a bincode u64 varint).
fn claim(prefix: &[u8], len: u64) -> Vec<u8> {
    let mut b = prefix.to_vec();
    b.push(0xfd);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn huge_length_claims_allocate_nothing_big() {
    let prefixes: &[&[u8]] = &[
        // Chat text.
        &[4],
        // Input values (seq 1, no ack).
        &[1, 1, 0],
        // Action values (id 0).
        &[5, 0],
        // Hello room.
        &[0, 1],
        // Welcome: version, player, room "", game "", tick rate, tick, token "", then the
        // player list.
        &[0, 2, 0, 0, 0, 0, 60, 0, 0],
        // ... no players, schema hash, then the descriptor: game "", then its type list.
        &[0, 2, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0],
        // ... one type: id 0, name "", then its field list.
        &[0, 2, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 1, 0, 0],
        // ... one field: id 0, name "", coding Enum, then its variant list.
        &[0, 2, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 4],
        // ... no types, no room type, then the input field list.
        &[0, 2, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0],
        // GameEvent values.
        &[5, 0],
        // A snapshot whose tag is written as a u16 varint: the derived decoder, whose delta
        // is a length-prefixed list.
        &[0xfb, 2, 0, 1, 0, 0, 0, 0, 0],
    ];
    for prefix in prefixes {
        for len in [0xffu64, 1 << 20, 1 << 40, u64::MAX] {
            let b = claim(prefix, len);
            let peak = peak_during(|| {
                let _ = codec::decode_client(&b);
                let _ = codec::decode_server(&b);
            });
            assert!(peak <= OVERHEAD, "{b:02x?}: peak {peak} bytes");
        }
    }
}

#[test]
fn delta_list_claims_allocate_nothing_big() {
    use proptest::strategy::ValueTree;
    let d = support::descriptor()
        .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
        .unwrap()
        .current();
    let w = World::generate(d, 7);
    // Counts claiming more entries than bytes follow, and huge string lengths.
    let cases: &[&[u8]] = &[
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
        &[0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0],
        &[
            0, 1, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
    ];
    for bytes in cases {
        let peak = peak_during(|| {
            let mut out = w.plan.new_table();
            let _ = state_delta::apply(&w.plan, w.own, None, 1, bytes, &mut out);
        });
        // A table of one slot at most.
        assert!(peak <= OVERHEAD, "{bytes:02x?}: peak {peak} bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1024)
    ))]

    #[test]
    fn decode_allocation_is_bounded_by_the_input(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let peak = peak_during(|| {
            let _ = codec::decode_client(&bytes);
            let _ = codec::decode_server(&bytes);
        });
        prop_assert!(peak <= bound(bytes.len()), "peak {} for {} bytes", peak, bytes.len());
    }

    /// Mutated Welcomes reach deep into the descriptor's nested lists.
    #[test]
    fn welcome_allocation_is_bounded_by_the_input(
        msg in server_msg(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = codec::encode_server(&msg);
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let peak = peak_during(|| {
            let _ = codec::decode_server(&bytes);
        });
        prop_assert!(peak <= bound(bytes.len()), "peak {} for {} bytes", peak, bytes.len());
    }

    #[test]
    fn value_list_allocation_is_bounded_by_the_input(d in support::descriptor(), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let peak = peak_during(|| {
            let _ = schema::decode_values(&d.input, &bytes);
        });
        prop_assert!(peak <= bound(bytes.len()), "peak {} for {} bytes", peak, bytes.len());
    }

    /// Apply's memory: the output table (one slot per index up to the highest, `stride` cells
    /// each, plus its strings) and a copy of the baseline, whatever the bytes claim.
    #[test]
    fn apply_allocation_is_bounded_by_the_highest_index(w in world(), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let b = w.baseline(true);
        let mut highest = 0usize;
        let peak = peak_during(|| {
            let mut out = w.plan.new_table();
            let _ = state_delta::apply(&w.plan, w.own, Some(&b), w.tick, &bytes, &mut out);
            highest = out.slot_count();
        });
        let slots = highest.max(w.base.slot_count());
        let table = 2 * slots * (8 + 4 * w.plan.stride);
        prop_assert!(peak <= bound(bytes.len()) + table, "peak {} for {} bytes, {} slots", peak, bytes.len(), slots);
    }
}
