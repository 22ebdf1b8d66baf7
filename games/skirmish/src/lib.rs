//! The second reference game, "skirmish": a top-down tank match, built only on the public game
//! API (it follows docs/game-api.md step by step).
//!
//! Rules: two teams (a new player joins the smaller). A tank drives where its stick points
//! (its hull turns toward its motion), aims its turret at the pointer and fires shells that
//! fly for 1 s. A hit costs 25 health; at 0 the tank is out for 2 s, then respawns on its
//! team's side, and the shooter's team scores (while the match is playing). A match: warmup
//! (10 s), playing (120 s), ended (8 s, no firing), then warmup again with scores reset. Each
//! tank carries 5 shells (private to its player, with its reload timer) and regains one every
//! 1.5 s.

pub mod bot;

use std::f32::consts::{PI, TAU};

use ticksync::game::{Ctx, EntityKey, Game};
use ticksync::glam::Vec2;
use ticksync::rng::Mulberry32;
use ticksync::{Fields, Messages, Replicate, WireEnum};

pub const NAME: &str = "skirmish";
pub const WORLD: Vec2 = Vec2::new(1600.0, 1000.0);
pub const TANK_SPEED: f32 = 120.0;
const HULL_TURN: f32 = 3.0; // rad/s
const TURRET_TURN: f32 = 6.0; // rad/s
const SHELL_SPEED: f32 = 420.0;
const SHELL_LIFE: f32 = 1.0;
const SHELL_DAMAGE: u8 = 25;
const HIT_RADIUS: f32 = 20.0;
const MAX_AMMO: u8 = 5;
const RELOAD: f32 = 0.5;
const AMMO_REGEN: f32 = 1.5;
const RESPAWN: f32 = 2.0;
const WARMUP: f32 = 10.0;
const PLAYING: f32 = 120.0;
const ENDED: f32 = 8.0;

#[derive(WireEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Team {
    #[default]
    Red,
    Blue,
}

#[derive(WireEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Warmup,
    Playing,
    Ended,
}

#[derive(WireEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Winner {
    #[default]
    Draw,
    Red,
    Blue,
}

/// A player's tank.
#[derive(Replicate, Clone, Debug, PartialEq)]
#[replicate(name = "tank")]
pub struct Tank {
    #[field(
        fixed(scale = 960, min = 0, max = 1600, tolerance = 0.03125),
        predict = velocity(vel),
        interp = linear
    )]
    pub pos: Vec2,
    #[field(fixed(scale = 16, min = -200, max = 200))]
    pub vel: Vec2,
    #[field(angle(bits = 10), predict = linear, interp = angle)]
    pub hull: f32,
    #[field(angle(bits = 10), predict = linear, interp = angle)]
    pub turret: f32,
    #[field(int(min = 0, max = 100))]
    pub health: u8,
    #[field(enumeration)]
    pub team: Team,
    #[field(string(max = 24))]
    pub name: String,
    /// Shells left: only this tank's player sees it.
    #[field(int(min = 0, max = 5), owner)]
    pub ammo: u8,
    /// Seconds until it may fire again (counts down: predicted linearly, costs nothing).
    #[field(fixed(scale = 60, min = 0, max = 5, tolerance = 0.02), predict = linear, owner)]
    pub reload: f32,
    #[field(skip)]
    pub wants: Controls,
    #[field(skip)]
    pub regen: f32,
    /// Seconds until a destroyed tank respawns.
    #[field(skip)]
    pub down: f32,
}

/// What a tank's player last asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Controls {
    pub dir: Vec2,
    pub aim: f32,
    pub fire: bool,
}

#[derive(Replicate, Clone, Debug, PartialEq)]
#[replicate(name = "shell")]
pub struct Shell {
    #[field(
        fixed(scale = 960, min = 0, max = 1600, tolerance = 0.03125),
        predict = velocity(vel),
        interp = linear
    )]
    pub pos: Vec2,
    #[field(fixed(scale = 16, min = -500, max = 500))]
    pub vel: Vec2,
    #[field(enumeration)]
    pub team: Team,
    #[field(skip)]
    pub age: f32,
    #[field(skip)]
    pub shooter: Option<EntityKey>,
}

#[derive(Replicate, Clone, Debug, PartialEq)]
pub enum Thing {
    Tank(Tank),
    Shell(Shell),
}

