//! Every message on the wire. Layouts: `docs/protocol.md`. Enum variant order is the wire tag:
//! append new variants, never reorder. `ClientMsg::Hello` (tag 0, `version` first) and
//! `ServerMsg::Reject` (tag 1) keep their layout across versions, so a version mismatch is
//! always detected and reported.

use serde::{Deserialize, Serialize};

use crate::delta::Delta;
use crate::table::EntityId;

/// Client -> server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// Must be the first message, and only once.
    Hello(Hello),
    Input(Input),
    /// The newest snapshot tick the client has applied: the server's next delta is built
    /// against it.
    Ack {
        tick: u32,
    },
    /// Asks for a `Pong`, to measure round-trip time and clock offset.
    Ping {
        client_time_us: u64,
    },
    Chat {
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// `PROTOCOL_VERSION` the client speaks. Always the first field.
    pub version: u16,
    pub room: String,
    pub name: String,
    /// Join token, required when the server has a join secret.
    pub auth_token: Option<String>,
    /// From an earlier `Welcome`, to take the same player back after a disconnect.
    pub resume_token: Option<String>,
}

/// One tick of a player's controls. The server applies the newest `seq` it has per tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Increases by one per input, starting at 1.
    pub seq: u32,
    /// Direction, -127..=127 meaning -1.0..=1.0 (`quant::axis_from_wire`).
    pub dx: i8,
    pub dy: i8,
    /// Game-defined button bits.
    pub buttons: u8,
}

/// Server -> client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    Welcome(Welcome),
    /// Join refused: `code` is one of `crate::codes`; the connection closes with it.
    Reject {
        code: u16,
        reason: String,
    },
    Snapshot(Snapshot),
    Pong {
        client_time_us: u64,
        server_time_us: u64,
    },
    /// Reliable, in order.
    Event(Event),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's `PROTOCOL_VERSION`.
    pub version: u16,
    /// The entity this client steers.
    pub player: EntityId,
    pub room: String,
    pub tick_rate: u16,
    /// The room's tick when the client joined.
    pub tick: u32,
    /// Present this in a later `Hello` to resume this player after a disconnect.
    pub resume_token: String,
    /// World size in world units (entities live in `0..width`, `0..height`).
    pub world_width: f32,
    pub world_height: f32,
    /// The player's speed in world units per second, for client-side prediction.
    pub player_speed: f32,
    /// Players in the room now, this one included.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub players: Vec<PlayerInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerInfo {
    pub entity: EntityId,
    pub name: String,
}

/// The world at `tick`, as a delta from the client's acked `baseline`.
/// Field order matters: everything before `delta` is `SnapshotHeader`, so the server encodes the
/// delta once and prefixes each client's header (`codec::encode_snapshot`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub tick: u32,
    /// The tick this delta is against; `None` for a full snapshot (against the empty table).
    pub baseline: Option<u32>,
    /// The newest input seq of this client that the server has applied (0: none yet).
    pub input_seq: u32,
    /// Server clock in microseconds since the server started.
    pub server_time_us: u64,
    /// `EntityTable::checksum` of the world at `tick` (within the client's view), if enabled.
    pub checksum: Option<u32>,
    pub delta: Delta,
}

/// The per-client part of a `Snapshot`: all fields but the shared delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub tick: u32,
    pub baseline: Option<u32>,
    pub input_seq: u32,
    pub server_time_us: u64,
    pub checksum: Option<u32>,
}

impl Snapshot {
    pub fn header(&self) -> SnapshotHeader {
        SnapshotHeader {
            tick: self.tick,
            baseline: self.baseline,
            input_seq: self.input_seq,
            server_time_us: self.server_time_us,
            checksum: self.checksum,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    PlayerJoined(PlayerInfo),
    PlayerLeft {
        entity: EntityId,
    },
    Chat {
        from: EntityId,
        text: String,
    },
    /// A message from the server's operators.
    Notice {
        text: String,
    },
}
