//! A bot's per-snapshot work at load-test scale: decode the header, apply the delta to its
//! baselines (recycled tables), verify the checksum. At 1,100 entities it must not allocate in
//! the steady state; the time per snapshot is printed (`cargo test --release -p bot-client
//! --test snapshot_cost -- --nocapture` for figures worth quoting).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use bots::client::ring::TableRing;
use protocol::schema::{ROOM_INDEX, ROOM_VERSION};
use protocol::state_delta::{Baseline, Encoder};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable, codec};
use support::fake_server::{self, HEADING, HP, POS_X, POS_Y, SECRET, VEL_X, VEL_Y};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const ENTITIES: u32 = 1100;
const OWN: EntityId = EntityId {
    index: 1,
    version: 1,
};

/// A cheap deterministic hash.
fn mix(a: u32, b: u32) -> u32 {
    (a.wrapping_mul(0x9e37_79b1) ^ b.wrapping_mul(0x85eb_ca77)).rotate_left(13)
}

/// The world at `tick`: a room state and `ENTITIES` units that each change velocity about once
/// a second (staggered) and otherwise move exactly as predicted; `jitter` adds a one-step error
/// to every unit's position every tick (every entity then sends a residual).
fn step(world: &mut StateTable, tick: u32, jitter: bool) {
    let room = EntityId {
        index: ROOM_INDEX,
        version: ROOM_VERSION,
    };
    if world.get(room).is_none() {
        world.insert(room, fake_server::ROOM).unwrap();
    }
    world.values_mut(ROOM_INDEX).unwrap()[0] = (tick / 60) as i32;
    for i in 1..=ENTITIES {
        let id = EntityId {
            index: i,
            version: 1,
        };
        if world.get(id).is_none() {
            let cells = world.insert(id, fake_server::UNIT).unwrap();
            cells[POS_X] = (i * 37 % 60_000) as i32;
            cells[POS_Y] = (i * 91 % 60_000) as i32;
        }
        let c = world.values_mut(i).unwrap();
        let leg = (tick + i) / 60;
        // Multiples of 60 steps per second: at 60 Hz the predictor is exact.
        c[VEL_X] = (mix(i, leg) % 161) as i32 * 60 - 80 * 60;
        c[VEL_Y] = (mix(leg, i) % 161) as i32 * 60 - 80 * 60;
        let wobble = if jitter {
            (mix(i, tick) % 3) as i32 - 1
        } else {
            0
        };
        c[POS_X] = (c[POS_X] + c[VEL_X] / 60 + wobble).clamp(-64_000, 64_000);
        c[POS_Y] = (c[POS_Y] + c[VEL_Y] / 60).clamp(-64_000, 64_000);
        c[HEADING] = (c[HEADING] + (i % 9) as i32).rem_euclid(4096);
        c[HP] = 100 - ((tick + i) / 120 % 100) as i32;
        c[SECRET] = if id == OWN { tick as i32 } else { 0 };
    }
}

/// Snapshots as a server sends them to a client that acks every tick in time: each against
/// the tick before, with the one before that as the second baseline.
fn snapshots(plan: &Plan, ticks: u32, jitter: bool) -> Vec<Vec<u8>> {
    let mut history: Vec<StateTable> = Vec::new();
    let mut world = plan.new_table();
    let mut enc = Encoder::default();
    let mut out = Vec::new();
    for tick in 1..=ticks {
        step(&mut world, tick, jitter);
        let n = history.len();
        let base = (n >= 1).then(|| Baseline {
            table: &history[n - 1],
            tick: tick - 1,
            second: (n >= 2).then(|| (&history[n - 2], tick - 2)),
        });
        let mut delta = Vec::new();
        enc.shared(plan, base.as_ref(), &world, tick, &mut delta);
        enc.private(plan, OWN, base.as_ref(), &world, tick, &mut delta);
        let header = SnapshotHeader {
            tick,
            baseline: base.map(|b| b.tick),
            baseline2: base.and_then(|b| b.second.map(|s| s.1)),
            input_seq: tick,
            server_time_us: u64::from(tick) * 16_667,
            checksum: Some(plan.checksum(&world, Some(OWN))),
        };
        let mut bytes = Vec::new();
        codec::encode_snapshot(&header, &delta, &mut bytes);
        out.push(bytes);
        history.push(world.clone());
    }
    out
}

