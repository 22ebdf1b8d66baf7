//! Own-player prediction for bots whose behaviour predicts ([`Behaviour::predict`]): the own
//! entity runs ahead of the server by the inputs not yet applied, as a browser's does, and is
//! reconciled with every snapshot that applied a newer input. Each reconciliation measures the
//! error: how far (over the own type's interpolated `Fixed` fields, its position) the server's
//! state was from what the bot had predicted for that input.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use protocol::{Coding, Descriptor, Interp, Value};

use crate::behaviour::Behaviour;

/// Inputs kept for replay: at 60 Hz, 2 s of round trip. Older ones are forgotten (their
/// error is not measured).
const MAX_UNAPPLIED: usize = 128;
/// An error above this (world units) counts as a correction: well above quantisation.
pub const CORRECTION_EPSILON: f64 = 0.01;
/// Errors are recorded in thousandths of a world unit.
const ERROR_SCALE: f64 = 1000.0;

/// What one bot's predictions measured; added up over bots.
#[derive(Clone, Debug)]
pub struct PredictionStats {
    /// Snapshots that applied a newer input whose prediction was still held.
    pub reconciled: u64,
    /// Of those, the ones whose error exceeded [`CORRECTION_EPSILON`].
    pub corrections: u64,
    /// The errors, in thousandths of a world unit.
    pub errors: Histogram<u64>,
}

impl Default for PredictionStats {
    fn default() -> Self {
        Self {
            reconciled: 0,
            corrections: 0,
            errors: Histogram::new_with_bounds(1, 1 << 40, 2).expect("valid histogram bounds"),
        }
    }
}

impl PredictionStats {
    /// Adds `other`'s figures.
    pub fn add(&mut self, other: &PredictionStats) {
        self.reconciled += other.reconciled;
        self.corrections += other.corrections;
        // Same bounds everywhere, so adding cannot fail.
        let _ = self.errors.add(&other.errors);
    }

    /// An error quantile in world units (`None` before any).
    pub fn error(&self, q: f64) -> Option<f64> {
        (!self.errors.is_empty()).then(|| self.errors.value_at_quantile(q) as f64 / ERROR_SCALE)
    }
}

/// One connection's prediction of its own entity.
#[derive(Default)]
pub struct Prediction {
    /// Inputs sent that no snapshot has applied yet: (seq, input, own predicted after it).
    unapplied: VecDeque<(u32, Vec<Value>, Vec<Value>)>,
    /// The own entity now: every input sent applied.
    now: Option<Vec<Value>>,
    /// The newest input seq a snapshot applied.
    applied: u32,
    /// The own type's fields the error is measured over (`None` until known).
    position: Option<Vec<usize>>,
    /// The behaviour returned `None`: it does not predict.
    off: bool,
    /// Tick length, seconds.
    dt: f32,
    /// What it measured.
    pub stats: PredictionStats,
}

impl Prediction {
    /// Prediction at `tick_rate` ticks per second.
    pub fn new(tick_rate: u16) -> Self {
        Self {
            dt: 1.0 / f32::from(tick_rate.max(1)),
            ..Self::default()
        }
    }

    /// Whether the behaviour predicts (as far as known: until its first answer, yes).
    pub fn on(&self) -> bool {
        !self.off
    }

    /// Whether the next `sent` needs the newest snapshot's own entity to start from.
    pub fn needs_start(&self) -> bool {
        !self.off && self.now.is_none()
    }

    /// The own entity as predicted now, if the behaviour predicts.
    pub fn now(&self) -> Option<&[Value]> {
        self.now.as_deref()
    }

    /// Input `seq` went out: the own entity runs ahead by it. `own`: the newest snapshot's own
    /// entity, the start before any prediction.
    pub fn sent(
        &mut self,
        play: &dyn Behaviour,
        seq: u32,
        input: Vec<Value>,
        own: Option<Vec<Value>>,
    ) {
        if self.off {
            return;
        }
        let Some(base) = self.now.take().or(own) else {
            return;
        };
        let Some(next) = play.predict(&base, &input, self.dt) else {
            self.off = true;
            return;
        };
        if self.unapplied.len() == MAX_UNAPPLIED {
            self.unapplied.pop_front();
        }
        self.now = Some(next.clone());
        self.unapplied.push_back((seq, input, next));
    }

