//! Snapshot delta costs on the arena (1,000 NPCs + 100 players, all moving): build (encode),
//! decode, apply (from the bytes, as clients do) and checksum, for a one-tick-old baseline and
//! a six-tick-old one; and the bytes a skirmish match sends.
//! Run: `cargo bench --bench delta`. Bytes per moving entity are printed once per case.

// The allocator is the `ticksync` crate's (mimalloc, its default feature), as in the server.

use std::hint::black_box;

use arena::scenario;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::state_delta::{self, Baseline, Encoder};
use protocol::{EntityId, Plan, StateTable};
use server::game::{Game, RoomGame, Sim};
use skirmish::Skirmish;

const NPCS: usize = 1000;
const PLAYERS: usize = 100;
const DT: f32 = 1.0 / 60.0;

/// Records `ticks` consecutive ticks of `sim` after `warmup` steps, each against the one before
/// (as a room does), calling `each` before every step.
fn record<G: Game>(
    sim: &mut Sim<G>,
    warmup: usize,
    ticks: usize,
    mut each: impl FnMut(&mut Sim<G>),
) -> Vec<StateTable> {
    let mut out: Vec<StateTable> = Vec::new();
    for i in 0..warmup + ticks {
        each(sim);
        sim.step(DT);
        let mut t = sim.plan().new_table();
        let prev = out.last().map(|p| Baseline {
            table: p,
            tick: i as u32 - 1,
            second: out.len().checked_sub(2).map(|j| (&out[j], i as u32 - 2)),
        });
        sim.record(i as u32, prev, &mut t, &mut Vec::new());
        out.push(t);
        if out.len() > ticks {
            out.remove(0);
        }
    }
    out
}

fn delta_bytes(plan: &Plan, tables: &[StateTable], age: usize) -> Vec<u8> {
    let n = tables.len() - 1;
    let base = Baseline {
        table: &tables[n - age],
        tick: (n - age) as u32,
        second: None,
    };
    let mut out = Vec::new();
    Encoder::default().shared(plan, Some(&base), &tables[n], n as u32, &mut out);
    out
}

fn skirmish_bytes() {
    let mut sim = Sim::build(skirmish::NAME, 60, |_| Skirmish::new(3)).expect("valid");
    let tanks: Vec<_> = (0..20).map(|i| sim.join(&format!("bot{i}"))).collect();
    let mut step = 0u32;
    let tables = record(&mut sim, 900, 7, |sim| {
        step += 1;
        for (i, &k) in tanks.iter().enumerate() {
            // A change of heading about once a second, firing now and then.
            let a = ((step / 60) as f32 + i as f32 * 1.7).sin() * 3.0;
            let input = skirmish::Input {
                move_x: a.cos(),
                move_y: a.sin(),
                aim: a + 1.0,
                fire: (step + i as u32 * 7) % 40 < 2,
                beam: false,
            };
            sim.input(k, input);
        }
    });
    let plan = sim.plan().clone();
    let n = tables[6].len();
    for age in [1, 6] {
        let d = delta_bytes(&plan, &tables, age);
        eprintln!(
            "skirmish, 20 tanks ({n} entities incl. shells and the match), baseline {age} tick(s) old: delta {} bytes ({:.2} bytes per entity)",
            d.len(),
            d.len() as f64 / n as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    skirmish_bytes();
    let mut sim = scenario(NPCS, PLAYERS);
    let tables = record(&mut sim, 60, 7, |_| {});
    let plan = sim.plan().clone();
    let now = &tables[6];
    let entities = now.len() as u64;
    let own = EntityId {
        index: 1,
        version: 1,
    };
    let mut group = c.benchmark_group("delta");
    group.throughput(Throughput::Elements(entities));
    for age in [1usize, 6] {
        let base = Baseline {
            table: &tables[6 - age],
            tick: (6 - age) as u32,
            second: None,
        };
        let bytes = delta_bytes(&plan, &tables, age);
        let view = state_delta::decode(&plan, Some(base.table), &bytes).expect("valid");
        eprintln!(
            "arena, baseline {age} tick(s) old: {entities} moving entities, {} sent as updates, delta {} bytes ({:.3} bytes per moving entity)",
            view.updates.len(),
            bytes.len(),
            bytes.len() as f64 / entities as f64,
        );
        let mut enc = Encoder::default();
        let mut out = Vec::with_capacity(8192);
        group.bench_function(BenchmarkId::new("encode", age), |b| {
            b.iter(|| {
                out.clear();
                enc.shared(&plan, Some(black_box(&base)), black_box(now), 6, &mut out)
            })
        });
        group.bench_function(BenchmarkId::new("decode", age), |b| {
            b.iter(|| {
                state_delta::decode(&plan, Some(base.table), black_box(&bytes)).expect("valid")
            })
        });
        let mut table = plan.new_table();
        group.bench_function(BenchmarkId::new("apply", age), |b| {
            b.iter(|| {
                state_delta::apply(
                    &plan,
                    Some(own),
                    Some(&base),
                    6,
                    black_box(&bytes),
                    &mut table,
                )
                .expect("fits")
            })
        });
        state_delta::apply(&plan, Some(own), Some(&base), 6, &bytes, &mut table).expect("fits");
        assert!(table == *now, "the delta rebuilds the state");
        let mut copy = plan.new_table();
        group.bench_function(BenchmarkId::new("copy_baseline_only", age), |b| {
            b.iter(|| copy.clone_from(black_box(base.table)))
        });
        group.bench_function(BenchmarkId::new("checksum", age), |b| {
            b.iter(|| plan.checksum(black_box(now), Some(own)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
