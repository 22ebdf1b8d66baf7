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
//!
//! The beam: a hitscan weapon beside the shells, with no ammo and its own cooldown (0.25 s,
//! private like `reload`). It fires at once from the tank's centre along the input's `aim`
//! (where the player clicked, not the turret, which is still turning), up to 900 units or the
//! world's edge, and stops at the first tank of the other team, alive, whose centre it passes
//! within 12 units of ([`BEAM_RADIUS`]): a hit; that tank loses 10 health if it is still
//! alive in the present (a kill counts as a shell's). Hits are lag-compensated: the other tanks are where the shooter's client drew
//! them (`ctx.as_seen_by`: interpolated, some ticks in the past), the damage is dealt in the
//! present to the tank if it is still alive there. Every client is told of each beam (the
//! `Beam` event) to draw it. Shells are not lag-compensated: they fly in the present.

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
/// How far a beam reaches (it also stops at the world's edge).
pub const BEAM_RANGE: f32 = 900.0;
/// A beam hits a tank whose centre it passes within this distance of (as its shooter drew
/// the tank). About a hull's half-width: a shooter who aims at the centre of what it draws
/// hits with a few units to spare (the 10-bit aim is within 0.5 * 2π/1024 rad, 2.8 units at
/// full range), while one judged on the present a 190 ms lag behind (150 ms round trip plus
/// interpolation) misses a tank crossing at full speed, 23 units from where it drew it.
pub const BEAM_RADIUS: f32 = 12.0;
/// Seconds between beams.
const BEAM_COOLDOWN: f32 = 0.25;
const BEAM_DAMAGE: u8 = 10;
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
    /// Seconds until its beam may fire again (counts down, private like `reload`).
    #[field(fixed(scale = 60, min = 0, max = 5, tolerance = 0.02), predict = linear, owner)]
    pub beam_reload: f32,
}

