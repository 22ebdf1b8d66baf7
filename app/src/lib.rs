//! ticksync: an authoritative multiplayer game-state server to build a game on.
//!
//! A studio's crate holds only its game: its declared state and rules (the [`Game`] trait),
//! a bot behaviour ([`bots::Behaviour`]) and a browser page. Its `main.rs` hands them to
//! [`App`], which makes the whole program: every server flag, `TICKSYNC_*` variable and
//! `--config` file, logs, SIGTERM (drain) and SIGHUP (TLS reload), TLS, the Redis cluster,
//! and the `schema` and `bots` subcommands.
//!
//! ```no_run
//! use ticksync::game::{Ctx, EntityKey, Game};
//! use ticksync::protocol::declare::NoMessages;
//! use ticksync::{Fields, Replicate};
//!
//! #[derive(Replicate)]
//! struct Dot {
//!     #[field(fixed(scale = 16, min = 0, max = 100), interp = linear)]
//!     x: f32,
//! }
//!
//! #[derive(Fields, Default)]
//! struct Steer {
//!     #[field(fixed(scale = 127, min = -1, max = 1))]
//!     dx: f32,
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
//!         ctx.world.insert(Dot { x: 50.0 })
//!     }
//!     fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Steer) {
//!         if let Some(d) = ctx.world.get_mut(player) {
//!             d.x = (d.x + input.dx).clamp(0.0, 100.0);
//!         }
//!     }
//!     fn step(&mut self, _ctx: &mut Ctx<'_, Self>, _dt: f32) {}
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     ticksync::App::new().game("dots", |_| Dots).run()
//! }
//! ```
#![warn(missing_docs)]

mod app;
pub mod config_file;
mod launch;

pub use app::App;
pub use launch::Launch;

pub use bots;
pub use glam;
pub use protocol;
pub use server;
pub use server::game::{self, Ctx, EntityKey, Game, Sim, View, World};
pub use server::rng;
pub use server::{Config, Server};
pub use slotmap;
pub use ticksync_derive::{Fields, Messages, Replicate, WireEnum};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
