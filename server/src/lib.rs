//! The ticksync engine: an authoritative game-state server that hosts rooms, each running a
//! [`Game`] on a fixed tick, and streams delta snapshots to WebSocket clients (browsers, bots)
//! that decode any game from the schema it sends them. It knows no game: a game is a type
//! implementing [`Game`], registered in [`Games`] and handed to [`Server::start_with`], which
//! also serves HTTP (`/matchmake`, `/rooms`, `/metrics`, the browser client and the games'
//! pages) and, with `--redis`, joins a cluster of nodes.
//!
//! A studio does not start from here: the `ticksync` crate (`App`) makes a whole program around
//! its game (flags, `--config` files, logs, signals, the `schema` and `bots` subcommands).
//! docs/architecture.md maps the data flow onto the modules.
//!
//! # Module order
//!
//! One line per floor, bottom first: a module uses only modules on floors below its own (no
//! circle; `tests/module_order.rs` checks it). The submodules of `room` and `cluster` are
//! listed by themselves, below the module that gathers them. No module reaches this root,
//! which re-exports what other crates use.
//!
//! - floor 0: `forwarded`, `metrics`, `ratelimit`, `record`, `rejection`, `rewind`, `rng`, `send_window`, `tls`, `tokens`, `typescript`, `room::built_once`, `room::stats`, `cluster::link`
//! - floor 1: `config`, `game`, `outbox`, `room::history`
//! - floor 2: `testing`, `room::saves`
//! - floor 3: `room::views`
//! - floor 4: `room::published`
//! - floor 5: `room`
//! - floor 6: `registry`
//! - floor 7: `cluster::directory`, `cluster::handoff`, `cluster::notices`
//! - floor 8: `cluster::nodes`
//! - floor 9: `cluster`
//! - floor 10: `checkpoint`, `seats`, `statics`
//! - floor 11: `ctx`, `assets`
//! - floor 12: `matchmake`
//! - floor 13: `drain`
//! - floor 14: `connection`
//! - floor 15: `http`

#![warn(missing_docs)]

mod assets;
pub mod checkpoint;
pub mod cluster;
pub mod config;
mod connection;
mod ctx;
pub mod drain;
mod forwarded;
pub mod game;
mod http;
mod matchmake;
pub mod metrics;
mod outbox;
mod ratelimit;
mod record;
pub mod registry;
mod rejection;
pub mod rewind;
pub mod rng;
pub mod room;
mod seats;
mod send_window;
pub mod statics;
#[cfg(test)]
mod testing;
mod tls;
mod tokens;
pub mod typescript;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use assets::{CLIENT_VERSION, client_path};
pub use config::Config;
use ctx::ServerCtx;
pub use game::{Ctx, EntityKey, Game, Games, Sim, World};
use metrics::Metrics;
pub use protocol;
use registry::Rooms;
pub use rejection::Rejection;
use room::{RoomInspect, RoomMsg};

pub use matchmake::MAX_BODY as MATCHMAKE_MAX_BODY;

/// Longest `--public-url`: it is sent as a WebSocket close reason (at most 123 bytes).
pub const MAX_PUBLIC_URL: usize = 123;

/// Rooms the heartbeat found held by another node, waiting to be stopped here (a full queue
/// drops one: the next beat reports it again).
const LOST_ROOMS_QUEUE: usize = 64;

