//! The one place that calls bincode: swap the wire codec here and nowhere else.
//!
//! bincode 2 `config::standard()`: little-endian, varint integers (zig-zag for signed), varint
//! enum tags and lengths. Decoding checks the message size first, caps every length claim with
//! `with_limit`, caps list preallocation (`crate::bounded`), rejects trailing bytes and validates
//! field contents, returning `DecodeError` for anything malformed: it never panics.

use bincode::config::{self, Config};

use crate::limits::*;
use crate::messages::{ClientMsg, Hello, ServerMsg, Snapshot, SnapshotHeader};
use crate::schema::{Descriptor, fnv1a};

/// Why bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Longer than its direction's limit (`MAX_CLIENT_MSG_BYTES`, `MAX_SERVER_MSG_BYTES`):
    /// refused before anything is decoded.
    #[error("message of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The message's length in bytes.
        len: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// Not an encoding of the message type (an unknown tag, a bad varint prefix, invalid UTF-8,
    /// a truncated field, a length claim over the limit): bincode's error text.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A whole message decoded with this many bytes after it (one WebSocket message carries
    /// exactly one protocol message).
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// Well-formed, but a field breaks a rule of the message layer (a room, game or player
    /// name, a token or chat text): which one. The server closes with 4004 or 1002.
    #[error("invalid message: {0}")]
    Invalid(&'static str),
}

/// bincode's limit counts each decoded value at its in-memory size (a one-byte varint `u64`
/// counts 8, a one-byte enum tag 4), not at its wire size: with a limit of
/// `MAX_CLIENT_MSG_BYTES` a valid message a few bytes under the wire limit was refused. The
/// wire size is checked before decoding (`decode_exact`); this limit only bounds what a length
/// claim may allocate. A valid message counts at most 8 per wire byte, so 8 times the wire
/// limit admits every one, and a hostile claim costs at most 8 KiB.
const CLIENT_DECODE_LIMIT: usize = 8 * MAX_CLIENT_MSG_BYTES;

fn client_config() -> impl Config {
    config::standard().with_limit::<CLIENT_DECODE_LIMIT>()
}

fn server_config() -> impl Config {
    config::standard().with_limit::<MAX_SERVER_MSG_BYTES>()
}

fn encode_into<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and every wire type has a known length.
    bincode::serde::encode_into_std_write(value, out, config::standard())
        .expect("wire types always encode");
}

fn decode_exact<T: serde::de::DeserializeOwned, C: Config>(
    bytes: &[u8],
    limit: usize,
    config: C,
) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (value, used) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    match bytes.len() - used {
        0 => Ok(value),
        n => Err(DecodeError::TrailingBytes(n)),
    }
}

/// Encodes one client message (the client's side of the wire).
pub fn encode_client(msg: &ClientMsg) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode_into(msg, &mut out);
    out
}

/// Decodes and validates one client message (the server's side of the wire).
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, DecodeError> {
    let msg: ClientMsg = decode_exact(bytes, MAX_CLIENT_MSG_BYTES, client_config())?;
    validate_client(&msg)?;
    Ok(msg)
}

/// Encodes one server message (the server's side of the wire); a `Snapshot` goes out as its
/// tag and header, then its delta bytes unprefixed (`encode_snapshot`).
pub fn encode_server(msg: &ServerMsg) -> Vec<u8> {
    let mut out = Vec::new();
    match msg {
        ServerMsg::Snapshot(s) => encode_snapshot(&s.header, &s.delta, &mut out),
        other => encode_into(other, &mut out),
    }
    out
}

/// Decodes one server message (the client's side of the wire).
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
    if let Some((header, delta)) = decode_snapshot_header(bytes)? {
        return Ok(ServerMsg::Snapshot(Snapshot {
            header,
            delta: delta.to_vec(),
        }));
    }
    // bincode allocates a string's claimed length before reading it, capped only by the
    // config's limit. The limit counts every value at its in-memory size (a one-byte u64 is
    // 8), so a true message claims at most 8 bytes per byte: the smallest power-of-four limit
    // of 8x the message always fits it, and a hostile claim costs at most 32x the message.
    macro_rules! tiers {
        ($($limit:expr),*) => {$(
            if bytes.len() * 8 <= $limit {
                let config = config::standard().with_limit::<{ $limit }>();
                return decode_exact(bytes, MAX_SERVER_MSG_BYTES, config);
            }
        )*};
    }
    tiers!(1 << 13, 1 << 15, 1 << 17, 1 << 19, 1 << 21, 1 << 23);
    decode_exact(bytes, MAX_SERVER_MSG_BYTES, server_config())
}

