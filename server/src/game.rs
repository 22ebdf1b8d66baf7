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
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use protocol::declare::{Fields, Messages, Replicate, Writer};
use protocol::limits::MAX_ENTITY_INDEX;
use protocol::schema::{self, Descriptor, Param, SchemaError, TypeDesc, Value, number};
use protocol::state::{Plan, StateTable};
use protocol::{Action, EntityId, ServerMsg, codec};

use crate::record::{Recipe, Recorder};
use crate::rewind::{Between, Past};
use serde::{Deserialize, Serialize};
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
    /// Every client in the room.
    Everyone,
    /// The client playing this entity.
    Player(EntityKey),
}

/// What a game's hooks get: the world, the tick, and a way to send events.
pub struct Ctx<'a, G: Game> {
    /// The room's entities: insert, change and remove them here.
    pub world: &'a mut World<G::Entity>,
    /// The tick being simulated (or the current one, outside `step`).
    pub tick: u32,
    /// Ticks per second.
    pub tick_rate: u16,
    events: &'a mut Vec<(Target, G::Event)>,
    past: &'a Past<'a>,
    /// `None` while `make` builds the game (before its descriptor exists).
    descriptor: Option<&'a Descriptor>,
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

    /// The world as `player` saw it when it made its newest input: other entities where its
    /// client drew them (interpolated, some ticks in the past), for judging what it aimed at
    /// (lag compensation). Its own entity is best taken from [`Ctx::world`]: the client
    /// predicts it, so it drew it in the present.
    ///
    /// What is rewound is the *replicated* state, as recorded each tick (quantised as clients
    /// get it); fields declared `skip` read as their default, and nothing the game keeps
    /// outside the world is rewound. An entity removed since still shows (check
    /// `ctx.world.contains_key` before acting on it); one spawned since does not. How far back
    /// is capped: the input's round trip plus `--max-rewind` (default 200 ms), and at most
    /// `--rewind-history`; a view time later than the present or beyond the cap is clamped
    /// and counted. With `--max-rewind 0ms`, or outside a room (a `Sim` in a test), every
    /// player sees the present.
    ///
    /// ```
    /// # use server::game::{Ctx, EntityKey, Game};
    /// # fn first_hit<G: Game>(ctx: &Ctx<'_, G>, shooter: EntityKey, hit: impl Fn(&G::Entity) -> bool)
    /// #     -> Option<EntityKey> {
    /// let seen = ctx.as_seen_by(shooter);
    /// seen.iter().find(|(key, e)| *key != shooter && hit(e)).map(|(key, _)| key)
    /// # }
    /// ```
    pub fn as_seen_by(&self, player: EntityKey) -> Seen<'_, G> {
        Seen {
            world: self.world,
            past: self
                .descriptor
                .and_then(|d| Some((self.past.seen_by(wire_id(player))?, d))),
        }
    }
}

/// The world as one player saw it ([`Ctx::as_seen_by`]): entities rebuilt from the recorded
/// state around that moment, interpolated as its client drew them.
pub struct Seen<'c, G: Game> {
    world: &'c World<G::Entity>,
    past: Option<(Between<'c>, &'c Descriptor)>,
}

impl<G: Game> Seen<'_, G> {
    /// How far behind the present this is, in ticks (0: the present).
    pub fn ticks_back(&self) -> f64 {
        self.past.map_or(0.0, |(b, _)| b.ticks_back)
    }

    /// Entity `key` as seen, or `None` if it was not there (or is not, in the present).
    pub fn get(&self, key: EntityKey) -> Option<G::Entity> {
        match &self.past {
            Some((b, desc)) => {
                let (ty, values) =
                    protocol::interp::entity_between(desc, b.a, b.b, b.frac, wire_id(key))?;
                G::Entity::read(ty, &values)
            }
            None => self.world.get(key).and_then(copy_declared),
        }
    }

    /// Every entity as seen (not the room state), in slot order. Each is rebuilt from its
    /// recorded fields: ask with [`Seen::get`] for the few a test needs where the world is big.
    pub fn iter(&self) -> impl Iterator<Item = (EntityKey, G::Entity)> + '_ {
        let past = self.past.iter().flat_map(|(b, desc)| {
            b.a.iter()
                .filter(|e| e.id.index != schema::ROOM_INDEX)
                .filter_map(|e| {
                    let (ty, values) =
                        protocol::interp::entity_between(desc, b.a, b.b, b.frac, e.id)?;
                    Some((key_of(e.id), G::Entity::read(ty, &values)?))
                })
        });
        let present = self
            .past
            .is_none()
            .then(|| {
                self.world
                    .iter()
                    .filter_map(|(k, e)| Some((k, copy_declared(e)?)))
            })
            .into_iter()
            .flatten();
        past.chain(present)
    }
}

