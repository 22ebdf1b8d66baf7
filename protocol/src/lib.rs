//! The ticksync wire protocol: what the server, the bots and the browser all speak.
//!
//! Pure data and functions: no sockets, no async. A game's state is declared as a
//! `schema::Descriptor`; `state` holds it, `state_delta` codes it. Layouts are documented in
//! `docs/protocol.md`; the golden vectors in `protocol/golden/` pin them (see `tests/golden.rs`).
//!
//! # Module order
//!
//! One line per floor, bottom first: a module uses only modules on floors below its own (no
//! circle; `tests/module_order.rs` checks it). `codec` is the only module that calls bincode.
//!
//! - floor 0: `limits`, `codes`, `varint`, `join_token`, `netsim`
//! - floor 1: `bounded`, `seat`
//! - floor 2: `schema`
//! - floor 3: `declare`, `state`
//! - floor 4: `state_delta`, `messages`, `interp`
//! - floor 5: `codec`

#![warn(missing_docs)]

mod bounded;
pub mod codec;
pub mod codes;
pub mod declare;
pub mod interp;
pub mod join_token;
pub mod limits;
pub mod messages;
pub mod netsim;
pub mod schema;
pub mod seat;
pub mod state;
pub mod state_delta;
pub mod varint;

pub use codec::DecodeError;
pub use messages::{
    Action, ClientMsg, Event, Hello, Input, PROTOCOL_VERSION, PlayerInfo, ServerMsg, Snapshot,
    SnapshotHeader, ViewTime, Welcome,
};
pub use schema::{Coding, Descriptor, FieldDesc, Interp, Predictor, TypeDesc, Value, Visibility};
pub use state::{EntityId, Plan, StateTable};
pub use state_delta::{Baseline, DeltaError};
