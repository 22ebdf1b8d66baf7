//! Seats the matchmaker gives out (`protocol::seat`): minted and checked with the cluster's
//! key, and admitted once. In a cluster the used seats are in Redis, so a seat is used once
//! whichever node it is shown to; standalone, this node remembers them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::seat::{self, Seat, SeatError};

use crate::cluster::{Cluster, SeatKey};

/// Used seats a standalone node remembers (until they expire); past this, matchmaking
/// refuses new seats until some expire.
pub const MAX_REMEMBERED: usize = 100_000;

/// This node's seats: the key that signs and checks them, their lifetime, and (standalone)
/// the ones used and reserved.
pub struct Seats {
    key: Key,
    ttl: Duration,
    /// Standalone: used nonces and when they expire (unix ms).
    used: Mutex<HashMap<String, u64>>,
    /// Standalone: the seats reserved in each room.
    pub reservations: Reservations,
}

/// Milliseconds since the Unix epoch: seats expire on the wall clock, which every node shares.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What signs the seats.
enum Key {
    /// The join secret, or (standalone) this process's own.
    Fixed(Vec<u8>),
    /// The cluster's, which the heartbeat keeps the same as every other node's.
    Shared(SeatKey),
}

impl Seats {
    /// Seats signed with `secret`, valid for `ttl` after they are given out.
    pub fn new(secret: impl Into<Vec<u8>>, ttl: Duration) -> Self {
        Self::with_key(Key::Fixed(secret.into()), ttl)
    }

    /// Seats signed with the cluster's shared key.
    pub(crate) fn shared(key: SeatKey, ttl: Duration) -> Self {
        Self::with_key(Key::Shared(key), ttl)
    }

    fn with_key(key: Key, ttl: Duration) -> Self {
        Self {
            key,
            ttl,
            used: Mutex::default(),
            reservations: Reservations::default(),
        }
    }

    fn secret(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.key {
            Key::Fixed(k) => k.as_slice().into(),
            Key::Shared(k) => k.get().into_bytes().into(),
        }
    }

    /// A new seat's nonce and expiry, before its room is known.
    pub fn fresh(&self) -> (String, u64) {
        let nonce = crate::tokens::random_token();
        (nonce, now_ms() + self.ttl.as_millis() as u64)
    }

    /// The seat `nonce` in `room`, until `expires_ms`.
    pub fn sign(&self, room: &str, nonce: &str, expires_ms: u64) -> String {
        seat::mint(&self.secret(), room, nonce, expires_ms)
    }

    /// Checks a seat's signature, room and expiry (not whether it was used: `admit`).
    pub fn check(&self, token: &str, room: &str) -> Result<Seat, SeatError> {
        seat::verify(&self.secret(), token, room, now_ms())
    }

    /// Admits `seat` once: the second time is `Reused`. `Err(None)`: the store of used seats
    /// could not answer (Redis unreachable, or this node remembers too many).
    pub async fn admit(
        &self,
        cluster: Option<&Cluster>,
        room: &str,
        seat: &Seat,
    ) -> Result<(), Option<SeatError>> {
        let now = now_ms();
        let Some(cluster) = cluster else {
            self.admit_here(seat, now)?;
            self.reservations.used(room, &seat.nonce, now);
            return Ok(());
        };
        match cluster.use_seat(&seat.nonce, now, seat.expires_ms).await {
            Ok(true) => {
                if let Err(e) = cluster.seat_used(room, &seat.nonce, now).await {
                    tracing::warn!(error = %e, "could not update a room's reservations");
                }
                Ok(())
            }
            Ok(false) => Err(Some(SeatError::Reused)),
            Err(e) => {
                tracing::warn!(error = %e, "could not record a used seat in Redis");
                Err(None)
            }
        }
    }

    fn admit_here(&self, seat: &Seat, now: u64) -> Result<(), Option<SeatError>> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if used.len() >= MAX_REMEMBERED {
            used.retain(|_, &mut until| until > now);
            if used.len() >= MAX_REMEMBERED {
                return Err(None);
            }
        }
        match used.insert(seat.nonce.clone(), seat.expires_ms) {
            None => Ok(()),
            Some(_) => Err(Some(SeatError::Reused)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_seat_is_admitted_once_and_only_in_its_room() {
        let seats = Seats::new(*b"k", Duration::from_secs(15));
        let (nonce, expires) = seats.fresh();
        let token = seats.sign("arena", &nonce, expires);
        assert!(seats.check(&token, "other").is_err());
        let seat = seats.check(&token, "arena").expect("valid");
        assert_eq!(seats.admit(None, "arena", &seat).await, Ok(()));
        assert_eq!(
            seats.admit(None, "arena", &seat).await,
            Err(Some(SeatError::Reused))
        );
    }

    #[test]
    fn an_expired_seat_is_refused() {
        let seats = Seats::new(*b"k", Duration::ZERO);
        let (nonce, expires) = seats.fresh();
        assert_eq!(
            seats.check(&seats.sign("arena", &nonce, expires), "arena"),
            Err(SeatError::Expired)
        );
    }
}

/// Standalone: the seats reserved in each room of this node, as the cluster keeps them in
/// Redis (`cluster::directory`): each counts until it expires, or a little after it is used.
#[derive(Default)]
pub struct Reservations {
    rooms: Mutex<HashMap<String, Vec<(String, u64)>>>,
}

impl Reservations {
    /// Reserves `nonce` in `room` until `until` if `players` and the live reservations leave
    /// space in `size`.
    pub fn reserve(
        &self,
        room: &str,
        nonce: &str,
        now: u64,
        until: u64,
        players: usize,
        size: usize,
    ) -> bool {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if rooms.values().map(Vec::len).sum::<usize>() >= MAX_REMEMBERED {
            rooms.retain(|_, v| {
                v.retain(|(_, u)| *u > now);
                !v.is_empty()
            });
        }
        let seats = rooms.entry(room.to_string()).or_default();
        seats.retain(|(_, u)| *u > now);
        if players + seats.len() >= size {
            return false;
        }
        seats.push((nonce.to_string(), until));
        true
    }

    /// Seat `nonce` of `room` was used: it counts until the room reports the player.
    pub fn used(&self, room: &str, nonce: &str, now: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(seat) = rooms
            .get_mut(room)
            .and_then(|v| v.iter_mut().find(|(n, _)| n == nonce))
        {
            let until = now + crate::cluster::USED_SEAT_COUNTS.as_millis() as u64;
            seat.1 = seat.1.min(until);
        }
    }
}
