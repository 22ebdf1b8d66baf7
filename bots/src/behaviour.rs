//! What a bot does each tick, for any game: a [`Behaviour`] turns what the client sees (a
//! [`GameView`]) into the game's input values. A game brings its own behaviour by registering
//! a maker in [`Behaviours`] under its name (`Welcome.game`); a game with none, or whose maker
//! declines the schema it was sent, gets [`RandomInputs`]: valid random values drawn from its
//! input declaration. [`RandomWalk`] is a ready-made behaviour for any game with `move_x` and
//! `move_y` inputs. Fields are always found by name through the schema.
//!
//! ```
//! use bots::behaviour::{Behaviour, Behaviours, GameView, RandomWalk, defaults};
//! use protocol::{Descriptor, Value};
//!
//! /// Holds the first input field at its highest value.
//! struct Eager;
//!
//! impl Behaviour for Eager {
//!     fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
//!         let mut values = defaults(&view.schema.input);
//!         if let Some(v) = values.first_mut() {
//!             *v = Value::Num(1.0);
//!         }
//!         values
//!     }
//! }
//!
//! let mut behaviours = Behaviours::default();
//! behaviours.register("walkers", RandomWalk::new);
//! behaviours.register("eager", |_schema: &Descriptor, _seed| Some(Eager));
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use std::f64::consts::TAU;

use protocol::declare::Fields;
use protocol::state::EntityRef;
use protocol::{Coding, Descriptor, EntityId, FieldDesc, Plan, StateTable, Value};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::client::{Client, Drawn, read};

/// Everything a behaviour may look at ([`GameView::of`] a client).
#[derive(Clone, Copy, Debug)]
pub struct GameView<'a> {
    /// The game's schema from `Welcome`: input fields, entity types and their fields, by name.
    pub schema: &'a Descriptor,
    /// The schema compiled, for reading a table's entities by type and field id.
    pub plan: &'a Plan,
    /// The newest applied tick and its table (`None` before the first snapshot).
    pub latest: Option<(u32, &'a StateTable)>,
    /// The entity this client steers.
    pub player: EntityId,
    /// Ticks (and inputs) per second.
    pub tick_rate: u16,
    /// What the client draws of other entities: a few ticks in the past, interpolated, as a
    /// player sees them (`None` before the first snapshot). Aim at this, as a player would:
    /// the server judges hits on the same moment (lag compensation).
    pub drawn: Option<Drawn<'a>>,
    /// The own entity's fields as predicted now, with every input sent so far applied
    /// ([`Behaviour::predict`]); `None` for a behaviour that does not predict.
    pub predicted: Option<&'a [Value]>,
}

impl<'a> GameView<'a> {
    /// What `client` shows a behaviour now: its schema, its newest table, its player.
    pub fn of(client: &'a Client) -> Self {
        GameView {
            schema: client.schema(),
            plan: client.plan(),
            latest: client.latest(),
            player: client.player(),
            tick_rate: client.tick_rate(),
            drawn: client.drawn(),
            predicted: None,
        }
    }

    /// Entity `id` as the client draws it ([`GameView::drawn`]): every field, interpolated.
    pub fn drawn_values(&self, id: EntityId) -> Option<Vec<Value>> {
        self.drawn?.values(self.schema, id)
    }

    /// The field called `name` of entity `id` as the client draws it.
    pub fn drawn_field(&self, id: EntityId, name: &str) -> Option<Value> {
        let drawn = self.drawn?;
        let e = drawn.a.1.get(id)?;
        let f = read::find_field(&self.schema.types.get(usize::from(e.ty))?.fields, name)?;
        drawn
            .values(self.schema, id)?
            .into_iter()
            .nth(usize::from(f.id))
    }

    /// The newest table, if any.
    pub fn table(&self) -> Option<&StateTable> {
        self.latest.map(|(_, t)| t)
    }

    /// This client's own entity in the newest table.
    pub fn own(&self) -> Option<EntityRef<'_>> {
        self.table()?.get(self.player)
    }

    /// Every field of entity `id`, dequantised, in field-id order.
    pub fn values(&self, id: EntityId) -> Option<Vec<Value>> {
        read::entity_values(self.schema, self.table()?, id)
    }

    /// The field called `name` of entity `id`.
    pub fn field(&self, id: EntityId, name: &str) -> Option<Value> {
        read::field_value(self.schema, self.table()?, id, name)
    }

    /// Entity `id` read as `T`.
    pub fn entity_as<T: Fields>(&self, id: EntityId) -> Option<T> {
        read::entity_as(self.schema, self.table()?, id)
    }

    /// The chance per tick of something that should happen about once a second.
    pub fn per_second(&self) -> f64 {
        1.0 / f64::from(self.tick_rate.max(1))
    }
}

