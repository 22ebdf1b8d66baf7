//! The reference scenario "arena" (DESIGN.md): K NPCs wandering a 1000 x 1000 world, bouncing
//! off the walls, plus one player entity per client. Deterministic for a seed, so every
//! benchmark and test runs the same work.

use std::f64::consts::TAU;

use glam::Vec2;
use protocol::Input;
use protocol::table::{KIND_NPC, KIND_PLAYER};

use crate::game::{Entity, EntityKey, Game, GameFactory, GameInfo, World};

pub const WORLD_SIZE: f32 = 1000.0;
pub const PLAYER_SPEED: f32 = 200.0;
pub const DEFAULT_SEED: u32 = 12345;
const PLAYER_SEED_XOR: u32 = 0x9E37_79B9;
const TURN_PROBABILITY: f64 = 1.0 / 120.0;

/// mulberry32: tiny, fast, and easy to reproduce in any language.
#[derive(Clone, Debug)]
pub struct Mulberry32(u32);

impl Mulberry32 {
    pub fn new(seed: u32) -> Self {
        Self(seed)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6D2B_79F5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }
}

pub struct Arena {
    npc_rng: Mulberry32,
    player_rng: Mulberry32,
    /// NPCs in creation order: the order the scenario steps them in.
    npcs: Vec<(EntityKey, f32)>,
}

impl Arena {
    /// Spawns `npc_count` NPCs into `world`.
    pub fn new(world: &mut World, npc_count: usize, seed: u32) -> Self {
        let mut rng = Mulberry32::new(seed);
        let npcs = (0..npc_count)
            .map(|_| {
                let pos = Vec2::new(rng.next_f64() as f32, rng.next_f64() as f32) * WORLD_SIZE;
                let heading = rng.next_f64() * TAU;
                let speed = (50.0 + rng.next_f64() * 100.0) as f32;
                let vel = heading_vec(heading) * speed;
                (
                    world.insert(Entity {
                        kind: KIND_NPC,
                        pos,
                        vel,
                    }),
                    speed,
                )
            })
            .collect();
        Self {
            npc_rng: rng,
            player_rng: Mulberry32::new(seed ^ PLAYER_SEED_XOR),
            npcs,
        }
    }
}

fn heading_vec(heading: f64) -> Vec2 {
    Vec2::new(heading.cos() as f32, heading.sin() as f32)
}

/// Reflects one axis off the walls at 0 and `WORLD_SIZE`.
fn reflect(p: &mut f32, v: &mut f32) {
    if *p < 0.0 {
        *p = -*p;
        *v = -*v;
    } else if *p > WORLD_SIZE {
        *p = 2.0 * WORLD_SIZE - *p;
        *v = -*v;
    }
}

/// A wire input's direction as a velocity: the axes as a vector, at most unit length.
pub fn input_velocity(input: &Input, speed: f32) -> Vec2 {
    let dir = Vec2::new(
        protocol::quant::axis_from_wire(input.dx),
        protocol::quant::axis_from_wire(input.dy),
    );
    let dir = if dir.length_squared() > 1.0 {
        dir.normalize()
    } else {
        dir
    };
    dir * speed
}

impl Game for Arena {
    fn info(&self) -> GameInfo {
        GameInfo {
            world_size: Vec2::splat(WORLD_SIZE),
            player_speed: PLAYER_SPEED,
        }
    }

    fn join(&mut self, world: &mut World, _name: &str) -> EntityKey {
        let x = self.player_rng.next_f64() as f32 * WORLD_SIZE;
        let y = self.player_rng.next_f64() as f32 * WORLD_SIZE;
        world.insert(Entity {
            kind: KIND_PLAYER,
            pos: Vec2::new(x, y),
            vel: Vec2::ZERO,
        })
    }

    fn leave(&mut self, world: &mut World, player: EntityKey) {
        world.remove(player);
    }

    fn input(&mut self, world: &mut World, player: EntityKey, input: &Input) {
        if let Some(e) = world.get_mut(player) {
            e.vel = input_velocity(input, PLAYER_SPEED);
        }
    }

