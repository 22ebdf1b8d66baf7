//! What a bot does each tick, for any game: a `Behaviour` turns what the client sees (a
//! `GameView`) into the game's input values. `for_game` picks one by the game's name
//! (`Welcome.game`): `arena` walks at random, `skirmish` hunts the other team's tanks, and any
//! other game gets `RandomInputs`, valid random values drawn from its input schema. Fields are
//! always found by name through the schema; a game whose schema lacks a field a behaviour
//! needs falls back to `RandomInputs`.

use std::f64::consts::TAU;

use protocol::declare::Fields;
use protocol::state::EntityRef;
use protocol::{Coding, Descriptor, EntityId, FieldDesc, Plan, StateTable, Value, schema};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::client::read;

/// Everything a behaviour may look at.
#[derive(Clone, Copy, Debug)]
pub struct GameView<'a> {
    pub schema: &'a Descriptor,
    pub plan: &'a Plan,
    /// The newest applied tick and its table (`None` before the first snapshot).
    pub latest: Option<(u32, &'a StateTable)>,
    /// The entity this client steers.
    pub player: EntityId,
    /// Ticks (and inputs) per second.
    pub tick_rate: u16,
}

impl GameView<'_> {
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
    fn per_second(&self) -> f64 {
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
}

/// The behaviour for `game` (its `Welcome.game`), seeded: the same seed plays the same way.
pub fn for_game(game: &str, schema: &Descriptor, seed: u64) -> Box<dyn Behaviour> {
    let chosen: Option<Box<dyn Behaviour>> = match game {
        "arena" => RandomWalk::new(schema, seed).map(|b| Box::new(b) as Box<dyn Behaviour>),
        "skirmish" => Skirmish::new(schema, seed).map(|b| Box::new(b) as Box<dyn Behaviour>),
        _ => None,
    };
    chosen.unwrap_or_else(|| Box::new(RandomInputs::new(seed)))
}

/// Each input field's default value (see `read::default_value`).
fn defaults(fields: &[FieldDesc]) -> Vec<Value> {
    fields.iter().map(read::default_value).collect()
}

