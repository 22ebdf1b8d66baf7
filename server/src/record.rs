//! Recording: a world quantised into a table, every entity every tick (the room task's largest
//! share of a tick in a big world). Each type's fields are compiled once into `FieldOp`s, so
//! the per-field work is one match on a small copyable value.

use protocol::declare::{Raw, Writer};
use protocol::schema::{self, Coding, Descriptor, Predictor, Value};
use protocol::state::{Plan, Span, angle_diff, predict};
use protocol::state_delta::Baseline;
use protocol::{EntityId, StateTable};

/// How one field is quantised and kept on its predicted track.
#[derive(Clone, Copy, Debug)]
enum FieldOp {
    /// Fixed point; with `tolerance` (a predicted field), kept on its predicted track while
    /// the true value stays within that many steps of it (and in range).
    Fixed {
        scale: u32,
        min: i32,
        max: i32,
        tolerance: Option<u32>,
    },
    /// An angle; a predicted one stays on track only when it predicts exactly.
    Angle { bits: u8, predicted: bool },
    /// Anything else (strings are stored apart).
    Plain,
}

/// A game's types compiled for recording.
#[derive(Clone, Debug, Default)]
pub struct Recipe {
    types: Vec<TypeRecipe>,
}

#[derive(Clone, Debug, Default)]
struct TypeRecipe {
    /// One per field.
    ops: Vec<FieldOp>,
    /// A field reads the second baseline.
    uses_second: bool,
    /// Keeping to the one-tick prediction every tick keeps to the prediction over any span,
    /// so the type's entities can be steady: every public predictor is exact (as the
    /// encoder's scan requires).
    may_keep: bool,
}

impl Recipe {
    pub fn new(d: &Descriptor, plan: &Plan) -> Self {
        let types = d
            .types
            .iter()
            .zip(&plan.types)
            .map(|(td, tp)| {
                let ops = td
                    .fields
                    .iter()
                    .map(|fd| {
                        let predicted = !matches!(fd.predictor, Predictor::None);
                        match fd.coding {
                            Coding::Fixed {
                                scale,
                                min,
                                max,
                                tolerance,
                            } => FieldOp::Fixed {
                                scale,
                                min,
                                max,
                                tolerance: (predicted && tolerance > 0).then_some(tolerance),
                            },
                            Coding::Angle { bits } => FieldOp::Angle { bits, predicted },
                            _ => FieldOp::Plain,
                        }
                    })
                    .collect();
                TypeRecipe {
                    ops,
                    uses_second: tp.uses_second(),
                    may_keep: tp.other_public.is_empty() && !tp.uses_second(),
                }
            })
            .collect();
        Self { types }
    }
}

/// Records one tick: `put` each entity in slot order.
pub struct Recorder<'a> {
    pub d: &'a Descriptor,
    pub plan: &'a Plan,
    pub recipe: &'a Recipe,
    /// The tick recorded before (and the one before it), to keep fields on their track.
    pub prev: Option<Baseline<'a>>,
    pub tick: u32,
}

impl Recorder<'_> {
    /// Records entity `id` of type `ty`, whose fields the game wrote to `writer`, into `out`.
    /// True when it kept to its track: every field what the tick before predicts, every
    /// string the same (false for a new entity, and for a type whose predictions over
    /// several ticks are not the one-tick ones repeated).
    pub fn put(&self, id: EntityId, ty: u16, writer: &Writer, out: &mut StateTable) -> bool {
        let (Some(td), Some(tp), Some(tr)) = (
            self.d.types.get(usize::from(ty)),
            self.plan.types.get(usize::from(ty)),
            self.recipe.types.get(usize::from(ty)),
        ) else {
            return false;
        };
        let prev = self.prev.and_then(|b| {
            let e = b.table.get(id).filter(|e| e.ty == ty)?;
            let span = Span {
                ticks: i64::from(self.tick.wrapping_sub(b.tick)).max(1),
                // Only a linear predictor reads it: the lookup is a cache miss per entity.
                second: b.second.filter(|_| tr.uses_second).and_then(|(t2, tick2)| {
                    Some((t2.get(id)?.values, i64::from(b.tick.wrapping_sub(tick2))))
                }),
            };
            Some((e.values, span))
        });
        let Ok(cells) = out.insert(id, ty) else {
            tracing::warn!(?id, "entity not recorded: its index is past the wire limit");
            return false;
        };
        let mut kept = prev.is_some() && tr.may_keep;
        let mut strings = Vec::new();
        for (f, ((op, raw), cell)) in tr
            .ops
            .iter()
            .zip(&writer.raws)
            .zip(cells.iter_mut())
            .enumerate()
        {
            // What the tick before predicts (itself, for a field with no predictor).
            let expected = prev
                .as_ref()
                .map(|(pv, span)| predict(&tp.fields[f], f, pv, span));
            *cell = match (*op, *raw) {
                (_, Raw::Str(a, b)) => {
                    strings.push((f as u16, a, b));
                    continue;
                }
                (
                    FieldOp::Fixed {
                        scale,
                        min,
                        max,
                        tolerance,
                    },
                    Raw::Num(v),
                ) => {
                    let q = schema::quantize_fixed(v, scale, min, max);
                    match tolerance.zip(expected) {
                        // On track while within tolerance of the truth (and in range).
                        Some((t, p))
                            if (f64::from(p) - v * f64::from(scale)).abs() <= f64::from(t)
                                && (min..=max).contains(&p) =>
                        {
                            p
                        }
                        _ => q,
                    }
                }
                (FieldOp::Angle { bits, predicted }, raw) => {
                    let q = quantize(&td.fields[f].coding, raw);
                    match expected.filter(|_| predicted) {
                        Some(p) if angle_diff(i64::from(p), i64::from(q), bits) == 0 => p,
                        _ => q,
                    }
                }
                (_, raw) => quantize(&td.fields[f].coding, raw),
            };
            kept &= expected == Some(*cell);
        }
        for (f, a, b) in strings {
            let text = writer.text_of(a, b);
            let max = match td.fields[usize::from(f)].coding {
                Coding::Str { max_bytes } => usize::from(max_bytes),
                _ => 0,
            };
            let mut end = text.len().min(max);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let text = &text[..end];
            kept &= self
                .prev
                .is_some_and(|b| b.table.string(id.index, f) == text);
            let _ = out.set_string(id.index, f, text);
        }
        kept
    }
}

