//! Every message on the wire. Layouts: `docs/protocol.md`. Enum variant order is the wire tag:
//! append new variants, never reorder. `ClientMsg::Hello` (tag 0, `version` first) and
//! `ServerMsg::Reject` (tag 1) keep their layout across versions, so a version mismatch is
//! always detected and reported.

use serde::{Deserialize, Serialize};

use crate::schema::Descriptor;
use crate::state::EntityId;

/// Bumped on every incompatible wire change. `Hello` carries it first, so a mismatch is detected
/// whatever else changed (see `codec::peek_hello_version`).
pub const PROTOCOL_VERSION: u16 = 4;

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
        /// The tick of the newest snapshot the client has applied and stored.
        tick: u32,
    },
    /// Asks for a `Pong`, to measure round-trip time and clock offset.
    Ping {
        /// Any client clock value (microseconds); `Pong` echoes it.
        client_time_us: u64,
    },
    /// A chat line for the room: every connected client gets it as `Event::Chat`.
    Chat {
        /// At most `MAX_TEXT_BYTES` (256) bytes, no control characters.
        text: String,
    },
    /// A reliable game message (the game's declared actions, by id).
    Action(Action),
}

/// The first message of a connection: the room to join, as whom, with which tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// `PROTOCOL_VERSION` the client speaks. Always the first field.
    pub version: u16,
    /// The room to join, created on first join: 1-32 bytes of `A-Z a-z 0-9 _ -`.
    pub room: String,
    /// The player's name: 1-24 bytes of UTF-8, not blank, no control characters.
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
    /// The moment the client was drawing other entities at when it made this input (its
    /// interpolation's render time); `None` before it draws any. The server rewinds hit tests
    /// to it (lag compensation), within its cap.
    pub view: Option<ViewTime>,
    /// The game's input fields, coded per the descriptor (`schema::encode_values`).
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub values: Vec<u8>,
}

/// A moment between two ticks: `tick + frac / 256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewTime {
    /// The whole tick.
    pub tick: u32,
    /// How far toward `tick + 1`, in 256ths.
    pub frac: u8,
}

impl ViewTime {
    /// The moment as a number of ticks.
    pub fn ticks(self) -> f64 {
        f64::from(self.tick) + f64::from(self.frac) / 256.0
    }
}

/// A game-defined reliable message: `id` indexes the descriptor's `actions` or `events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// An index into the descriptor's `actions` (in an `Action`) or `events` (in a
    /// `GameEvent`).
    pub id: u16,
    /// The message's fields, coded per the descriptor (`schema::encode_values`).
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub values: Vec<u8>,
}

/// Server -> client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// Join accepted: the answer to `Hello`, with the game's descriptor.
    Welcome(Box<Welcome>),
    /// Join refused: `code` is one of `crate::codes`; the connection closes with it.
    Reject {
        /// The reject code, and the close code that follows.
        code: u16,
        /// Human-readable, at most `MAX_REASON_BYTES` (256) bytes; for `codes::MOVED`, the
        /// WebSocket URL of the node to send the same `Hello` to.
        reason: String,
    },
    /// On the wire: the header's fields, then the delta's bytes to the end of the message
    /// (`codec::encode_snapshot`).
    Snapshot(Snapshot),
    /// The answer to a `Ping`.
    Pong {
        /// The `Ping`'s value, echoed: the round-trip time is now minus this, on the client's
        /// clock.
        client_time_us: u64,
        /// The server's clock in microseconds since it started (the clock of
        /// `SnapshotHeader::server_time_us`).
        server_time_us: u64,
    },
    /// Reliable, in order: the server's own events.
    Event(Event),
    /// Reliable, in order with `Event`s: the game's declared events.
    GameEvent(Action),
}

/// Join accepted: the client's entity, the room's tick and roster, a resume token and the
/// game's descriptor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's `PROTOCOL_VERSION`.
    pub version: u16,
    /// The entity this client steers.
    pub player: EntityId,
    /// The room's name.
    pub room: String,
    /// The room's game (`schema.game`).
    pub game: String,
    /// Ticks (and snapshots) per second: 60 by default.
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

/// One player of a room's roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerInfo {
    /// The player's entity.
    pub entity: EntityId,
    /// The name it joined with (`Hello.name`).
    pub name: String,
}

/// The state at `tick`, as a delta from the client's acked `baseline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its tick, baselines, input ack, server clock and checksum.
    pub header: SnapshotHeader,
    /// `state_delta` bytes: the shared part, then this client's private part. (Bounded for
    /// the derived decoder, which a snapshot tag written as a non-minimal varint reaches.)
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub delta: Vec<u8>,
}

/// Everything in a snapshot but its delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The tick this snapshot describes.
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

/// The server's own reliable events (`ServerMsg::Event`): the roster, chat and notices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A player joined the room (sent to the others: the joiner has `Welcome.players`).
    PlayerJoined(PlayerInfo),
    /// A player left the room.
    PlayerLeft {
        /// The entity of the player who left.
        entity: EntityId,
    },
    /// A player's chat line, to every connected client of the room (the sender included).
    Chat {
        /// The speaker's entity.
        from: EntityId,
        /// The line (`ClientMsg::Chat`'s text).
        text: String,
    },
    /// A message from the server's operators.
    Notice {
        /// At most `MAX_TEXT_BYTES` (256) bytes.
        text: String,
    },
}
