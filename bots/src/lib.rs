//! Headless ticksync bots: a client library that decodes any game from the schema its server
//! sends and keeps the world exactly as a browser does, behaviours that play any game, a load
//! test, and the aggregation behind the CLI's report. Speaks `ws://` and `wss://` (TLS: `tls`).

pub mod behaviour;
pub mod bot;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod load;
pub mod process;
pub mod report;
pub mod tls;

pub use behaviour::{Behaviour, GameView};
pub use client::{Client, ClientError, ConnectOptions, Received};