/// Applies every snapshot as the client does; returns (allocations, µs per snapshot, mean
/// size) over the snapshots after the first `warmup`.
fn client_side(plan: &Plan, snaps: &[Vec<u8>], warmup: usize) -> (u64, f64, usize) {
    let mut ring = TableRing::default();
    let mut delta_buf = Vec::with_capacity(64 * 1024);
    let mut apply = |bytes: &[u8]| {
        let (header, delta) = codec::decode_snapshot_header(bytes).unwrap().unwrap();
        // The client copies the delta out of its read buffer.
        delta_buf.clear();
        delta_buf.extend_from_slice(delta);
        assert_eq!(ring.apply(plan, Some(OWN), &header, &delta_buf), Ok(true));
    };
    for s in &snaps[..warmup] {
        apply(s);
    }
    let before = allocations();
    let started = Instant::now();
    for s in &snaps[warmup..] {
        apply(s);
    }
    let elapsed = started.elapsed();
    let allocated = allocations() - before;
    let n = snaps.len() - warmup;
    let size = snaps[warmup..].iter().map(Vec::len).sum::<usize>() / n;
    (allocated, elapsed.as_secs_f64() * 1e6 / n as f64, size)
}

#[test]
fn steady_state_snapshots_allocate_nothing() {
    let plan = Plan::new(&fake_server::descriptor("testgame", false, 60));
    for jitter in [false, true] {
        let snaps = snapshots(&plan, 300, jitter);
        let (allocated, us, size) = client_side(&plan, &snaps, 20);
        println!(
            "{ENTITIES} entities{}: {us:.1} µs per snapshot (decode, apply, checksum), \
             {size} bytes each, {allocated} allocations in 280 snapshots",
            if jitter {
                ", every one moving off its prediction"
            } else {
                ""
            }
        );
        assert_eq!(allocated, 0, "jitter {jitter}");
    }
}

/// Where a snapshot's time goes, part by part (best of 30 batches, so other load on the machine
/// matters less): `cargo test --release -p bot-client --test snapshot_cost -- --ignored
/// --nocapture`.
#[test]
#[ignore = "timing figures only; run with --release --ignored --nocapture"]
fn breakdown() {
    use protocol::state_delta;
    let plan = Plan::new(&fake_server::descriptor("testgame", false, 60));
    let snaps = snapshots(&plan, 300, false);
    let mut tables: Vec<StateTable> = Vec::new();
    let mut world = plan.new_table();
    for tick in 1..=300 {
        step(&mut world, tick, false);
        tables.push(world.clone());
    }
    let best = |f: &mut dyn FnMut(usize)| {
        let mut best = f64::MAX;
        for _ in 0..30 {
            let t = Instant::now();
            for i in 50..100 {
                f(i);
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / 50.0);
        }
        best
    };
    let mut out = plan.new_table();
    println!(
        "clone_from {:.1} µs",
        best(&mut |i| out.clone_from(&tables[i]))
    );
    let mut x = 0;
    println!(
        "checksum {:.1} µs",
        best(&mut |i| x ^= plan.checksum(&tables[i], Some(OWN)))
    );
    println!(
        "public_checksum {:.1} µs",
        best(&mut |i| x ^= plan.public_checksum(&tables[i]))
    );
    println!(
        "apply (clone included) {:.1} µs",
        best(&mut |i| {
            let (h, d) = codec::decode_snapshot_header(&snaps[i]).unwrap().unwrap();
            let base = Baseline {
                table: &tables[i - 1],
                tick: h.baseline.unwrap(),
                second: Some((&tables[i - 2], h.baseline2.unwrap())),
            };
            state_delta::apply(&plan, Some(OWN), Some(&base), h.tick, d, &mut out).unwrap();
        })
    );
    println!(
        "apply without second {:.1} µs",
        best(&mut |i| {
            let (h, d) = codec::decode_snapshot_header(&snaps[i]).unwrap().unwrap();
            let base = Baseline {
                table: &tables[i - 1],
                tick: h.baseline.unwrap(),
                second: None,
            };
            let _ = state_delta::apply(&plan, Some(OWN), Some(&base), h.tick, d, &mut out);
        })
    );
    println!(
        "iter {:.1} µs",
        best(&mut |i| x ^= tables[i].iter().count() as u32)
    );
    std::hint::black_box(x);
}
