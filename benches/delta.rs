//! Snapshot delta costs on the arena (1,000 NPCs + 100 players, all moving): build, encode,
//! decode and apply (and apply straight from the bytes, as clients do), for a one-tick-old
//! baseline and a six-tick-old one.
//! Run: `cargo bench --bench delta`. Bytes per moving entity are printed once per case.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::{Delta, EntityTable, ServerMsg, SnapshotHeader, codec};
use server::arena::scenario;
use server::game::{Game, fill_table};

const NPCS: usize = 1000;
const PLAYERS: usize = 100;
const DT: f32 = 1.0 / 60.0;

/// The tables at ticks 0..=6 of a scenario that has already run a second.
fn tables() -> Vec<EntityTable> {
    let (mut world, mut arena, _) = scenario(NPCS, PLAYERS);
    for _ in 0..60 {
        arena.step(&mut world, DT);
    }
    (0..=6)
        .map(|i| {
            if i > 0 {
                arena.step(&mut world, DT);
            }
            let mut t = EntityTable::new();
            fill_table(&world, &mut t);
            t
        })
        .collect()
}

fn snapshot_bytes(delta: &Delta) -> Vec<u8> {
    let mut d = Vec::new();
    codec::encode_delta(delta, &mut d);
    let header = SnapshotHeader {
        tick: 1000,
        baseline: Some(994),
        input_seq: 1000,
        server_time_us: 16_000_000,
        checksum: Some(1),
    };
    let mut out = Vec::new();
    codec::encode_snapshot(&header, &d, &mut out);
    out
}

fn bench(c: &mut Criterion) {
    let tables = tables();
    let now = &tables[6];
    let entities = now.len() as u64;
    let mut group = c.benchmark_group("delta");
    group.throughput(Throughput::Elements(entities));
    for age in [1usize, 6] {
        let base = &tables[6 - age];
        let delta = Delta::between(base, now);
        let bytes = snapshot_bytes(&delta);
        let mut encoded = Vec::new();
        codec::encode_delta(&delta, &mut encoded);
        eprintln!(
            "baseline {age} tick(s) old: {} moving entities, delta {} bytes ({:.2} bytes per moving entity), snapshot {} bytes",
            delta.moved.len(),
            encoded.len(),
            encoded.len() as f64 / delta.moved.len() as f64,
            bytes.len()
        );
        let mut scratch = Delta::default();
        group.bench_function(BenchmarkId::new("build", age), |b| {
            b.iter(|| scratch.build(black_box(base), black_box(now)))
        });
        let mut out = Vec::with_capacity(8192);
        group.bench_function(BenchmarkId::new("encode", age), |b| {
            b.iter(|| {
                out.clear();
                codec::encode_delta(black_box(&delta), &mut out);
            })
        });
        group.bench_function(BenchmarkId::new("decode", age), |b| {
            b.iter(|| codec::decode_server(black_box(&bytes)).expect("valid"))
        });
        let ServerMsg::Snapshot(snap) = codec::decode_server(&bytes).expect("valid") else {
            unreachable!()
        };
        let mut table = base.clone();
        group.bench_function(BenchmarkId::new("apply", age), |b| {
            b.iter(|| {
                table.clone_from(base);
                snap.delta.apply(&mut table).expect("fits");
            })
        });
        let Some((_, encoded_delta)) = codec::decode_snapshot_header(&bytes).expect("valid") else {
            unreachable!()
        };
        group.bench_function(BenchmarkId::new("apply_from_bytes", age), |b| {
            b.iter(|| {
                table.clone_from(base);
                encoded_delta.apply(&mut table).expect("fits");
            })
        });
        let mut copy = base.clone();
        group.bench_function(BenchmarkId::new("copy_baseline_only", age), |b| {
            b.iter(|| copy.clone_from(black_box(base)))
        });
        group.bench_function(BenchmarkId::new("checksum", age), |b| {
            b.iter(|| black_box(now).checksum())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
