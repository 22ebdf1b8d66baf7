//! The `Game` trait: a game's rules, kept apart from connections and the tick loop.
//!
//! The room owns the world and calls the game at fixed points of each tick; a studio plugs in
//! its own game by implementing this trait and a `GameFactory`.

use glam::Vec2;
use protocol::{EntityState, Input};
use slotmap::{SlotMap, new_key_type};

new_key_type! {
    /// A live entity. Its slot index and version are its wire id (`protocol::EntityId`).
    pub struct EntityKey;
}

/// One entity of a room's world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entity {
    /// Game-defined kind, sent to clients.
    pub kind: u8,
    pub pos: Vec2,
    pub vel: Vec2,
}

impl Entity {
    /// What clients see of it: kind and quantised position.
    pub fn wire_state(&self) -> EntityState {
        EntityState {
            kind: self.kind,
            x: protocol::quant::quantize(self.pos.x),
            y: protocol::quant::quantize(self.pos.y),
        }
    }
}

pub type World = SlotMap<EntityKey, Entity>;

/// The wire id of an entity key.
pub fn wire_id(key: EntityKey) -> protocol::EntityId {
    use slotmap::Key;
    let ffi = key.data().as_ffi();
    protocol::EntityId {
        index: ffi as u32,
        version: (ffi >> 32) as u32,
    }
}

/// Fills `table` (cleared) with what clients see of `world`.
pub fn fill_table(world: &World, table: &mut protocol::EntityTable) {
    table.clear();
    for (key, e) in world {
        if let Err(err) = table.insert(wire_id(key), e.wire_state()) {
            // Only past protocol::limits::MAX_ENTITY_INDEX entities; clients would not see it.
            tracing::warn!(%err, "entity not sent");
        }
    }
}

/// What clients are told about the game when they join.
#[derive(Clone, Copy, Debug)]
pub struct GameInfo {
    pub world_size: Vec2,
    pub player_speed: f32,
}

/// A game's rules. Only the room task calls these, one at a time (invariant 1: only the room
/// mutates its world), so implementations need no locking.
pub trait Game: Send + 'static {
    fn info(&self) -> GameInfo;
    /// A player joins: spawn its entity and return the key.
    fn join(&mut self, world: &mut World, name: &str) -> EntityKey;
    /// A player leaves: despawn or keep its entity as the game sees fit.
    fn leave(&mut self, world: &mut World, player: EntityKey);
    /// The newest input of a player this tick (called at most once per player per tick).
    fn input(&mut self, world: &mut World, player: EntityKey, input: &Input);
    /// Advance the world by one fixed step.
    fn step(&mut self, world: &mut World, dt: f32);
}

/// Makes the game for a new room, spawning its initial entities into the room's empty world.
pub trait GameFactory: Send + Sync + 'static {
    fn create(&self, room: &str, world: &mut World) -> Box<dyn Game>;
}