/// An entity's declared state as a new value: what a rewound one is made of, so the present
/// reads the same way (`skip` fields default).
fn copy_declared<E: Replicate>(e: &E) -> Option<E> {
    let mut w = Writer::default();
    e.write(&mut w);
    E::read(e.type_id(), &w.values())
}

/// A game's rules. Every hook but `join`, `input` and `step` has a default.
///
/// # Handing a room over
///
/// A room can be saved ([`RoomGame::save`]) and restored into a fresh instance of the game on
/// another server ([`RoomGame::restore`]), so players keep their entities. What is carried
/// over is the *declared* state only:
///
/// - every entity, under its exact key (slot index and version), with its replicated fields;
///   fields declared `#[field(skip)]` come back as `Default::default()`;
/// - the tick;
/// - the room state's replicated fields, handed to [`Game::restored`] (the default drops it).
///
/// Nothing else is: the fresh game struct is what the registered `make` built (its initial
/// entities are discarded), so anything a game keeps outside the world (indexes of keys,
/// per-player bookkeeping, its room state, RNG state, timers in skipped fields) must be
/// rebuilt in `restored`. Events not yet sent are lost, and slots vacant at the save come back
/// with new versions: a new entity never takes a live key, but may take the key of one that
/// was already gone before the save.
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

    /// This fresh game was restored from a saved room (see "Handing a room over" above):
    /// `ctx.world` holds the saved entities under their saved keys and `ctx.tick` is the saved
    /// tick; `room` is the saved room state (`None` if none was saved). Rebuild here whatever
    /// the game keeps outside the world, and keep `room` if the game has one. The default does
    /// nothing.
    fn restored(&mut self, _ctx: &mut Ctx<'_, Self>, _room: Option<Self::Room>) {}

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
    /// How far a client sees, in world units.
    pub radius: f32,
    /// The name of the `Vec2` field that places an entity.
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

/// The games a server hosts, by name, each with its browser page if it has one.
#[derive(Clone, Default)]
pub struct Games {
    map: BTreeMap<String, Arc<dyn GameFactory>>,
    /// The first registered: the default game of new rooms.
    first: Option<String>,
    pages: BTreeMap<String, PathBuf>,
}

/// Why a game could not be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Game names travel in `Hello` and URLs: 1-32 characters of `A-Z a-z 0-9 _ -`.
    #[error("game name {0:?}: 1-32 characters of A-Z a-z 0-9 _ -")]
    BadName(String),
    /// Each name is registered once.
    #[error("game {0:?} is registered twice")]
    Twice(String),
    /// A page for a game that was not registered (first).
    #[error("page for {0:?}: no game of that name is registered")]
    Unknown(String),
}

