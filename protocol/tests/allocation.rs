//! Decoding untrusted bytes never allocates more than a small multiple of the input: a length
//! prefix alone cannot size an allocation. Measured with a counting allocator (per thread, so
//! parallel tests do not disturb each other).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use protocol::codec;

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

/// Fixed overhead: list preallocation (256 entries of at most 20 bytes, four lists) and errors.
const OVERHEAD: usize = 32 * 1024;

fn bound(input: usize) -> usize {
    // Each decoded entry takes at least one input byte and at most 20 bytes of memory; vectors
    // grow by doubling.
    OVERHEAD + 2 * 20 * input
}

#[test]
fn huge_length_claims_allocate_nothing_big() {
    let mut claims = Vec::new();
    for tag_and_prefix in [&[4u8][..], &[2, 1, 0, 0, 0, 0], &[0, 1]] {
        for len in [0xffu64, 1 << 20, 1 << 40, u64::MAX] {
            let mut b = tag_and_prefix.to_vec();
            b.push(0xfd);
            b.extend_from_slice(&len.to_le_bytes());
            claims.push(b);
        }
    }
    for b in claims {
        let peak = peak_during(|| {
            let _ = codec::decode_client(&b);
            let _ = codec::decode_server(&b);
        });
        assert!(peak <= OVERHEAD, "{b:02x?}: peak {peak} bytes");
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
}