/// What a tank's player last asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Controls {
    pub dir: Vec2,
    pub aim: f32,
    pub fire: bool,
    pub beam: bool,
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
    /// Where the turret should point, radians; also where the beam goes.
    #[field(angle(bits = 10))]
    pub aim: f32,
    /// Fire shells (held: one whenever reloaded, while there is ammo).
    pub fire: bool,
    /// Fire the beam along `aim` (held: one whenever its cooldown allows).
    pub beam: bool,
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
    /// A beam fired, for drawing: from the shooter's centre to where it stopped (the tank it
    /// struck, as its shooter drew it, or its range, or the world's edge). `hit`: it struck a
    /// tank, as its shooter drew it (the tank is damaged only if it is still alive in the
    /// present: one killed meanwhile, on the shooter's screen a moment before it blows up,
    /// takes no more). `shooter` is the index of the shooter's entity id (`EntityId.index`).
    Beam {
        #[field(fixed(scale = 16, min = 0, max = 1600))]
        from_x: f32,
        #[field(fixed(scale = 16, min = 0, max = 1000))]
        from_y: f32,
        #[field(fixed(scale = 16, min = 0, max = 1600))]
        to_x: f32,
        #[field(fixed(scale = 16, min = 0, max = 1000))]
        to_y: f32,
        hit: bool,
        #[field(enumeration)]
        team: Team,
        shooter: u32,
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

    /// `victim` loses `amount` health if it is a living tank (else nothing). At 0
    /// it is out for `RESPAWN`, `team` (the shooter's) scores while the match is playing, and
    /// everyone hears of the kill, credited to `shooter`'s tank if it is still there.
    fn damage(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        victim: EntityKey,
        amount: u8,
        team: Team,
        shooter: Option<EntityKey>,
    ) {
        let Some(Thing::Tank(t)) = ctx.world.get_mut(victim) else {
            return;
        };
        if t.health == 0 {
            return;
        }
        t.health = t.health.saturating_sub(amount);
        if t.health > 0 {
            return;
        }
        t.down = RESPAWN;
        let victim_name = t.name.clone();
        let killer_name = match shooter.and_then(|k| ctx.world.get(k)) {
            Some(Thing::Tank(s)) => s.name.clone(),
            _ => String::new(),
        };
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

    /// Judges one beam: on the tanks as its shooter drew them (lag compensation), the first
    /// of the other team, alive then, whose centre it passes within `BEAM_RADIUS` of; that
    /// tank is damaged in the present if it is alive and of the other team there too. Tells
    /// everyone where the beam went.
    fn beam(&mut self, ctx: &mut Ctx<'_, Self>, shot: &Shot) {
        let dir = Vec2::from_angle(shot.aim);
        let reach = reach_in_world(shot.from, dir, BEAM_RANGE);
        // Tanks in the present, other than the shooter: the only ones a beam can damage (one
        // that left since neither stops nor takes it). Each is rebuilt alone (`Seen::get`),
        // shells are not.
        let tanks: Vec<EntityKey> = ctx
            .world
            .iter()
            .filter(|(k, e)| *k != shot.shooter && matches!(e, Thing::Tank(_)))
            .map(|(k, _)| k)
            .collect();
        let seen = ctx.as_seen_by(shot.shooter);
        // How far a tank can have driven since: farther, it respawned (or switched sides).
        let since = (seen.ticks_back() as f32 + 1.0) / f32::from(ctx.tick_rate.max(1));
        let drivable = TANK_SPEED * since + 1.0;
        let struck = tanks
            .into_iter()
            .filter_map(|k| match seen.get(k)? {
                Thing::Tank(t) if t.team != shot.team && t.health > 0 => Some((
                    ray_hits_circle(shot.from, dir, reach, t.pos, BEAM_RADIUS)?,
                    k,
                    t.pos,
                )),
                _ => None,
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        // Damaged only if it is alive and of the other team in the present too, and the
        // same life of it.
        let victim = struck.filter(|&(_, k, then)| {
            matches!(ctx.world.get(k), Some(Thing::Tank(t))
                if t.team != shot.team && t.health > 0 && t.pos.distance(then) <= drivable)
        });
        let along = struck.map_or(reach, |(along, ..)| along);
        let to = (shot.from + dir * along).clamp(Vec2::ZERO, WORLD);
        // The beam first, then the kill it may cause: a page draws it, then names the kill.
        ctx.emit(Event::Beam {
            from_x: shot.from.x,
            from_y: shot.from.y,
            to_x: to.x,
            to_y: to.y,
            hit: struck.is_some(),
            team: shot.team,
            shooter: ticksync::game::wire_id(shot.shooter).index,
        });
        if let Some((_, k, _)) = victim {
            self.damage(ctx, k, BEAM_DAMAGE, shot.team, Some(shot.shooter));
        }
    }
}

/// Turns `from` toward `to` by at most `max` radians; the result is in `0..TAU`.
fn turn_toward(from: f32, to: f32, max: f32) -> f32 {
    let d = (to - from + PI).rem_euclid(TAU) - PI;
    (from + d.clamp(-max, max)).rem_euclid(TAU)
}

/// Where a ray from `from` along the unit vector `dir` first comes within `radius` of
/// `centre`, as a distance along the ray in `0..=range`; `None` when it passes farther from
/// it (or only behind `from`, or beyond `range`). A ray that starts within `radius` hits at 0.
pub fn ray_hits_circle(
    from: Vec2,
    dir: Vec2,
    range: f32,
    centre: Vec2,
    radius: f32,
) -> Option<f32> {
    let to_centre = centre - from;
    // Along the ray to the point nearest the centre, and the square of the miss distance there.
    let along = to_centre.dot(dir);
    let miss2 = to_centre.length_squared() - along * along;
    let r2 = radius * radius;
    if miss2 > r2 {
        return None;
    }
    let half = (r2 - miss2).max(0.0).sqrt();
    let (enter, leave) = (along - half, along + half);
    if leave < 0.0 || enter > range {
        return None;
    }
    Some(enter.max(0.0))
}

/// How far a ray from `from` (inside the world) along the unit vector `dir` goes before it
/// leaves the world, at most `range`.
fn reach_in_world(from: Vec2, dir: Vec2, range: f32) -> f32 {
    let axis = |p: f32, d: f32, size: f32| {
        if d > 0.0 {
            (size - p) / d
        } else if d < 0.0 {
            p / -d
        } else {
            f32::INFINITY
        }
    };
    range
        .min(axis(from.x, dir.x, WORLD.x))
        .min(axis(from.y, dir.y, WORLD.y))
        .max(0.0)
}

/// A beam a tank fired this tick, to be judged.
struct Shot {
    shooter: EntityKey,
    team: Team,
    from: Vec2,
    aim: f32,
}

/// One step of a living tank under its controls (`wants`): it moves, turns, and its reload
/// timers count down. What the server runs each tick and what a bot predicts its own tank by.
pub fn drive(t: &mut Tank, dt: f32) {
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
    t.beam_reload = (t.beam_reload - dt).max(0.0);
}

/// What a player's input asks of its tank.
pub fn controls(input: &Input) -> Controls {
    Controls {
        dir: Vec2::new(input.move_x, input.move_y).clamp_length_max(1.0),
        aim: input.aim,
        fire: input.fire,
        beam: input.beam,
    }
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
            ("beam_range", f64::from(BEAM_RANGE)),
            ("beam_radius", f64::from(BEAM_RADIUS)),
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
            beam_reload: 0.0,
        }))
    }

    fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Input) {
        if let Some(Thing::Tank(t)) = ctx.world.get_mut(player) {
            t.wants = controls(&input);
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
        let mut beams = Vec::new();
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
            drive(t, dt);
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
            // Ready within half a tick: the cooldown is a whole number of ticks (15 at 60 Hz),
            // whatever the rounding of its countdown.
            if can_fire && t.wants.beam && t.beam_reload < dt * 0.5 {
                t.beam_reload = BEAM_COOLDOWN;
                beams.push(Shot {
                    shooter: key,
                    team: t.team,
                    from: t.pos,
                    aim: t.wants.aim,
                });
            }
        }
        for (key, team) in respawns {
            let pos = self.spawn_point(team);
            if let Some(Thing::Tank(t)) = ctx.world.get_mut(key) {
                (t.pos, t.health, t.ammo, t.reload) = (pos, 100, MAX_AMMO, 0.0);
                t.beam_reload = 0.0;
            }
        }
        // Beams strike at once (judged on what each shooter drew), before shells fly.
        for shot in &beams {
            self.beam(ctx, shot);
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
            self.damage(ctx, victim, SHELL_DAMAGE, team, shooter);
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
    /// can be: a tank holds its course and aim (firing nothing, shells or beam) until its
    /// player's next input, a destroyed one waits a full respawn, ammo regeneration starts
    /// over; a shell flies up to a full life more, and its kill is credited to nobody (its
    /// team still scores). The beam's cooldown is replicated: it carries over.
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
                beam: false,
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

    /// Beam events so far: (from, to, hit, team, shooter index).
    fn beams(sim: &mut Sim<Skirmish>) -> Vec<(Vec2, Vec2, bool, Team, u32)> {
        sim.events()
            .into_iter()
            .filter_map(|(to, e)| match e {
                Event::Beam {
                    from_x,
                    from_y,
                    to_x,
                    to_y,
                    hit,
                    team,
                    shooter,
                } => {
                    assert_eq!(to, ticksync::game::Target::Everyone);
                    Some((
                        Vec2::new(from_x, from_y),
                        Vec2::new(to_x, to_y),
                        hit,
                        team,
                        shooter,
                    ))
                }
                _ => None,
            })
            .collect()
    }

    fn place(sim: &mut Sim<Skirmish>, k: EntityKey, pos: Vec2) {
        if let Thing::Tank(t) = &mut sim.world[k] {
            t.pos = pos;
        }
    }

    fn beam_at(aim: f32) -> Input {
        Input {
            aim,
            beam: true,
            ..Input::default()
        }
    }

    #[test]
    fn a_ray_hits_a_circle_it_passes_within_its_radius_of() {
        let (o, x) = (Vec2::ZERO, Vec2::X);
        let hit = |c: Vec2, r: f32| ray_hits_circle(o, x, 100.0, c, r);
        // Straight at it: enters at the distance less the radius.
        assert_eq!(hit(Vec2::new(50.0, 0.0), 10.0), Some(40.0));
        // Off to the side, within the radius: enters where the chord starts (3-4-5).
        assert_eq!(hit(Vec2::new(50.0, 6.0), 10.0), Some(42.0));
        assert_eq!(
            hit(Vec2::new(50.0, -9.99), 10.0).map(f32::round),
            Some(50.0)
        );
        // Beside it, behind the start, beyond the range: misses.
        assert_eq!(hit(Vec2::new(50.0, 10.01), 10.0), None);
        assert_eq!(hit(Vec2::new(-20.0, 0.0), 10.0), None);
        assert_eq!(hit(Vec2::new(115.0, 0.0), 10.0), None);
        // The circle just reaching the range, and one the ray starts in.
        assert_eq!(hit(Vec2::new(109.0, 0.0), 10.0), Some(99.0));
        assert_eq!(hit(Vec2::new(-5.0, 3.0), 10.0), Some(0.0));
        // Any direction (a unit vector).
        let d = Vec2::from_angle(2.0);
        let c = d * 300.0 + d.perp() * 11.0;
        assert!(ray_hits_circle(o, d, 900.0, c, BEAM_RADIUS).is_some());
        assert!(ray_hits_circle(o, d, 900.0, c + d.perp() * 2.0, BEAM_RADIUS).is_none());
        assert!(ray_hits_circle(o, d, 250.0, c, BEAM_RADIUS).is_none());
    }

    #[test]
    fn a_beam_stops_at_the_world_edge() {
        let at = Vec2::new(1500.0, 500.0);
        assert_eq!(reach_in_world(at, Vec2::X, BEAM_RANGE), 100.0);
        assert_eq!(reach_in_world(at, -Vec2::X, BEAM_RANGE), BEAM_RANGE);
        assert_eq!(reach_in_world(at, Vec2::Y, BEAM_RANGE), 500.0);
        assert_eq!(reach_in_world(Vec2::ZERO, -Vec2::Y, BEAM_RANGE), 0.0);
    }

    #[test]
    fn a_beam_hits_a_standing_enemy_and_misses_beside_it_with_its_cooldown() {
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        let (from, target) = (Vec2::new(400.0, 500.0), Vec2::new(700.0, 500.0));
        place(&mut sim, a, from);
        place(&mut sim, b, target);
        // Aimed along the input (the turret still points elsewhere): struck at its edge.
        if let Thing::Tank(t) = &mut sim.world[a] {
            t.turret = PI;
        }
        sim.input(a, beam_at(0.0));
        sim.step(1.0 / 60.0);
        assert_eq!(tank(&sim, b).health, 100 - BEAM_DAMAGE);
        assert_eq!(tank(&sim, a).ammo, MAX_AMMO, "the beam takes no shells");
        assert!(tank(&sim, a).beam_reload > 0.0);
        let fired = beams(&mut sim);
        let shooter = ticksync::game::wire_id(a).index;
        assert_eq!(fired.len(), 1);
        let (f, to, hit, team, by) = fired[0];
        assert_eq!(
            (f, hit, team, by),
            (from, true, tank(&sim, a).team, shooter)
        );
        assert!(
            to.distance(target - Vec2::new(BEAM_RADIUS, 0.0)) < 0.01,
            "{to}"
        );

        // Held, it fires again once every cooldown: 15 ticks at 60 Hz.
        let mut ticks = Vec::new();
        for i in 1..=61 {
            sim.step(1.0 / 60.0);
            if !beams(&mut sim).is_empty() {
                ticks.push(i);
            }
        }
        assert_eq!(ticks, [15, 30, 45, 60]);
        assert_eq!(tank(&sim, b).health, 100 - 5 * BEAM_DAMAGE);

        // Aimed so it passes just beyond the radius of bob's centre: a miss, at full range.
        let off = ((BEAM_RADIUS + 0.5) / 300.0).atan();
        sim.input(a, beam_at(off));
        for _ in 0..16 {
            sim.step(1.0 / 60.0);
        }
        let fired = beams(&mut sim);
        assert_eq!(fired.len(), 1);
        let (_, to, hit, ..) = fired[0];
        assert!(!hit);
        assert!((to.distance(from) - BEAM_RANGE).abs() < 0.01, "{to}");
        assert_eq!(tank(&sim, b).health, 100 - 5 * BEAM_DAMAGE);
        // Just within it: a hit.
        let off = ((BEAM_RADIUS - 0.5) / 300.0).atan();
        sim.input(a, beam_at(off));
        for _ in 0..16 {
            sim.step(1.0 / 60.0);
        }
        assert_eq!(beams(&mut sim).iter().filter(|b| b.2).count(), 1);
        assert_eq!(tank(&sim, b).health, 100 - 6 * BEAM_DAMAGE);
    }

    #[test]
    fn a_beam_passes_teammates_and_strikes_the_nearest_living_enemy() {
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        let c = sim.join("cyd"); // ann's team
        let d = sim.join("dee"); // bob's
        assert_eq!(tank(&sim, a).team, tank(&sim, c).team);
        assert_eq!(tank(&sim, b).team, tank(&sim, d).team);
        place(&mut sim, a, Vec2::new(100.0, 500.0));
        place(&mut sim, c, Vec2::new(200.0, 500.0));
        place(&mut sim, d, Vec2::new(300.0, 505.0));
        place(&mut sim, b, Vec2::new(500.0, 500.0));
        // Dee is down: the beam passes it too, and hits bob.
        if let Thing::Tank(t) = &mut sim.world[d] {
            (t.health, t.down) = (0, 10.0);
        }
        sim.input(a, beam_at(0.0));
        sim.step(1.0 / 60.0);
        assert_eq!(tank(&sim, c).health, 100);
        assert_eq!(tank(&sim, b).health, 100 - BEAM_DAMAGE);
        // Dee is up again in front of bob: dee takes it.
        if let Thing::Tank(t) = &mut sim.world[d] {
            (t.health, t.down) = (100, 0.0);
        }
        for _ in 0..16 {
            sim.step(1.0 / 60.0);
        }
        assert_eq!(tank(&sim, d).health, 100 - BEAM_DAMAGE);
        assert_eq!(tank(&sim, b).health, 100 - BEAM_DAMAGE);
        let hits: Vec<_> = beams(&mut sim).into_iter().map(|b| (b.1.x, b.2)).collect();
        assert_eq!(hits.len(), 2);
        assert!(hits[0].1 && hits[1].1);
        assert!(hits[0].0 > 480.0 && hits[1].0 < 300.0, "{hits:?}");
    }

    #[test]
    fn no_beam_while_down_or_after_the_match_ended_and_a_beam_kill_scores() {
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        place(&mut sim, a, Vec2::new(400.0, 500.0));
        place(&mut sim, b, Vec2::new(600.0, 500.0));
        (sim.game.state.phase, sim.game.state.time_left) = (Phase::Playing, 100.0);
        if let Thing::Tank(t) = &mut sim.world[a] {
            (t.health, t.down) = (0, 1.0);
        }
        sim.input(a, beam_at(0.0));
        for _ in 0..30 {
            sim.step(1.0 / 60.0);
        }
        assert!(beams(&mut sim).is_empty(), "down: no beam");
        assert_eq!(tank(&sim, b).health, 100);

        if let Thing::Tank(t) = &mut sim.world[a] {
            (t.health, t.down, t.pos) = (100, 0.0, Vec2::new(400.0, 500.0));
        }
        if let Thing::Tank(t) = &mut sim.world[b] {
            t.health = BEAM_DAMAGE;
        }
        sim.step(1.0 / 60.0);
        let events = sim.events();
        let names: Vec<_> = events
            .iter()
            .map(|(_, e)| match e {
                Event::Beam { hit, .. } => format!("beam {hit}"),
                Event::Kill { killer, victim } => format!("{killer} x {victim}"),
                Event::MatchEnd { .. } => "end".into(),
            })
            .collect();
        assert_eq!(names, ["beam true", "ann x bob"]);
        assert_eq!(tank(&sim, b).health, 0);
        let scored = match tank(&sim, a).team {
            Team::Red => sim.game.state.score_red,
            Team::Blue => sim.game.state.score_blue,
        };
        assert_eq!(scored, 1);
        // A beam at a tank that is down strikes nothing.
        for _ in 0..16 {
            sim.step(1.0 / 60.0);
        }
        let fired = beams(&mut sim);
        assert_eq!(fired.len(), 1);
        assert!(!fired[0].2);

        (sim.game.state.phase, sim.game.state.time_left) = (Phase::Ended, 5.0);
        for _ in 0..30 {
            sim.step(1.0 / 60.0);
        }
        assert!(beams(&mut sim).is_empty(), "the match ended: no beam");
    }

    /// Why `BEAM_RADIUS` is 12: judged on the present (no rewinding), a shooter 190 ms behind
    /// (150 ms round trip plus interpolation) that aims at the centre it draws misses a tank
    /// crossing at full speed, and most of those driving any which way; judged where it drew
    /// them (what `as_seen_by` gives), it hits every one. A `Sim` sees the present.
    #[test]
    fn judged_on_the_present_a_190_ms_late_aim_mostly_misses_a_moving_tank() {
        const LAG_TICKS: usize = 11; // 183 ms at 60 Hz, plus a fraction of a tick's interpolation
        let mut sim = Sim::new(|_| Skirmish::new(7));
        let a = sim.join("ann");
        let b = sim.join("bob");
        place(&mut sim, a, Vec2::new(300.0, 500.0));
        place(&mut sim, b, Vec2::new(800.0, 300.0));
        // Bob crosses ann's line of fire at full speed; ann aims where she drew him 11 ticks ago.
        sim.input(
            b,
            Input {
                move_y: 1.0,
                ..Input::default()
            },
        );
        let mut trail = Vec::new();
        let (mut late, mut now) = ((0, 0), (0, 0));
        // Each shot in turn where he was drawn (late), then where he is.
        let mut aim_late = true;
        for _ in 0..300 {
            let me = tank(&sim, a).pos;
            trail.push(tank(&sim, b).pos);
            if trail.len() > LAG_TICKS {
                let at = match aim_late {
                    true => trail[trail.len() - 1 - LAG_TICKS],
                    false => tank(&sim, b).pos,
                };
                sim.input(a, beam_at((at - me).to_angle()));
            }
            sim.step(1.0 / 60.0);
            for (.., hit, _, _) in beams(&mut sim) {
                let n = if aim_late { &mut late } else { &mut now };
                *n = (n.0 + 1, n.1 + usize::from(hit));
                aim_late = !aim_late;
            }
            if let Thing::Tank(t) = &mut sim.world[b] {
                t.health = 100; // keep him up
            }
        }
        assert!(late.0 >= 5 && now.0 >= 5, "{late:?} {now:?}");
        assert_eq!(late.1, 0, "late aims miss: {late:?}");
        assert_eq!(now.1, now.0, "aims at the present hit: {now:?}");

        // Any heading, any range: the share of late aims that still hit.
        let lag = LAG_TICKS as f32 / 60.0 + 0.0075; // 190 ms
        let (mut shots, mut hits) = (0, 0);
        for range in [150.0, 300.0, 600.0, 850.0] {
            for h in 0..360 {
                let heading = Vec2::from_angle((h as f32).to_radians());
                let drawn = Vec2::new(range, 0.0);
                let present = drawn + heading * TANK_SPEED * lag;
                shots += 1;
                hits += usize::from(
                    ray_hits_circle(Vec2::ZERO, Vec2::X, BEAM_RANGE, present, BEAM_RADIUS)
                        .is_some(),
                );
            }
        }
        let share = hits as f64 / shots as f64;
        assert!(share < 0.4, "{hits} of {shots} late shots hit");
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
