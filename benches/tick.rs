//! One whole arena room tick: apply every client's input, step the world, record the history,
//! build and encode every client's snapshot (clients spread over baselines 1 to 6 ticks old);
//! and the same for arena-large, where each client sees the cells around its player.
//! Run: `cargo bench --bench tick`.

/// The allocator the `ticksync` binary uses, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use server::room::bench::BenchRoom;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(30);
    // arena-large: 10,000 NPCs in a 4000 x 4000 world, each client seeing its 3 x 3 cells.
    for (game, npcs, clients) in [
        ("arena", 1_000, 100),
        ("arena", 10_000, 1_000),
        ("arena-large", 10_000, 1_000),
    ] {
        let cfg = server::Config {
            npcs,
            ..server::Config::default()
        };
        let mut room = BenchRoom::new(&server::reference_games(&cfg), game, clients);
        let encodes = room.tick();
        let bytes = room.drain();
        eprintln!(
            "{game} K={npcs} M={clients}: {encodes} delta encodes per tick, {:.0} bytes per client snapshot",
            bytes as f64 / clients as f64
        );
        let name = if game == "arena" { "" } else { "-views" };
        group.bench_function(
            BenchmarkId::new(format!("K{npcs}{name}"), format!("M{clients}")),
            |b| {
                b.iter(|| {
                    room.tick();
                    room.drain()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
