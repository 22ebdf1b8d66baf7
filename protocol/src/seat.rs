//! Seats: what `POST /matchmake` answers with, presented in `Hello.auth_token` to take the
//! place the matchmaker reserved in one room. A seat is signed by the cluster (so any node can
//! check it), names its room, expires (milliseconds after the Unix epoch), and carries a
//! nonce, which a node records when the seat is used so that it admits once.
//!
//! Seat: `seat1.{expires_ms}.{nonce}.{base64url(HMAC-SHA256(secret, "ticksync-seat-v1\n{room}\n{nonce}\n{expires_ms}"))}`
//! (base64url without padding). The prefix tells a seat from a join token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What every seat starts with.
pub const PREFIX: &str = "seat1.";

/// Why a seat was refused (the client sees `UNAUTHORIZED` with this text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    /// Not `seat1.{expires_ms}.{nonce}.{signature}`, or a part does not parse.
    #[error("malformed seat")]
    Malformed,
    /// Correctly signed, but its expiry is not after now.
    #[error("seat expired (ask the matchmaker again)")]
    Expired,
    /// Signed for another room, with another secret, or altered.
    #[error("seat is not valid for this room")]
    BadSignature,
    /// Its nonce was used already: a seat admits once (the caller checks this, not `verify`).
    #[error("seat already used (ask the matchmaker again)")]
    Reused,
}

/// A seat's checked contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seat {
    /// The node records it when the seat is used, so that the seat admits once.
    pub nonce: String,
    /// When the seat expires, in milliseconds after the Unix epoch.
    pub expires_ms: u64,
}

fn mac(secret: &[u8], room: &str, nonce: &str, expires_ms: u64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(format!("ticksync-seat-v1\n{room}\n{nonce}\n{expires_ms}").as_bytes());
    m
}

/// Whether `token` is a seat (rather than a join token).
pub fn is_seat(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// A seat in `room` with `nonce` (URL-safe characters, no `.`), valid until `expires_ms`.
pub fn mint(secret: &[u8], room: &str, nonce: &str, expires_ms: u64) -> String {
    let sig = mac(secret, room, nonce, expires_ms).finalize().into_bytes();
    format!(
        "{PREFIX}{expires_ms}.{nonce}.{}",
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// Checks `token` for `room` at `now_ms`, in constant time. Reuse is the caller's to check
/// (with the nonce), since only it knows which seats were used.
pub fn verify(secret: &[u8], token: &str, room: &str, now_ms: u64) -> Result<Seat, SeatError> {
    let rest = token.strip_prefix(PREFIX).ok_or(SeatError::Malformed)?;
    let mut parts = rest.splitn(3, '.');
    let (Some(expires), Some(nonce), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SeatError::Malformed);
    };
    let expires_ms: u64 = expires.parse().map_err(|_| SeatError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| SeatError::Malformed)?;
    mac(secret, room, nonce, expires_ms)
        .verify_slice(&sig)
        .map_err(|_| SeatError::BadSignature)?;
    if expires_ms <= now_ms {
        return Err(SeatError::Expired);
    }
    Ok(Seat {
        nonce: nonce.to_string(),
        expires_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"cluster secret";

    #[test]
    fn a_seat_admits_its_room_until_it_expires() {
        let t = mint(SECRET, "arena", "n0nce", 10_000);
        assert!(is_seat(&t));
        let seat = verify(SECRET, &t, "arena", 9_999).unwrap();
        assert_eq!(seat.nonce, "n0nce");
        assert_eq!(verify(SECRET, &t, "arena", 10_000), Err(SeatError::Expired));
        assert_eq!(verify(SECRET, &t, "other", 0), Err(SeatError::BadSignature));
        assert_eq!(verify(b"x", &t, "arena", 0), Err(SeatError::BadSignature));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let t = mint(SECRET, "arena", "n0nce", 10_000);
        let longer = t.replacen("10000", "99999", 1);
        assert_eq!(
            verify(SECRET, &longer, "arena", 0),
            Err(SeatError::BadSignature)
        );
        for bad in ["", "seat1.", "seat1.x.y.z", "seat1.5.n", "123.abc"] {
            assert_eq!(verify(SECRET, bad, "arena", 0), Err(SeatError::Malformed));
        }
        assert!(!is_seat(&crate::join_token::mint(
            SECRET, "arena", "ann", 5
        )));
    }
}
