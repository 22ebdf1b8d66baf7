//! The ticksync wire protocol: what the server, the bots and the browser all speak.
//!
//! Pure data and functions: no sockets, no async. A game's state is declared as a
//! `schema::Descriptor`; `state` holds it, `state_delta` codes it. Layouts are documented in
//! `docs/protocol.md`; the golden vectors in `protocol/golden/` pin them (see `tests/golden.rs`).

mod bounded;
pub mod codec;
pub mod codes;
pub mod declare;
pub mod join_token;
pub mod limits;
pub mod messages;
pub mod schema;
pub mod seat;
pub mod state;
pub mod state_delta;
pub mod varint;

pub use codec::DecodeError;
pub use messages::{
    Action, ClientMsg, Event, Hello, Input, PlayerInfo, ServerMsg, Snapshot, SnapshotHeader,
    Welcome,
};
pub use schema::{Coding, Descriptor, FieldDesc, Interp, Predictor, TypeDesc, Value, Visibility};
pub use state::{EntityId, Plan, StateTable};
pub use state_delta::{Baseline, DeltaError};

/// Bumped on every incompatible wire change. `Hello` carries it first, so a mismatch is detected
/// whatever else changed (see `codec::peek_hello_version`).
pub const PROTOCOL_VERSION: u16 = 3;