/// A bot's play: one input per tick.
pub trait Behaviour: Send {
    /// The values of this tick's input, one per `view.schema.input` field in field-id order.
    fn input(&mut self, view: &GameView<'_>) -> Vec<Value>;

    /// A short name for logs.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// A game event arrived (`id` indexes `view.schema.events`; values in field-id order).
    fn event(&mut self, _view: &GameView<'_>, _id: u16, _values: &[Value]) {}

    /// What this behaviour counted, by name (shots, hits...): the report sums them over all
    /// bots under `counters`.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Own-player prediction: the own entity's fields (`own`, field-id order) one tick later
    /// under `input` (this behaviour's input values), by the game's rules. `None`, the
    /// default: this behaviour does not predict. A bot that predicts reconciles with every
    /// snapshot (the server's state at the newest input it applied, then the inputs after it
    /// replayed), and the report gives its prediction errors and corrections.
    fn predict(&self, _own: &[Value], _input: &[Value], _dt: f32) -> Option<Vec<Value>> {
        None
    }
}

/// Makes a game's behaviour for one bot from the schema its server sent and a seed (the same
/// seed plays the same way); `None` when the schema lacks what the behaviour needs.
pub type MakeBehaviour = dyn Fn(&Descriptor, u64) -> Option<Box<dyn Behaviour>> + Send + Sync;

/// Each game's behaviour, by game name. Games without one play [`RandomInputs`].
#[derive(Clone, Default)]
pub struct Behaviours {
    map: BTreeMap<String, Arc<MakeBehaviour>>,
}

impl Behaviours {
    /// Bots in rooms of `game` play what `make` returns (or [`RandomInputs`] when it returns
    /// `None`). A second registration for the same game replaces the first.
    pub fn register<B: Behaviour + 'static>(
        &mut self,
        game: &str,
        make: impl Fn(&Descriptor, u64) -> Option<B> + Send + Sync + 'static,
    ) -> &mut Self {
        let make =
            move |d: &Descriptor, seed| make(d, seed).map(|b| Box::new(b) as Box<dyn Behaviour>);
        self.map.insert(game.to_owned(), Arc::new(make));
        self
    }

    /// The games with a behaviour of their own.
    pub fn games(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// The behaviour for `game` (its `Welcome.game`), seeded.
    pub fn for_game(&self, game: &str, schema: &Descriptor, seed: u64) -> Box<dyn Behaviour> {
        self.map
            .get(game)
            .and_then(|make| make(schema, seed))
            .unwrap_or_else(|| Box::new(RandomInputs::new(seed)))
    }
}

impl std::fmt::Debug for Behaviours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.games()).finish()
    }
}

/// Each input field's default value (see `read::default_value`): what a behaviour starts its
/// input from.
pub fn defaults(fields: &[FieldDesc]) -> Vec<Value> {
    fields.iter().map(read::default_value).collect()
}

/// The position of a numeric input field called `name`, if the schema has one.
pub fn numeric_input(schema: &Descriptor, name: &str) -> Option<usize> {
    read::find_field(&schema.input, name)
        .filter(|f| !f.coding.is_str())
        .map(|f| usize::from(f.id))
}

// ---- any game ------------------------------------------------------------------------------

/// Valid random values for any input schema, changed about once a second and held in between,
/// as a player holds keys.
pub struct RandomInputs {
    rng: SmallRng,
    values: Vec<Value>,
}

impl RandomInputs {
    /// Seeded: the same seed draws the same inputs.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            values: Vec::new(),
        }
    }
}

/// A value drawn uniformly from what `coding` can hold: a number within its range, an angle in
/// radians, a valid enum index, an empty or short ASCII string within its limit.
pub fn random_value(rng: &mut impl Rng, coding: &Coding) -> Value {
    match coding {
        Coding::Fixed {
            scale, min, max, ..
        } => {
            let (lo, hi) = (f64::from(*min), f64::from(*max));
            Value::Num(rng.random_range(lo..=hi) / f64::from(*scale))
        }
        Coding::Angle { .. } => Value::Num(rng.random_range(0.0..TAU)),
        Coding::Str { max_bytes } => {
            let len = match rng.random_bool(0.5) {
                true => 0,
                false => rng.random_range(0..=usize::from(*max_bytes).min(8)),
            };
            let text = (0..len)
                .map(|_| char::from(rng.random_range(b'a'..=b'z')))
                .collect();
            Value::Str(text)
        }
        other => {
            let (lo, hi) = other.range();
            Value::Int(rng.random_range(lo..=hi))
        }
    }
}

