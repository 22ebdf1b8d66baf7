//! Skirmish's bot: it hunts the other team's tanks. Fields are found by name through the
//! schema the server sends, so a declaration it does not fit falls back to random inputs.
//!
//! It plays as a player would over a real network: it aims at where it *draws* its target
//! (interpolated, a few ticks in the past: `GameView::drawn`), from where it *predicts* its own
//! tank to be (by the server's own rules, [`crate::drive`]), and fires the hitscan beam, which
//! the server judges on the moment it drew (lag compensation). It counts its beams and their
//! hits (`hitscan_shots`, `hitscan_hits` in the bot report).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync::bots::behaviour::{Behaviour, GameView, defaults, numeric_input, random_heading};
use ticksync::bots::client::read;
use ticksync::protocol::declare::{Fields, Replicate, Writer};
use ticksync::protocol::state::EntityRef;
use ticksync::protocol::{Coding, Descriptor, EntityId, FieldDesc, Value, schema};

use crate::{Tank, controls, drive};

/// Where a tank stops closing in on its target and circles it instead: close enough to hit,
/// not ramming it.
pub const STOP_AT: f64 = 150.0;
/// In a firefight, the part of its speed a tank spends closing in (the rest goes sideways).
const CLOSING: f64 = 0.3;
/// The beam's reach when the schema does not say (`beam_range`).
const BEAM_RANGE: f64 = 900.0;

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
/// towards it until `STOP_AT` away, then circle it (strafing, turning back now and then), aim
/// at it and fire shells while there is ammo and the beam while it is in range. With nobody to
/// fight, wander.
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
    /// The `beam` input, if the game has one.
    beam: Option<usize>,
    beam_range: f64,
    /// The `beam` event's id and its `shooter` and `hit` fields, to count this bot's beams.
    beam_event: Option<(u16, usize, usize)>,
    wander: RandomWalkState,
    last_aim: f64,
    /// Which way it circles its target (1 or -1).
    side: f64,
    shots: u64,
    hits: u64,
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
    pub beam: bool,
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
            beam: numeric_input(schema, "beam"),
            beam_range: schema
                .params
                .iter()
                .find(|p| p.name == "beam_range")
                .map_or(BEAM_RANGE, |p| p.value),
            beam_event: beam_event(schema),
            wander: RandomWalkState { rng, dir },
            last_aim: 0.0,
            side: 1.0,
            shots: 0,
            hits: 0,
        })
    }

    /// Where this bot's tank is now: predicted when it predicts, else the newest snapshot's.
    fn own_position(&self, view: &GameView<'_>, own: &EntityRef<'_>) -> (f64, f64) {
        match view.predicted {
            Some(p) => (
                p.get(self.pos_x.at).map_or(0.0, Value::as_f64),
                p.get(self.pos_y.at).map_or(0.0, Value::as_f64),
            ),
            None => (self.pos_x.num(own), self.pos_y.num(own)),
        }
    }

    /// Where the bot draws entity `id` (`None` when it draws nothing of it yet); without a
    /// drawn moment (a view made by hand), where the newest snapshot has it.
    fn drawn_position(&self, view: &GameView<'_>, id: EntityId) -> Option<(f64, f64)> {
        if view.drawn.is_none() {
            let e = view.table()?.get(id)?;
            return Some((self.pos_x.num(&e), self.pos_y.num(&e)));
        }
        let v = view.drawn_values(id)?;
        Some((
            v.get(self.pos_x.at)?.as_f64(),
            v.get(self.pos_y.at)?.as_f64(),
        ))
    }

    /// This tick's orders; `None` when this bot has no living tank.
    pub fn orders(&mut self, view: &GameView<'_>) -> Option<Orders> {
        let table = view.table()?;
        let own = table.get(view.player).filter(|e| e.ty == self.tank)?;
        if self.health.raw(&own) <= 0 {
            return None;
        }
        let (x, y) = self.own_position(view, &own);
        let team = self.team.raw(&own);
        let mut nearest: Option<(f64, EntityId)> = None;
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
            if nearest.is_none_or(|(best, _)| d2 < best) {
                nearest = Some((d2, e.id));
            }
        }
        // Aimed where it is drawn, as a player aims: that is the moment the server judges.
        let target = nearest.and_then(|(_, id)| self.drawn_position(view, id));
        let Some((tx, ty)) = target else {
            if self.wander.rng.random_bool(view.per_second()) {
                self.wander.dir = random_heading(&mut self.wander.rng);
            }
            return Some(Orders {
                move_x: self.wander.dir.0,
                move_y: self.wander.dir.1,
                aim: self.last_aim,
                fire: false,
                beam: false,
            });
        };
        let (dx, dy) = (tx - x, ty - y);
        let dist = dx.hypot(dy).max(1e-9);
        let (ux, uy) = (dx / dist, dy / dist);
        let (move_x, move_y) = if dist > self.beam_range.max(STOP_AT) {
            (ux, uy)
        } else {
            // In a firefight: mostly sideways (a target that moves across its shooter's aim, as
            // players do), closing in slowly down to `STOP_AT`, turning back about every two
            // seconds.
            if self.wander.rng.random_bool(view.per_second() / 2.0) {
                self.side = -self.side;
            }
            let closing = if dist > STOP_AT { CLOSING } else { 0.0 };
            let across = (1.0 - closing * closing).sqrt() * self.side;
            (ux * closing - uy * across, uy * closing + ux * across)
        };
        self.last_aim = dy.atan2(dx);
        Some(Orders {
            move_x,
            move_y,
            aim: self.last_aim,
            fire: self.ammo.raw(&own) > 0,
            beam: self.beam.is_some() && dist <= self.beam_range,
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
            beam: false,
        });
        values[self.move_x] = Value::Num(o.move_x);
        values[self.move_y] = Value::Num(o.move_y);
        values[self.aim] = Value::Num(o.aim);
        values[self.fire] = Value::Int(i64::from(o.fire));
        if let Some(beam) = self.beam {
            values[beam] = Value::Int(i64::from(o.beam));
        }
        values
    }

    fn name(&self) -> &'static str {
        "skirmish"
    }

    fn event(&mut self, view: &GameView<'_>, id: u16, values: &[Value]) {
        let Some((beam, shooter, hit)) = self.beam_event else {
            return;
        };
        let mine = values.get(shooter).map(Value::as_f64) == Some(f64::from(view.player.index));
        if id == beam && mine {
            self.shots += 1;
            if values.get(hit).map(Value::as_f64) == Some(1.0) {
                self.hits += 1;
            }
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        match self.beam_event {
            Some(_) => vec![("hitscan_shots", self.shots), ("hitscan_hits", self.hits)],
            None => Vec::new(),
        }
    }

    fn predict(&self, own: &[Value], input: &[Value], dt: f32) -> Option<Vec<Value>> {
        let mut tank = <Tank as Replicate>::read(0, own)?;
        if tank.health == 0 {
            return Some(own.to_vec());
        }
        tank.wants = controls(&crate::Input::read(input));
        drive(&mut tank, dt);
        let mut w = Writer::default();
        Replicate::write(&tank, &mut w);
        Some(w.values())
    }
}