/// A running server.
pub struct Server {
    ctx: Arc<ServerCtx>,
    local_addr: SocketAddr,
    stop: CancellationToken,
    accept: tokio::task::JoinHandle<()>,
    /// In a cluster: the heartbeat (which removes this node's entry when stopped) and the
    /// notice listener.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Binds `cfg.addr` and serves `games`; new rooms play `cfg.game` (by default the first
    /// game registered) unless their first `Hello` names another.
    pub async fn start_with(mut cfg: Config, games: Games) -> std::io::Result<Server> {
        let Some(first) = games.first() else {
            return Err(std::io::Error::other(
                "no game registered: a server hosts at least one",
            ));
        };
        let game = cfg.game.get_or_insert_with(|| first.to_owned());
        if games.get(game).is_none() {
            let known: Vec<&str> = games.names().collect();
            return Err(std::io::Error::other(format!(
                "no game named {game} (known: {})",
                known.join(", ")
            )));
        }
        // Before anything binds: a `--static` folder that is not there stops the start.
        let statics = statics::Statics::resolve(&games, cfg.default_game(), &cfg.static_dirs)
            .map_err(std::io::Error::other)?;
        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(cert), Some(key)) => {
                Some(tls::Tls::load(cert, key).map_err(std::io::Error::other)?)
            }
            (None, None) => None,
            // Possible from a config file, whose values clap takes as defaults.
            _ => {
                return Err(std::io::Error::other(
                    "--tls-cert and --tls-key go together",
                ));
            }
        };
        // Before anything binds, too: a state directory that cannot be written stops the start.
        let state_dir = match (&cfg.state_dir, &cfg.redis) {
            (Some(_), Some(_)) => {
                return Err(std::io::Error::other(
                    "--state-dir is for a single node: a cluster (--redis) keeps its checkpoints in Redis",
                ));
            }
            (Some(dir), None) => Some(Arc::new(checkpoint::StateDir::open(dir).map_err(|e| {
                std::io::Error::other(format!("--state-dir {}: {e}", dir.display()))
            })?)),
            (None, _) => None,
        };
        let listener = listen(cfg.addr, cfg.listen_backlog)?;
        let local_addr = listener.local_addr()?;
        let node_id = cfg.node_id.clone().unwrap_or_else(tokens::random_token);
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        let public_url = cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local_addr}/ws"));
        if public_url.len() > MAX_PUBLIC_URL {
            // It travels as a close reason (`MOVED`), which WebSocket caps at 123 bytes.
            return Err(std::io::Error::other(format!(
                "--public-url is {} bytes; at most {MAX_PUBLIC_URL}",
                public_url.len()
            )));
        }
        let cluster = match &cfg.redis {
            Some(redis) => {
                let cluster = cluster::Cluster::join(redis, node_id.clone(), public_url.clone())
                    .await
                    .map_err(|e| std::io::Error::other(format!("--redis {redis}: {e}")))?;
                // Before the first beat: a live node with this id refuses the start.
                cluster.take_id().await.map_err(std::io::Error::other)?;
                Some(cluster)
            }
            None => None,
        };
        // Seats are signed with the join secret if there is one (the studio's backend holds
        // it anyway), else with the cluster's shared key, else with this process's own.
        let seats = match (&cfg.join_secret, &cluster) {
            (Some(secret), _) => seats::Seats::new(secret.clone(), cfg.seat_ttl),
            (None, Some(c)) => seats::Seats::shared(
                c.seat_secret().await.map_err(|e| {
                    std::io::Error::other(format!("--redis: reading the seat key: {e}"))
                })?,
                cfg.seat_ttl,
            ),
            (None, None) => seats::Seats::new(
                tokens::random_token() + &tokens::random_token(),
                cfg.seat_ttl,
            ),
        };
        let cfg = Arc::new(cfg);
        let epoch = Instant::now();
        let stop = CancellationToken::new();
        let mut metrics = metrics::Metrics::default();
        if let Some(sim) = cfg.network_simulation() {
            tracing::warn!(
                latency = ?sim.latency,
                jitter = ?sim.jitter,
                stall = ?sim.stall.map(|s| s.to_string()),
                "network simulation is ON: every connection is delayed (--simulate-*); \
                 for development and tests, never in production"
            );
            metrics.simulated(sim);
        }
        // Checkpoints need somewhere to go: Redis, or the state directory (which also takes a
        // SIGTERM's final states, whatever `--checkpoint-interval`; rooms check that).
        let saves = (cluster.is_some() || state_dir.is_some())
            .then(|| Arc::new(room::SaveQueue::default()));
        let ctx = Arc::new(ServerCtx {
            rooms: Rooms::new(
                cfg.clone(),
                games,
                epoch,
                stop.clone(),
                metrics.rooms.clone(),
                saves.clone(),
            ),
            cfg,
            epoch,
            next_conn: AtomicU64::new(1),
            per_ip: Mutex::default(),
            metrics,
            outboxes: Mutex::default(),
            tracker: TaskTracker::new(),
            cluster,
            seats,
            public_url,
            node_id,
            tls,
            statics,
        });
        let mut background = Vec::new();
        if let (Some(node), Some(redis)) = (&ctx.cluster, &ctx.cfg.redis) {
            tracing::info!(node = %node.id, url = %node.url, "joined the cluster");
            // Rooms the directory gives to another node are stopped here (`drain`).
            let (lost, lost_rooms) = tokio::sync::mpsc::channel(LOST_ROOMS_QUEUE);
            let heartbeat = node
                .clone()
                .start_heartbeat(ctx.rooms.clone(), lost, stop.clone());
            background.push(heartbeat.await.map_err(|e| {
                std::io::Error::other(format!("--redis: registering this node: {e}"))
            })?);
            background.push(tokio::spawn(drain::give_up_lost_rooms(
                ctx.clone(),
                lost_rooms,
            )));
            background.push(cluster::notices::spawn_listener(
                redis.clone(),
                ctx.rooms.clone(),
                node.health.recoveries(),
                stop.clone(),
            ));
        }
        if let Some(dir) = &state_dir {
            let opened =
                checkpoint::restore_dir(dir, &ctx.rooms, &ctx.cfg, &ctx.metrics.checkpoints);
            tracing::info!(rooms = opened, "state directory read");
        }
        let store = match (&ctx.cluster, state_dir) {
            (Some(c), _) => Some(checkpoint::Store::Redis(c.clone())),
            (None, Some(d)) => Some(checkpoint::Store::Dir(d)),
            (None, None) => None,
        };
        if let (Some(queue), Some(store)) = (saves, store) {
            background.push(checkpoint::spawn_writer(
                queue,
                store,
                ctx.cfg.max_checkpoint_bytes,
                ctx.metrics.checkpoints.clone(),
                stop.clone(),
            ));
        }
        let accept = tokio::spawn(accept_loop(listener, ctx.clone(), stop.clone()));
        Ok(Server {
            ctx,
            local_addr,
            stop,
            accept,
            background,
        })
    }

    /// The address it listens on (with the port it picked, for `--addr` port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether it serves https and wss (`--tls-cert`).
    pub fn is_tls(&self) -> bool {
        self.ctx.tls.is_some()
    }

    /// Reads `--tls-cert` and `--tls-key` again: new connections get the new pair, open ones
    /// keep theirs. On an error (or without TLS) nothing changes.
    pub fn reload_tls(&self) -> Result<(), String> {
        let tls = self.ctx.tls.as_ref().ok_or("no --tls-cert to reload")?;
        let result = tls.reload();
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        Metrics::count_result(&self.ctx.metrics.tls_reloads, outcome);
        result
    }

    /// This node's rooms.
    pub fn rooms(&self) -> &Arc<Rooms> {
        &self.ctx.rooms
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.ctx.metrics.connections_open.get() as usize
    }

    /// Test and debug hook: a room's current tick, world table and clients.
    pub async fn inspect(&self, room: &str) -> Option<RoomInspect> {
        let handle = self.ctx.rooms.get(room)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle.inbox.send(RoomMsg::Inspect(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Drains this node for a deploy: it takes no new rooms and, in a cluster, hands each of
    /// its rooms (state and players) to another node and sends its clients there.
    pub async fn drain(&self) -> drain::Drained {
        drain::drain(&self.ctx).await
    }

    /// Graceful shutdown: stop accepting, close every client with 1001 (going away), and wait
    /// (at most `shutdown_timeout`) for the connections to finish. The one token stops the
    /// accept loop, every room and every HTTP connection; connections not in a room yet are
    /// closed through their outboxes.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.accept.await;
        for task in self.background {
            let _ = task.await;
        }
        let reason = "server shutting down";
        let outboxes: Vec<_> = self
            .ctx
            .outboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for o in outboxes {
            o.close(protocol::codes::GOING_AWAY, reason);
        }
        self.ctx.tracker.close();
        if tokio::time::timeout(self.ctx.cfg.shutdown_timeout, self.ctx.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown timed out with connections still open");
        }
    }
}

/// Binds `addr` with room for `backlog` pending connections (tokio's `bind` takes 128).
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As `bind` does: a restart can take the port while old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

async fn accept_loop(listener: TcpListener, ctx: Arc<ServerCtx>, stop: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Usually EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if ctx.metrics.sockets_open.get() >= ctx.cfg.max_handshaking as i64 {
            // Too many unfinished handshakes: refuse this one rather than run out of sockets.
            Metrics::count(&ctx.metrics.upgrades_refused, "handshake_limit");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(ctx.cfg.send_buffer) {
            tracing::debug!(%peer, error = %e, "could not set SO_SNDBUF");
        }
        let ctx = ctx.clone();
        let stop = stop.clone();
        ctx.metrics.sockets_open.inc();
        ctx.tracker.clone().spawn(async move {
            match &ctx.tls {
                None => serve_http(TokioIo::new(stream), &ctx, peer, stop).await,
                Some(tls) => {
                    // Bounded like the HTTP head: a peer that never finishes cannot hold a socket.
                    let handshake = tls.acceptor().accept(stream);
                    let timeout = ctx.cfg.handshake_timeout;
                    match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok(stream)) => serve_http(TokioIo::new(stream), &ctx, peer, stop).await,
                        failed => {
                            Metrics::count(&ctx.metrics.upgrades_refused, "tls_handshake");
                            let error = match failed {
                                Ok(Err(e)) => e.to_string(),
                                _ => format!("not done within {timeout:?}"),
                            };
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                    }
                }
            }
            ctx.metrics.sockets_open.dec();
        });
    }
}

/// Serves HTTP/1.1 (and the upgrades to WebSocket) on one connection, plain or TLS.
async fn serve_http<I>(
    io: TokioIo<I>,
    ctx: &Arc<ServerCtx>,
    peer: SocketAddr,
    stop: CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc_ctx = ctx.clone();
    let svc = service_fn(move |req| http::route(req, svc_ctx.clone(), peer));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.cfg.handshake_timeout)
        .max_buf_size(ctx.cfg.max_http_head as usize)
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "http connection error");
            }
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
