//! Skirmish's bot: it hunts the other team's tanks. Fields are found by name through the
//! schema the server sends, so a declaration it does not fit falls back to random inputs.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync::bots::behaviour::{Behaviour, GameView, defaults, numeric_input, random_heading};
use ticksync::bots::client::read;
use ticksync::protocol::state::EntityRef;
use ticksync::protocol::{Coding, Descriptor, FieldDesc, Value, schema};

/// Where `stop_at` leaves a tank from its target: close enough to hit, not ramming it.
pub const STOP_AT: f64 = 150.0;

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
/// towards it until `STOP_AT` away, aim the turret at it and fire while there is
/// ammo. With nobody to fight, wander.
pub struct Hunter {
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

impl Hunter {
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
        let (move_x, move_y) = if dist > STOP_AT {
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

impl Behaviour for Hunter {
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
    use ticksync::bots::behaviour::Behaviours;
    use ticksync::protocol::{EntityId, Plan, StateTable};

    /// Skirmish's own declaration; `hide` renames the tank field of that name, so the bot no
    /// longer finds it.
    fn skirmish(hide: &str) -> Descriptor {
        let sim = ticksync::Sim::build(crate::NAME, 60, |_| crate::Skirmish::new(1)).unwrap();
        let mut d = (**ticksync::game::RoomGame::descriptor(&sim)).clone();
        for f in d.types.iter_mut().flat_map(|t| t.fields.iter_mut()) {
            if f.name == hide {
                f.name = format!("{hide}_hidden");
            }
        }
        d
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
            drawn: None,
            predicted: None,
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
        let mut bot = Hunter::new(&d, 1).unwrap();
        let o = bot.orders(&view(&d, &plan, &t)).unwrap();
        assert!(close(o.move_x, 0.0) && close(o.move_y, 1.0), "{o:?}");
        assert!(close(o.aim, std::f64::consts::FRAC_PI_2), "{o:?}");
        assert!(o.fire);
        let values = bot.input(&view(&d, &plan, &t));
        assert_eq!(values[3], Value::Int(1));
        // The values code for the schema's inputs.
        let mut coded = Vec::new();
        schema::encode_values(&d.input, &values, &mut coded);
        assert_eq!(
            schema::decode_values(&d.input, &coded).unwrap().len(),
            d.input.len()
        );
    }

    #[test]
    fn skirmish_stops_short_and_holds_fire_without_ammo() {
        let d = skirmish("");
        let plan = Plan::new(&d);
        let t = tanks(
            &d,
            &[(1, 1000.0, 1000.0, 100, 1, 0), (7, 900.0, 1000.0, 10, 0, 3)],
        );
        let o = Hunter::new(&d, 1)
            .unwrap()
            .orders(&view(&d, &plan, &t))
            .unwrap();
        assert_eq!((o.move_x, o.move_y, o.fire), (0.0, 0.0, false));
        assert!(close(o.aim, std::f64::consts::PI), "{o:?}");
        // Nobody to fight: it wanders, and never fires.
        let alone = tanks(&d, &[(1, 1000.0, 1000.0, 100, 1, 9)]);
        let o = Hunter::new(&d, 1)
            .unwrap()
            .orders(&view(&d, &plan, &alone))
            .unwrap();
        assert!(!o.fire);
        // A dead bot does nothing.
        let dead = tanks(&d, &[(1, 1000.0, 1000.0, 0, 1, 9), (7, 0.0, 0.0, 9, 0, 0)]);
        let mut bot = Hunter::new(&d, 1).unwrap();
        assert_eq!(bot.orders(&view(&d, &plan, &dead)), None);
        assert_eq!(bot.input(&view(&d, &plan, &dead))[3], Value::Int(0));
    }

    #[test]
    fn the_declaration_gets_the_hunter_and_one_without_ammo_random_inputs() {
        let mut b = Behaviours::default();
        b.register(crate::NAME, Hunter::new);
        assert_eq!(b.for_game(crate::NAME, &skirmish(""), 1).name(), "skirmish");
        assert_eq!(
            b.for_game(crate::NAME, &skirmish("ammo"), 1).name(),
            "random_inputs"
        );
    }
}
