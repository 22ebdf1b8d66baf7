//! Every message on the wire. Layouts: `docs/protocol.md`. Enum variant order is the wire tag:
//! append new variants, never reorder. `ClientMsg::Hello` (tag 0, `version` first) and
//! `ServerMsg::Reject` (tag 1) keep their layout across versions, so a version mismatch is
//! always detected and reported.

use serde::{Deserialize, Serialize};

use crate::schema::Descriptor;
use crate::state::EntityId;

/// Bumped on every incompatible wire change. `Hello` carries it first, so a mismatch is detected
/// whatever else changed (see `codec::peek_hello_version`).
pub const PROTOCOL_VERSION: u16 = 3;

/// Client -> server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// Must be the first message, and only once.
    Hello(Hello),
    /// One tick of the player's controls, with the newest snapshot tick the client applied:
    /// a playing client sends one of these per tick and nothing else.
    Input(Input),
    /// The newest snapshot tick the client has applied, for a client with no input to send.
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
    /// A reliable game message (the game's declared actions, by id).
    Action(Action),
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
    /// The game of the room, if the client cares: creates the room with it, or must match the
    /// game of an existing room. `None`: the server's default game for new rooms, any game for
    /// existing ones.
    pub game: Option<String>,
}

/// One tick of a player's controls. The server applies the newest `seq` it has per tick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Increases by one per input, starting at 1.
    pub seq: u32,
    /// The newest snapshot tick the client has applied (the baseline of its next delta).
    pub ack: Option<u32>,
    /// The game's input fields, coded per the descriptor (`schema::encode_values`).
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub values: Vec<u8>,
}

/// A game-defined reliable message: `id` indexes the descriptor's `actions` or `events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub id: u16,
    /// The message's fields, coded per the descriptor (`schema::encode_values`).
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub values: Vec<u8>,
}

/// Server -> client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    Welcome(Box<Welcome>),
    /// Join refused: `code` is one of `crate::codes`; the connection closes with it.
    Reject {
        code: u16,
        reason: String,
    },
    /// On the wire: the header's fields, then the delta's bytes to the end of the message
    /// (`codec::encode_snapshot`).
    Snapshot(Snapshot),
    Pong {
        client_time_us: u64,
        server_time_us: u64,
    },
    /// Reliable, in order: the server's own events.
    Event(Event),
    /// Reliable, in order with `Event`s: the game's declared events.
    GameEvent(Action),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's `PROTOCOL_VERSION`.
    pub version: u16,
    /// The entity this client steers.
    pub player: EntityId,
    pub room: String,
    /// The room's game (`schema.game`).
    pub game: String,
    pub tick_rate: u16,
    /// The room's tick when the client joined.
    pub tick: u32,
    /// Present this in a later `Hello` to resume this player after a disconnect.
    pub resume_token: String,
    /// Players in the room now, this one included.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub players: Vec<PlayerInfo>,
    /// `schema.hash()`: the same hash, the same schema.
    pub schema_hash: u32,
    /// Everything needed to decode this game's snapshots, inputs and messages.
    pub schema: Descriptor,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerInfo {
    pub entity: EntityId,
    pub name: String,
}

/// The state at `tick`, as a delta from the client's acked `baseline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub header: SnapshotHeader,
    /// `state_delta` bytes: the shared part, then this client's private part. (Bounded for
    /// the derived decoder, which a snapshot tag written as a non-minimal varint reaches.)
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub delta: Vec<u8>,
}

/// Everything in a snapshot but its delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub tick: u32,
    /// The tick this delta is against; `None` for a full snapshot (against the empty state).
    pub baseline: Option<u32>,
    /// The acked tick before `baseline`, for linear predictors; `None` when not used.
    pub baseline2: Option<u32>,
    /// The newest input seq of this client that the server has applied (0: none yet).
    pub input_seq: u32,
    /// Server clock in microseconds since the server started.
    pub server_time_us: u64,
    /// The checksum of the state at `tick` as this client sees it, if enabled.
    pub checksum: Option<u32>,
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