/// The match: replicated to everyone as the room state.
#[derive(Replicate, Clone, Debug, Default, PartialEq)]
#[replicate(name = "match")]
pub struct Match {
    #[field(enumeration)]
    pub phase: Phase,
    /// Seconds left in this phase (counts down: predicted linearly, costs nothing).
    #[field(fixed(scale = 60, min = 0, max = 600, tolerance = 0.02), predict = linear)]
    pub time_left: f32,
    #[field(int(min = 0, max = 10000))]
    pub score_red: u16,
    #[field(int(min = 0, max = 10000))]
    pub score_blue: u16,
}

/// A player's controls each tick.
#[derive(Fields, Clone, Copy, Debug, Default, PartialEq)]
pub struct Input {
    /// Where to drive: each axis -1..=1 (the tank turns toward it).
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_x: f32,
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_y: f32,
    /// Where the turret should point, radians.
    #[field(angle(bits = 10))]
    pub aim: f32,
    pub fire: bool,
}

#[derive(Messages, Clone, Debug, PartialEq)]
pub enum Action {
    /// Change sides (only during warmup).
    SwitchTeam,
}

#[derive(Messages, Clone, Debug, PartialEq)]
pub enum Event {
    Kill {
        #[field(string(max = 24))]
        killer: String,
        #[field(string(max = 24))]
        victim: String,
    },
    MatchEnd {
        #[field(enumeration)]
        winner: Winner,
        score_red: u16,
        score_blue: u16,
    },
}

pub struct Skirmish {
    rng: Mulberry32,
    state: Match,
}

impl Skirmish {
    pub fn new(seed: u32) -> Self {
        Self {
            rng: Mulberry32::new(seed),
            state: Match {
                phase: Phase::Warmup,
                time_left: WARMUP,
                ..Match::default()
            },
        }
    }

    fn spawn_point(&mut self, team: Team) -> Vec2 {
        let x = 100.0 + self.rng.next_f64() as f32 * 200.0;
        let y = 100.0 + self.rng.next_f64() as f32 * (WORLD.y - 200.0);
        match team {
            Team::Red => Vec2::new(x, y),
            Team::Blue => Vec2::new(WORLD.x - x, y),
        }
    }

    fn next_phase(&mut self, ctx: &mut Ctx<'_, Self>) {
        let s = &mut self.state;
        match s.phase {
            Phase::Warmup => {
                (s.phase, s.time_left) = (Phase::Playing, PLAYING);
                (s.score_red, s.score_blue) = (0, 0);
            }
            Phase::Playing => {
                (s.phase, s.time_left) = (Phase::Ended, ENDED);
                let winner = match s.score_red.cmp(&s.score_blue) {
                    std::cmp::Ordering::Greater => Winner::Red,
                    std::cmp::Ordering::Less => Winner::Blue,
                    std::cmp::Ordering::Equal => Winner::Draw,
                };
                let (score_red, score_blue) = (s.score_red, s.score_blue);
                ctx.emit(Event::MatchEnd {
                    winner,
                    score_red,
                    score_blue,
                });
            }
            Phase::Ended => {
                (s.phase, s.time_left) = (Phase::Warmup, WARMUP);
                for t in ctx.world.values_mut() {
                    if let Thing::Tank(t) = t {
                        t.health = 100;
                        t.ammo = MAX_AMMO;
                    }
                }
            }
        }
    }
}

/// Turns `from` toward `to` by at most `max` radians; the result is in `0..TAU`.
fn turn_toward(from: f32, to: f32, max: f32) -> f32 {
    let d = (to - from + PI).rem_euclid(TAU) - PI;
    (from + d.clamp(-max, max)).rem_euclid(TAU)
}

impl Game for Skirmish {
    type Entity = Thing;
    type Room = Match;
    type Input = Input;
    type Action = Action;
    type Event = Event;

