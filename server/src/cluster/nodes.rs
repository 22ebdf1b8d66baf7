//! The node registry: every `HEARTBEAT` a node writes its entry (its id, the URL its clients
//! are given, its load and rooms) with a time to live of `NODE_TTL`, and renews its rooms'
//! directory entries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::link::{Cluster, NODE_TTL, keys};
use crate::registry::Rooms;
use crate::room::RoomInfo;

/// How often a node renews its entry: a few beats fit in the time to live.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often a starting node checks whether an old entry under its id has expired.
const ID_POLL: Duration = Duration::from_millis(100);

/// A node as the registry shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its name (`--node-id`).
    pub id: String,
    /// The WebSocket URL this node's clients are given.
    pub url: String,
    /// Rooms open on it.
    pub rooms: usize,
    /// Players in its rooms, connected or within their resume grace.
    pub players: usize,
    /// The node's CPU use over its last heartbeat, in cores (`None` where the platform does
    /// not say: it is read from Linux's `/proc`).
    pub cpu: Option<f64>,
    /// Draining for a deploy: it takes no new rooms.
    #[serde(default)]
    pub draining: bool,
    /// Its rooms, as its `/rooms` shows them.
    #[serde(default)]
    pub room_list: Vec<RoomInfo>,
}

impl Cluster {
    fn node_key(id: &str) -> String {
        format!("{}{id}", keys::NODE)
    }