/// A snapshot message's header and its delta bytes (still encoded: `state_delta::apply` reads
/// them), or `Ok(None)` when `bytes` is another kind of message.
pub fn decode_snapshot_header(
    bytes: &[u8],
) -> Result<Option<(SnapshotHeader, &[u8])>, DecodeError> {
    if bytes.first() != Some(&(SNAPSHOT_TAG as u8)) {
        return Ok(None);
    }
    if bytes.len() > MAX_SERVER_MSG_BYTES {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit: MAX_SERVER_MSG_BYTES,
        });
    }
    let ((_tag, h), used): ((u32, SnapshotHeader), usize) =
        bincode::serde::decode_from_slice(bytes, server_config())
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok(Some((h, &bytes[used..])))
}

/// Appends `ServerMsg::Snapshot`: its tag, the header, then the delta bytes to the end. The
/// server encodes a delta's shared part once per baseline and each client's header and private
/// part around it.
pub fn encode_snapshot(header: &SnapshotHeader, delta_bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(24 + delta_bytes.len());
    encode_snapshot_header(header, out);
    out.extend_from_slice(delta_bytes);
}

/// Appends the tag and header of a snapshot message (the delta's bytes follow).
pub fn encode_snapshot_header(header: &SnapshotHeader, out: &mut Vec<u8>) {
    // The varint tag of `ServerMsg::Snapshot`; tests pin it against the derived encoding.
    encode_into(&SNAPSHOT_TAG, out);
    encode_into(header, out);
}

/// The descriptor's encoding (`Welcome.schema`), which its hash is taken over.
pub fn encode_descriptor(d: &Descriptor) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(d, &mut out);
    out
}

// Defined here rather than in `schema`, which sits below the codec: the hash is taken over
// the wire encoding, and only this module encodes.
impl Descriptor {
    /// A 32-bit FNV-1a hash of the descriptor's encoding: names the schema in `Welcome`.
    pub fn hash(&self) -> u32 {
        fnv1a(&encode_descriptor(self))
    }
}

const SNAPSHOT_TAG: u32 = 2;

/// The protocol version a message claims, if it starts like a `Hello` of any version.
/// Lets the server reject a version mismatch with a clear reason even when the rest of that
/// version's `Hello` would not decode.
pub fn peek_hello_version(bytes: &[u8]) -> Option<u16> {
    let (tag, version): (u32, u16) = bincode::serde::decode_from_slice(bytes, client_config())
        .ok()?
        .0;
    (tag == 0).then_some(version)
}

const TEXT_ERRORS: (&str, &str) = (
    "text longer than 256 bytes",
    "text contains control characters",
);
const NAME_ERRORS: (&str, &str) = (
    "player name longer than 24 bytes",
    "player name contains control characters",
);

fn validate_client(msg: &ClientMsg) -> Result<(), DecodeError> {
    match msg {
        ClientMsg::Hello(h) => validate_hello(h),
        ClientMsg::Chat { text } => check_text(text, MAX_TEXT_BYTES, TEXT_ERRORS),
        ClientMsg::Input(_)
        | ClientMsg::Action(_)
        | ClientMsg::Ack { .. }
        | ClientMsg::Ping { .. } => Ok(()),
    }
}

/// Room and game names: 1..=32 bytes of `[A-Za-z0-9_-]`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ROOM_NAME_BYTES
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn validate_hello(h: &Hello) -> Result<(), DecodeError> {
    if !valid_name(&h.room) {
        return Err(DecodeError::Invalid(
            "room name must be 1-32 characters of A-Z a-z 0-9 _ -",
        ));
    }
    if let Some(g) = &h.game
        && !valid_name(g)
    {
        return Err(DecodeError::Invalid(
            "game name must be 1-32 characters of A-Z a-z 0-9 _ -",
        ));
    }
    if h.name.trim().is_empty() {
        return Err(DecodeError::Invalid("player name is empty"));
    }
    check_text(&h.name, MAX_PLAYER_NAME_BYTES, NAME_ERRORS)?;
    for token in [&h.auth_token, &h.resume_token].into_iter().flatten() {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(DecodeError::Invalid("token longer than 256 bytes"));
        }
    }
    Ok(())
}

