//! Arena's bots: a random walk over the `move_x`, `move_y` inputs (a heading that changes
//! about once a second, and a pause now and then), predicting their own player by the rules
//! the server runs ([`step_player`]), as the browser page does, so the report measures the
//! prediction's corrections.

use ticksync::bots::behaviour::{Behaviour, GameView, RandomWalk};
use ticksync::protocol::declare::{Fields, Replicate, Writer};
use ticksync::protocol::{Descriptor, Value};

use crate::{Move, PLAYER_SPEED, Player, step_player};

/// A random walker that predicts its own player.
pub struct Bot {
    walk: RandomWalk,
    /// The world's side, from the schema's `world_width` (arena and arena-large differ).
    size: f32,
}

impl Bot {
    /// `None` when the schema lacks `move_x`/`move_y` inputs or the `world_width` param.
    pub fn new(schema: &Descriptor, seed: u64) -> Option<Self> {
        let size = schema
            .params
            .iter()
            .find(|p| p.name == "world_width")?
            .value as f32;
        Some(Bot {
            walk: RandomWalk::new(schema, seed)?,
            size,
        })
    }
}

impl Behaviour for Bot {
    fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
        self.walk.input(view)
    }

    fn name(&self) -> &'static str {
        "arena-walk"
    }

    fn predict(&self, own: &[Value], input: &[Value], dt: f32) -> Option<Vec<Value>> {
        let mut player = <Player as Replicate>::read(0, own)?;
        let wanted = crate::input_velocity(&Move::read(input), PLAYER_SPEED);
        step_player(&mut player, wanted, dt, self.size);
        let mut w = Writer::default();
        Replicate::write(&player, &mut w);
        Some(w.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync::game::RoomGame;

    #[test]
    fn predicts_what_the_server_steps() {
        let own = vec![
            Value::Num(1000.0),
            Value::Num(10.0),
            Value::Num(0.0),
            Value::Num(0.0),
        ];
        let sim = crate::scenario(0, 0);
        let bot = Bot::new(RoomGame::descriptor(&sim), 1).unwrap();
        let input = [Value::Num(1.0), Value::Num(0.0)];
        let next = bot.predict(&own, &input, 1.0 / 60.0).unwrap();
        // Against the wall: it stays, and has no velocity on that axis.
        assert_eq!(next[0], Value::Num(1000.0));
        assert_eq!(next[2], Value::Num(0.0));
        // Away from it: a tick's worth of motion.
        let back = bot
            .predict(&own, &[Value::Num(-1.0), Value::Num(0.0)], 0.5)
            .unwrap();
        assert_eq!((back[0].as_f64(), back[2].as_f64()), (900.0, -200.0));
    }
}
