//! Hard wire limits. Decoding enforces them, so no untrusted length can size an allocation.
//! Servers may configure tighter limits for their own connections.

/// Largest encoded client -> server message. Inputs are 6-10 bytes; `Hello` with two tokens is
/// the largest at about 600.
pub const MAX_CLIENT_MSG_BYTES: usize = 1024;
/// Largest encoded server -> client message (a full snapshot of a very large world).
pub const MAX_SERVER_MSG_BYTES: usize = 16 * 1024 * 1024;

/// Room names: 1..=32 bytes of `[A-Za-z0-9_-]`.
pub const MAX_ROOM_NAME_BYTES: usize = 32;
/// Player names: 1..=24 bytes of UTF-8, no control characters.
pub const MAX_PLAYER_NAME_BYTES: usize = 24;
/// Auth and resume tokens.
pub const MAX_TOKEN_BYTES: usize = 256;
/// Chat and notice text.
pub const MAX_TEXT_BYTES: usize = 256;
/// Free-text reason in `Reject`.
pub const MAX_REASON_BYTES: usize = 256;

/// Entity indices are below this; a client's table never holds more slots.
pub const MAX_ENTITY_INDEX: u32 = 1 << 20;
/// Entries in any one list of a message (delta lists, the player roster).
pub const MAX_LIST_LEN: usize = MAX_ENTITY_INDEX as usize;
