//! The reference scenario "arena", built only on the public game API: K NPCs wandering a
//! 1000 x 1000 world, bouncing off the walls, plus one player entity per client. Deterministic
//! for a seed, so every benchmark and test runs the same work. "arena-large" has the same
//! rules in a 4000 x 4000 world with 10,000 NPCs, and each client sees only what is within 250
//! units of its player.
//!
//! What goes on the wire: positions at 1/960 unit kept within 1/32 unit of the truth (the same
//! error bound as rounding to 1/16 unit) and predicted from velocities at 1/16 unit/s, so an
//! entity that keeps its course costs nothing.

use std::f64::consts::TAU;

use ticksync::game::{Ctx, EntityKey, Game, View};
use ticksync::glam::Vec2;
use ticksync::protocol::declare::NoMessages;
use ticksync::rng::Mulberry32;
use ticksync::{Fields, Replicate};

pub const NAME: &str = "arena";
pub const WORLD_SIZE: f32 = 1000.0;
pub const LARGE_NAME: &str = "arena-large";
/// The large world's side; the declared position range covers it (arena uses a quarter).
pub const LARGE_WORLD_SIZE: f32 = 4000.0;
pub const LARGE_NPCS: usize = 10_000;
pub const LARGE_VIEW_RADIUS: f32 = 250.0;
pub const PLAYER_SPEED: f32 = 200.0;
pub const DEFAULT_SEED: u32 = 12345;
const PLAYER_SEED_XOR: u32 = 0x9E37_79B9;
const TURN_PROBABILITY: f64 = 1.0 / 120.0;

/// A moving body: what both arena entity types replicate.
#[derive(Replicate, Clone, Copy, Debug, PartialEq)]
#[replicate(name = "npc")]
pub struct Npc {
    #[field(
        fixed(scale = 960, min = 0, max = 4000, tolerance = 0.03125),
        predict = velocity(vel),
        interp = linear
    )]
    pub pos: Vec2,
    #[field(fixed(scale = 16, min = -300, max = 300))]
    pub vel: Vec2,
    /// Its speed, kept across turns (not replicated).
    #[field(skip)]
    pub speed: f32,
}

#[derive(Replicate, Clone, Copy, Debug, PartialEq)]
#[replicate(name = "player")]
pub struct Player {
    #[field(
        fixed(scale = 960, min = 0, max = 4000, tolerance = 0.03125),
        predict = velocity(vel),
        interp = linear
    )]
    pub pos: Vec2,
    /// Its actual motion: an axis pressed into a wall moves nothing, so it replicates as 0.
    #[field(fixed(scale = 16, min = -300, max = 300))]
    pub vel: Vec2,
}

#[derive(Replicate, Clone, Copy, Debug, PartialEq)]
pub enum Body {
    Npc(Npc),
    Player(Player),
}

impl Body {
    pub fn pos(&self) -> Vec2 {
        match self {
            Body::Npc(n) => n.pos,
            Body::Player(p) => p.pos,
        }
    }
}

/// A player's controls: a direction, each axis in -1..=1.
#[derive(Fields, Clone, Copy, Debug, Default, PartialEq)]
pub struct Move {
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_x: f32,
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_y: f32,
}

pub struct Arena {
    npc_rng: Mulberry32,
    player_rng: Mulberry32,
    /// NPCs in creation order: the order the scenario steps them in.
    npcs: Vec<EntityKey>,
    /// Players' chosen velocities (their input), applied each step.
    wanted: ticksync::slotmap::SecondaryMap<EntityKey, Vec2>,
    /// The world's side.
    size: f32,
    /// Each client sees this far (`None`: everything).
    view_radius: Option<f32>,
}

impl Arena {
    /// Spawns `npc_count` NPCs into the 1000 x 1000 world; everyone sees everything.
    pub fn new(ctx: &mut Ctx<'_, Arena>, npc_count: usize, seed: u32) -> Self {
        Self::with_world(ctx, npc_count, seed, WORLD_SIZE, None)
    }

    /// "arena-large": 10,000 NPCs in a 4000 x 4000 world, each client seeing 250 units.
    pub fn large(ctx: &mut Ctx<'_, Arena>, seed: u32) -> Self {
        let (size, radius) = (LARGE_WORLD_SIZE, LARGE_VIEW_RADIUS);
        Self::with_world(ctx, LARGE_NPCS, seed, size, Some(radius))
    }

    /// `npc_count` NPCs in a `size` x `size` world.
    pub fn with_world(
        ctx: &mut Ctx<'_, Arena>,
        npc_count: usize,
        seed: u32,
        size: f32,
        view_radius: Option<f32>,
    ) -> Self {
        let mut rng = Mulberry32::new(seed);
        let npcs = (0..npc_count)
            .map(|_| {
                let pos = Vec2::new(rng.next_f64() as f32, rng.next_f64() as f32) * size;
                let heading = rng.next_f64() * TAU;
                let speed = (50.0 + rng.next_f64() * 100.0) as f32;
                let vel = heading_vec(heading) * speed;
                ctx.world.insert(Body::Npc(Npc { pos, vel, speed }))
            })
            .collect();
        Self {
            npc_rng: rng,
            player_rng: Mulberry32::new(seed ^ PLAYER_SEED_XOR),
            npcs,
            wanted: ticksync::slotmap::SecondaryMap::new(),
            size,
            view_radius,
        }
    }
}