impl Games {
    /// Registers game `G` as `name`; `make` builds each new room's game (spawning its initial
    /// entities into `ctx.world`).
    ///
    /// # Panics
    ///
    /// On a bad or repeated name ([`Games::try_register`] returns the error instead).
    pub fn register<G: Game>(
        &mut self,
        name: &str,
        make: impl Fn(&mut Ctx<'_, G>) -> G + Send + Sync + 'static,
    ) -> &mut Self {
        if let Err(e) = self.try_register(name, make) {
            panic!("{e}");
        }
        self
    }

    /// As [`Games::register`], with an error for a bad name or a name already registered.
    pub fn try_register<G: Game>(
        &mut self,
        name: &str,
        make: impl Fn(&mut Ctx<'_, G>) -> G + Send + Sync + 'static,
    ) -> Result<&mut Self, RegisterError> {
        if !protocol::codec::valid_name(name) {
            return Err(RegisterError::BadName(name.to_owned()));
        }
        if self.map.contains_key(name) {
            return Err(RegisterError::Twice(name.to_owned()));
        }
        self.map.insert(
            name.to_owned(),
            Arc::new(Factory {
                name: name.to_owned(),
                make,
                _game: std::marker::PhantomData,
            }),
        );
        self.first.get_or_insert_with(|| name.to_owned());
        Ok(self)
    }

    /// Game `name`'s browser page: the folder of its static files (`index.html` first).
    pub fn set_page(&mut self, name: &str, dir: PathBuf) -> Result<&mut Self, RegisterError> {
        if !self.map.contains_key(name) {
            return Err(RegisterError::Unknown(name.to_owned()));
        }
        self.pages.insert(name.to_owned(), dir);
        Ok(self)
    }

    /// The folder of game `name`'s page, if it has one.
    pub fn page(&self, name: &str) -> Option<&PathBuf> {
        self.pages.get(name)
    }

    /// The first game registered: the default of new rooms.
    pub fn first(&self) -> Option<&str> {
        self.first.as_deref()
    }

    /// Game `name`'s factory.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn GameFactory>> {
        self.map.get(name)
    }

    /// Every game's name, in order.
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
    /// The game's declaration, as its clients get it in `Welcome`.
    fn descriptor(&self) -> &Arc<Descriptor>;
    /// Shared with the writers that build snapshots from published ticks.
    fn plan(&self) -> &Arc<Plan>;
    /// A player joins ([`Game::join`]): its entity's wire id.
    fn join(&mut self, name: &str) -> EntityId;
    /// A player left for good ([`Game::leave`]).
    fn leave(&mut self, player: EntityId);
    /// A player's connection dropped; it may resume ([`Game::disconnected`]).
    fn disconnected(&mut self, player: EntityId);
    /// A dropped player resumed ([`Game::rejoined`]).
    fn rejoined(&mut self, player: EntityId);
    /// A validated input (values in the input's field order). `past`: what each player saw
    /// ([`Ctx::as_seen_by`]).
    fn input(&mut self, player: EntityId, values: &[Value], past: &Past<'_>);
    /// A validated action; unknown ids are ignored.
    fn action(&mut self, player: EntityId, id: u16, values: &[Value], past: &Past<'_>);
    /// Steps the game once (the tick its hooks see advances by one).
    fn step(&mut self, dt: f32, past: &Past<'_>);
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
    /// Entities in the world, for `/rooms`.
    fn entities(&self) -> usize;
    /// The room is closing ([`Game::dispose`]).
    fn dispose(&mut self);
    /// What each client sees ([`Game::view`]).
    fn view(&self) -> Option<View>;
    /// The room's declared state: every entity with its key, the tick, the room state.
    fn save(&self) -> SavedWorld;
    /// Replaces this game's world with `saved` (every entity under its saved key), sets the
    /// tick, then calls [`Game::restored`]. Meant for a fresh game, before anyone joins. On an
    /// error nothing has changed.
    fn restore(&mut self, saved: &SavedWorld) -> Result<(), RestoreError>;
}

pub use protocol::state_delta::Baseline;

// ---- saving and restoring -----------------------------------------------------------------

/// A room's declared state (see "Handing a room over" on [`Game`]): what a draining server
/// saves and another restores. Values are unquantised, as the game wrote them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedWorld {
    /// The room's tick: the next step simulates it.
    pub tick: u32,
    /// Every entity, in slot order.
    pub entities: Vec<SavedEntity>,
    /// The room state's replicated fields (`None`: the game has no room state).
    pub room: Option<Vec<Value>>,
}

/// One saved entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedEntity {
    /// Its key: slot index and version, kept across the restore.
    pub id: EntityId,
    /// Its type id (`Replicate::type_id`).
    pub ty: u16,
    /// Its replicated fields in id order (`Replicate::write`).
    pub values: Vec<Value>,
}

/// Highest entity version `restore` accepts. Slotmap only raises a slot's version by reusing
/// it, once per step, so restore costs (version - 1) / 2 steps per entity: this bounds a
/// corrupt state's cost (a slot reused 8 million times is still fine).
pub const MAX_RESTORE_VERSION: u32 = 1 << 24;
/// Most slot reuses one `restore` may take in all (about a second of work): many high versions
/// together cost the sum of theirs.
pub const MAX_RESTORE_STEPS: u64 = 1 << 26;

/// Why a saved state could not be restored. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// More entities than slot indices below `MAX_ENTITY_INDEX` (checked before reading any).
    #[error("{0} entities; slot indices are below {MAX_ENTITY_INDEX}")]
    TooManyEntities(usize),
    /// Slot 0 is slotmap's sentinel (and the room state's wire id); clients hold no more.
    #[error("entity {}v{}: index outside 1..{MAX_ENTITY_INDEX}", .0.index, .0.version)]
    IndexOutOfRange(EntityId),
    /// Even (a vacant slot's) or above [`MAX_RESTORE_VERSION`].
    #[error(
        "entity {}v{}: a live entity's version is odd and at most {MAX_RESTORE_VERSION}",
        .0.index, .0.version
    )]
    BadVersion(EntityId),
    /// Two entities with one slot index (whatever their versions).
    #[error("two entities in slot {0}")]
    DuplicateIndex(u32),
    /// The versions together need more than [`MAX_RESTORE_STEPS`] slot reuses.
    #[error("restoring these versions takes {0} slot reuses; at most {MAX_RESTORE_STEPS}")]
    TooMuchWork(u64),
    /// A type id past the game's entity types.
    #[error("entity {}v{}: this game has no entity type {ty}", .id.index, .id.version)]
    UnknownType {
        /// The entity.
        id: EntityId,
        /// Its type id.
        ty: u16,
    },
    /// `Replicate::read` refused the values (too many, or of the wrong kind or range).
    #[error(
        "entity {}v{}: its values do not fit type {ty}'s declaration",
        .id.index, .id.version
    )]
    BadValues {
        /// The entity.
        id: EntityId,
        /// Its type id.
        ty: u16,
    },
    /// A saved room state the game's `Room` cannot read (or a game without one).
    #[error("the saved room state does not fit this game's (or it has none)")]
    BadRoom,
    /// Slotmap did not hand a freed slot straight back (its free list is LIFO in 1.x): the keys
    /// could not be rebuilt.
    #[error("slot {0} could not be rebuilt at its version")]
    Rebuild(u32),
}

