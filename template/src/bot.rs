//! The game's bot for load tests (`coins bots ...`): it heads for the nearest coin, as a
//! player would. It reads the world the way the browser does: by names, from the schema the
//! server sent.

use ticksync::bots::behaviour::{Behaviour, GameView, defaults, numeric_input};
use ticksync::protocol::{Descriptor, EntityId, Value};

/// Heads for the nearest coin.
pub struct Collector {
    coin: u16,
    move_x: usize,
    move_y: usize,
}

impl Collector {
    /// `None` when the schema lacks the `coin` type or the `move_x`/`move_y` inputs (the bot
    /// then sends random valid inputs instead).
    pub fn new(schema: &Descriptor, _seed: u64) -> Option<Self> {
        Some(Collector {
            coin: schema.types.iter().find(|t| t.name == "coin")?.id,
            move_x: numeric_input(schema, "move_x")?,
            move_y: numeric_input(schema, "move_y")?,
        })
    }
}

/// An entity's position, if it has one.
fn pos(view: &GameView<'_>, id: EntityId) -> Option<(f64, f64)> {
    let num = |name| view.field(id, name).map(|v| v.as_f64());
    Some((num("pos.x")?, num("pos.y")?))
}

impl Behaviour for Collector {
    fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
        let mut values = defaults(&view.schema.input);
        let (Some(me), Some(table)) = (pos(view, view.player), view.table()) else {
            return values;
        };
        let nearest = table
            .iter()
            .filter(|e| e.ty == self.coin)
            .filter_map(|e| pos(view, e.id))
            .min_by(|a, b| {
                let d = |p: &(f64, f64)| (p.0 - me.0).powi(2) + (p.1 - me.1).powi(2);
                d(a).total_cmp(&d(b))
            });
        if let Some((x, y)) = nearest {
            let (dx, dy) = (x - me.0, y - me.1);
            let len = dx.hypot(dy).max(1e-9);
            values[self.move_x] = Value::Num(dx / len);
            values[self.move_y] = Value::Num(dy / len);
        }
        values
    }

    fn name(&self) -> &'static str {
        "collector"
    }
}