impl Behaviour for RandomInputs {
    fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
        let fields = &view.schema.input;
        if self.values.len() != fields.len() || self.rng.random_bool(view.per_second()) {
            self.values = fields
                .iter()
                .map(|f| random_value(&mut self.rng, &f.coding))
                .collect();
        }
        self.values.clone()
    }

    fn name(&self) -> &'static str {
        "random_inputs"
    }
}

// ---- walkers -------------------------------------------------------------------------------

/// Any game with `move_x` and `move_y` inputs (arena's bots): a heading that changes about once a second, and a pause now and then: input fields
/// `move_x`, `move_y` (-1..1); any other input field keeps its default.
pub struct RandomWalk {
    rng: SmallRng,
    dir: (f64, f64),
    move_x: usize,
    move_y: usize,
}

impl RandomWalk {
    /// `None` when the schema has no numeric `move_x` and `move_y` inputs.
    pub fn new(schema: &Descriptor, seed: u64) -> Option<Self> {
        let mut walk = Self {
            rng: SmallRng::seed_from_u64(seed),
            dir: (0.0, 0.0),
            move_x: numeric_input(schema, "move_x")?,
            move_y: numeric_input(schema, "move_y")?,
        };
        walk.turn();
        Some(walk)
    }

    fn turn(&mut self) {
        self.dir = random_heading(&mut self.rng);
    }

    /// The direction for the next tick.
    fn step(&mut self, per_second: f64) -> (f64, f64) {
        if self.rng.random_bool(per_second) {
            self.turn();
        }
        self.dir
    }
}

/// A unit vector in a random direction, or (one time in ten) standing still.
pub fn random_heading(rng: &mut SmallRng) -> (f64, f64) {
    if rng.random_bool(0.1) {
        (0.0, 0.0)
    } else {
        let a = rng.random_range(0.0..TAU);
        (a.cos(), a.sin())
    }
}