/// The position of a numeric input field called `name`.
fn numeric_input(schema: &Descriptor, name: &str) -> Option<usize> {
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

// ---- arena ---------------------------------------------------------------------------------

/// A heading that changes about once a second, and a pause now and then: input fields
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
fn random_heading(rng: &mut SmallRng) -> (f64, f64) {
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

// ---- skirmish ------------------------------------------------------------------------------

/// Where `stop_at` leaves a tank from its target: close enough to hit, not ramming it.
pub const SKIRMISH_STOP_AT: f64 = 150.0;

/// A numeric field of the tank type: its cell and coding.
#[derive(Clone, Debug)]
struct Cell {
    at: usize,
    coding: Coding,
}

impl Cell {
    fn find(fields: &[FieldDesc], name: &str) -> Option<Cell> {
        let f = read::find_field(fields, name).filter(|f| !f.coding.is_str())?;
        Some(Cell {
            at: usize::from(f.id),
            coding: f.coding.clone(),
        })
    }

    fn raw(&self, e: &EntityRef<'_>) -> i32 {
        e.values.get(self.at).copied().unwrap_or(0)
    }

    fn num(&self, e: &EntityRef<'_>) -> f64 {
        schema::dequantize(&self.coding, self.raw(e)).as_f64()
    }
}

/// Tanks: seek the nearest living tank of another team (`health > 0`, `team` differs), drive
/// towards it until `SKIRMISH_STOP_AT` away, aim the turret at it and fire while there is
/// ammo. With nobody to fight, wander.
pub struct Skirmish {
    tank: u16,
    pos_x: Cell,
    pos_y: Cell,
    health: Cell,
    team: Cell,
    ammo: Cell,
    move_x: usize,
    move_y: usize,
    aim: usize,
    fire: usize,
    wander: RandomWalkState,
    last_aim: f64,
}

/// The random walk without its input fields (for wandering).
struct RandomWalkState {
    rng: SmallRng,
    dir: (f64, f64),
}

/// What a skirmish bot decided for one tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Orders {
    pub move_x: f64,
    pub move_y: f64,
    /// Radians.
    pub aim: f64,
    pub fire: bool,
}

impl Skirmish {
    /// `None` when the schema lacks the `tank` type, one of its fields `pos.x`, `pos.y`,
    /// `health`, `team`, `ammo`, or one of the inputs `move_x`, `move_y`, `aim`, `fire`.
    pub fn new(schema: &Descriptor, seed: u64) -> Option<Self> {
        let tank = read::find_type(schema, "tank")?;
        let f = &tank.fields;
        let mut rng = SmallRng::seed_from_u64(seed);
        let dir = random_heading(&mut rng);
        Some(Self {
            tank: tank.id,
            pos_x: Cell::find(f, "pos.x")?,
            pos_y: Cell::find(f, "pos.y")?,
            health: Cell::find(f, "health")?,
            team: Cell::find(f, "team")?,
            ammo: Cell::find(f, "ammo")?,
            move_x: numeric_input(schema, "move_x")?,
            move_y: numeric_input(schema, "move_y")?,
            aim: numeric_input(schema, "aim")?,
            fire: numeric_input(schema, "fire")?,
            wander: RandomWalkState { rng, dir },
            last_aim: 0.0,
        })
    }

    /// This tick's orders; `None` when this bot has no living tank.
    pub fn orders(&mut self, view: &GameView<'_>) -> Option<Orders> {
        let table = view.table()?;
        let own = table.get(view.player).filter(|e| e.ty == self.tank)?;
        if self.health.raw(&own) <= 0 {
            return None;
        }
        let (x, y) = (self.pos_x.num(&own), self.pos_y.num(&own));
        let team = self.team.raw(&own);
        let mut nearest: Option<(f64, f64, f64)> = None;
        for e in table.iter() {
            if e.ty != self.tank
                || e.id == own.id
                || self.health.raw(&e) <= 0
                || self.team.raw(&e) == team
            {
                continue;
            }
            let (dx, dy) = (self.pos_x.num(&e) - x, self.pos_y.num(&e) - y);
            let d2 = dx * dx + dy * dy;
            if nearest.is_none_or(|(best, _, _)| d2 < best) {
                nearest = Some((d2, dx, dy));
            }
        }
        let Some((d2, dx, dy)) = nearest else {
            if self.wander.rng.random_bool(view.per_second()) {
                self.wander.dir = random_heading(&mut self.wander.rng);
            }
            return Some(Orders {
                move_x: self.wander.dir.0,
                move_y: self.wander.dir.1,
                aim: self.last_aim,
                fire: false,
            });
        };
        let dist = d2.sqrt();
        let (move_x, move_y) = if dist > SKIRMISH_STOP_AT {
            (dx / dist, dy / dist)
        } else {
            (0.0, 0.0)
        };
        self.last_aim = dy.atan2(dx);
        Some(Orders {
            move_x,
            move_y,
            aim: self.last_aim,
            fire: self.ammo.raw(&own) > 0,
        })
    }
}

impl Behaviour for Skirmish {
    fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
        let mut values = defaults(&view.schema.input);
        let o = self.orders(view).unwrap_or(Orders {
            move_x: 0.0,
            move_y: 0.0,
            aim: self.last_aim,
            fire: false,
        });
        values[self.move_x] = Value::Num(o.move_x);
        values[self.move_y] = Value::Num(o.move_y);
        values[self.aim] = Value::Num(o.aim);
        values[self.fire] = Value::Int(i64::from(o.fire));
        values
    }

    fn name(&self) -> &'static str {
        "skirmish"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::schema::{Predictor, TypeDesc, Visibility, number};

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

    /// Skirmish as the brief describes it; `drop` leaves out the tank field of that name.
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

    /// Tanks as (index, x, y, health, team, ammo); index 1 is the bot's.
    fn tanks(d: &Descriptor, list: &[(u32, f64, f64, i32, i32, i32)]) -> StateTable {
        let plan = Plan::new(d);
        let mut t = plan.new_table();
        let f = &d.types[0].fields;
        for &(index, x, y, health, team, ammo) in list {
            let cells = t.insert(EntityId { index, version: 1 }, 0).unwrap();
            for (name, v) in [
                ("pos.x", Value::Num(x)),
                ("pos.y", Value::Num(y)),
                ("health", Value::Int(i64::from(health))),
                ("team", Value::Int(i64::from(team))),
                ("ammo", Value::Int(i64::from(ammo))),
            ] {
                if let Some(f) = read::find_field(f, name) {
                    cells[usize::from(f.id)] = schema::quantize(&f.coding, &v);
                }
            }
        }
        t
    }

    fn view<'a>(d: &'a Descriptor, plan: &'a Plan, t: &'a StateTable) -> GameView<'a> {
        GameView {
            schema: d,
            plan,
            latest: Some((10, t)),
            player: ME,
            tick_rate: 60,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn skirmish_hunts_the_nearest_living_enemy() {
        let d = skirmish("");
        let plan = Plan::new(&d);
        let t = tanks(
            &d,
            &[
                (1, 1000.0, 1000.0, 100, 0, 5),
                // A teammate and a dead enemy, both nearer than the live enemy.
                (2, 1010.0, 1000.0, 100, 0, 5),
                (3, 990.0, 1000.0, 0, 1, 5),
                (4, 1000.0, 1400.0, 50, 1, 5),
                (5, 1000.0, 2000.0, 50, 1, 5),
            ],
        );
        let mut bot = Skirmish::new(&d, 1).unwrap();
        let o = bot.orders(&view(&d, &plan, &t)).unwrap();
        assert!(close(o.move_x, 0.0) && close(o.move_y, 1.0), "{o:?}");
        assert!(close(o.aim, std::f64::consts::FRAC_PI_2), "{o:?}");
        assert!(o.fire);
        let values = bot.input(&view(&d, &plan, &t));
        assert_eq!(values[3], Value::Int(1));
        // The values code for the schema's inputs.
        let mut coded = Vec::new();
        schema::encode_values(&d.input, &values, &mut coded);
        assert_eq!(schema::decode_values(&d.input, &coded).unwrap().len(), 4);
    }

    #[test]
    fn skirmish_stops_short_and_holds_fire_without_ammo() {
        let d = skirmish("");
        let plan = Plan::new(&d);
        let t = tanks(
            &d,
            &[(1, 1000.0, 1000.0, 100, 1, 0), (7, 900.0, 1000.0, 10, 0, 3)],
        );
        let o = Skirmish::new(&d, 1)
            .unwrap()
            .orders(&view(&d, &plan, &t))
            .unwrap();
        assert_eq!((o.move_x, o.move_y, o.fire), (0.0, 0.0, false));
        assert!(close(o.aim, std::f64::consts::PI), "{o:?}");
        // Nobody to fight: it wanders, and never fires.
        let alone = tanks(&d, &[(1, 1000.0, 1000.0, 100, 1, 9)]);
        let o = Skirmish::new(&d, 1)
            .unwrap()
            .orders(&view(&d, &plan, &alone))
            .unwrap();
        assert!(!o.fire);
        // A dead bot does nothing.
        let dead = tanks(&d, &[(1, 1000.0, 1000.0, 0, 1, 9), (7, 0.0, 0.0, 9, 0, 0)]);
        let mut bot = Skirmish::new(&d, 1).unwrap();
        assert_eq!(bot.orders(&view(&d, &plan, &dead)), None);
        assert_eq!(bot.input(&view(&d, &plan, &dead))[3], Value::Int(0));
    }

    #[test]
    fn games_pick_their_behaviour_and_fall_back_to_random_inputs() {
        let d = skirmish("");
        assert_eq!(for_game("skirmish", &d, 1).name(), "skirmish");
        assert_eq!(
            for_game("skirmish", &skirmish("ammo"), 1).name(),
            "random_inputs"
        );
        assert_eq!(for_game("arena", &d, 1).name(), "random_walk");
        assert_eq!(for_game("chess", &d, 1).name(), "random_inputs");
        let mut no_move = d.clone();
        no_move.input.remove(0);
        assert_eq!(for_game("arena", &no_move, 1).name(), "random_inputs");
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