/// The `beam` event's id and the positions of its `shooter` and `hit` fields.
fn beam_event(schema: &Descriptor) -> Option<(u16, usize, usize)> {
    let e = schema.events.iter().find(|e| e.name == "beam")?;
    let field = |name| read::find_field(&e.fields, name).map(|f| usize::from(f.id));
    Some((e.id, field("shooter")?, field("hit")?))
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
        // In beam range (400): mostly sideways, closing in at `CLOSING`.
        assert!(close(o.move_y, CLOSING), "{o:?}");
        assert!(
            close(o.move_x.abs(), (1.0 - CLOSING * CLOSING).sqrt()),
            "{o:?}"
        );
        assert!(close(o.aim, std::f64::consts::FRAC_PI_2), "{o:?}");
        assert!(o.fire && o.beam);
        // Out of beam range: straight at it, beam off.
        let far = tanks(
            &d,
            &[(1, 100.0, 100.0, 100, 0, 5), (4, 1500.0, 100.0, 50, 1, 5)],
        );
        let o = Hunter::new(&d, 1)
            .unwrap()
            .orders(&view(&d, &plan, &far))
            .unwrap();
        assert!(close(o.move_x, 1.0) && close(o.move_y, 0.0), "{o:?}");
        assert!(o.fire && !o.beam, "{o:?}");
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
    fn skirmish_circles_its_target_and_holds_shells_without_ammo() {
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
        // Within reach it circles its target (sideways to it), and fires the beam.
        assert!(close(o.move_x, 0.0) && close(o.move_y.abs(), 1.0), "{o:?}");
        assert!(!o.fire && o.beam, "{o:?}");
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
    fn it_predicts_its_tank_by_the_servers_step_and_counts_its_own_beams() {
        let d = skirmish("");
        let mut sim = ticksync::Sim::build(crate::NAME, 60, |_| crate::Skirmish::new(1)).unwrap();
        let me = sim.join("me");
        let input = crate::Input {
            move_x: 0.6,
            move_y: -0.8,
            aim: 1.0,
            fire: false,
            beam: false,
        };
        let own = |sim: &ticksync::Sim<crate::Skirmish>| {
            let mut w = Writer::default();
            let crate::Thing::Tank(t) = &sim.world[me] else {
                panic!("a tank")
            };
            Replicate::write(t, &mut w);
            w.values()
        };
        let before = own(&sim);
        sim.input(me, input);
        sim.step(1.0 / 60.0);
        let mut w = Writer::default();
        input.write(&mut w);
        let bot = Hunter::new(&d, 1).unwrap();
        let predicted = bot.predict(&before, &w.values(), 1.0 / 60.0).unwrap();
        assert_eq!(predicted, own(&sim), "the same step, the same tank");

        // Beams: its own (shooter = its index) counted, with their hits; others' not.
        let mut bot = Hunter::new(&d, 1).unwrap();
        let plan = Plan::new(&d);
        let t = tanks(&d, &[(1, 1000.0, 1000.0, 100, 0, 5)]);
        let (id, shooter, hit) = beam_event(&d).unwrap();
        let beam = |who: u32, hits: bool| {
            let mut v = vec![Value::Num(0.0); d.events[usize::from(id)].fields.len()];
            v[shooter] = Value::Int(i64::from(who));
            v[hit] = Value::Int(i64::from(hits));
            v
        };
        for (who, hits) in [(1, true), (1, false), (2, true)] {
            bot.event(&view(&d, &plan, &t), id, &beam(who, hits));
        }
        assert_eq!(bot.counters(), [("hitscan_shots", 2), ("hitscan_hits", 1)]);
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
