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
    /// Per type: one op per field, and whether a field reads the second baseline.
    types: Vec<(Vec<FieldOp>, bool)>,
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
                (ops, tp.uses_second())
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
    pub fn put(&self, id: EntityId, ty: u16, writer: &Writer, out: &mut StateTable) {
        let (Some(td), Some(tp), Some((ops, uses_second))) = (
            self.d.types.get(usize::from(ty)),
            self.plan.types.get(usize::from(ty)),
            self.recipe.types.get(usize::from(ty)),
        ) else {
            return;
        };
        let prev = self.prev.and_then(|b| {
            let e = b.table.get(id).filter(|e| e.ty == ty)?;
            let span = Span {
                ticks: i64::from(self.tick.wrapping_sub(b.tick)).max(1),
                // Only a linear predictor reads it: the lookup is a cache miss per entity.
                second: b.second.filter(|_| *uses_second).and_then(|(t2, tick2)| {
                    Some((t2.get(id)?.values, i64::from(b.tick.wrapping_sub(tick2))))
                }),
            };
            Some((e.values, span))
        });
        let Ok(cells) = out.insert(id, ty) else {
            tracing::warn!(?id, "entity not recorded: its index is past the wire limit");
            return;
        };
        let mut strings = Vec::new();
        for (f, ((op, raw), cell)) in ops
            .iter()
            .zip(&writer.raws)
            .zip(cells.iter_mut())
            .enumerate()
        {
            let on_track = |q: i32| {
                let (pv, span) = prev.as_ref()?;
                Some((predict(&tp.fields[f], f, pv, span), q))
            };
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
                    match tolerance.and_then(|t| Some((t, on_track(q)?))) {
                        // On track while within tolerance of the truth (and in range).
                        Some((t, (p, _)))
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
                    match on_track(q).filter(|_| predicted) {
                        Some((p, q)) if angle_diff(i64::from(p), i64::from(q), bits) == 0 => p,
                        _ => q,
                    }
                }
                (_, raw) => quantize(&td.fields[f].coding, raw),
            };
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
            let _ = out.set_string(id.index, f, &text[..end]);
        }
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
