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
    /// Compiles the fields of every type of `d`, laid out by `plan`.
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
    /// The game's declaration.
    pub d: &'a Descriptor,
    /// Its table layout.
    pub plan: &'a Plan,
    /// Its fields compiled (`Recipe::new` of the two above).
    pub recipe: &'a Recipe,
    /// The tick recorded before (and the one before it), to keep fields on their track.
    pub prev: Option<Baseline<'a>>,
    /// The tick being recorded.
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
