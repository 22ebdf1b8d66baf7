//! Joining a cluster on Redis (`--redis`): this node's entry in the node registry.
//!
//! Every `HEARTBEAT` the node writes `ticksync:node:{id}` (JSON: its id, the URL its clients
//! are given, and its load) with a time to live of `NODE_TTL`, so a node that stops, however
//! it stops, leaves the registry within `NODE_TTL`; one that shuts down removes its entry at
//! once. Without `--redis` none of this runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The node's CPU use over its last heartbeat, in cores (`None` where the platform does
    /// not say: it is read from Linux's `/proc`).
    pub cpu: Option<f64>,
}

/// This node in a cluster: its Redis connection (which reconnects by itself) and who it is.
#[derive(Clone)]
pub struct Cluster {
    redis: ConnectionManager,
    pub id: String,
    pub url: String,
    /// The process's CPU seconds at the last heartbeat, and when.
    cpu_at: Option<(f64, Instant)>,
}

impl Cluster {
    /// Connects to `redis_url` as node `id`, reachable at `url`.
    pub async fn join(redis_url: &str, id: String, url: String) -> redis::RedisResult<Self> {
        let client = redis::Client::open(redis_url)?;
        let redis = ConnectionManager::new(client).await?;
        Ok(Self {
            redis,
            id,
            url,
            cpu_at: None,
        })
    }

    fn key(id: &str) -> String {
        format!("{NODE_KEY}{id}")
    }

    /// Writes this node's entry with its time to live.
    async fn beat(&mut self, rooms: &Rooms) -> redis::RedisResult<()> {
        let infos = rooms.infos();
        let now = cpu_seconds().map(|s| (s, Instant::now()));
        let cpu = self.cpu_at.zip(now).map(|((s0, t0), (s1, t1))| {
            (s1 - s0) / t1.saturating_duration_since(t0).as_secs_f64().max(1e-3)
        });
        self.cpu_at = now;
        let info = NodeInfo {
            id: self.id.clone(),
            url: self.url.clone(),
            rooms: infos.len(),
            players: infos.iter().map(|r| r.players).sum(),
            cpu,
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

/// This process's CPU time so far, in seconds: Linux's `/proc/self/stat` (user and system
/// time, in the kernel's fixed 1/100 s ticks); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it, where
    // the state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split(' ').skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows_with_work() {
        let Some(before) = super::cpu_seconds() else {
            return; // not Linux
        };
        // Busy until the reading moves by 5 ticks (bounded: it must move within 10 s).
        let (mut x, start) = (0u64, std::time::Instant::now());
        let mut after = before;
        while after - before < 0.05 && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after = super::cpu_seconds().expect("read again");
        }
        assert!(after - before >= 0.05, "{before} -> {after}");
    }
}