impl Behaviour for RandomWalk {
    fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
        let (dx, dy) = self.step(view.per_second());
        let mut values = defaults(&view.schema.input);
        values[self.move_x] = Value::Num(dx);
        values[self.move_y] = Value::Num(dy);
        values
    }

    fn name(&self) -> &'static str {
        "random_walk"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::schema::{self, Predictor, TypeDesc, Visibility, number};

    fn fixed(scale: u32, min: i32, max: i32) -> Coding {
        Coding::Fixed {
            scale,
            min,
            max,
            tolerance: 0,
        }
    }

    fn owner(mut f: FieldDesc) -> FieldDesc {
        f.visibility = Visibility::Owner;
        f
    }

    /// A tank game's declaration (skirmish's shape); `drop` leaves out the tank field of that name.
    fn skirmish(drop: &str) -> Descriptor {
        let mut px = FieldDesc::new("pos.x", fixed(16, 0, 64_000));
        px.predictor = Predictor::Velocity {
            field: 2,
            num: 0,
            den: 0,
        };
        let mut py = FieldDesc::new("pos.y", fixed(16, 0, 64_000));
        py.predictor = Predictor::Velocity {
            field: 3,
            num: 0,
            den: 0,
        };
        let fields: Vec<FieldDesc> = vec![
            px,
            py,
            FieldDesc::new("vel.x", fixed(16, -4800, 4800)),
            FieldDesc::new("vel.y", fixed(16, -4800, 4800)),
            FieldDesc::new("hull", Coding::Angle { bits: 12 }),
            FieldDesc::new("turret", Coding::Angle { bits: 12 }),
            FieldDesc::new("health", Coding::Int { min: 0, max: 100 }),
            FieldDesc::new(
                "team",
                Coding::Enum {
                    variants: vec!["red".into(), "blue".into()],
                },
            ),
            owner(FieldDesc::new("ammo", Coding::Int { min: 0, max: 20 })),
            owner(FieldDesc::new("reload", fixed(10, 0, 50))),
        ]
        .into_iter()
        .filter(|f| f.name != drop)
        .collect();
        Descriptor {
            game: "skirmish".into(),
            types: vec![TypeDesc {
                id: 0,
                name: "tank".into(),
                fields: number(fields),
            }],
            room_type: None,
            input: number(vec![
                FieldDesc::new("move_x", fixed(100, -100, 100)),
                FieldDesc::new("move_y", fixed(100, -100, 100)),
                FieldDesc::new("aim", Coding::Angle { bits: 16 }),
                FieldDesc::new("fire", Coding::Bool),
            ]),
            actions: vec![],
            events: vec![],
            params: vec![],
        }
        .resolve(60)
        .unwrap()
    }

    const ME: EntityId = EntityId {
        index: 1,
        version: 1,
    };

    fn view<'a>(d: &'a Descriptor, plan: &'a Plan, t: &'a StateTable) -> GameView<'a> {
        GameView {
            schema: d,
            plan,
            latest: Some((10, t)),
            player: ME,
            tick_rate: 60,
            drawn: None,
            predicted: None,
        }
    }

    #[test]
    fn games_pick_their_behaviour_and_fall_back_to_random_inputs() {
        let d = skirmish("");
        let mut b = Behaviours::default();
        b.register("walk", RandomWalk::new);
        assert_eq!(b.games().collect::<Vec<_>>(), ["walk"]);
        assert_eq!(b.for_game("walk", &d, 1).name(), "random_walk");
        assert_eq!(b.for_game("chess", &d, 1).name(), "random_inputs");
        let mut no_move = d.clone();
        no_move.input.remove(0);
        assert_eq!(b.for_game("walk", &no_move, 1).name(), "random_inputs");
    }

    fn every_coding() -> Descriptor {
        let mut d = skirmish("");
        d.input = number(vec![
            FieldDesc::new("f", fixed(100, -250, 50)),
            FieldDesc::new("a", Coding::Angle { bits: 10 }),
            FieldDesc::new("i", Coding::Int { min: -3, max: 3 }),
            FieldDesc::new("b", Coding::Bool),
            FieldDesc::new(
                "e",
                Coding::Enum {
                    variants: vec!["x".into(), "y".into(), "z".into()],
                },
            ),
            FieldDesc::new("s", Coding::Str { max_bytes: 3 }),
        ]);
        d
    }

    #[test]
    fn random_inputs_are_valid_and_held_about_a_second() {
        let d = every_coding();
        let plan = Plan::new(&d);
        let t = plan.new_table();
        let v = view(&d, &plan, &t);
        let (mut a, mut b) = (RandomInputs::new(3), RandomInputs::new(3));
        let mut prev = a.input(&v);
        assert_eq!(prev, b.input(&v));
        let mut changes = 0;
        for _ in 0..6000 {
            let values = a.input(&v);
            assert_eq!(values, b.input(&v), "seeded");
            let mut coded = Vec::new();
            schema::encode_values(&d.input, &values, &mut coded);
            let back = schema::decode_values(&d.input, &coded).unwrap();
            // Drawn within range: quantising changes nothing but the rounding (angles wrap).
            for (sent, got) in values.iter().zip(&back) {
                match (sent, got) {
                    (Value::Num(s), Value::Num(g)) => {
                        let d = (s - g).rem_euclid(TAU);
                        assert!(d.min(TAU - d) <= TAU / 1024.0, "{s} {g}");
                    }
                    (s, g) => assert_eq!(s, g),
                }
            }
            changes += usize::from(values != prev);
            prev = values;
        }
        // About one change a second at 60 Hz: 100 expected over 6000 ticks.
        assert!((50..200).contains(&changes), "{changes}");
    }

    #[test]
    fn random_walk_is_seeded_and_in_range() {
        let d = skirmish("");
        let plan = Plan::new(&d);
        let t = plan.new_table();
        let v = view(&d, &plan, &t);
        let (mut a, mut b) = (
            RandomWalk::new(&d, 7).unwrap(),
            RandomWalk::new(&d, 7).unwrap(),
        );
        let mut turns = 0;
        let mut prev = a.input(&v);
        assert_eq!(prev, b.input(&v));
        for _ in 0..6000 {
            let values = a.input(&v);
            assert_eq!(values, b.input(&v));
            let (x, y) = (values[0].as_f64(), values[1].as_f64());
            assert!((-1.0..=1.0).contains(&x) && (-1.0..=1.0).contains(&y));
            // The other inputs keep their defaults.
            assert_eq!(&values[2..], &[Value::Num(0.0), Value::Int(0)]);
            turns += usize::from(values != prev);
            prev = values;
        }
        assert!((50..200).contains(&turns), "{turns}");
    }
}