    /// A snapshot applied inputs through `input_seq` and shows the own entity as `own`
    /// (field-id order, of the type `own_type` of `schema`): measures the error of the
    /// prediction for that input, then predicts again from `own` through the inputs after it.
    pub fn reconcile(
        &mut self,
        play: &dyn Behaviour,
        schema: &Descriptor,
        own_type: u16,
        input_seq: u32,
        own: Vec<Value>,
    ) {
        if self.off || input_seq <= self.applied {
            return;
        }
        self.applied = input_seq;
        let position = self
            .position
            .get_or_insert_with(|| position_fields(schema, own_type));
        while let Some((seq, _, predicted)) = self.unapplied.front() {
            if *seq > input_seq {
                break;
            }
            if *seq == input_seq {
                let error = distance(position, predicted, &own);
                self.stats.reconciled += 1;
                if error > CORRECTION_EPSILON {
                    self.stats.corrections += 1;
                }
                let _ = self
                    .stats
                    .errors
                    .record(((error * ERROR_SCALE) as u64).max(1));
            }
            self.unapplied.pop_front();
        }
        let mut state = own;
        for (_, input, predicted) in &mut self.unapplied {
            let Some(next) = play.predict(&state, input, self.dt) else {
                self.off = true;
                return;
            };
            predicted.clone_from(&next);
            state = next;
        }
        self.now = Some(state);
    }
}

/// The fields an error is measured over: the type's `Fixed` fields drawn `Linear` (its
/// position), or all its `Fixed` fields if none is.
fn position_fields(schema: &Descriptor, ty: u16) -> Vec<usize> {
    let Some(t) = schema.types.get(usize::from(ty)) else {
        return Vec::new();
    };
    let fixed = |f: &&protocol::FieldDesc| matches!(f.coding, Coding::Fixed { .. });
    let linear: Vec<usize> = t
        .fields
        .iter()
        .filter(fixed)
        .filter(|f| f.interp == Interp::Linear)
        .map(|f| usize::from(f.id))
        .collect();
    if linear.is_empty() {
        t.fields
            .iter()
            .filter(fixed)
            .map(|f| usize::from(f.id))
            .collect()
    } else {
        linear
    }
}

fn distance(fields: &[usize], a: &[Value], b: &[Value]) -> f64 {
    let at = |v: &[Value], i: usize| v.get(i).map_or(0.0, Value::as_f64);
    fields
        .iter()
        .map(|&i| (at(a, i) - at(b, i)).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::GameView;
    use protocol::{FieldDesc, TypeDesc, schema::number};

    /// Moves `x` by the input each tick (a unit a second per unit of input).
    struct Mover;

    impl Behaviour for Mover {
        fn input(&mut self, _view: &GameView<'_>) -> Vec<Value> {
            Vec::new()
        }
        fn predict(&self, own: &[Value], input: &[Value], dt: f32) -> Option<Vec<Value>> {
            let x = own[0].as_f64() + input[0].as_f64() * f64::from(dt);
            Some(vec![Value::Num(x)])
        }
    }

    fn schema() -> Descriptor {
        let mut x = FieldDesc::new(
            "x",
            Coding::Fixed {
                scale: 1000,
                min: -1000,
                max: 1000,
                tolerance: 0,
            },
        );
        x.interp = Interp::Linear;
        Descriptor {
            game: "t".into(),
            types: vec![TypeDesc {
                id: 0,
                name: "m".into(),
                fields: number(vec![x]),
            }],
            room_type: None,
            input: vec![],
            actions: vec![],
            events: vec![],
            params: vec![],
        }
    }

    #[test]
    fn a_server_that_agrees_costs_no_correction_and_one_that_does_not_is_counted() {
        let d = schema();
        let mut p = Prediction::new(10);
        let at = |x: f64| vec![Value::Num(x)];
        // Three inputs of +1 at 10 Hz: 0.1 each.
        for seq in 1..=3 {
            p.sent(&Mover, seq, at(1.0), Some(at(0.0)));
        }
        assert!((p.now().unwrap()[0].as_f64() - 0.3).abs() < 1e-6);
        // The server applied input 1 and agrees.
        p.reconcile(&Mover, &d, 0, 1, at(0.1));
        assert_eq!((p.stats.reconciled, p.stats.corrections), (1, 0));
        // It applied input 2 but shows 0.5 (something pushed us): a correction of 0.3, and the
        // present is replayed from there.
        p.reconcile(&Mover, &d, 0, 2, at(0.5));
        assert_eq!((p.stats.reconciled, p.stats.corrections), (2, 1));
        assert!((p.now().unwrap()[0].as_f64() - 0.6).abs() < 1e-6);
        assert!((p.stats.error(1.0).unwrap() - 0.3).abs() < 0.01);
        // An older or repeated seq changes nothing.
        p.reconcile(&Mover, &d, 0, 2, at(9.0));
        assert_eq!(p.stats.reconciled, 2);
    }

    #[test]
    fn a_behaviour_that_does_not_predict_turns_it_off() {
        struct Still;
        impl Behaviour for Still {
            fn input(&mut self, _view: &GameView<'_>) -> Vec<Value> {
                Vec::new()
            }
        }
        let mut p = Prediction::new(60);
        p.sent(&Still, 1, vec![], Some(vec![Value::Num(0.0)]));
        assert!(p.now().is_none());
        p.reconcile(&Still, &schema(), 0, 1, vec![Value::Num(0.0)]);
        assert_eq!(p.stats.reconciled, 0);
    }
}