fn heading_vec(heading: f64) -> Vec2 {
    Vec2::new(heading.cos() as f32, heading.sin() as f32)
}

/// Reflects one axis off the walls at 0 and `size`.
fn reflect(p: &mut f32, v: &mut f32, size: f32) {
    if *p < 0.0 {
        *p = -*p;
        *v = -*v;
    } else if *p > size {
        *p = 2.0 * size - *p;
        *v = -*v;
    }
}

/// An input's direction as a velocity: the axes as a vector, at most unit length.
pub fn input_velocity(input: &Move, speed: f32) -> Vec2 {
    let dir = Vec2::new(input.move_x.clamp(-1.0, 1.0), input.move_y.clamp(-1.0, 1.0));
    let dir = if dir.length_squared() > 1.0 {
        dir.normalize()
    } else {
        dir
    };
    dir * speed
}

/// One step of a player moving at `wanted` in a world `size` wide: what the server runs and
/// its bots predict.
pub fn step_player(p: &mut Player, wanted: Vec2, dt: f32, size: f32) {
    let to = (p.pos + wanted * dt).clamp(Vec2::ZERO, Vec2::splat(size));
    // Replicate what actually moved: an axis held against a wall has no velocity.
    p.vel = Vec2::select((to - p.pos).cmpeq(Vec2::ZERO), Vec2::ZERO, wanted);
    p.pos = to;
}

impl Game for Arena {
    type Entity = Body;
    type Room = ();
    type Input = Move;
    type Action = NoMessages;
    type Event = NoMessages;

    fn params(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("world_width", f64::from(self.size)),
            ("world_height", f64::from(self.size)),
            ("player_speed", f64::from(PLAYER_SPEED)),
        ]
    }

    fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
        let x = self.player_rng.next_f64() as f32 * self.size;
        let y = self.player_rng.next_f64() as f32 * self.size;
        let key = ctx.world.insert(Body::Player(Player {
            pos: Vec2::new(x, y),
            vel: Vec2::ZERO,
        }));
        self.wanted.insert(key, Vec2::ZERO);
        key
    }

    fn leave(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey) {
        ctx.world.remove(player);
        self.wanted.remove(player);
    }

    fn input(&mut self, _ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Move) {
        if let Some(w) = self.wanted.get_mut(player) {
            *w = input_velocity(&input, PLAYER_SPEED);
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_, Self>, dt: f32) {
        for key in &self.npcs {
            let Some(Body::Npc(e)) = ctx.world.get_mut(*key) else {
                continue;
            };
            if self.npc_rng.next_f64() < TURN_PROBABILITY {
                e.vel = heading_vec(self.npc_rng.next_f64() * TAU) * e.speed;
            }
            e.pos += e.vel * dt;
            reflect(&mut e.pos.x, &mut e.vel.x, self.size);
            reflect(&mut e.pos.y, &mut e.vel.y, self.size);
        }
        for (key, wanted) in &self.wanted {
            let Some(Body::Player(p)) = ctx.world.get_mut(key) else {
                continue;
            };
            step_player(p, *wanted, dt, self.size);
        }
    }

    /// Rebuilds the keys and velocities kept outside the world from the restored one. The
    /// world's size and view come from the fresh instance (the same registration).
    fn restored(&mut self, ctx: &mut Ctx<'_, Self>, _room: Option<()>) {
        self.npcs.clear();
        self.wanted.clear();
        for (key, body) in ctx.world.iter_mut() {
            match body {
                Body::Npc(n) => {
                    self.npcs.push(key);
                    // Not replicated, but turns keep it: it is the length of the velocity.
                    n.speed = n.vel.length();
                }
                // Its actual motion: its input's velocity but on an axis held against a wall,
                // until its next input.
                Body::Player(p) => {
                    self.wanted.insert(key, p.vel);
                }
            }
        }
        // Iteration is in slot order, which is creation order: NPCs never go.
        self.npc_rng = self.npc_rng.salted(ctx.tick);
        self.player_rng = self.player_rng.salted(ctx.tick);
    }

    fn view(&self) -> Option<View> {
        self.view_radius.map(|radius| View {
            radius,
            position: "pos",
        })
    }
}

/// The arena with `npcs` NPCs and `players` players, each holding a fixed direction (a
/// different one per player): the shared workload of benchmarks and size tests.
pub fn scenario(npcs: usize, players: usize) -> ticksync::game::Sim<Arena> {
    let mut sim = ticksync::game::Sim::new(|ctx| Arena::new(ctx, npcs, DEFAULT_SEED));
    for i in 0..players {
        let p = sim.join("bot");
        let angle = i as f32 * 2.399_963; // golden angle: directions spread evenly
        sim.input(
            p,
            Move {
                move_x: angle.cos(),
                move_y: angle.sin(),
            },
        );
    }
    sim
}

