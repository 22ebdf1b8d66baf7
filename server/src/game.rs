//! The game API: what a studio implements to host its own game.
//!
//! A game is one type implementing [`Game`]: its declared types (entities, room state, input,
//! actions, events; see the `ticksync-derive` crate), then its rules as lifecycle hooks. The
//! room owns the world (a slotmap of the game's entities) and calls the hooks at fixed points
//! of each tick, one at a time, so a game needs no locking. Nothing of the wire leaks in: the
//! server quantises, predicts, encodes and validates from the declaration.
//!
//! ```
//! use glam::Vec2;
//! use protocol::declare::NoMessages;
//! use server::game::{Ctx, EntityKey, Game};
//! use ticksync_derive::{Fields, Replicate};
//!
//! /// The one entity type: a dot that moves.
//! #[derive(Replicate)]
//! struct Dot {
//!     #[field(fixed(scale = 16, min = 0, max = 100), interp = linear)]
//!     pos: Vec2,
//! }
//!
//! /// What a player sends each tick.
//! #[derive(Fields, Default)]
//! struct Steer {
//!     #[field(fixed(scale = 127, min = -1, max = 1))]
//!     x: f32,
//! }
//!
//! struct Dots;
//!
//! impl Game for Dots {
//!     type Entity = Dot;
//!     type Room = ();
//!     type Input = Steer;
//!     type Action = NoMessages;
//!     type Event = NoMessages;
//!
//!     fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
//!         ctx.world.insert(Dot { pos: Vec2::splat(50.0) })
//!     }
//!     fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Steer) {
//!         if let Some(d) = ctx.world.get_mut(player) {
//!             d.pos.x = (d.pos.x + input.x).clamp(0.0, 100.0);
//!         }
//!     }
//!     fn step(&mut self, _ctx: &mut Ctx<'_, Self>, _dt: f32) {}
//! }
//!
//! let mut games = server::game::Games::default();
//! games.register("dots", |_ctx| Dots);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use protocol::declare::{Fields, Messages, Replicate, Writer};
use protocol::schema::{self, Descriptor, Param, SchemaError, TypeDesc, Value, number};
use protocol::state::{Plan, StateTable};
use protocol::{Action, EntityId, ServerMsg, codec};

use crate::record::{Recipe, Recorder};
use slotmap::{Key, KeyData, SlotMap, new_key_type};

new_key_type! {
    /// A live entity. Its slot index and version are its wire id (`protocol::EntityId`).
    pub struct EntityKey;
}

/// A room's world: the game's entities in a slotmap.
pub type World<E> = SlotMap<EntityKey, E>;

/// The wire id of an entity key.
pub fn wire_id(key: EntityKey) -> EntityId {
    let ffi = key.data().as_ffi();
    EntityId {
        index: ffi as u32,
        version: (ffi >> 32) as u32,
    }
}

/// The entity key of a wire id.
pub fn key_of(id: EntityId) -> EntityKey {
    KeyData::from_ffi((u64::from(id.version) << 32) | u64::from(id.index)).into()
}

/// Who a game event goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Everyone,
    /// The client playing this entity.
    Player(EntityKey),
}

/// What a game's hooks get: the world, the tick, and a way to send events.
pub struct Ctx<'a, G: Game> {
    pub world: &'a mut World<G::Entity>,
    /// The tick being simulated (or the current one, outside `step`).
    pub tick: u32,
    /// Ticks per second.
    pub tick_rate: u16,
    events: &'a mut Vec<(Target, G::Event)>,
}

impl<G: Game> Ctx<'_, G> {
    /// Sends a reliable event to every client in the room.
    pub fn emit(&mut self, event: G::Event) {
        self.events.push((Target::Everyone, event));
    }

    /// Sends a reliable event to the client playing `player`.
    pub fn emit_to(&mut self, player: EntityKey, event: G::Event) {
        self.events.push((Target::Player(player), event));
    }
}

