//! "coins": each player steers a dot around a square field and collects the coins that appear
//! on it; a collected coin scores a point and reappears elsewhere. The smallest complete
//! ticksync game: declared state, an input, an event, rules, a bot and a page (`web/`).

pub mod bot;

use ticksync::game::{Ctx, EntityKey, Game};
use ticksync::glam::Vec2;
use ticksync::protocol::declare::NoMessages;
use ticksync::rng::Mulberry32;
use ticksync::{Fields, Messages, Replicate};

/// The game's name: in `Hello`, in URLs (`/?game=coins`) and in the bots' report.
pub const NAME: &str = "coins";
/// The field's side, in world units.
pub const SIZE: f32 = 500.0;
/// A player's speed, in units per second.
pub const SPEED: f32 = 150.0;
/// Coins on the field at any time.
pub const COINS: usize = 8;
/// A player collects a coin this close.
pub const REACH: f32 = 16.0;

/// A player's dot. Positions travel in 1/16 unit steps and are interpolated by clients.
#[derive(Replicate, Clone, Debug, PartialEq)]
pub struct Player {
    #[field(fixed(scale = 16, min = 0, max = 500), interp = linear)]
    pub pos: Vec2,
    /// Coins collected.
    #[field(int(min = 0, max = 100000))]
    pub score: u32,
    #[field(string(max = 24))]
    pub name: String,
}

/// A coin waiting to be collected.
#[derive(Replicate, Clone, Debug, PartialEq)]
pub struct Coin {
    #[field(fixed(scale = 16, min = 0, max = 500))]
    pub pos: Vec2,
}

/// The world's entity types (type ids in this order: player 0, coin 1).
#[derive(Replicate, Clone, Debug, PartialEq)]
pub enum Entity {
    Player(Player),
    Coin(Coin),
}

/// What a player sends every tick: where to go, each axis in -1..=1.
#[derive(Fields, Clone, Copy, Debug, Default, PartialEq)]
pub struct Steer {
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_x: f32,
    #[field(fixed(scale = 127, min = -1, max = 1))]
    pub move_y: f32,
}

/// Told to everyone in the room.
#[derive(Messages, Clone, Debug, PartialEq)]
pub enum Event {
    /// `name` collected a coin.
    Scored {
        #[field(string(max = 24))]
        name: String,
        #[field(int(min = 0, max = 100000))]
        score: u32,
    },
}

/// A room's rules; the world itself lives in `ctx.world`.
pub struct Coins {
    rng: Mulberry32,
    /// Each player's steering, applied every step.
    steering: Vec<(EntityKey, Vec2)>,
}

impl Coins {
    /// A new room: its coins placed.
    pub fn new(ctx: &mut Ctx<'_, Coins>) -> Self {
        let mut game = Coins {
            rng: Mulberry32::new(7),
            steering: Vec::new(),
        };
        for _ in 0..COINS {
            let pos = game.somewhere();
            ctx.world.insert(Entity::Coin(Coin { pos }));
        }
        game
    }

    fn somewhere(&mut self) -> Vec2 {
        Vec2::new(self.rng.next_f64() as f32, self.rng.next_f64() as f32) * SIZE
    }
}

impl Game for Coins {
    type Entity = Entity;
    type Room = ();
    type Input = Steer;
    type Action = NoMessages;
    type Event = Event;

    fn params(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("world_width", f64::from(SIZE)),
            ("world_height", f64::from(SIZE)),
            ("player_speed", f64::from(SPEED)),
        ]
    }

    fn join(&mut self, ctx: &mut Ctx<'_, Self>, name: &str) -> EntityKey {
        let pos = self.somewhere();
        let name = name.to_owned();
        let key = ctx.world.insert(Entity::Player(Player { pos, score: 0, name }));
        self.steering.push((key, Vec2::ZERO));
        key
    }

    fn leave(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey) {
        ctx.world.remove(player);
        self.steering.retain(|(k, _)| *k != player);
    }

    fn input(&mut self, _ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Steer) {
        let dir = Vec2::new(input.move_x, input.move_y).clamp_length_max(1.0);
        if let Some((_, s)) = self.steering.iter_mut().find(|(k, _)| *k == player) {
            *s = dir;
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_, Self>, dt: f32) {
        for i in 0..self.steering.len() {
            let (key, dir) = self.steering[i];
            let Some(Entity::Player(p)) = ctx.world.get_mut(key) else {
                continue;
            };
            p.pos = (p.pos + dir * SPEED * dt).clamp(Vec2::ZERO, Vec2::splat(SIZE));
            let at = p.pos;
            let coin = ctx.world.iter().find_map(|(k, e)| match e {
                Entity::Coin(c) if c.pos.distance(at) < REACH => Some(k),
                _ => None,
            });
            let Some(coin) = coin else { continue };
            let pos = self.somewhere();
            if let Some(Entity::Coin(c)) = ctx.world.get_mut(coin) {
                c.pos = pos;
            }
            if let Some(Entity::Player(p)) = ctx.world.get_mut(key) {
                p.score += 1;
                let (name, score) = (p.name.clone(), p.score);
                ctx.emit(Event::Scored { name, score });
            }
        }
    }

    fn restored(&mut self, ctx: &mut Ctx<'_, Self>, _room: Option<()>) {
        // The room came from another node (it drained for a deploy): the world is back under
        // its keys; what the game keeps beside it is rebuilt from it.
        self.steering = ctx
            .world
            .iter()
            .filter(|(_, e)| matches!(e, Entity::Player(_)))
            .map(|(k, _)| (k, Vec2::ZERO))
            .collect();
        self.rng = self.rng.salted(ctx.tick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync::Sim;

    #[test]
    fn a_player_walks_onto_a_coin_scores_and_everyone_hears_it() {
        let mut sim = Sim::new(Coins::new);
        let ann = sim.join("ann");
        let coin = sim
            .world
            .iter()
            .find_map(|(k, e)| matches!(e, Entity::Coin(_)).then_some(k))
            .unwrap();
        let Entity::Coin(Coin { pos: target }) = sim.world[coin].clone() else {
            unreachable!()
        };
        for _ in 0..60 * 10 {
            let Entity::Player(p) = &sim.world[ann] else { unreachable!() };
            if p.score > 0 {
                break;
            }
            let d = (target - p.pos).normalize_or_zero();
            sim.input(ann, Steer { move_x: d.x, move_y: d.y });
            sim.step(1.0 / 60.0);
        }
        let Entity::Player(p) = &sim.world[ann] else { unreachable!() };
        assert_eq!(p.score, 1);
        let events: Vec<Event> = sim.events().into_iter().map(|(_, e)| e).collect();
        assert_eq!(events, [Event::Scored { name: "ann".into(), score: 1 }]);
        // The coin moved on, and there are as many as ever.
        let coins = sim.world.values().filter(|e| matches!(e, Entity::Coin(_))).count();
        assert_eq!(coins, COINS);
    }

    #[test]
    fn players_stay_on_the_field() {
        let mut sim = Sim::new(Coins::new);
        let bob = sim.join("bob");
        for _ in 0..60 * 5 {
            sim.input(bob, Steer { move_x: -1.0, move_y: 1.0 });
            sim.step(1.0 / 60.0);
        }
        let Entity::Player(p) = &sim.world[bob] else { unreachable!() };
        assert_eq!(p.pos.x, 0.0);
        assert_eq!(p.pos.y, SIZE);
    }
}
