//! One whole arena room tick: every client's input and ack arrive (the readers' part), the
//! room takes the inputs, steps the world, records and publishes the tick (the room task),
//! then every client's snapshot is built from it (the writers' part, spread over the machine's
//! cores as writers are over the runtime's workers; clients spread over baselines 1 to 6 ticks
//! old); and the same for arena-large, where each client sees the cells around its player.
//! `room-task/...` times the room task alone, what bounds the tick rate.
//! Run: `cargo bench --bench tick`.

// The allocator is the `ticksync` crate's (mimalloc, its default feature), as in the server.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use server::room::bench::BenchRoom;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(30);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // arena-large: 10,000 NPCs in a 4000 x 4000 world, each client seeing its 3 x 3 cells.
    for (game, npcs, clients) in [
        ("arena", 1_000, 100),
        ("arena", 10_000, 1_000),
        ("arena-large", 10_000, 1_000),
    ] {
        let games = ticksync_reference::games(&["--npcs", &npcs.to_string()]);
        let mut room = BenchRoom::new(&games, game, clients);
        // The room task's share of the tick, timed apart (what bounds the tick rate).
        let (mut room_task, mut whole) = (Duration::ZERO, Duration::ZERO);
        let (mut bytes, mut encodes) = (0, 0);
        for _ in 0..50 {
            room.receive();
            let t0 = Instant::now();
            room.tick();
            let t1 = Instant::now();
            (bytes, encodes) = room.drain(threads);
            room_task += t1 - t0;
            whole += t1.elapsed() + (t1 - t0);
        }
        eprintln!(
            "{game} K={npcs} M={clients}: {encodes} delta encodes per tick, {:.0} bytes per client snapshot, \
             room task {:.0} µs of a {:.0} µs tick (mean of 50, {threads} threads)",
            bytes as f64 / clients as f64,
            room_task.as_secs_f64() * 1e6 / 50.0,
            whole.as_secs_f64() * 1e6 / 50.0,
        );
        let name = if game == "arena" { "" } else { "-views" };
        group.bench_function(
            BenchmarkId::new(format!("K{npcs}{name}"), format!("M{clients}")),
            |b| {
                b.iter(|| {
                    room.receive();
                    room.tick();
                    room.drain(threads)
                })
            },
        );
        // The room task alone: what bounds the tick rate (the builds run meanwhile on the
        // writers' threads, untimed here).
        group.bench_function(
            BenchmarkId::new(format!("room-task/K{npcs}{name}"), format!("M{clients}")),
            |b| {
                b.iter_custom(|iters| {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        room.receive();
                        let t = Instant::now();
                        room.tick();
                        took += t.elapsed();
                        room.drain(threads);
                    }
                    took
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