/// Reads and checks every saved entity, sorted by slot index. Costs no more than the saved
/// state's size.
fn read_entities<E: Replicate>(saved: &[SavedEntity]) -> Result<Vec<(EntityId, E)>, RestoreError> {
    if saved.len() >= MAX_ENTITY_INDEX as usize {
        return Err(RestoreError::TooManyEntities(saved.len()));
    }
    let types = E::types().len();
    let mut steps = 0u64;
    let mut out = Vec::with_capacity(saved.len());
    for s in saved {
        let id = s.id;
        if id.index == 0 || id.index >= MAX_ENTITY_INDEX {
            return Err(RestoreError::IndexOutOfRange(id));
        }
        if id.version % 2 == 0 || id.version > MAX_RESTORE_VERSION {
            return Err(RestoreError::BadVersion(id));
        }
        steps += u64::from(id.version / 2);
        if usize::from(s.ty) >= types {
            return Err(RestoreError::UnknownType { id, ty: s.ty });
        }
        let e = E::read(s.ty, &s.values).ok_or(RestoreError::BadValues { id, ty: s.ty })?;
        out.push((id, e));
    }
    if steps > MAX_RESTORE_STEPS {
        return Err(RestoreError::TooMuchWork(steps));
    }
    out.sort_unstable_by_key(|(id, _)| id.index);
    if let Some(w) = out.windows(2).find(|w| w[0].0.index == w[1].0.index) {
        return Err(RestoreError::DuplicateIndex(w[0].0.index));
    }
    Ok(out)
}

/// A world holding exactly `entities` (sorted by index, checked by `read_entities`), each
/// under its key. Slotmap 1.x cannot insert at a key, but it hands out new slots in index
/// order once its free list is empty, and a freed slot is the next one reused (LIFO), one
/// version up when freed and one more when reused (occupied versions are odd). So: fill every
/// slot up to the highest index in order (`filler` stands in for vacant ones), reuse each
/// entity's slot until it reaches its version, then free the fillers.
fn rebuild<E>(
    entities: Vec<(EntityId, E)>,
    mut filler: impl FnMut() -> Option<E>,
) -> Result<World<E>, RestoreError> {
    let top = entities.last().map_or(0, |(id, _)| id.index);
    let mut world = World::with_capacity_and_key(top as usize);
    let mut vacant = Vec::new();
    let mut entities = entities.into_iter().peekable();
    for index in 1..=top {
        let Some((id, e)) = entities.next_if(|(id, _)| id.index == index) else {
            let e = filler().ok_or(RestoreError::Rebuild(index))?;
            vacant.push(world.insert(e));
            continue;
        };
        let mut key = world.insert(e);
        while wire_id(key).version < id.version {
            let e = world.remove(key).expect("just inserted");
            key = world.insert(e);
        }
        if wire_id(key) != id {
            return Err(RestoreError::Rebuild(index));
        }
    }
    // Freed last, the lowest slot is reused first.
    for key in vacant.into_iter().rev() {
        world.remove(key);
    }
    Ok(world)
}

