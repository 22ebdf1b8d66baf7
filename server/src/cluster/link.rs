//! This node's link to the cluster: its Redis connection and who it is, whether Redis answers
//! it (`Health`), the seat key it shares with the other nodes (`SeatKey`), and every key the
//! cluster keeps in Redis. The other parts of `cluster` add to `Cluster` what they do.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

/// How long a node's entry (and its rooms' directory entries) outlive its last heartbeat.
/// Three beats: a node is dead after missing two (a kill is noticed within 3 s, so its
/// players are playing again elsewhere within the 5 s the cluster promises).
pub const NODE_TTL: Duration = Duration::from_secs(3);

/// Longest wait for a connection to Redis. Every Redis call fails within a small multiple of
/// these (`REDIS_RETRIES`) when Redis is unreachable, so matchmaking answers 503 and the
/// heartbeat notices at once, instead of waiting behind the driver's default reconnect
/// backoff (seven attempts over several seconds).
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest wait for Redis to answer one command (its scripts take microseconds).
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Connection attempts after the first when a call finds the connection down.
const REDIS_RETRIES: usize = 1;
/// The pause before that retry (jittered up to `REDIS_RETRY_MAX`).
const REDIS_RETRY_MIN: Duration = Duration::from_millis(100);
const REDIS_RETRY_MAX: Duration = Duration::from_millis(250);

/// Every Redis key (and channel) ticksync uses: one of these prefixes and a name.
pub(crate) mod keys {
    /// `{prefix}{node id}`: the node's `NodeInfo` as JSON, `NODE_TTL`.
    pub const NODE: &str = "ticksync:node:";
    /// `{prefix}{room}`: the id of the node that holds the room, `NODE_TTL`.
    pub const ROOM: &str = "ticksync:room:";
    /// `{prefix}{game}`: a set of room names that play the game (pruned as rooms go).
    pub const GAME: &str = "ticksync:game:";
    /// `{prefix}{room}`: a sorted set of the room's seat reservations, scored by expiry.
    pub const SEATS: &str = "ticksync:seats:";
    /// `{prefix}{nonce}`: a seat that was used, until it would have expired.
    pub const USED: &str = "ticksync:used:";
    /// `{prefix}{node id}`: rooms the matchmaker placed on the node in the last seconds.
    pub const PLACED: &str = "ticksync:placed:";
    /// `{prefix}{room}`: a room's saved state, handed from a draining node to the next.
    pub const STATE: &str = "ticksync:state:";
    /// `{prefix}{room}`: a room's latest checkpoint (written by the node that holds it), for
    /// the node that takes the room over if that one dies.
    pub const CHECKPOINT: &str = "ticksync:checkpoint:";
    /// The key that signs seats when no `--join-secret` is given (no expiry).
    pub const SECRET: &str = "ticksync:secret";
    /// The pub/sub channel of server-wide notices.
    pub const NOTICES: &str = "ticksync:notices";
}

/// This node in a cluster: its Redis connection (which reconnects by itself) and who it is.
/// Cheap to clone: clones share the connection, the health and the seat key.
#[derive(Clone)]
pub struct Cluster {
    redis: ConnectionManager,
    /// This node's name in the registry (`--node-id`).
    pub id: String,
    /// The WebSocket URL this node's clients are given (`--public-url`).
    pub url: String,
    /// Whether Redis answered the last heartbeat.
    pub(crate) health: Arc<Health>,
    /// The seats' key, once read from Redis (`seat_secret`; not with `--join-secret`).
    pub(crate) seat_key: Arc<OnceLock<SeatKey>>,
}

impl Cluster {
    /// Connects to `redis_url` as node `id`, reachable at `url`.
    pub async fn join(redis_url: &str, id: String, url: String) -> redis::RedisResult<Self> {
        let client = redis::Client::open(redis_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
            .set_number_of_retries(REDIS_RETRIES)
            .set_min_delay(REDIS_RETRY_MIN)
            .set_max_delay(REDIS_RETRY_MAX);
        let redis = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            redis,
            id,
            url,
            health: Arc::new(Health::default()),
            seat_key: Arc::new(OnceLock::new()),
        })
    }

    /// A handle on the shared connection for one request (the manager multiplexes).
    pub(crate) fn conn(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// While the heartbeat finds Redis unreachable: for how long, and its last error. `None`
    /// when Redis answered the last beat.
    pub fn outage(&self) -> Option<Outage> {
        self.health.outage()
    }
}

/// Redis unreachable, as the heartbeat found it.
#[derive(Clone, Debug)]
pub struct Outage {
    /// How long since the first beat that failed.
    pub since: Duration,
    /// The last beat's error.
    pub error: String,
}

/// Whether Redis answers this node: set by each heartbeat, read by `/healthz`.
pub(crate) struct Health {
    /// Since when, and the last error, while beats fail.
    down: Mutex<Option<(Instant, String)>>,
    /// Counts the outages that ended: the notice listener subscribes again on each (its
    /// connection may have died silently meanwhile).
    recovered: watch::Sender<u64>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            down: Mutex::new(None),
            recovered: watch::Sender::new(0),
        }
    }
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, String)>> {
        self.down.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A beat failed with `error`; true if Redis answered the one before (an outage starts).
    pub(crate) fn failed(&self, error: String) -> bool {
        let mut down = self.lock();
        match &mut *down {
            Some((_, last)) => {
                *last = error;
                false
            }
            None => {
                *down = Some((Instant::now(), error));
                true
            }
        }
    }

    /// A beat went through; the outage's length if one ends here.
    pub(crate) fn answered(&self) -> Option<Duration> {
        let ended = self.lock().take().map(|(since, _)| since.elapsed());
        if ended.is_some() {
            self.recovered.send_modify(|n| *n += 1);
        }
        ended
    }

    fn outage(&self) -> Option<Outage> {
        self.lock().as_ref().map(|(since, error)| Outage {
            since: since.elapsed(),
            error: error.clone(),
        })
    }

    /// Changes when an outage ends.
    pub(crate) fn recoveries(&self) -> watch::Receiver<u64> {
        self.recovered.subscribe()
    }
}

/// The key that signs seats, shared by every node through `ticksync:secret`. Each heartbeat
/// puts it back if Redis lost it, and takes Redis's if it differs, so the nodes always agree.
#[derive(Clone)]
pub(crate) struct SeatKey(Arc<Mutex<String>>);

impl SeatKey {
    pub(crate) fn new(key: String) -> Self {
        Self(Arc::new(Mutex::new(key)))
    }

    /// The key now.
    pub(crate) fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set(&self, key: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_reports_an_outage_once_and_its_end() {
        let h = Health::default();
        let recoveries = h.recoveries();
        assert!(h.outage().is_none());
        assert_eq!(h.answered(), None, "no outage to end");
        assert!(h.failed("refused".into()), "the first failure starts it");
        assert!(!h.failed("timed out".into()), "later ones do not");
        assert_eq!(h.outage().map(|o| o.error), Some("timed out".into()));
        assert!(!recoveries.has_changed().unwrap());
        assert!(h.answered().is_some(), "it ends");
        assert!(h.outage().is_none());
        assert!(recoveries.has_changed().unwrap());
    }
}
