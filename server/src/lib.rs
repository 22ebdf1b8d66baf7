//! The ticksync server: hosts rooms that run a `Game` on a fixed tick and stream delta
//! snapshots to WebSocket clients. docs/architecture.md maps the data flow onto the modules.

mod assets;
pub mod cluster;
pub mod config;
mod connection;
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

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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
pub use game::{Ctx, EntityKey, Game, Games, Sim, World};
use metrics::Metrics;
use outbox::Outbox;
pub use protocol;
use registry::Rooms;
use room::{ConnId, RoomInspect, RoomMsg};

/// A refusal sent to a client as `Reject{code, reason}` and a close with that code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: u16,
    pub reason: String,
}

pub use matchmake::MAX_BODY as MATCHMAKE_MAX_BODY;

/// Longest `--public-url`: it is sent as a WebSocket close reason (at most 123 bytes).
pub const MAX_PUBLIC_URL: usize = 123;

/// What every task of one server shares.
pub(crate) struct ServerCtx {
    cfg: Arc<Config>,
    rooms: Arc<Rooms>,
    epoch: Instant,
    next_conn: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    metrics: metrics::Metrics,
    /// Every open WebSocket's outbox, to tell them all at shutdown.
    outboxes: Mutex<HashMap<ConnId, Arc<Outbox>>>,
    tracker: TaskTracker,
    /// In a cluster: this node's link to it.
    cluster: Option<cluster::Cluster>,
    /// The seats the matchmaker gives out and this node admits.
    seats: seats::Seats,
    /// The WebSocket URL this node's clients are given, and its name.
    public_url: String,
    node_id: String,
    /// With `--tls-cert`: https and wss.
    tls: Option<tls::Tls>,
    /// The games' page folders (`/games/NAME/`).
    statics: statics::Statics,
}

impl ServerCtx {
    fn register(&self, conn: ConnId, outbox: Arc<Outbox>) {
        self.outboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn, outbox);
    }

    fn unregister(&self, conn: ConnId) {
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
            Some(redis) => Some(
                cluster::Cluster::join(redis, node_id.clone(), public_url.clone())
                    .await
                    .map_err(|e| std::io::Error::other(format!("--redis {redis}: {e}")))?,
            ),
            None => None,
        };
        // Seats are signed with the join secret if there is one (the studio's backend holds
        // it anyway), else with the cluster's shared key, else with this process's own.
        let seat_secret = match (&cfg.join_secret, &cluster) {
            (Some(secret), _) => secret.clone(),
            (None, Some(c)) => c.seat_secret().await.map_err(|e| {
                std::io::Error::other(format!("--redis: reading the seat key: {e}"))
            })?,
            (None, None) => tokens::random_token() + &tokens::random_token(),
        };
        let seats = seats::Seats::new(seat_secret, cfg.seat_ttl);
        let cfg = Arc::new(cfg);
        let epoch = Instant::now();
        let stop = CancellationToken::new();
        let metrics = metrics::Metrics::default();
        let ctx = Arc::new(ServerCtx {
            rooms: Rooms::new(
                cfg.clone(),
                games,
                epoch,
                stop.clone(),
                metrics.rooms.clone(),
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
            let heartbeat = node
                .clone()
                .start_heartbeat(ctx.rooms.clone(), stop.clone());
            background.push(heartbeat.await.map_err(|e| {
                std::io::Error::other(format!("--redis: registering this node: {e}"))
            })?);
            background.push(cluster::notices::spawn_listener(
                redis.clone(),
                ctx.rooms.clone(),
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
