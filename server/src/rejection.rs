//! The refusal of a join (or of a connection's request): what the client is told.

/// A refusal sent to a client as `Reject{code, reason}` and a close with that code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The close code (`protocol::codes`).
    pub code: u16,
    /// Why, in words for the player (cut to `protocol::limits::MAX_REASON_BYTES` when sent).
    pub reason: String,
}
