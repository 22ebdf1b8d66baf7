//! The one place that calls bincode: swap the wire codec here and nowhere else.
//!
//! bincode 2 `config::standard()`: little-endian, varint integers (zig-zag for signed), varint
//! enum tags and lengths. Decoding checks the message size first, caps every length claim with
//! `with_limit`, caps list preallocation (`crate::bounded`), rejects trailing bytes and validates
//! field contents, returning `DecodeError` for anything malformed: it never panics.

use bincode::config::{self, Config};

use crate::delta::Delta;
use crate::limits::*;
use crate::messages::{ClientMsg, Hello, ServerMsg, SnapshotHeader};

/// Why bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    #[error("invalid message: {0}")]
    Invalid(&'static str),
}

fn client_config() -> impl Config {
    config::standard().with_limit::<MAX_CLIENT_MSG_BYTES>()
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

pub fn encode_server(msg: &ServerMsg) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(msg, &mut out);
    out
}

/// Decodes one server message (the client's side of the wire).
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
    if bytes.first() == Some(&(SNAPSHOT_TAG as u8)) {
        return decode_snapshot(bytes);
    }
    decode_exact(bytes, MAX_SERVER_MSG_BYTES, server_config())
}

/// Snapshots are nearly all of a client's traffic: bincode decodes the header, and
/// `crate::wire_delta` the delta, several times faster than serde's visitors. Tests check it
/// against bincode's own decoding, value for value and error for error.
fn decode_snapshot(bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
    let (h, delta) =
        decode_snapshot_header(bytes)?.ok_or(DecodeError::Invalid("not a snapshot"))?;
    Ok(ServerMsg::Snapshot(crate::messages::Snapshot {
        tick: h.tick,
        baseline: h.baseline,
        input_seq: h.input_seq,
        server_time_us: h.server_time_us,
        checksum: h.checksum,
        delta: delta.decode()?,
    }))
}

/// A snapshot message's header and its still-encoded delta, or `Ok(None)` when `bytes` is
/// another kind of message. Lets a client apply the delta straight from the bytes
/// (`EncodedDelta::apply`) without building a `Delta`.
pub fn decode_snapshot_header(
    bytes: &[u8],
) -> Result<Option<(SnapshotHeader, EncodedDelta<'_>)>, DecodeError> {
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
    Ok(Some((h, EncodedDelta(&bytes[used..]))))
}

/// An encoded `Delta` (bincode layout), exactly one with nothing after it.
#[derive(Clone, Copy, Debug)]
pub struct EncodedDelta<'a>(pub &'a [u8]);

impl EncodedDelta<'_> {
    pub fn decode(&self) -> Result<Delta, DecodeError> {
        crate::wire_delta::decode(self.0)
    }

    /// Applies the delta to `table` as `Delta::apply` would, reading it straight from the
    /// bytes. On error the table is left partly applied, as with `Delta::apply`.
    pub fn apply(&self, table: &mut crate::EntityTable) -> Result<(), ApplyError> {
        crate::wire_delta::apply(self.0, table)
    }
}

/// Why an encoded delta could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Delta(#[from] crate::DeltaError),
}

/// Appends a delta's encoding, to be shared by every client with the same baseline and view.
pub fn encode_delta(delta: &Delta, out: &mut Vec<u8>) {
    encode_into(delta, out);
}

/// Appends `ServerMsg::Snapshot` built from a client's header and an already encoded delta.
/// Byte-identical to encoding the whole message (bincode writes struct fields back to back).
pub fn encode_snapshot(header: &SnapshotHeader, delta_bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(24 + delta_bytes.len());
    // The varint tag of `ServerMsg::Snapshot`; tests pin it against the derived encoding.
    encode_into(&SNAPSHOT_TAG, out);
    encode_into(header, out);
    out.extend_from_slice(delta_bytes);
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
        ClientMsg::Input(i) if i.dx < -INPUT_AXIS_MAX || i.dy < -INPUT_AXIS_MAX => {
            Err(DecodeError::Invalid("input axis out of -127..=127"))
        }
        ClientMsg::Chat { text } => check_text(text, MAX_TEXT_BYTES, TEXT_ERRORS),
        ClientMsg::Input(_) | ClientMsg::Ack { .. } | ClientMsg::Ping { .. } => Ok(()),
    }
}