/// One game instance driven directly, without sockets or a room task: what a room runs, and
/// what tests, benchmarks and tools use to step a game and record its replicated state.
pub struct Sim<G: Game> {
    /// The game's own state (what `make` built).
    pub game: G,
    /// Its entities.
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
            past: &Past::none(),
            descriptor: None,
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

    /// A player joins ([`Game::join`]): its entity's key.
    pub fn join(&mut self, name: &str) -> EntityKey {
        self.with(|g, ctx| g.join(ctx, name))
    }

    /// Hands `player`'s input to the game ([`Game::input`]).
    pub fn input(&mut self, player: EntityKey, input: G::Input) {
        self.with(|g, ctx| g.input(ctx, player, input));
    }

    /// Steps the game once and advances the tick.
    pub fn step(&mut self, dt: f32) {
        self.with(|g, ctx| g.step(ctx, dt));
        self.tick = self.tick.wrapping_add(1);
    }

    /// The tick the next step simulates.
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The events raised so far, taken.
    pub fn events(&mut self) -> Vec<(Target, G::Event)> {
        std::mem::take(&mut self.events)
    }

    /// The declared state (see "Handing a room over" on [`Game`]), as a room saves it.
    pub fn save(&self) -> SavedWorld {
        let mut w = Writer::default();
        let mut values = |v: &dyn WriteFields| {
            w.clear();
            v.write_fields(&mut w);
            w.values()
        };
        let entities = self
            .world
            .iter()
            .map(|(k, e)| SavedEntity {
                id: wire_id(k),
                ty: e.type_id(),
                values: values(e),
            })
            .collect();
        // As `record`: a room state only when the declaration has one.
        let room = self.descriptor.room_type.and(self.game.room());
        SavedWorld {
            tick: self.tick,
            entities,
            room: room.map(|r| values(r)),
        }
    }

    /// Restores `saved` into this game (normally fresh from `build`/`new`): the world is
    /// replaced by the saved entities under their saved keys, the tick set, and
    /// [`Game::restored`] called. The saved state is checked whole first: on an error nothing
    /// has changed.
    pub fn restore(&mut self, saved: &SavedWorld) -> Result<(), RestoreError> {
        let room = match &saved.room {
            None => None,
            Some(values) => Some(G::Room::read(0, values).ok_or(RestoreError::BadRoom)?),
        };
        let entities = read_entities::<G::Entity>(&saved.entities)?;
        // Any value of the type stands in for a vacant slot; checked, so it reads again.
        let first = saved.entities.first();
        let filler = || first.and_then(|s| G::Entity::read(s.ty, &s.values));
        self.world = rebuild(entities, filler)?;
        self.tick = saved.tick;
        // Raised by the discarded world's `make`: nobody is there to receive them.
        self.events.clear();
        self.with(|g, ctx| g.restored(ctx, room));
        Ok(())
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut G, &mut Ctx<'_, G>) -> R) -> R {
        self.with_past(&Past::none(), f)
    }

