//! The engine's own test game, "drift": dots that drift in straight lines and bounce off the
//! walls, one per player too, steered by its input. The engine knows no real game; its unit
//! tests need one with positions (for views), predicted motion and players.

use glam::Vec2;
use protocol::declare::NoMessages;
use ticksync_derive::{Fields, Replicate};

use crate::game::{Ctx, EntityKey, Game, Games, View};
use crate::rng::Mulberry32;

/// Positions are declared over 0..4000 whatever the world's size (views place by it).
pub const SPAN: f32 = 4000.0;

#[derive(Replicate, Clone, Copy, Debug, PartialEq)]
pub struct Dot {
    #[field(
        fixed(scale = 960, min = 0, max = 4000, tolerance = 0.03125),
        predict = velocity(vel),
        interp = linear
    )]
    pub pos: Vec2,
    #[field(fixed(scale = 16, min = -300, max = 300))]
    pub vel: Vec2,
}

#[derive(Fields, Clone, Copy, Debug, Default)]
pub struct Steer {
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_x: f32,
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_y: f32,
}

pub struct Drift {
    size: f32,
    view: Option<f32>,
    rng: Mulberry32,
}

impl Drift {
    /// `dots` drifting dots in a `size` x `size` world; with `view`, clients see that far.
    pub fn new(
        ctx: &mut Ctx<'_, Drift>,
        dots: usize,
        seed: u32,
        size: f32,
        view: Option<f32>,
    ) -> Self {
        let mut rng = Mulberry32::new(seed);
        for _ in 0..dots {
            let pos = Vec2::new(rng.next_f64() as f32, rng.next_f64() as f32) * size;
            let a = (rng.next_f64() * std::f64::consts::TAU) as f32;
            let vel = Vec2::new(a.cos(), a.sin()) * (50.0 + 100.0 * rng.next_f64() as f32);
            ctx.world.insert(Dot { pos, vel });
        }
        Drift { size, view, rng }
    }
}

impl Game for Drift {
    type Entity = Dot;
    type Room = ();
    type Input = Steer;
    type Action = NoMessages;
    type Event = NoMessages;

    fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
        let pos = Vec2::new(self.rng.next_f64() as f32, self.rng.next_f64() as f32) * self.size;
        ctx.world.insert(Dot {
            pos,
            vel: Vec2::ZERO,
        })
    }

    fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Steer) {
        if let Some(d) = ctx.world.get_mut(player) {
            d.vel = Vec2::new(input.move_x, input.move_y).clamp_length_max(1.0) * 200.0;
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_, Self>, dt: f32) {
        let size = self.size;
        for (_, d) in ctx.world.iter_mut() {
            d.pos += d.vel * dt;
            for (p, v) in [(&mut d.pos.x, &mut d.vel.x), (&mut d.pos.y, &mut d.vel.y)] {
                if *p < 0.0 || *p > size {
                    *p = p.clamp(0.0, size);
                    *v = -*v;
                }
            }
        }
    }

    fn view(&self) -> Option<View> {
        self.view.map(|radius| View {
            radius,
            position: "pos",
        })
    }
}

/// "drift" (200 dots, 1000 x 1000, everyone sees all) and "drift-view" (the whole span,
/// 2,000 dots, views of 250).
pub fn games() -> Games {
    let mut games = Games::default();
    games.register("drift", |ctx| Drift::new(ctx, 200, 1, 1000.0, None));
    games.register("drift-view", |ctx| {
        Drift::new(ctx, 2000, 1, SPAN, Some(250.0))
    });
    games
}