/// A number the game wrote, quantised by its field's coding.
fn quantize(coding: &Coding, raw: Raw) -> i32 {
    match raw {
        Raw::Num(v) => schema::quantize(coding, &Value::Num(v)),
        Raw::Int(v) => schema::quantize(coding, &Value::Int(v)),
        Raw::Str(..) => 0,
    }
}

#[cfg(test)]
mod tests {
    use protocol::schema::Value;
    use protocol::state::{Span, predict};
    use protocol::state_delta::{Baseline, Steady};
    use protocol::{EntityId, StateTable};

    use crate::{Config, reference_games};

    /// What `Steady` built from the recorder's `moved` lists calls steady really is: every
    /// public field what its baseline predicts over the whole span, every string the same;
    /// and most entities of a game in motion are steady (the encoder skips them).
    #[test]
    fn an_entity_the_recorder_keeps_steady_is_on_its_prediction_from_every_baseline() {
        let games = reference_games(&Config {
            npcs: 200,
            ..Config::default()
        });
        for name in ["arena", "arena-large", "skirmish"] {
            let mut g = games.get(name).expect("a game").create(60).expect("valid");
            let mut players: Vec<EntityId> = (0..6).map(|i| g.join(&format!("p{i}"))).collect();
            let inputs = g.descriptor().input.len();
            let plan = g.plan().clone();
            let mut tables: Vec<(u32, StateTable)> = Vec::new();
            let (mut steady, mut scanned) = (Steady::default(), Steady::default());
            let (mut checked, mut skipped, mut skipped_by_scan) = (0, 0, 0);
            for step in 0..150u32 {
                // Players come and go (a slot emptied, later filled by another entity)...
                if step % 25 == 10 {
                    g.leave(players.remove(0));
                }
                if step % 25 == 20 {
                    players.push(g.join("again"));
                }
                // ...and turn now and then, so some leave their track.
                for (k, &p) in players.iter().enumerate() {
                    let a = f64::from(step / 20 + k as u32);
                    let values = (0..inputs)
                        .map(|f| Value::Num(if f % 2 == 0 { a.cos() } else { a.sin() }))
                        .collect::<Vec<_>>();
                    g.input(p, &values);
                }
                g.step(1.0 / 60.0);
                let tick = step + 1;
                let mut now = StateTable::new(plan.stride);
                let mut moved = Vec::new();
                let n = tables.len();
                let prev = n.checked_sub(1).map(|i| Baseline {
                    table: &tables[i].1,
                    tick: tables[i].0,
                    second: n.checked_sub(2).map(|j| (&tables[j].1, tables[j].0)),
                });
                g.record(tick, prev, &mut now, &mut moved);
                steady.advance_moved(tables.last().map(|(_, t)| t), &now, &moved, tick);
                scanned.advance(&plan, tables.last().map(|(t, b)| (b, *t)), &now, tick);
                for (base_tick, base) in tables.iter().rev().take(12) {
                    let ticks = i64::from(tick - base_tick);
                    // Gone since the baseline, or replaced: never steady.
                    for b in base.iter() {
                        if now.get(b.id).is_none() {
                            let i = b.id.index;
                            assert!(!steady.since(i, *base_tick, tick), "{name}: {i} gone");
                        }
                    }
                    for e in now.iter() {
                        let i = e.id.index;
                        checked += 1;
                        skipped_by_scan += usize::from(scanned.since(i, *base_tick, tick));
                        if !steady.since(i, *base_tick, tick) {
                            continue;
                        }
                        skipped += 1;
                        let b = base.get(e.id).expect("steady: held at the baseline");
                        assert_eq!(b.ty, e.ty);
                        let tp = &plan.types[usize::from(e.ty)];
                        let span = Span {
                            ticks,
                            second: None,
                        };
                        for &f in tp.public.iter() {
                            let f = usize::from(f);
                            if tp.str_public.contains(&(f as u16)) {
                                assert_eq!(base.string(i, f as u16), now.string(i, f as u16));
                            } else {
                                let p = predict(&tp.fields[f], f, b.values, &span);
                                assert_eq!(p, e.values[f], "{name}: slot {i} field {f}");
                            }
                        }
                    }
                }
                tables.push((tick, now));
                if tables.len() > 16 {
                    tables.remove(0);
                }
            }
            eprintln!("{name}: {skipped} steady ({skipped_by_scan} by a scan) of {checked}");
            assert!(
                skipped >= skipped_by_scan,
                "{name}: as many as a scan finds"
            );
            if name.starts_with("arena") {
                assert!(skipped * 2 > checked, "{name}: most NPCs keep their course");
            }
        }
    }
}
