//! Why a connection or a matchmaker request failed. `ClientError` wraps `MatchmakeError` (a
//! bot's join can fail at the matchmaker), so both live on the bottom floor: `client` and
//! `cluster` name them without naming each other.

use protocol::codes;

/// Why a client could not connect or stopped working.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Bad URL, TCP or WebSocket handshake failure, or no `Welcome` in time.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The server answered `Hello` with `Reject`.
    #[error("rejected with {} ({code}): {reason}", codes::name(*code))]
    Rejected {
        /// The reject code (`protocol::codes`).
        code: u16,
        /// Why, in words (for `MOVED`, the node URL to go to).
        reason: String,
    },
    /// The server closed the WebSocket with this code (1005 when its close frame had none).
    #[error("closed by the server with {} ({code}): {reason}", codes::name(*code))]
    Closed {
        /// The close code (`protocol::codes`, or WebSocket's own).
        code: u16,
        /// The close frame's reason (for `MOVED`, the node URL to go to).
        reason: String,
    },
    /// The connection ended without a close frame (reset, EOF, WebSocket framing error).
    #[error("connection lost: {0}")]
    Transport(String),
    /// The server sent something that is not valid ticksync protocol here.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A snapshot did not reproduce the server's checksum: this client's world is wrong.
    #[error("checksum mismatch at tick {tick}")]
    ChecksumMismatch {
        /// The snapshot's tick.
        tick: u32,
    },
    /// A snapshot's baseline was already dropped: this client fell more than its ring (64
    /// snapshots) behind. Reconnect to start from a full snapshot.
    #[error("fell behind: snapshot {tick} is against dropped baseline {baseline}")]
    FellBehind {
        /// The snapshot's tick.
        tick: u32,
        /// The dropped tick its delta is against.
        baseline: u32,
    },
    /// The writer's queue is full (the socket does not drain); the message was not sent.
    #[error("send queue full")]
    SendQueueFull,
    /// The connection's writer has stopped; nothing more can be sent.
    #[error("connection closed")]
    NotConnected,
    /// `send_action` with an id the game's schema does not declare; nothing was sent.
    #[error("action {0} is not in the game's schema")]
    UnknownAction(u16),
    /// The matchmaker gave no seat (`cluster::request_seat`); no connection was tried.
    #[error("matchmaker: {0}")]
    Matchmake(#[from] MatchmakeError),
}

/// Why the matchmaker gave no seat.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchmakeError {
    /// No HTTP answer: connect failure, a broken connection, a timeout, an oversize body.
    #[error("request failed: {0}")]
    Request(String),
    /// A non-200 answer, with the `error` of its JSON body (or the start of the body).
    #[error("refused with HTTP {status}: {error}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The matchmaker's reason.
        error: String,
    },
    /// A 200 answer that is not a usable seat.
    #[error("bad answer: {0}")]
    BadAnswer(String),
}

/// The close code a connection ended with when the server sent none: WebSocket's "abnormal
/// closure", never sent on the wire.
pub const ABNORMAL_CLOSURE: u16 = 1006;
/// A close frame without a code.
pub const NO_STATUS: u16 = 1005;

impl ClientError {
    /// The close (or reject) code this error ended the connection with, if the server sent one.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ClientError::Rejected { code, .. } | ClientError::Closed { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Errors that mean the server (or this client) broke the protocol, as opposed to a
    /// connection that ended or was refused.
    pub fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            ClientError::Protocol(_) | ClientError::ChecksumMismatch { .. }
        )
    }
}

/// A report key for a close code: `protocol::codes::name`, and WebSocket's own names for the
/// codes ticksync does not define.
pub fn close_code_name(code: u16) -> String {
    match (codes::name(code), code) {
        ("other", NO_STATUS) => "no_status".to_owned(),
        ("other", ABNORMAL_CLOSURE) => "abnormal".to_owned(),
        ("other", c) => format!("other_{c}"),
        (name, _) => name.to_owned(),
    }
}
