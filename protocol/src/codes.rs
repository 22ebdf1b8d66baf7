//! Reject and WebSocket close codes. A `Reject` is followed by a close with the same code.
//! 1000-1011 are the standard WebSocket codes; 4000-4999 are ticksync's own.

/// Normal closure (client left, or server closed an idle room).
pub const NORMAL: u16 = 1000;
/// Server shutting down ("going away").
pub const GOING_AWAY: u16 = 1001;
/// Malformed frame or message that is not valid ticksync protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Text frame: ticksync speaks binary only.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// Rate limit or other policy abuse.
pub const POLICY_VIOLATION: u16 = 1008;
/// Message or frame larger than the configured limit.
pub const TOO_BIG: u16 = 1009;
/// Unexpected server error (e.g. a room's game logic panicked).
pub const SERVER_ERROR: u16 = 1011;

/// `Hello.version` differs from the server's `PROTOCOL_VERSION`.
pub const VERSION_MISMATCH: u16 = 4000;
/// Missing, bad, expired or wrongly bound join token.
pub const UNAUTHORIZED: u16 = 4001;
/// The room has no free player slot.
pub const ROOM_FULL: u16 = 4002;
/// The server has no room for another room or connection.
pub const SERVER_FULL: u16 = 4003;
/// First message was not `Hello`, or `Hello` came twice.
pub const BAD_HELLO: u16 = 4004;
/// The client did not read fast enough: its reliable queue overflowed.
pub const TOO_SLOW: u16 = 4005;
/// Handshake or liveness timeout.
pub const TIMEOUT: u16 = 4006;
/// Resume token unknown, expired, or not this client's.
pub const BAD_RESUME: u16 = 4007;
/// The room closed (e.g. its game logic failed).
pub const ROOM_CLOSED: u16 = 4008;
/// An input or action value outside its declared range, an unknown enum tag, an oversize or
/// malformed string, or a value list that does not match the game's declaration.
pub const INVALID_VALUE: u16 = 4009;
/// An action id the game did not declare.
pub const UNKNOWN_MESSAGE: u16 = 4010;
/// No such game on this server, or the room plays another game than the `Hello` asked for.
pub const WRONG_GAME: u16 = 4011;
/// Another connection resumed this player (its client reconnected before this connection's
/// drop was noticed, or the token was used elsewhere). Do not reconnect.
pub const REPLACED: u16 = 4012;
/// The room lives on another node of the cluster, or is moving there (a node draining for a
/// deploy hands its rooms over). The reason is that node's WebSocket URL: send the same
/// `Hello` there, with the resume token if you have one, to take the same player back.
pub const MOVED: u16 = 4013;

/// Every code above, ascending.
pub const ALL: [u16; 21] = [
    NORMAL,
    GOING_AWAY,
    PROTOCOL_ERROR,
    UNSUPPORTED_DATA,
    POLICY_VIOLATION,
    TOO_BIG,
    SERVER_ERROR,
    VERSION_MISMATCH,
    UNAUTHORIZED,
    ROOM_FULL,
    SERVER_FULL,
    BAD_HELLO,
    TOO_SLOW,
    TIMEOUT,
    BAD_RESUME,
    ROOM_CLOSED,
    INVALID_VALUE,
    UNKNOWN_MESSAGE,
    WRONG_GAME,
    REPLACED,
    MOVED,
];

/// A short name for logs and reports.
pub fn name(code: u16) -> &'static str {
    match code {
        NORMAL => "normal",
        GOING_AWAY => "going_away",
        PROTOCOL_ERROR => "protocol_error",
        UNSUPPORTED_DATA => "unsupported_data",
        POLICY_VIOLATION => "policy_violation",
        TOO_BIG => "too_big",
        SERVER_ERROR => "server_error",
        VERSION_MISMATCH => "version_mismatch",
        UNAUTHORIZED => "unauthorized",
        ROOM_FULL => "room_full",
        SERVER_FULL => "server_full",
        BAD_HELLO => "bad_hello",
        TOO_SLOW => "too_slow",
        TIMEOUT => "timeout",
        BAD_RESUME => "bad_resume",
        ROOM_CLOSED => "room_closed",
        INVALID_VALUE => "invalid_value",
        UNKNOWN_MESSAGE => "unknown_message",
        WRONG_GAME => "wrong_game",
        REPLACED => "replaced",
        MOVED => "moved",
        _ => "other",
    }
}