    fn with_past<R>(&mut self, past: &Past<'_>, f: impl FnOnce(&mut G, &mut Ctx<'_, G>) -> R) -> R {
        let mut ctx = Ctx {
            world: &mut self.world,
            tick: self.tick,
            tick_rate: self.tick_rate,
            events: &mut self.events,
            past,
            descriptor: Some(&self.descriptor),
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

    fn input(&mut self, player: EntityId, values: &[Value], past: &Past<'_>) {
        let input = G::Input::read(values);
        self.with_past(past, |g, ctx| g.input(ctx, key_of(player), input));
    }

    fn action(&mut self, player: EntityId, id: u16, values: &[Value], past: &Past<'_>) {
        if let Some(action) = G::Action::read(id, values) {
            self.with_past(past, |g, ctx| g.action(ctx, key_of(player), action));
        }
    }

    fn step(&mut self, dt: f32, past: &Past<'_>) {
        self.with_past(past, |g, ctx| g.step(ctx, dt));
        self.tick = self.tick.wrapping_add(1);
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

    fn save(&self) -> SavedWorld {
        Sim::save(self)
    }

    fn restore(&mut self, saved: &SavedWorld) -> Result<(), RestoreError> {
        Sim::restore(self, saved)
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
    use glam::Vec2;
    use protocol::declare::NoMessages;
    use ticksync_derive::{Fields, Replicate};

    #[derive(Replicate, Clone, Debug, PartialEq)]
    struct Walker {
        #[field(fixed(scale = 16, min = 0, max = 1000))]
        pos: Vec2,
        #[field(int(min = 0, max = 100))]
        health: u8,
        score: u32,
        #[field(string(max = 24))]
        name: String,
        /// Not declared: comes back as 0.
        #[field(skip)]
        steps: u32,
    }

    #[derive(Replicate, Clone, Debug, PartialEq)]
    struct Rock {
        #[field(fixed(scale = 16, min = 0, max = 1000))]
        pos: Vec2,
    }

    #[derive(Replicate, Clone, Debug, PartialEq)]
    enum Thing {
        Walker(Walker),
        Rock(Rock),
    }

    #[derive(Replicate, Clone, Debug, Default, PartialEq)]
    struct Round {
        number: u32,
        #[field(fixed(scale = 60, min = 0, max = 600))]
        time_left: f32,
    }

    #[derive(Fields, Default)]
    struct Push {
        #[field(fixed(scale = 127, min = -1, max = 1))]
        x: f32,
    }

    /// Keeps its players and round outside the world, so `restored` has work to do.
    struct Walk {
        players: Vec<EntityKey>,
        round: Round,
        restored: bool,
    }

    impl Walk {
        /// `rocks` initial rocks (a fresh instance's, discarded by a restore).
        fn new(ctx: &mut Ctx<'_, Walk>, rocks: usize) -> Self {
            for i in 0..rocks {
                let pos = Vec2::splat(i as f32);
                ctx.world.insert(Thing::Rock(Rock { pos }));
            }
            Walk {
                players: Vec::new(),
                round: Round {
                    number: 1,
                    time_left: 60.0,
                },
                restored: false,
            }
        }
    }

    impl Game for Walk {
        type Entity = Thing;
        type Room = Round;
        type Input = Push;
        type Action = NoMessages;
        type Event = NoMessages;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, name: &str) -> EntityKey {
            let key = ctx.world.insert(Thing::Walker(Walker {
                pos: Vec2::new(500.0, 500.0),
                health: 100,
                score: 0,
                name: name.to_owned(),
                steps: 0,
            }));
            self.players.push(key);
            key
        }
        fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Push) {
            if let Some(Thing::Walker(w)) = ctx.world.get_mut(player) {
                w.pos.x += input.x;
                w.score += 1;
                w.steps += 1;
            }
        }
        fn step(&mut self, _ctx: &mut Ctx<'_, Self>, dt: f32) {
            self.round.time_left -= dt;
        }
        fn room(&self) -> Option<&Round> {
            Some(&self.round)
        }
        fn restored(&mut self, ctx: &mut Ctx<'_, Self>, room: Option<Round>) {
            self.players = ctx
                .world
                .iter()
                .filter(|(_, t)| matches!(t, Thing::Walker(_)))
                .map(|(k, _)| k)
                .collect();
            self.round = room.unwrap_or_default();
            self.restored = true;
        }
    }

    fn walker(sim: &Sim<Walk>, k: EntityKey) -> &Walker {
        match &sim.world[k] {
            Thing::Walker(w) => w,
            Thing::Rock(_) => panic!("a rock"),
        }
    }

    /// A room that has lived: holes, reused slots with high versions, players with state.
    fn lived() -> (Sim<Walk>, Vec<EntityKey>) {
        let mut sim = Sim::new(|ctx| Walk::new(ctx, 6));
        let rocks: Vec<EntityKey> = sim.world.keys().collect();
        let ann = sim.join("ann");
        // Churn one slot: it comes back with a high version.
        for _ in 0..500 {
            let k = sim.world.insert(Thing::Rock(Rock { pos: Vec2::ONE }));
            sim.world.remove(k);
        }
        let bob = sim.join("bob");
        sim.world.remove(rocks[1]);
        sim.world.remove(rocks[4]);
        for _ in 0..10 {
            sim.input(ann, Push { x: 0.5 });
            sim.step(1.0 / 60.0);
        }
        if let Thing::Walker(w) = &mut sim.world[bob] {
            w.health = 35;
        }
        sim.game.round.number = 7;
        (sim, vec![ann, bob])
    }

    #[test]
    fn save_restore_save_is_equal_and_keys_survive() {
        let (sim, players) = lived();
        let saved = sim.save();
        assert_eq!(saved.entities.len(), 6);
        assert!(saved.entities.iter().any(|e| e.id.version > 500));
        assert!(saved.room.is_some());

        // A fresh instance with other initial entities (discarded).
        let mut fresh = Sim::new(|ctx| Walk::new(ctx, 2));
        fresh.restore(&saved).unwrap();
        assert_eq!(fresh.save(), saved);
        assert_eq!(fresh.tick(), 10);
        assert_eq!(fresh.world.len(), sim.world.len());
        for (k, e) in &sim.world {
            assert_eq!(wire_id(key_of(wire_id(k))), wire_id(k));
            assert!(fresh.world.contains_key(k), "{:?} kept its key", wire_id(k));
            assert_eq!(e.type_id(), fresh.world[k].type_id());
        }
        assert!(fresh.game.restored);
        assert_eq!(fresh.game.round, sim.game.round);
        assert_eq!(fresh.game.players, players);

        // The players' state, but not the undeclared field.
        let (ann, bob) = (players[0], players[1]);
        let a = walker(&fresh, ann);
        assert_eq!((a.pos.x, a.score, a.health), (505.0, 10, 100));
        assert_eq!((a.name.as_str(), a.steps), ("ann", 0));
        assert_eq!(walker(&sim, ann).steps, 10);
        assert_eq!(walker(&fresh, bob).health, 35);

        // It plays on, through the room's face too.
        let g: &mut dyn RoomGame = &mut fresh;
        g.input(wire_id(ann), &[Value::Num(-1.0)], &Past::none());
        g.step(1.0 / 60.0, &Past::none());
        assert_eq!(walker(&fresh, ann).pos.x, 504.0);
        assert_eq!(fresh.tick(), 11);
    }

    #[test]
    fn new_entities_never_take_a_live_key() {
        let (sim, _) = lived();
        let saved = sim.save();
        let mut fresh = Sim::new(|ctx| Walk::new(ctx, 0));
        fresh.restore(&saved).unwrap();
        let live: Vec<EntityId> = saved.entities.iter().map(|e| e.id).collect();
        let top = live.iter().map(|id| id.index).max().unwrap();
        let mut new = Vec::new();
        for i in 0..20 {
            let k = fresh.join(&format!("p{i}"));
            assert!(!live.contains(&wire_id(k)));
            new.push(wire_id(k));
        }
        // The holes are reused first, lowest first; then new slots.
        let holes: Vec<u32> = (1..=top)
            .filter(|i| !live.iter().any(|id| id.index == *i))
            .collect();
        assert_eq!(
            new[..holes.len()]
                .iter()
                .map(|id| id.index)
                .collect::<Vec<_>>(),
            holes
        );
        assert_eq!(new[holes.len()].index, top + 1);
        assert_eq!(fresh.world.len(), live.len() + 20);
        for id in &live {
            assert!(fresh.world.contains_key(key_of(*id)));
        }
    }

    fn saved_rock(index: u32, version: u32) -> SavedEntity {
        SavedEntity {
            id: EntityId { index, version },
            ty: 1,
            values: vec![Value::Num(1.5), Value::Num(2.5)],
        }
    }

    #[test]
    fn exact_keys_from_a_hand_made_state() {
        let saved = SavedWorld {
            tick: 99,
            entities: vec![
                saved_rock(9, 3),
                saved_rock(1, 1),
                saved_rock(4, 4001),
                saved_rock(5, 7),
            ],
            room: None,
        };
        let mut sim = Sim::new(|ctx| Walk::new(ctx, 3));
        sim.restore(&saved).unwrap();
        let mut ids: Vec<EntityId> = sim.world.keys().map(wire_id).collect();
        ids.sort();
        let mut want: Vec<EntityId> = saved.entities.iter().map(|e| e.id).collect();
        want.sort();
        assert_eq!(ids, want);
        assert_eq!(sim.tick(), 99);
        assert!(sim.game.restored);
        assert_eq!(
            sim.game.round,
            Round::default(),
            "no saved room: restored gets None"
        );
        // An empty world restores too.
        let empty = SavedWorld {
            tick: 0,
            entities: Vec::new(),
            room: None,
        };
        sim.restore(&empty).unwrap();
        assert!(sim.world.is_empty());
        assert_eq!(wire_id(sim.join("x")).index, 1);
    }

    #[test]
    fn corrupt_states_are_errors_and_change_nothing() {
        let (mut sim, _) = lived();
        let good = sim.save();
        let with = |f: &dyn Fn(&mut SavedWorld)| {
            let mut s = good.clone();
            f(&mut s);
            s
        };
        let id = |index, version| EntityId { index, version };
        let cases: Vec<(SavedWorld, RestoreError)> = vec![
            (
                with(&|s| s.entities[0].ty = 2),
                RestoreError::UnknownType {
                    id: good.entities[0].id,
                    ty: 2,
                },
            ),
            (
                with(&|s| s.entities[0].values[0] = Value::Str("x".into())),
                RestoreError::BadValues {
                    id: good.entities[0].id,
                    ty: good.entities[0].ty,
                },
            ),
            (
                with(&|s| s.entities.push(saved_rock(good.entities[0].id.index, 9))),
                RestoreError::DuplicateIndex(good.entities[0].id.index),
            ),
            (
                with(&|s| s.entities.push(saved_rock(0, 1))),
                RestoreError::IndexOutOfRange(id(0, 1)),
            ),
            (
                with(&|s| s.entities.push(saved_rock(MAX_ENTITY_INDEX, 1))),
                RestoreError::IndexOutOfRange(id(MAX_ENTITY_INDEX, 1)),
            ),
            (
                with(&|s| s.entities.push(saved_rock(50, 2))),
                RestoreError::BadVersion(id(50, 2)),
            ),
            (
                with(&|s| s.entities.push(saved_rock(50, u32::MAX))),
                RestoreError::BadVersion(id(50, u32::MAX)),
            ),
            (
                with(&|s| {
                    s.entities = (1..=9)
                        .map(|i| saved_rock(i, MAX_RESTORE_VERSION - 1))
                        .collect();
                }),
                RestoreError::TooMuchWork(9 * u64::from(MAX_RESTORE_VERSION / 2 - 1)),
            ),
            (
                with(&|s| s.room = Some(vec![Value::Num(1.0)])),
                RestoreError::BadRoom,
            ),
        ];
        for (bad, want) in cases {
            assert_eq!(sim.restore(&bad), Err(want.clone()));
            assert!(!want.to_string().is_empty());
            assert_eq!(sim.save(), good, "{want} changed nothing");
            assert!(!sim.game.restored);
        }
        // Too many entities: checked before anything is read.
        let many = SavedWorld {
            tick: 0,
            entities: vec![saved_rock(1, 1); MAX_ENTITY_INDEX as usize],
            room: None,
        };
        assert_eq!(
            sim.restore(&many),
            Err(RestoreError::TooManyEntities(MAX_ENTITY_INDEX as usize))
        );
        // A room state saved by a game with one, restored into a game without.
        let mut roomless = Sim::new(|_| Roomless);
        assert_eq!(
            roomless.restore(&SavedWorld {
                tick: 0,
                entities: Vec::new(),
                room: Some(Vec::new()),
            }),
            Err(RestoreError::BadRoom)
        );
    }

    struct Roomless;

    impl Game for Roomless {
        type Entity = Rock;
        type Room = ();
        type Input = Push;
        type Action = NoMessages;
        type Event = NoMessages;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
            ctx.world.insert(Rock { pos: Vec2::ZERO })
        }
        fn input(&mut self, _: &mut Ctx<'_, Self>, _: EntityKey, _: Push) {}
        fn step(&mut self, _: &mut Ctx<'_, Self>, _: f32) {}
        // A game with no room state that still returns one: nothing is saved for it.
        fn room(&self) -> Option<&()> {
            Some(&())
        }
    }

    #[test]
    fn a_roomless_game_saves_no_room() {
        let mut sim = Sim::new(|_| Roomless);
        let k = sim.join("a");
        let saved = sim.save();
        assert_eq!(saved.room, None);
        let mut fresh = Sim::new(|_| Roomless);
        fresh.restore(&saved).unwrap();
        assert!(fresh.world.contains_key(k));
    }

    #[test]
    fn saved_worlds_round_trip_through_json() {
        let (sim, _) = lived();
        let saved = sim.save();
        let json = serde_json::to_string(&saved).unwrap();
        let back: SavedWorld = serde_json::from_str(&json).unwrap();
        assert_eq!(back, saved);
        // And restore from it through a registered game, as another node would.
        let mut games = Games::default();
        games.register("walk", |ctx| Walk::new(ctx, 1));
        let mut room = games.get("walk").unwrap().create(60).unwrap();
        room.restore(&back).unwrap();
        assert_eq!(room.save(), saved);
        assert_eq!(room.entities(), saved.entities.len());
    }

    #[test]
    fn wire_ids_round_trip() {
        let mut w: World<u8> = World::with_key();
        let k = w.insert(1);
        assert_eq!(key_of(wire_id(k)), k);
        assert_ne!(wire_id(k).index, schema::ROOM_INDEX);
    }
}