/// `errors`: the messages for (too long, has control characters).
fn check_text(
    text: &str,
    max: usize,
    errors: (&'static str, &'static str),
) -> Result<(), DecodeError> {
    if text.len() > max {
        return Err(DecodeError::Invalid(errors.0));
    }
    if text.chars().any(char::is_control) {
        return Err(DecodeError::Invalid(errors.1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Input, PROTOCOL_VERSION, Snapshot};

    fn hello(room: &str, name: &str) -> ClientMsg {
        ClientMsg::Hello(Hello {
            version: PROTOCOL_VERSION,
            room: room.into(),
            name: name.into(),
            auth_token: None,
            resume_token: None,
            game: None,
        })
    }

    fn invalid(msg: &ClientMsg) -> DecodeError {
        decode_client(&encode_client(msg)).unwrap_err()
    }

    #[test]
    fn oversized_messages_are_refused_before_decoding() {
        let bytes = vec![0u8; MAX_CLIENT_MSG_BYTES + 1];
        assert_eq!(
            decode_client(&bytes),
            Err(DecodeError::TooLarge {
                len: MAX_CLIENT_MSG_BYTES + 1,
                limit: MAX_CLIENT_MSG_BYTES
            })
        );
    }

    /// A chat line of `len` encoded bytes: the tag, the text's length, its bytes (the text
    /// itself may break the chat rules: only decoding is under test).
    fn chat_of_len(len: usize) -> Vec<u8> {
        let text_len = (0..len)
            .rev()
            .find(|&n| {
                encode_client(&ClientMsg::Chat {
                    text: "x".repeat(n),
                })
                .len()
                    <= len
            })
            .unwrap();
        let bytes = encode_client(&ClientMsg::Chat {
            text: "x".repeat(text_len),
        });
        assert_eq!(bytes.len(), len, "a chat line of exactly {len} bytes");
        bytes
    }

    #[test]
    fn the_limit_is_on_wire_bytes_up_to_the_last_one() {
        // Up to the limit every length decodes; the text is too long for a chat line, which
        // validation (not the size limit) refuses.
        for len in [
            MAX_CLIENT_MSG_BYTES - 20,
            MAX_CLIENT_MSG_BYTES - 1,
            MAX_CLIENT_MSG_BYTES,
        ] {
            assert_eq!(
                decode_client(&chat_of_len(len)),
                Err(DecodeError::Invalid(TEXT_ERRORS.0)),
                "{len} bytes"
            );
        }
        // An input whose values fill the message to the limit is a valid message.
        let input = |n: usize| {
            ClientMsg::Input(Input {
                seq: u32::MAX,
                ack: Some(u32::MAX),
                view: Some(crate::messages::ViewTime {
                    tick: u32::MAX,
                    frac: 255,
                }),
                values: vec![0x80; n],
            })
        };
        let n = (0..MAX_CLIENT_MSG_BYTES)
            .rev()
            .find(|&n| encode_client(&input(n)).len() <= MAX_CLIENT_MSG_BYTES)
            .unwrap();
        let bytes = encode_client(&input(n));
        assert_eq!(bytes.len(), MAX_CLIENT_MSG_BYTES);
        assert_eq!(decode_client(&bytes), Ok(input(n)));
        // One byte more is refused for its size, before decoding.
        let over = chat_of_len(MAX_CLIENT_MSG_BYTES + 1);
        assert_eq!(
            decode_client(&over),
            Err(DecodeError::TooLarge {
                len: MAX_CLIENT_MSG_BYTES + 1,
                limit: MAX_CLIENT_MSG_BYTES
            })
        );
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = encode_client(&ClientMsg::Ack { tick: 5 });
        bytes.push(0);
        assert_eq!(decode_client(&bytes), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn truncated_and_unknown_messages_are_malformed() {
        let bytes = encode_client(&hello("arena", "ann"));
        for cut in 0..bytes.len() {
            assert!(
                matches!(decode_client(&bytes[..cut]), Err(DecodeError::Malformed(_))),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            decode_client(&[99]),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode_server(&[99]),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn huge_length_claims_are_refused_without_allocating() {
        // Chat with a string length of u64::MAX: the limit refuses the claim.
        let mut bytes = vec![4u8, 0xfd];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode_client(&bytes),
            Err(DecodeError::Malformed(_))
        ));
        // An input whose value list claims 2^40 bytes.
        let mut bytes = vec![1u8, 1, 0, 0xfd];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(
            decode_client(&bytes),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn names_tokens_and_chat_are_checked() {
        for bad in [
            "",
            "has space",
            "slash/",
            &"r".repeat(MAX_ROOM_NAME_BYTES + 1),
        ] {
            assert!(
                matches!(invalid(&hello(bad, "ann")), DecodeError::Invalid(_)),
                "{bad:?}"
            );
        }
        assert_eq!(
            invalid(&hello("arena", " ")),
            DecodeError::Invalid("player name is empty")
        );
        assert_eq!(
            invalid(&hello("arena", "a\nb")),
            DecodeError::Invalid(NAME_ERRORS.1)
        );
        let mut h = hello("arena", "ann");
        if let ClientMsg::Hello(h) = &mut h {
            h.game = Some("no spaces".into());
        }
        assert!(matches!(invalid(&h), DecodeError::Invalid(_)));
        let msg = ClientMsg::Hello(Hello {
            version: PROTOCOL_VERSION,
            room: "arena".into(),
            name: "ann".into(),
            auth_token: None,
            resume_token: Some("t".repeat(MAX_TOKEN_BYTES + 1)),
            game: None,
        });
        assert_eq!(
            invalid(&msg),
            DecodeError::Invalid("token longer than 256 bytes")
        );
        let chat = ClientMsg::Chat {
            text: "x".repeat(MAX_TEXT_BYTES + 1),
        };
        assert_eq!(invalid(&chat), DecodeError::Invalid(TEXT_ERRORS.0));
    }

    #[test]
    fn inputs_round_trip() {
        let msg = ClientMsg::Input(Input {
            seq: 300,
            ack: Some(7),
            view: Some(crate::messages::ViewTime { tick: 5, frac: 128 }),
            values: vec![1, 2, 3],
        });
        assert_eq!(decode_client(&encode_client(&msg)), Ok(msg));
    }

    #[test]
    fn hello_version_is_read_from_any_version_of_hello() {
        // A future Hello whose other fields this version cannot decode.
        assert_eq!(
            peek_hello_version(&[0, 0xfb, 0x2c, 0x01, 0xff, 0xff]),
            Some(300)
        );
        assert_eq!(
            peek_hello_version(&encode_client(&ClientMsg::Ack { tick: 1 })),
            None
        );
        assert_eq!(peek_hello_version(&[]), None);
    }

    #[test]
    fn snapshots_carry_their_delta_to_the_end() {
        let snap = Snapshot {
            header: SnapshotHeader {
                tick: 300,
                baseline: Some(299),
                baseline2: None,
                input_seq: 7,
                server_time_us: 1 << 40,
                checksum: Some(0xdead_beef),
            },
            delta: vec![0, 0, 1, 5, 9],
        };
        let bytes = encode_server(&ServerMsg::Snapshot(snap.clone()));
        assert!(bytes.ends_with(&snap.delta));
        assert_eq!(decode_server(&bytes), Ok(ServerMsg::Snapshot(snap)));
        // The tag is the one serde derives for the variant.
        let derived = bincode::serde::encode_to_vec(
            ServerMsg::Snapshot(Snapshot {
                header: snap_header(),
                delta: vec![],
            }),
            config::standard(),
        )
        .unwrap();
        assert_eq!(u32::from(derived[0]), SNAPSHOT_TAG);
    }

    fn snap_header() -> SnapshotHeader {
        SnapshotHeader {
            tick: 1,
            baseline: None,
            baseline2: None,
            input_seq: 0,
            server_time_us: 0,
            checksum: None,
        }
    }
}
