//! This node's link to the cluster: its Redis connection and who it is, and every key the
//! cluster keeps in Redis. The other parts of `cluster` add to `Cluster` what they do.

use std::time::Duration;

use redis::aio::ConnectionManager;

/// How long a node's entry (and its rooms' directory entries) outlive its last heartbeat.
/// Three beats: a node is dead after missing two (a kill is noticed within 3 s, so its
/// players are playing again elsewhere within the 5 s the cluster promises).
pub const NODE_TTL: Duration = Duration::from_secs(3);

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
/// Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct Cluster {
    redis: ConnectionManager,
    /// This node's name in the registry (`--node-id`).
    pub id: String,
    /// The WebSocket URL this node's clients are given (`--public-url`).
    pub url: String,
}

impl Cluster {
    /// Connects to `redis_url` as node `id`, reachable at `url`.
    pub async fn join(redis_url: &str, id: String, url: String) -> redis::RedisResult<Self> {
        let client = redis::Client::open(redis_url)?;
        let redis = ConnectionManager::new(client).await?;
        Ok(Self { redis, id, url })
    }

    /// A handle on the shared connection for one request (the manager multiplexes).
    pub(crate) fn conn(&self) -> ConnectionManager {
        self.redis.clone()
    }
}