    fn params(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("world_width", f64::from(WORLD.x)),
            ("world_height", f64::from(WORLD.y)),
            ("tank_speed", f64::from(TANK_SPEED)),
        ]
    }

    fn join(&mut self, ctx: &mut Ctx<'_, Self>, name: &str) -> EntityKey {
        let reds = ctx
            .world
            .values()
            .filter(|t| matches!(t, Thing::Tank(t) if t.team == Team::Red))
            .count();
        let tanks = ctx
            .world
            .values()
            .filter(|t| matches!(t, Thing::Tank(_)))
            .count();
        let team = if reds * 2 <= tanks {
            Team::Red
        } else {
            Team::Blue
        };
        let pos = self.spawn_point(team);
        let facing = if team == Team::Red { 0.0 } else { PI };
        ctx.world.insert(Thing::Tank(Tank {
            pos,
            vel: Vec2::ZERO,
            hull: facing,
            turret: facing,
            health: 100,
            team,
            name: name.to_owned(),
            ammo: MAX_AMMO,
            reload: 0.0,
            wants: Controls {
                aim: facing,
                ..Controls::default()
            },
            regen: 0.0,
            down: 0.0,
        }))
    }

    fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Input) {
        if let Some(Thing::Tank(t)) = ctx.world.get_mut(player) {
            t.wants = Controls {
                dir: Vec2::new(input.move_x, input.move_y).clamp_length_max(1.0),
                aim: input.aim,
                fire: input.fire,
            };
        }
    }

    fn action(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, action: Action) {
        match action {
            Action::SwitchTeam if self.state.phase == Phase::Warmup => {
                let spawn = if let Some(Thing::Tank(t)) = ctx.world.get(player) {
                    let team = match t.team {
                        Team::Red => Team::Blue,
                        Team::Blue => Team::Red,
                    };
                    Some((team, self.spawn_point(team)))
                } else {
                    None
                };
                if let (Some((team, pos)), Some(Thing::Tank(t))) =
                    (spawn, ctx.world.get_mut(player))
                {
                    (t.team, t.pos) = (team, pos);
                }
            }
            Action::SwitchTeam => {}
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_, Self>, dt: f32) {
        self.state.time_left = (self.state.time_left - dt).max(0.0);
        if self.state.time_left <= 0.0 {
            self.next_phase(ctx);
        }
        let can_fire = self.state.phase != Phase::Ended;
        let mut shells = Vec::new();
        let mut respawns = Vec::new();
        for (key, thing) in ctx.world.iter_mut() {
            let Thing::Tank(t) = thing else { continue };
            if t.health == 0 {
                t.vel = Vec2::ZERO;
                t.down -= dt;
                if t.down <= 0.0 {
                    respawns.push((key, t.team));
                }
                continue;
            }
            let wanted = t.wants.dir * TANK_SPEED;
            let to = (t.pos + wanted * dt).clamp(Vec2::ZERO, WORLD);
            // Replicate what actually moved: an axis held against a wall has no velocity.
            t.vel = Vec2::select((to - t.pos).cmpeq(Vec2::ZERO), Vec2::ZERO, wanted);
            t.pos = to;
            if t.wants.dir.length_squared() > 0.01 {
                let heading = t.wants.dir.y.atan2(t.wants.dir.x);
                t.hull = turn_toward(t.hull, heading, HULL_TURN * dt);
            }
            t.turret = turn_toward(t.turret, t.wants.aim, TURRET_TURN * dt);
            t.reload = (t.reload - dt).max(0.0);
            if t.ammo < MAX_AMMO {
                t.regen += dt;
                if t.regen >= AMMO_REGEN {
                    (t.ammo, t.regen) = (t.ammo + 1, 0.0);
                }
            }
            if can_fire && t.wants.fire && t.reload <= 0.0 && t.ammo > 0 {
                t.ammo -= 1;
                t.reload = RELOAD;
                let dir = Vec2::from_angle(t.turret);
                shells.push(Shell {
                    pos: (t.pos + dir * 24.0).clamp(Vec2::ZERO, WORLD),
                    vel: dir * SHELL_SPEED,
                    team: t.team,
                    age: 0.0,
                    shooter: Some(key),
                });
            }
        }
        for (key, team) in respawns {
            let pos = self.spawn_point(team);
            if let Some(Thing::Tank(t)) = ctx.world.get_mut(key) {
                (t.pos, t.health, t.ammo, t.reload) = (pos, 100, MAX_AMMO, 0.0);
            }
        }
        // Shells fly, then hit the first living tank of the other team within reach.
        let mut gone = Vec::new();
        let mut hits = Vec::new();
        for (key, thing) in ctx.world.iter_mut() {
            let Thing::Shell(s) = thing else { continue };
            s.pos += s.vel * dt;
            s.age += dt;
            let outside = s.pos.cmplt(Vec2::ZERO).any() || s.pos.cmpgt(WORLD).any();
            if s.age >= SHELL_LIFE || outside {
                gone.push(key);
            } else {
                hits.push((key, s.pos, s.team, s.shooter));
            }
        }
        for (shell, at, team, shooter) in hits {
            let target = ctx.world.iter().find_map(|(k, e)| match e {
                Thing::Tank(t)
                    if t.team != team
                        && t.health > 0
                        && t.pos.distance_squared(at) < HIT_RADIUS * HIT_RADIUS =>
                {
                    Some(k)
                }
                _ => None,
            });
            let Some(victim) = target else { continue };
            gone.push(shell);
            let Some(Thing::Tank(t)) = ctx.world.get_mut(victim) else {
                continue;
            };
            t.health = t.health.saturating_sub(SHELL_DAMAGE);
            if t.health > 0 {
                continue;
            }
            t.down = RESPAWN;
            let victim_name = t.name.clone();
            let killer = shooter.and_then(|k| match ctx.world.get(k) {
                Some(Thing::Tank(s)) => Some((s.name.clone(), s.team)),
                _ => None,
            });
            let killer_name = killer.as_ref().map_or_else(String::new, |k| k.0.clone());
            if self.state.phase == Phase::Playing {
                match team {
                    Team::Red => self.state.score_red = self.state.score_red.saturating_add(1),
                    Team::Blue => self.state.score_blue = self.state.score_blue.saturating_add(1),
                }
            }
            ctx.emit(Event::Kill {
                killer: killer_name,
                victim: victim_name,
            });
        }
        for k in gone {
            ctx.world.remove(k);
        }
        for s in shells {
            ctx.world.insert(Thing::Shell(s));
        }
        for (_, thing) in ctx.world.iter_mut() {
            if let Thing::Shell(s) = thing {
                s.pos = s.pos.clamp(Vec2::ZERO, WORLD);
            }
        }
    }

    fn room(&self) -> Option<&Match> {
        Some(&self.state)
    }

    /// Takes the match back, and rebuilds what tanks and shells do not replicate as well as it
    /// can be: a tank holds its course and aim until its player's next input, a destroyed one
    /// waits a full respawn, ammo regeneration starts over; a shell flies up to a full life
    /// more, and its kill is credited to nobody (its team still scores).
    fn restored(&mut self, ctx: &mut Ctx<'_, Self>, room: Option<Match>) {
        if let Some(m) = room {
            self.state = m;
        }
        self.rng = self.rng.salted(ctx.tick);
        for thing in ctx.world.values_mut() {
            let Thing::Tank(t) = thing else { continue };
            t.wants = Controls {
                // Its velocity is its stick times its speed (but on an axis held to a wall).
                dir: (t.vel / TANK_SPEED).clamp_length_max(1.0),
                aim: t.turret,
                fire: false,
            };
            if t.health == 0 {
                t.down = RESPAWN;
            }
        }
    }
}

