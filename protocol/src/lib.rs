//! The ticksync wire protocol: what the server, the bots and the browser all speak.
//!
//! Pure data and functions: no sockets, no async. Layouts are documented in `docs/protocol.md`;
//! the golden vectors in `protocol/golden/` pin them (see `tests/golden.rs`).

mod bounded;
pub mod checksum;
pub mod codec;
pub mod codes;
pub mod delta;
pub mod join_token;
pub mod limits;
pub mod messages;
pub mod quant;
pub mod table;
mod wire_delta;

pub use codec::{ApplyError, DecodeError, EncodedDelta};
pub use delta::{Delta, DeltaError};
pub use messages::{
    ClientMsg, Event, Hello, Input, PlayerInfo, ServerMsg, Snapshot, SnapshotHeader, Welcome,
};
pub use table::{EntityId, EntityState, EntityTable};

/// Bumped on every incompatible wire change. `Hello` carries it first, so a mismatch is detected
/// whatever else changed (see `codec::peek_hello_version`).
pub const PROTOCOL_VERSION: u16 = 1;
