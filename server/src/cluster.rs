//! Joining a cluster on Redis (`--redis`): this node's entry in the node registry.
//!
//! Every `HEARTBEAT` the node writes `ticksync:node:{id}` (JSON: its id, the URL its clients
//! are given, and its load) with a time to live of `NODE_TTL`, so a node that stops, however
//! it stops, leaves the registry within `NODE_TTL`; one that shuts down removes its entry at
//! once. Without `--redis` none of this runs.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::registry::Rooms;

/// How long a node's entry outlives its last heartbeat.
pub const NODE_TTL: Duration = Duration::from_secs(5);
/// How often a node renews its entry: a few beats fit in the time to live.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Where node entries live: this prefix and the node's id.
const NODE_KEY: &str = "ticksync:node:";

/// A node as the registry shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    /// The WebSocket URL this node's clients are given.
    pub url: String,
    pub rooms: usize,
    pub players: usize,
}

/// This node in a cluster: its Redis connection (which reconnects by itself) and who it is.
#[derive(Clone)]
pub struct Cluster {
    redis: ConnectionManager,
    pub id: String,
    pub url: String,
}

impl Cluster {
    /// Connects to `redis_url` as node `id`, reachable at `url`.
    pub async fn join(redis_url: &str, id: String, url: String) -> redis::RedisResult<Self> {
        let client = redis::Client::open(redis_url)?;
        let redis = ConnectionManager::new(client).await?;
        Ok(Self { redis, id, url })
    }

    fn key(id: &str) -> String {
        format!("{NODE_KEY}{id}")
    }

    /// Writes this node's entry with its time to live.
    async fn beat(&mut self, rooms: &Rooms) -> redis::RedisResult<()> {
        let infos = rooms.infos();
        let info = NodeInfo {
            id: self.id.clone(),
            url: self.url.clone(),
            rooms: infos.len(),
            players: infos.iter().map(|r| r.players).sum(),
        };
        let json = serde_json::to_string(&info).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "node info", e.to_string()))
        })?;
        redis::cmd("SET")
            .arg(Self::key(&self.id))
            .arg(json)
            .arg("PX")
            .arg(NODE_TTL.as_millis() as u64)
            .query_async(&mut self.redis)
            .await
    }

    /// Heartbeats until `stop`, then removes this node's entry.
    pub fn spawn_heartbeat(
        mut self,
        rooms: Arc<Rooms>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut beats = tokio::time::interval(HEARTBEAT);
            beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = beats.tick() => {
                        if let Err(e) = self.beat(&rooms).await {
                            tracing::warn!(error = %e, "node heartbeat to Redis failed");
                        }
                    }
                    _ = stop.cancelled() => break,
                }
            }
            let _: redis::RedisResult<()> = self.redis.del(Self::key(&self.id)).await;
        })
    }

    /// Every live node in the registry.
    pub async fn nodes(&mut self) -> redis::RedisResult<Vec<NodeInfo>> {
        let keys: Vec<String> = {
            let mut iter = self
                .redis
                .scan_match::<_, String>(format!("{NODE_KEY}*"))
                .await?;
            let mut keys = Vec::new();
            while let Some(k) = iter.next_item().await {
                keys.push(k?);
            }
            keys
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> = self.redis.mget(&keys).await?;
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect())
    }
}