/// The folder of arena's browser page (served at `/games/arena/`; arena-large uses it too).
pub fn page() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/web").into()
}

pub mod bot;
pub use bot::Bot;

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync::game::Sim;

    #[test]
    fn mulberry32_matches_the_reference_sequence() {
        // First outputs of the common JavaScript mulberry32 with seed 12345, times 2^32.
        let mut r = Mulberry32::new(12345);
        let got: Vec<u32> = (0..3)
            .map(|_| (r.next_f64() * 4_294_967_296.0) as u32)
            .collect();
        assert_eq!(got, [4_207_900_869, 1_317_490_944, 2_079_646_450]);
    }

    #[test]
    fn same_seed_same_world() {
        let mut a = Sim::new(|ctx| Arena::new(ctx, 100, 7));
        let mut b = Sim::new(|ctx| Arena::new(ctx, 100, 7));
        for _ in 0..300 {
            a.step(1.0 / 60.0);
            b.step(1.0 / 60.0);
        }
        assert!(a.world.values().zip(b.world.values()).all(|(x, y)| x == y));
    }

    #[test]
    fn npcs_stay_in_the_world() {
        let mut s = Sim::new(|ctx| Arena::new(ctx, 500, DEFAULT_SEED));
        for _ in 0..600 {
            s.step(1.0 / 60.0);
        }
        for e in s.world.values() {
            let p = e.pos();
            assert!((0.0..=WORLD_SIZE).contains(&p.x) && (0.0..=WORLD_SIZE).contains(&p.y));
        }
    }

    #[test]
    fn a_restored_arena_plays_on() {
        let mut sim = scenario(200, 5);
        for _ in 0..120 {
            sim.step(1.0 / 60.0);
        }
        let saved = sim.save();
        let mut a = Sim::new(|ctx| Arena::new(ctx, 200, DEFAULT_SEED));
        a.restore(&saved).unwrap();
        assert!(a.save() == saved);
        assert_eq!(a.game.npcs, sim.game.npcs);
        assert_eq!(a.game.wanted.len(), 5);
        let speeds = |s: &Sim<Arena>| -> Vec<f32> {
            s.world
                .values()
                .filter_map(|b| match b {
                    Body::Npc(n) => Some(n.vel.length()),
                    Body::Player(_) => None,
                })
                .collect()
        };
        let before = speeds(&sim);
        // Same save into the same registration, same future: the reseeded RNG is deterministic.
        let mut b = Sim::new(|ctx| Arena::new(ctx, 200, DEFAULT_SEED));
        b.restore(&saved).unwrap();
        for _ in 0..600 {
            a.step(1.0 / 60.0);
            b.step(1.0 / 60.0);
        }
        assert!(a.save() == b.save());
        // NPCs turned (about five times each) at their own speed, never stopping.
        for (was, now) in before.iter().zip(speeds(&a)) {
            assert!((was - now).abs() < 1e-3 * was.max(1.0), "{was} -> {now}");
        }
        // Players kept moving the way they were going.
        for (k, body) in &sim.world {
            if let (Body::Player(p), Body::Player(q)) = (body, &a.world[k]) {
                assert!(p.vel == Vec2::ZERO || q.pos != p.pos, "{k:?} moved on");
            }
        }
        // New players join on fresh keys.
        let p = a.join("late");
        assert!(
            saved
                .entities
                .iter()
                .all(|e| e.id != ticksync::game::wire_id(p))
        );
    }

    #[test]
    fn players_move_with_their_input_and_are_clamped() {
        let mut s = Sim::new(|ctx| Arena::new(ctx, 0, DEFAULT_SEED));
        let p = s.join("ann");
        let start = s.world[p].pos();
        s.input(
            p,
            Move {
                move_x: 1.0,
                move_y: 0.0,
            },
        );
        s.step(0.5);
        assert!((s.world[p].pos().x - (start.x + 100.0).min(WORLD_SIZE)).abs() < 1e-3);
        assert_eq!(s.world[p].pos().y, start.y);
        s.input(
            p,
            Move {
                move_x: -1.0,
                move_y: -1.0,
            },
        );
        s.step(100.0);
        assert_eq!(s.world[p].pos(), Vec2::ZERO);
        // Held against the corner, it replicates no velocity.
        s.step(1.0 / 60.0);
        assert!(matches!(s.world[p], Body::Player(pl) if pl.vel == Vec2::ZERO));
        // Diagonal input is no faster than straight.
        let v = input_velocity(
            &Move {
                move_x: 1.0,
                move_y: 1.0,
            },
            1.0,
        );
        assert!((v.length() - 1.0).abs() < 1e-6);
    }
}
