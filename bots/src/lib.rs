//! Headless ticksync bots: a client library that decodes any game from the schema its server
//! sends and keeps the world exactly as a browser does, behaviours that play any game, a load
//! test, and the aggregation behind the CLI's report. Speaks `ws://` and `wss://` (TLS: `tls`).
//!
//! # A behaviour for your game
//!
//! A bot sends one input per server tick, and a [`Behaviour`] makes it: from a [`GameView`]
//! (the schema the server sent, the newest world the bot rebuilt, its own player) it returns
//! the values of the game's input fields, which it finds by name through the schema. A studio
//! registers a maker for its game with [`Behaviours::register`](behaviour::Behaviours::register)
//! under the game's name (`Welcome.game`): the maker gets the schema and a seed (the same seed
//! plays the same way) and returns `None` when the schema lacks what it needs. Games without
//! one play random valid inputs ([`behaviour::RandomInputs`]). The registry goes to
//! [`cli::run`] (every game binary's `bots` subcommand, `bot-client`) or into
//! [`load::LoadConfig::behaviours`].
//!
//! ```
//! use bots::behaviour::{Behaviour, Behaviours, GameView, defaults, numeric_input};
//! use protocol::{Descriptor, Value};
//!
//! /// Walks its player back towards the middle of the map.
//! struct Homing {
//!     move_x: usize,
//!     move_y: usize,
//! }
//!
//! impl Homing {
//!     fn new(schema: &Descriptor, _seed: u64) -> Option<Self> {
//!         Some(Homing {
//!             move_x: numeric_input(schema, "move_x")?,
//!             move_y: numeric_input(schema, "move_y")?,
//!         })
//!     }
//! }
//!
//! impl Behaviour for Homing {
//!     fn input(&mut self, view: &GameView<'_>) -> Vec<Value> {
//!         let at = |name| view.field(view.player, name).map_or(0.0, |v| v.as_f64());
//!         let mut values = defaults(&view.schema.input);
//!         values[self.move_x] = Value::Num(-at("pos.x").signum());
//!         values[self.move_y] = Value::Num(-at("pos.y").signum());
//!         values
//!     }
//!
//!     fn name(&self) -> &'static str {
//!         "homing"
//!     }
//! }
//!
//! let mut behaviours = Behaviours::default();
//! behaviours.register("mygame", Homing::new);
//! assert_eq!(behaviours.games().collect::<Vec<_>>(), ["mygame"]);
//! ```
//!
//! # Module order
//!
//! One line per floor, bottom first: a module uses only modules on floors below its own (no
//! circle; `tests/module_order.rs` checks it). `client::x` are the client's submodules, below
//! `client` itself. Errors, URLs and the TCP read sit at the bottom; TLS over them; opening a
//! connection (`transport`) under both the client and the matchmaker requests (`cluster`);
//! behaviours see a client; a bot plays one; the report sums bots; a load run starts them;
//! the CLI runs it.
//!
//! - floor 0: `error`, `url`, `tcp`, `process`, `client::stats`, `client::read`, `client::decode_cache`, `client::netsim`, `client::drawn`
//! - floor 1: `tls`, `client::ring`, `client::options`
//! - floor 2: `transport`, `client::socket`
//! - floor 3: `cluster`, `client::wire`, `client::upgrade`
//! - floor 4: `client`
//! - floor 5: `behaviour`
//! - floor 6: `predict`
//! - floor 7: `bot`
//! - floor 8: `report`
//! - floor 9: `load`
//! - floor 10: `cli`

#![warn(missing_docs)]

pub mod behaviour;
pub mod bot;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod error;
pub mod load;
pub mod predict;
pub mod process;
pub mod report;
mod tcp;
pub mod tls;
mod transport;
pub mod url;

pub use behaviour::{Behaviour, GameView};
pub use client::{Client, ClientError, ConnectOptions, Received};