/// The folder of skirmish's browser page (served at `/games/skirmish/`).
pub fn page() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/web").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync::game::Sim;

    fn tank(sim: &Sim<Skirmish>, k: EntityKey) -> &Tank {
        match &sim.world[k] {
            Thing::Tank(t) => t,
            _ => panic!("not a tank"),
        }
    }

    #[test]
    fn teams_alternate_and_tanks_fire_shells_that_expire() {
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        assert_ne!(tank(&sim, a).team, tank(&sim, b).team);
        sim.input(
            a,
            Input {
                fire: true,
                ..Input::default()
            },
        );
        sim.step(1.0 / 60.0);
        assert_eq!(tank(&sim, a).ammo, MAX_AMMO - 1);
        assert_eq!(sim.world.len(), 3, "a shell flies");
        for _ in 0..30 {
            sim.step(1.0 / 60.0);
        }
        assert_eq!(tank(&sim, a).ammo, MAX_AMMO - 2, "reloaded and fired again");
        sim.input(a, Input::default());
        for _ in 0..120 {
            sim.step(1.0 / 60.0);
        }
        assert_eq!(sim.world.len(), 2, "shells are gone after a second");
    }

    #[test]
    fn a_hit_damages_and_four_kill_and_score() {
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        sim.game.state.phase = Phase::Playing;
        sim.game.state.time_left = 100.0;
        // Put bob right in front of ann's turret.
        let at = tank(&sim, a).pos + Vec2::new(60.0, 0.0);
        if let Thing::Tank(t) = &mut sim.world[b] {
            t.pos = at;
        }
        if let Thing::Tank(t) = &mut sim.world[a] {
            (t.turret, t.wants.aim) = (0.0, 0.0);
        }
        sim.input(
            a,
            Input {
                fire: true,
                ..Input::default()
            },
        );
        let mut kills = 0;
        for _ in 0..240 {
            sim.step(1.0 / 60.0);
            kills += sim
                .events()
                .iter()
                .filter(|(_, e)| matches!(e, Event::Kill { victim, .. } if victim == "bob"))
                .count();
            if kills > 0 {
                break;
            }
        }
        assert_eq!(kills, 1);
        assert_eq!(tank(&sim, b).health, 0);
        let scored = match tank(&sim, a).team {
            Team::Red => sim.game.state.score_red,
            Team::Blue => sim.game.state.score_blue,
        };
        assert_eq!(scored, 1);
    }

    #[test]
    fn a_restored_match_plays_on() {
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        let c = sim.join("cyd");
        (sim.game.state.phase, sim.game.state.time_left) = (Phase::Playing, 50.0);
        (sim.game.state.score_red, sim.game.state.score_blue) = (3, 4);
        if let Thing::Tank(t) = &mut sim.world[c] {
            (t.health, t.down) = (0, 1.0);
        }
        sim.input(
            a,
            Input {
                move_x: 1.0,
                fire: true,
                aim: 1.0,
                ..Input::default()
            },
        );
        for _ in 0..20 {
            sim.step(1.0 / 60.0);
        }
        let saved = sim.save();
        assert!(saved.entities.iter().any(|e| e.ty == 1), "a shell flies");

        let mut fresh = Sim::new(|_| Skirmish::new(7));
        fresh.restore(&saved).unwrap();
        assert_eq!(fresh.save(), saved);
        assert_eq!(fresh.game.state, sim.game.state);
        for k in [a, b, c] {
            let (was, now) = (tank(&sim, k), tank(&fresh, k));
            assert_eq!(
                (was.pos, was.health, was.team, &was.name, was.ammo),
                (now.pos, now.health, now.team, &now.name, now.ammo)
            );
        }
        // Ann keeps driving and aiming where she was; not firing until she says so.
        let w = tank(&fresh, a).wants;
        assert_eq!(
            (w.dir, w.aim, w.fire),
            (Vec2::X, tank(&sim, a).turret, false)
        );
        let x = tank(&fresh, a).pos.x;
        fresh.step(1.0 / 60.0);
        assert!(tank(&fresh, a).pos.x > x);
        // The match counts down from where it was; cyd respawns after a full respawn time.
        assert!((fresh.game.state.time_left - (50.0 - 21.0 / 60.0)).abs() < 1e-3);
        assert_eq!(tank(&fresh, c).health, 0);
        for _ in 0..(RESPAWN * 60.0) as usize + 1 {
            fresh.step(1.0 / 60.0);
        }
        assert_eq!(tank(&fresh, c).health, 100);
        // Firing works and the shell takes a new key.
        fresh.input(
            b,
            Input {
                fire: true,
                ..Input::default()
            },
        );
        let before: Vec<_> = fresh.world.keys().collect();
        fresh.step(1.0 / 60.0);
        assert!(fresh.world.keys().any(|k| !before.contains(&k)));
    }

    #[test]
    fn the_match_cycles_through_its_phases() {
        let mut sim = Sim::new(|_| Skirmish::new(1));
        sim.join("ann");
        let mut seen = vec![sim.game.state.phase];
        let mut ended = 0;
        for _ in 0..((WARMUP + PLAYING + ENDED + 1.0) * 60.0) as usize {
            sim.step(1.0 / 60.0);
            if seen.last() != Some(&sim.game.state.phase) {
                seen.push(sim.game.state.phase);
            }
            ended += sim
                .events()
                .iter()
                .filter(|(_, e)| matches!(e, Event::MatchEnd { .. }))
                .count();
        }
        assert_eq!(
            seen,
            [Phase::Warmup, Phase::Playing, Phase::Ended, Phase::Warmup]
        );
        assert_eq!(ended, 1);
    }
}
