//! What every task of one server shares (`ServerCtx`), and the count of its open connections
//! (`ConnectionGuard`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::task::TaskTracker;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::Rooms;
use crate::room::{ConnId, Outbox};
use crate::seats::Seats;
use crate::statics::Statics;
use crate::tls::Tls;

/// What every task of one server shares.
pub(crate) struct ServerCtx {
    /// The config it started with.
    pub(crate) cfg: Arc<Config>,
    /// This node's rooms.
    pub(crate) rooms: Arc<Rooms>,
    /// When the server started: its clock (`Pong` and snapshot times).
    pub(crate) epoch: Instant,
    /// The next connection's id.
    pub(crate) next_conn: AtomicU64,
    /// Open WebSockets per client address (`--max-connections-per-ip`).
    pub(crate) per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// What `/metrics` shows.
    pub(crate) metrics: Metrics,
    /// Every open WebSocket's outbox, to tell them all at shutdown.
    pub(crate) outboxes: Mutex<HashMap<ConnId, Arc<Outbox>>>,
    /// Every connection's task, waited for at shutdown.
    pub(crate) tracker: TaskTracker,
    /// In a cluster: this node's link to it.
    pub(crate) cluster: Option<Cluster>,
    /// The seats the matchmaker gives out and this node admits.
    pub(crate) seats: Seats,
    /// The WebSocket URL this node's clients are given.
    pub(crate) public_url: String,
    /// Its name in the cluster (`--node-id`, or a random one).
    pub(crate) node_id: String,
    /// With `--tls-cert`: https and wss.
    pub(crate) tls: Option<Tls>,
    /// The games' page folders (`/games/NAME/`).
    pub(crate) statics: Statics,
}

impl ServerCtx {
    /// Keeps connection `conn`'s outbox, to close it at shutdown.
    pub(crate) fn register(&self, conn: ConnId, outbox: Arc<Outbox>) {
        self.outboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn, outbox);
    }

    /// Lets go of connection `conn`'s outbox (it ended).
    pub(crate) fn unregister(&self, conn: ConnId) {
        self.outboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conn);
    }
}

/// One counted WebSocket connection (total and per IP); uncounted when dropped.
pub(crate) struct ConnectionGuard {
    ctx: Arc<ServerCtx>,
    ip: Option<IpAddr>,
}

impl ConnectionGuard {
    /// Counts a connection from `ip`, or `None` if a limit is reached.
    pub(crate) fn acquire(ctx: &Arc<ServerCtx>, ip: IpAddr) -> Option<Self> {
        let cfg = &ctx.cfg;
        let per_ip = cfg.max_connections_per_ip > 0 && (cfg.limit_loopback || !ip.is_loopback());
        // The gauge is the count (`inc` returns the count before); dropping the guard uncounts.
        let total = ctx.metrics.connections_open.inc();
        let mut guard = ConnectionGuard {
            ctx: ctx.clone(),
            ip: None,
        };
        if total >= cfg.max_connections as i64 {
            return None;
        }
        if per_ip {
            let mut map = ctx.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let n = map.entry(ip).or_insert(0);
            if *n >= cfg.max_connections_per_ip {
                drop(map);
                return None;
            }
            *n += 1;
            guard.ip = Some(ip);
        }
        Some(guard)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut map = self.ctx.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
        self.ctx.metrics.connections_open.dec();
    }
}