/// A game's rules. Every hook but `join`, `input` and `step` has a default.
pub trait Game: Sized + Send + 'static {
    /// The world's entities: one `#[derive(Replicate)]` struct, or an enum of them.
    type Entity: Replicate + Send;
    /// The room state, replicated like an entity (`()`: none). Return it from `room`.
    type Room: Replicate + Send;
    /// What a player sends every tick (`#[derive(Fields)]`, `Default` = no input).
    type Input: Fields + Default + Send;
    /// Reliable client -> server messages (`#[derive(Messages)]`, or `NoMessages`).
    type Action: Messages + Send;
    /// Reliable server -> client messages (`#[derive(Messages)]`, or `NoMessages`).
    type Event: Messages + Send;

    /// Numbers clients may use to draw and predict (world size, speeds), sent in `Welcome`.
    fn params(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// A player joins: spawn its entity and return its key.
    fn join(&mut self, ctx: &mut Ctx<'_, Self>, name: &str) -> EntityKey;

    /// A player left for good (or its resume grace ran out): by default its entity goes.
    fn leave(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey) {
        ctx.world.remove(player);
    }

    /// A player's connection dropped; it may come back within the resume grace. By default it
    /// gets `Input::default()` (standing still) until then.
    fn disconnected(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey) {
        self.input(ctx, player, Self::Input::default());
    }

    /// A dropped player came back (resumed) to the same entity.
    fn rejoined(&mut self, _ctx: &mut Ctx<'_, Self>, _player: EntityKey) {}

    /// A player's newest input this tick (at most once per player per tick, before `step`).
    fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Self::Input);

    /// A reliable action from a player (already validated against its declaration).
    fn action(&mut self, _ctx: &mut Ctx<'_, Self>, _player: EntityKey, _action: Self::Action) {}

    /// Advance the world by one fixed step of `dt` seconds.
    fn step(&mut self, ctx: &mut Ctx<'_, Self>, dt: f32);

    /// The room state, if the game has one.
    fn room(&self) -> Option<&Self::Room> {
        None
    }

    /// The room is closing.
    fn dispose(&mut self, _ctx: &mut Ctx<'_, Self>) {}

    /// What each client sees (`None`, the default: every entity). With a view, a client gets
    /// the entities near its player; `--view-radius` overrides the radius.
    fn view(&self) -> Option<View> {
        None
    }
}

/// Interest management: each client sees the entities within `radius` world units of its
/// player, by a grid of square cells `radius` wide (so a little more: every entity in a cell
/// the square of half-width `radius` around the player touches). Entities are placed by their
/// `position` field, a `Vec2` replicated as `NAME.x` and `NAME.y` of a `fixed` coding; types
/// without it (the room state, say) are seen by everyone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub radius: f32,
    pub position: &'static str,
}

/// The descriptor of game `G` named `name`, with `params`, resolved for `tick_rate`.
pub fn descriptor<G: Game>(
    name: &str,
    params: &[(&str, f64)],
    tick_rate: u16,
) -> Result<Descriptor, SchemaError> {
    let mut types: Vec<TypeDesc> = G::Entity::types()
        .into_iter()
        .map(|(name, fields)| TypeDesc {
            id: 0,
            name,
            fields: number(fields),
        })
        .collect();
    let room = G::Room::types();
    if room.len() > 1 {
        return Err(SchemaError("the room state must be one type".into()));
    }
    let room_type = room.into_iter().next().map(|(name, fields)| {
        types.push(TypeDesc {
            id: 0,
            name,
            fields: number(fields),
        });
        (types.len() - 1) as u16
    });
    for (i, t) in types.iter_mut().enumerate() {
        t.id = i as u16;
    }
    let messages = |list: Vec<(String, Vec<schema::FieldDesc>)>| -> Vec<TypeDesc> {
        list.into_iter()
            .enumerate()
            .map(|(i, (name, fields))| TypeDesc {
                id: i as u16,
                name,
                fields: number(fields),
            })
            .collect()
    };
    Descriptor {
        game: name.to_owned(),
        types,
        room_type,
        input: number(G::Input::fields()),
        actions: messages(G::Action::messages()),
        events: messages(G::Event::messages()),
        params: params
            .iter()
            .map(|(n, v)| Param {
                name: (*n).to_owned(),
                value: *v,
            })
            .collect(),
    }
    .resolve(tick_rate)
}

// ---- the registry -------------------------------------------------------------------------

/// Makes one game's rooms.
pub trait GameFactory: Send + Sync + 'static {
    /// A new room's game, its initial entities spawned.
    fn create(&self, tick_rate: u16) -> Result<Box<dyn RoomGame>, SchemaError>;
}

struct Factory<G, F> {
    name: String,
    make: F,
    _game: std::marker::PhantomData<fn() -> G>,
}

impl<G: Game, F: Fn(&mut Ctx<'_, G>) -> G + Send + Sync + 'static> GameFactory for Factory<G, F> {
    fn create(&self, tick_rate: u16) -> Result<Box<dyn RoomGame>, SchemaError> {
        Ok(Box::new(Sim::build(&self.name, tick_rate, &self.make)?))
    }
}

/// The games a server hosts, by name.
#[derive(Clone, Default)]
pub struct Games {
    map: BTreeMap<String, Arc<dyn GameFactory>>,
}

impl Games {
    /// Registers game `G` as `name`; `make` builds each new room's game (spawning its initial
    /// entities into `ctx.world`).
    pub fn register<G: Game>(
        &mut self,
        name: &str,
        make: impl Fn(&mut Ctx<'_, G>) -> G + Send + Sync + 'static,
    ) -> &mut Self {
        self.map.insert(
            name.to_owned(),
            Arc::new(Factory {
                name: name.to_owned(),
                make,
                _game: std::marker::PhantomData,
            }),
        );
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn GameFactory>> {
        self.map.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// The descriptor game `name` sends at `tick_rate` (for tools: `schema --ts`).
    pub fn descriptor(
        &self,
        name: &str,
        tick_rate: u16,
    ) -> Option<Result<Descriptor, SchemaError>> {
        let g = self.get(name)?;
        Some(g.create(tick_rate).map(|r| (**r.descriptor()).clone()))
    }
}

// ---- what a room drives -------------------------------------------------------------------

/// A game as the room drives it, with the wire's types: entity ids and decoded values.
pub trait RoomGame: Send {
    fn descriptor(&self) -> &Arc<Descriptor>;
    /// Shared with the writers that build snapshots from published ticks.
    fn plan(&self) -> &Arc<Plan>;
    fn join(&mut self, name: &str) -> EntityId;
    fn leave(&mut self, player: EntityId);
    fn disconnected(&mut self, player: EntityId);
    fn rejoined(&mut self, player: EntityId);
    /// A validated input (values in the input's field order).
    fn input(&mut self, player: EntityId, values: &[Value]);
    /// A validated action; unknown ids are ignored.
    fn action(&mut self, player: EntityId, id: u16, values: &[Value]);
    /// Steps the game once (the tick its hooks see advances by one).
    fn step(&mut self, dt: f32);
    /// Records the world at `tick` into `out`, quantised per the declaration. `prev`: the
    /// table recorded last (and the one before), for fields kept on their predicted track.
    /// Adds to `moved` the slot of every entity that did not keep to the track `prev`
    /// predicts (new ones included; gone ones are not recorded, so not listed).
    fn record(
        &mut self,
        tick: u32,
        prev: Option<Baseline<'_>>,
        out: &mut StateTable,
        moved: &mut Vec<u32>,
    );
    /// The events raised since the last call, encoded, with whom they go to (`None`: all).
    fn take_events(&mut self, out: &mut Vec<(Option<EntityId>, Bytes)>);
    fn entities(&self) -> usize;
    fn dispose(&mut self);
    fn view(&self) -> Option<View>;
}

pub use protocol::state_delta::Baseline;

/// One game instance driven directly, without sockets or a room task: what a room runs, and
/// what tests, benchmarks and tools use to step a game and record its replicated state.
pub struct Sim<G: Game> {
    pub game: G,
    pub world: World<G::Entity>,
    events: Vec<(Target, G::Event)>,
    tick: u32,
    tick_rate: u16,
    descriptor: Arc<Descriptor>,
    plan: Arc<Plan>,
    recipe: Recipe,
    writer: Writer,
}

impl<G: Game> Sim<G> {
    /// Game `G` as `name` at `tick_rate`, made by `make` (which spawns its initial entities).
    pub fn build(
        name: &str,
        tick_rate: u16,
        make: impl FnOnce(&mut Ctx<'_, G>) -> G,
    ) -> Result<Self, SchemaError> {
        let mut world = World::with_key();
        let mut events = Vec::new();
        let game = make(&mut Ctx {
            world: &mut world,
            tick: 0,
            tick_rate,
            events: &mut events,
        });
        let descriptor = descriptor::<G>(name, &game.params(), tick_rate)?;
        let plan = Arc::new(Plan::new(&descriptor));
        let recipe = Recipe::new(&descriptor, &plan);
        Ok(Sim {
            game,
            world,
            events,
            tick: 0,
            tick_rate,
            descriptor: Arc::new(descriptor),
            plan,
            recipe,
            writer: Writer::default(),
        })
    }

    /// `build` at 60 Hz; panics on a bad declaration (for tests and benchmarks).
    pub fn new(make: impl FnOnce(&mut Ctx<'_, G>) -> G) -> Self {
        Self::build("game", 60, make).expect("a valid declaration")
    }

    pub fn join(&mut self, name: &str) -> EntityKey {
        self.with(|g, ctx| g.join(ctx, name))
    }

    pub fn input(&mut self, player: EntityKey, input: G::Input) {
        self.with(|g, ctx| g.input(ctx, player, input));
    }

    /// Steps the game once and advances the tick.
    pub fn step(&mut self, dt: f32) {
        self.with(|g, ctx| g.step(ctx, dt));
        self.tick = self.tick.wrapping_add(1);
    }

    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The events raised so far, taken.
    pub fn events(&mut self) -> Vec<(Target, G::Event)> {
        std::mem::take(&mut self.events)
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut G, &mut Ctx<'_, G>) -> R) -> R {
        let mut ctx = Ctx {
            world: &mut self.world,
            tick: self.tick,
            tick_rate: self.tick_rate,
            events: &mut self.events,
        };
        f(&mut self.game, &mut ctx)
    }
}

impl<G: Game> RoomGame for Sim<G> {
    fn descriptor(&self) -> &Arc<Descriptor> {
        &self.descriptor
    }

    fn view(&self) -> Option<View> {
        self.game.view()
    }

    fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    fn join(&mut self, name: &str) -> EntityId {
        wire_id(Sim::join(self, name))
    }

    fn leave(&mut self, player: EntityId) {
        self.with(|g, ctx| g.leave(ctx, key_of(player)));
    }

    fn disconnected(&mut self, player: EntityId) {
        self.with(|g, ctx| g.disconnected(ctx, key_of(player)));
    }

    fn rejoined(&mut self, player: EntityId) {
        self.with(|g, ctx| g.rejoined(ctx, key_of(player)));
    }

    fn input(&mut self, player: EntityId, values: &[Value]) {
        let input = G::Input::read(values);
        self.with(|g, ctx| g.input(ctx, key_of(player), input));
    }

    fn action(&mut self, player: EntityId, id: u16, values: &[Value]) {
        if let Some(action) = G::Action::read(id, values) {
            self.with(|g, ctx| g.action(ctx, key_of(player), action));
        }
    }

    fn step(&mut self, dt: f32) {
        Sim::step(self, dt);
    }

    fn record(
        &mut self,
        tick: u32,
        prev: Option<Baseline<'_>>,
        out: &mut StateTable,
        moved: &mut Vec<u32>,
    ) {
        out.clear();
        let room = self.game.room().zip(self.descriptor.room_type);
        let entities = self
            .world
            .iter()
            .map(|(k, e)| (wire_id(k), e.type_id(), e as &dyn WriteFields));
        let room = room.map(|(r, ty)| {
            (
                EntityId {
                    index: schema::ROOM_INDEX,
                    version: schema::ROOM_VERSION,
                },
                ty,
                r as &dyn WriteFields,
            )
        });
        let rec = Recorder {
            d: &self.descriptor,
            plan: &self.plan,
            recipe: &self.recipe,
            prev,
            tick,
        };
        // The room state sits in slot 0, which slotmap never hands out.
        for (id, ty, value) in room.into_iter().chain(entities) {
            self.writer.clear();
            value.write_fields(&mut self.writer);
            if !rec.put(id, ty, &self.writer, out) {
                moved.push(id.index);
            }
        }
    }

    fn take_events(&mut self, out: &mut Vec<(Option<EntityId>, Bytes)>) {
        for (to, event) in self.events.drain(..) {
            let id = event.id();
            let Some(desc) = self.descriptor.events.get(usize::from(id)) else {
                continue;
            };
            self.writer.clear();
            event.write(&mut self.writer);
            let mut values = Vec::new();
            schema::encode_values(&desc.fields, &self.writer.values(), &mut values);
            let msg = ServerMsg::GameEvent(Action { id, values });
            let to = match to {
                Target::Everyone => None,
                Target::Player(k) => Some(wire_id(k)),
            };
            out.push((to, Bytes::from(codec::encode_server(&msg))));
        }
    }

    fn entities(&self) -> usize {
        self.world.len()
    }

    fn dispose(&mut self) {
        self.with(|g, ctx| g.dispose(ctx));
    }
}

/// `Replicate::write` behind one object-safe face (the room state and entities alike).
trait WriteFields {
    fn write_fields(&self, out: &mut Writer);
}

impl<T: Replicate> WriteFields for T {
    fn write_fields(&self, out: &mut Writer) {
        self.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_ids_round_trip() {
        let mut w: World<u8> = World::with_key();
        let k = w.insert(1);
        assert_eq!(key_of(wire_id(k)), k);
        assert_ne!(wire_id(k).index, schema::ROOM_INDEX);
    }
}