    fn step(&mut self, world: &mut World, dt: f32) {
        for (key, speed) in &self.npcs {
            let Some(e) = world.get_mut(*key) else {
                continue;
            };
            if self.npc_rng.next_f64() < TURN_PROBABILITY {
                e.vel = heading_vec(self.npc_rng.next_f64() * TAU) * *speed;
            }
            e.pos += e.vel * dt;
            reflect(&mut e.pos.x, &mut e.vel.x);
            reflect(&mut e.pos.y, &mut e.vel.y);
        }
        for e in world.values_mut().filter(|e| e.kind == KIND_PLAYER) {
            e.pos = (e.pos + e.vel * dt).clamp(Vec2::ZERO, Vec2::splat(WORLD_SIZE));
        }
    }
}

/// Every room runs arena with `npc_count` NPCs.
pub struct ArenaFactory {
    pub npc_count: usize,
    pub seed: u32,
}

impl GameFactory for ArenaFactory {
    fn create(&self, _room: &str, world: &mut World) -> Box<dyn Game> {
        Box::new(Arena::new(world, self.npc_count, self.seed))
    }
}

/// The arena with `npcs` NPCs and `players` players, each holding a fixed direction (a
/// different one per player): the shared workload of benchmarks and size tests.
pub fn scenario(npcs: usize, players: usize) -> (World, Arena, Vec<EntityKey>) {
    let mut world = World::with_key();
    let mut arena = Arena::new(&mut world, npcs, DEFAULT_SEED);
    let keys = (0..players)
        .map(|i| {
            let p = arena.join(&mut world, "bot");
            let angle = i as f32 * 2.399_963; // golden angle: directions spread evenly
            let input = Input {
                seq: 1,
                dx: protocol::quant::axis_to_wire(angle.cos()),
                dy: protocol::quant::axis_to_wire(angle.sin()),
                buttons: 0,
            };
            arena.input(&mut world, p, &input);
            p
        })
        .collect();
    (world, arena, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (mut a, mut b) = (World::with_key(), World::with_key());
        let (mut ga, mut gb) = (Arena::new(&mut a, 100, 7), Arena::new(&mut b, 100, 7));
        for _ in 0..300 {
            ga.step(&mut a, 1.0 / 60.0);
            gb.step(&mut b, 1.0 / 60.0);
        }
        assert!(a.values().zip(b.values()).all(|(x, y)| x == y));
    }

    #[test]
    fn npcs_stay_in_the_world() {
        let mut w = World::with_key();
        let mut g = Arena::new(&mut w, 500, DEFAULT_SEED);
        for _ in 0..600 {
            g.step(&mut w, 1.0 / 60.0);
        }
        for e in w.values() {
            assert!((0.0..=WORLD_SIZE).contains(&e.pos.x) && (0.0..=WORLD_SIZE).contains(&e.pos.y));
        }
    }

    #[test]
    fn players_move_with_their_input_and_are_clamped() {
        let mut w = World::with_key();
        let mut g = Arena::new(&mut w, 0, DEFAULT_SEED);
        let p = g.join(&mut w, "ann");
        let start = w[p].pos;
        g.input(
            &mut w,
            p,
            &Input {
                seq: 1,
                dx: 127,
                dy: 0,
                buttons: 0,
            },
        );
        g.step(&mut w, 0.5);
        assert!((w[p].pos.x - (start.x + 100.0).min(WORLD_SIZE)).abs() < 1e-3);
        assert_eq!(w[p].pos.y, start.y);
        g.input(
            &mut w,
            p,
            &Input {
                seq: 2,
                dx: -127,
                dy: -127,
                buttons: 0,
            },
        );
        g.step(&mut w, 100.0);
        assert_eq!(w[p].pos, Vec2::ZERO);
        // Diagonal input is no faster than straight.
        assert!(
            (input_velocity(
                &Input {
                    seq: 3,
                    dx: 127,
                    dy: 127,
                    buttons: 0
                },
                1.0
            )
            .length()
                - 1.0)
                .abs()
                < 1e-6
        );
    }
}
