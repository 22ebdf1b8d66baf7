//! Random tokens (resume tokens).

use rand::RngCore;

/// 128 random bits as 32 hex characters.
pub fn random_token() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