fn validate_hello(h: &Hello) -> Result<(), DecodeError> {
    let room_ok = !h.room.is_empty()
        && h.room.len() <= MAX_ROOM_NAME_BYTES
        && h.room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !room_ok {
        return Err(DecodeError::Invalid(
            "room name must be 1-32 characters of A-Z a-z 0-9 _ -",
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
    use crate::messages::Input;

    fn hello(room: &str, name: &str) -> ClientMsg {
        ClientMsg::Hello(Hello {
            version: crate::PROTOCOL_VERSION,
            room: room.into(),
            name: name.into(),
            auth_token: None,
            resume_token: None,
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
        // A snapshot whose despawn list claims 2^40 entries.
        let mut bytes = encode_server(&ServerMsg::Pong {
            client_time_us: 0,
            server_time_us: 0,
        });
        bytes.clear();
        bytes.extend_from_slice(&[2, 1, 0, 0, 0, 0, 0xfd]);
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let err = decode_server(&bytes).unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
    }

    #[test]
    fn room_names_are_checked() {
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
        assert!(
            decode_client(&encode_client(&hello(
                &"r".repeat(MAX_ROOM_NAME_BYTES),
                "a"
            )))
            .is_ok()
        );
    }

    #[test]
    fn player_names_are_checked() {
        assert_eq!(
            invalid(&hello("arena", " ")),
            DecodeError::Invalid("player name is empty")
        );
        assert_eq!(
            invalid(&hello("arena", "a\nb")),
            DecodeError::Invalid(NAME_ERRORS.1)
        );
        assert_eq!(
            invalid(&hello("arena", &"n".repeat(MAX_PLAYER_NAME_BYTES + 1))),
            DecodeError::Invalid(NAME_ERRORS.0)
        );
    }

    #[test]
    fn tokens_and_chat_are_bounded() {
        let long = "t".repeat(MAX_TOKEN_BYTES + 1);
        let msg = ClientMsg::Hello(Hello {
            version: crate::PROTOCOL_VERSION,
            room: "arena".into(),
            name: "ann".into(),
            auth_token: None,
            resume_token: Some(long),
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
    fn input_axes_are_checked() {
        let msg = ClientMsg::Input(Input {
            seq: 1,
            dx: -128,
            dy: 0,
            buttons: 0,
        });
        assert_eq!(
            invalid(&msg),
            DecodeError::Invalid("input axis out of -127..=127")
        );
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

    fn bincode_snapshot(bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
        decode_exact(bytes, MAX_SERVER_MSG_BYTES, server_config())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// The hand-written delta reader agrees with bincode on every input: same value, or
        /// both an error.
        #[test]
        fn fast_snapshot_decoding_agrees_with_bincode(
            despawned in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..20),
            moved in proptest::collection::vec(proptest::prelude::any::<(u32, i32, i32)>(), 0..20),
            spawned in proptest::collection::vec(proptest::prelude::any::<(u32, u32, u8, i32, i32)>(), 0..20),
            flips in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 0..4),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            use crate::delta::{Change, Move, Spawn};
            use crate::table::EntityState;
            let delta = crate::Delta {
                despawned,
                spawned: spawned.iter().map(|&(gap, version, kind, x, y)| Spawn { gap, version, state: EntityState { kind, x, y } }).collect(),
                moved: moved.iter().map(|&(gap, dx, dy)| Move { gap, dx, dy }).collect(),
                changed: spawned.iter().map(|&(gap, _, kind, x, y)| Change { gap, state: EntityState { kind, x, y } }).collect(),
            };
            let snap = crate::messages::Snapshot { tick: 1, baseline: None, input_seq: 0, server_time_us: 0, checksum: None, delta };
            let mut bytes = encode_server(&ServerMsg::Snapshot(snap.clone()));
            proptest::prop_assert_eq!(decode_server(&bytes), Ok(ServerMsg::Snapshot(snap)));
            for (i, b) in flips {
                let i = i.index(bytes.len());
                if i > 0 { bytes[i] = b; }
            }
            let bytes = &bytes[..bytes.len() - cut.index(bytes.len() / 4 + 1)];
            let (fast, slow) = (decode_server(bytes), bincode_snapshot(bytes));
            match (&fast, &slow) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                _ => proptest::prop_assert!(false, "fast {:?} vs bincode {:?}", fast, slow),
            }
        }
    }

    #[test]
    fn split_snapshot_encoding_matches_the_derived_one() {
        let snap = crate::messages::Snapshot {
            tick: 300,
            baseline: Some(299),
            input_seq: 7,
            server_time_us: 1 << 40,
            checksum: Some(0xdead_beef),
            delta: crate::Delta::default(),
        };
        let mut delta = Vec::new();
        encode_delta(&snap.delta, &mut delta);
        let mut split = Vec::new();
        encode_snapshot(&snap.header(), &delta, &mut split);
        assert_eq!(split, encode_server(&ServerMsg::Snapshot(snap)));
    }
}