    /// Takes this node's id in the registry before its first beat: an entry under the id may
    /// be this node's own from before a crash (it expires within `NODE_TTL`) or a live node's
    /// with the same id (renewed every beat). Waits, bounded, for it to expire; if it is still
    /// there the id is taken, and the error says so. Two nodes must never share an id: they
    /// would renew each other's rooms and both play them.
    pub async fn take_id(&self) -> Result<(), String> {
        let key = Self::node_key(&self.id);
        // A placeholder until the first beat: the node with no load yet.
        let entry = serde_json::to_string(&NodeInfo {
            id: self.id.clone(),
            url: self.url.clone(),
            rooms: 0,
            players: 0,
            cpu: None,
            draining: false,
            room_list: Vec::new(),
        })
        .map_err(|e| e.to_string())?;
        let patience = NODE_TTL + Duration::from_secs(1);
        let deadline = Instant::now() + patience;
        let mut waiting = false;
        loop {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&entry)
                .arg("NX")
                .arg("PX")
                .arg(NODE_TTL.as_millis() as u64)
                .query_async(&mut self.conn())
                .await
                .map_err(|e| format!("--redis: registering node id '{}': {e}", self.id))?;
            if taken.is_some() {
                if waiting {
                    tracing::info!(node = %self.id, "the old entry under this node id expired");
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "--node-id '{}' is taken: a live node renews {key} in Redis (waited {} for \
                     it to expire); give each node its own --node-id",
                    self.id,
                    humantime::format_duration(patience)
                ));
            }
            if !waiting {
                tracing::warn!(
                    node = %self.id,
                    "{key} is in Redis: waiting up to {} for it to expire (this node's own \
                     entry from before a crash, or another node with this id)",
                    humantime::format_duration(patience)
                );
                waiting = true;
            }
            tokio::time::sleep(ID_POLL).await;
        }
    }

    /// Writes this node's entry with its time to live, renews its rooms' directory entries
    /// (re-claiming those Redis lost) and puts the seat key back if Redis lost it. Returns the
    /// rooms another node holds now.
    async fn beat(&self, rooms: &Rooms, beat: &mut Beat) -> redis::RedisResult<Vec<String>> {
        let infos = rooms.infos();
        let now = cpu_seconds().map(|s| (s, Instant::now()));
        let cpu = beat.cpu_at.zip(now).map(|((s0, t0), (s1, t1))| {
            (s1 - s0) / t1.saturating_duration_since(t0).as_secs_f64().max(1e-3)
        });
        beat.cpu_at = now;
        let held: HashSet<String> = infos.iter().map(|r| r.name.clone()).collect();
        let info = NodeInfo {
            id: self.id.clone(),
            url: self.url.clone(),
            rooms: infos.len(),
            players: infos.iter().map(|r| r.players).sum(),
            cpu,
            draining: rooms.draining(),
            room_list: infos,
        };
        let json = serde_json::to_string(&info).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "node info", e.to_string()))
        })?;
        let mut conn = self.conn();
        redis::cmd("SET")
            .arg(Self::node_key(&self.id))
            .arg(json)
            .arg("PX")
            .arg(NODE_TTL.as_millis() as u64)
            .query_async::<()>(&mut conn)
            .await?;
        let lost = self.renew(&info.room_list).await?;
        // Only what a beat that went through released counts: a room that closed during an
        // outage is released at the first beat after it.
        for gone in beat.held.difference(&held) {
            self.release(gone).await?;
        }
        beat.held = held;
        self.keep_seat_key().await?;
        Ok(lost)
    }

    /// One beat, and what it tells: the health's changes (logged once each way, not every
    /// beat) and the rooms another node holds (to `lost`).
    async fn beat_and_report(&self, rooms: &Rooms, beat: &mut Beat, lost: &mpsc::Sender<String>) {
        match self.beat(rooms, beat).await {
            Ok(gone) => {
                if let Some(outage) = self.health.answered() {
                    tracing::warn!(
                        outage = %humantime::format_duration(round_ms(outage)),
                        "Redis answers again: this node is registered, its rooms re-claimed"
                    );
                }
                for room in gone {
                    // Full: the next beat reports it again.
                    let _ = lost.try_send(room);
                }
            }
            Err(e) => {
                if self.health.failed(e.to_string()) {
                    tracing::error!(
                        error = %e,
                        "Redis is unreachable: this node plays on the rooms it holds, but \
                         matchmaking, new rooms and seats fail (503) until Redis answers \
                         again; /healthz says degraded"
                    );
                } else {
                    tracing::debug!(error = %e, "heartbeat: Redis still unreachable");
                }
            }
        }
    }

    /// Registers this node (it is in the registry when this returns), then heartbeats until
    /// `stop` and removes its entry. Rooms the directory gives to another node meanwhile are
    /// sent to `lost`, for the node to stop playing them.
    pub async fn start_heartbeat(
        self,
        rooms: Arc<Rooms>,
        lost: mpsc::Sender<String>,
        stop: CancellationToken,
    ) -> redis::RedisResult<tokio::task::JoinHandle<()>> {
        let mut beat = Beat::default();
        self.beat(&rooms, &mut beat).await?;
        Ok(tokio::spawn(async move {
            let mut beats =
                tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
            beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = beats.tick() => self.beat_and_report(&rooms, &mut beat, &lost).await,
                    _ = stop.cancelled() => break,
                }
            }
            let mut conn = self.conn();
            let _: redis::RedisResult<()> = conn.del(Self::node_key(&self.id)).await;
            for room in &beat.held {
                let _ = self.release(room).await;
            }
        }))
    }

    /// Every live node in the registry.
    pub async fn nodes(&self) -> redis::RedisResult<Vec<NodeInfo>> {
        let mut conn = self.conn();
        let keys: Vec<String> = {
            let mut iter = conn
                .scan_match::<_, String>(format!("{}*", keys::NODE))
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
        let values: Vec<Option<String>> = self.conn().mget(&keys).await?;
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect())
    }

    /// One node's entry, if it is alive.
    pub async fn node(&self, id: &str) -> redis::RedisResult<Option<NodeInfo>> {
        let v: Option<String> = self.conn().get(Self::node_key(id)).await?;
        Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
    }
}

/// `d` to the millisecond, for logs.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// What the heartbeat carries from one beat to the next.
#[derive(Default)]
struct Beat {
    /// The process's CPU seconds at the last heartbeat, and when.
    cpu_at: Option<(f64, Instant)>,
    /// The rooms it held at the last beat.
    held: HashSet<String>,
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
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let Some(before) = cpu_seconds() else {
            return; // not Linux
        };
        // Busy until the reading moves by 5 ticks (bounded: it must move within 10 s).
        let (mut x, start) = (0u64, std::time::Instant::now());
        let mut after = before;
        while after - before < 0.05 && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after = cpu_seconds().expect("read again");
        }
        assert!(after - before >= 0.05, "{before} -> {after}");
    }
}
