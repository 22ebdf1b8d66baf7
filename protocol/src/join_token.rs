//! Join tokens (`Hello.auth_token`): with a join secret configured, the server admits a `Hello`
//! only with a token that the studio's backend minted for exactly that room and player name,
//! and that has not expired. Here so servers, bots and tools share one definition.
//!
//! Token: `{expires_unix}.{base64url(HMAC-SHA256(secret, "ticksync-join-v1\n{room}\n{name}\n{expires_unix}"))}`
//! (base64url without padding). Any backend can mint one: see `docs/security.md`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused (the client sees `UNAUTHORIZED` with this text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The server has a join secret and the `Hello` carried no token.
    #[error("this server requires a join token")]
    Missing,
    /// Not `{expires_unix}.{signature}`: no dot, an expiry that is not a `u64`, or a signature
    /// that is not base64url.
    #[error("malformed join token")]
    Malformed,
    /// Correctly signed, but its expiry is not after now.
    #[error("join token expired")]
    Expired,
    /// Signed for another room or player name, another expiry, or with another secret.
    #[error("join token is not valid for this room and player name")]
    BadSignature,
}

fn mac(secret: &[u8], room: &str, name: &str, expires: u64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(format!("ticksync-join-v1\n{room}\n{name}\n{expires}").as_bytes());
    m
}

/// Now in unix seconds, as `mint` and `verify` take it (0 for a clock before 1970).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A token for `name` in `room`, valid until `expires` (unix seconds).
pub fn mint(secret: &[u8], room: &str, name: &str, expires: u64) -> String {
    let sig = mac(secret, room, name, expires).finalize().into_bytes();
    format!("{expires}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Checks `token` for `room` and `name` at time `now` (unix seconds), in constant time.
pub fn verify(
    secret: &[u8],
    token: Option<&str>,
    room: &str,
    name: &str,
    now: u64,
) -> Result<(), TokenError> {
    let token = token.ok_or(TokenError::Missing)?;
    let (expires, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TokenError::Malformed)?;
    mac(secret, room, name, expires)
        .verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
    if expires <= now {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"studio secret";

    #[test]
    fn a_minted_token_admits_exactly_its_room_and_name() {
        let t = mint(SECRET, "arena", "ann", 2000);
        assert_eq!(verify(SECRET, Some(&t), "arena", "ann", 1999), Ok(()));
        assert_eq!(
            verify(SECRET, Some(&t), "arena", "bob", 1999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some(&t), "lobby", "ann", 1999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(b"other", Some(&t), "arena", "ann", 1999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some(&t), "arena", "ann", 2000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert_eq!(verify(SECRET, None, "a", "b", 0), Err(TokenError::Missing));
        for bad in [
            "",
            "x",
            "12",
            "12.",
            "x.abc",
            "12.!!!",
            "99999999999999999999999.aa",
        ] {
            assert!(verify(SECRET, Some(bad), "a", "b", 0).is_err(), "{bad:?}");
        }
        // Moving the expiry breaks the signature.
        let t = mint(SECRET, "a", "b", 10);
        let forged = t.replacen("10.", "99.", 1);
        assert_eq!(
            verify(SECRET, Some(&forged), "a", "b", 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn the_documented_vector_holds() {
        // Computed with Python's hmac module; docs/security.md quotes it for other languages.
        let expected = "1900000000.QSZuOKIWA9Gv0I9MdxapbSpF4CC_IB_yern8y-0QWqY";
        assert_eq!(mint(b"secret", "arena", "ann", 1_900_000_000), expected);
    }
}
