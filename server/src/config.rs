//! Every knob and limit, with its default, settable by flag or `TICKSYNC_*` env var.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

/// Server configuration. `--help` on the binary lists all of it.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "TICKSYNC_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Simulation ticks per second (one snapshot per client per tick).
    #[arg(long, env = "TICKSYNC_TICK_RATE", default_value_t = 60, value_parser = clap::value_parser!(u16).range(1..=240))]
    pub tick_rate: u16,

    /// Snapshots each connection keeps as baselines (the tables of the last N it sent, none
    /// older than its client's acks); a client whose ack is older gets a full snapshot.
    #[arg(long, env = "TICKSYNC_HISTORY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(2..=1024))]
    pub history: u32,

    /// Lag compensation: how far back, beyond a client's round trip, the game may judge that
    /// player's hits on what it drew (`Ctx::as_seen_by`): the cap against players who claim to
    /// see an older world. `0ms` turns rewinding off (hits use the present). At most 5 s.
    #[arg(long, env = "TICKSYNC_MAX_REWIND", default_value = "200ms", value_parser = parse_rewind)]
    pub max_rewind: Duration,

    /// Lag compensation: how much recorded state each room keeps to rewind into (at most 5 s,
    /// and at most 1024 ticks are kept). Memory: one state table per tick.
    #[arg(long, env = "TICKSYNC_REWIND_HISTORY", default_value = "1s", value_parser = parse_rewind)]
    pub rewind_history: Duration,

    /// Ticks a late room loop may run back to back before it drops the lost time.
    #[arg(long, env = "TICKSYNC_MAX_CATCHUP", default_value_t = 4)]
    pub max_catchup: u32,

    /// Most snapshots a client may have unacked. Each client's window is what its delivery
    /// rate fills in its shortest round trip (at most 250 ms), plus three, up to this: a
    /// client far away still gets every tick (60 Hz at a 150 ms round trip needs about 12),
    /// and one that cannot keep up gets about as many as it takes, fresh, instead of a
    /// backlog in its socket.
    #[arg(long, env = "TICKSYNC_MAX_IN_FLIGHT", default_value_t = 32, value_parser = clap::value_parser!(u16).range(4..=1024))]
    pub max_in_flight: u16,

    /// Snapshots per second to a client whose window stays full (it stopped acking).
    #[arg(long, env = "TICKSYNC_STALLED_RATE", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub stalled_rate: u16,

    /// Full snapshots per second, at most, for a client without a usable baseline (it never
    /// acked, or its ack left the history); the first goes out at once. A client that acks
    /// gets deltas every tick.
    #[arg(long, env = "TICKSYNC_FULL_RATE", default_value_t = 15, value_parser = clap::value_parser!(u16).range(1..))]
    pub full_rate: u16,

    /// The game of new rooms whose `Hello` names none (browser: `?game=NAME`). By default the
    /// first game the server was given.
    #[arg(long, env = "TICKSYNC_GAME")]
    pub game: Option<String>,

    /// How far each client sees, in world units, in games that declare a view:
    /// it gets the entities in the grid cells this wide around its player. 0 shows everything.
    /// By default the game's own radius.
    #[arg(long, env = "TICKSYNC_VIEW_RADIUS", value_parser = parse_radius)]
    pub view_radius: Option<f32>,

    /// Send each snapshot's state checksum (clients verify their world with it).
    #[arg(long, env = "TICKSYNC_CHECKSUM", default_value_t = true, action = clap::ArgAction::Set)]
    pub checksum: bool,

    /// How long an empty room lives before it closes.
    #[arg(long, env = "TICKSYNC_ROOM_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub room_grace: Duration,

    /// Rooms open at once.
    #[arg(long, env = "TICKSYNC_MAX_ROOMS", default_value_t = 256)]
    pub max_rooms: usize,

    /// Players per room (more get `Reject: room full`).
    #[arg(long, env = "TICKSYNC_MAX_PLAYERS", default_value_t = 2048)]
    pub max_players_per_room: usize,

    /// WebSocket connections open at once.
    #[arg(long, env = "TICKSYNC_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Pending TCP connections the kernel queues before `accept` (capped by
    /// `net.core.somaxconn`): room for a fleet reconnecting at once after a deploy.
    #[arg(long, env = "TICKSYNC_LISTEN_BACKLOG", default_value_t = 4096)]
    pub listen_backlog: u32,

    /// TCP connections still in the HTTP handshake at once (slowloris); more are closed on
    /// accept. Upgraded WebSockets do not count.
    #[arg(long, env = "TICKSYNC_MAX_HANDSHAKING", default_value_t = 1024)]
    pub max_handshaking: usize,

    /// WebSocket connections open at once from one IP address (0: no limit). Loopback peers
    /// are exempt unless `--limit-loopback`, so local load tests can open thousands.
    #[arg(long, env = "TICKSYNC_MAX_CONNECTIONS_PER_IP", default_value_t = 32)]
    pub max_connections_per_ip: usize,

    /// Apply the per-IP limit to loopback peers too.
    #[arg(long, env = "TICKSYNC_LIMIT_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub limit_loopback: bool,

    /// Largest client WebSocket frame (and message: client messages are single frames).
    #[arg(long, env = "TICKSYNC_MAX_CLIENT_FRAME", default_value_t = protocol::limits::MAX_CLIENT_MSG_BYTES)]
    pub max_client_frame: usize,

    /// Client frames per second per connection (token bucket). A playing client sends one
    /// per tick (its input, carrying its ack) plus a ping a second; the default is twice the
    /// tick rate plus 10. Excess is dropped and counted; dropping more than this many in one
    /// second closes the connection (1008 policy violation).
    #[arg(long, env = "TICKSYNC_MAX_MSGS_PER_SEC")]
    pub max_msgs_per_sec: Option<u32>,

    /// Bucket size of that rate: how many frames may arrive back to back (default: one
    /// second of ticks).
    #[arg(long, env = "TICKSYNC_MSG_BURST")]
    pub msg_burst: Option<u32>,

    /// Largest HTTP request head (the upgrade request) the server buffers, in bytes.
    #[arg(long, env = "TICKSYNC_MAX_HTTP_HEAD", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u32).range(8192..))]
    pub max_http_head: u32,

    /// Messages a room inbox holds (inputs beyond it are dropped and counted).
    #[arg(long, env = "TICKSYNC_INBOX", default_value_t = 8192)]
    pub inbox: usize,

    /// Reliable messages (events, pongs) queued per connection; overflow closes it (4005).
    /// Room-sized: when a full room empties at once, each remaining client gets a leave event
    /// per player.
    #[arg(long, env = "TICKSYNC_RELIABLE_QUEUE", default_value_t = 4096)]
    pub reliable_queue: usize,

    /// Kernel send buffer per connection (SO_SNDBUF; Linux doubles it). Small keeps a slow
    /// client's backlog, and so its latency, short: beyond it the latest-wins slot drops
    /// stale snapshots. Large enough for a few full snapshots.
    #[arg(long, env = "TICKSYNC_SEND_BUFFER", default_value_t = 64 * 1024)]
    pub send_buffer: usize,

    /// Time for the `Hello` to arrive after the upgrade.
    #[arg(long, env = "TICKSYNC_HANDSHAKE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub handshake_timeout: Duration,

    /// How often the server pings an idle connection.
    #[arg(long, env = "TICKSYNC_PING_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub ping_interval: Duration,

    /// A connection that sends nothing (not even a pong) for this long is closed (4006).
    #[arg(long, env = "TICKSYNC_IDLE_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// A write that cannot complete in this long (the client stopped reading and its socket
    /// is full) drops the connection.
    #[arg(long, env = "TICKSYNC_WRITE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub write_timeout: Duration,

    /// How long a disconnected player's entity waits for its client to resume (`Hello` with
    /// the resume token from `Welcome`) before it leaves the room.
    #[arg(long, env = "TICKSYNC_RESUME_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub resume_grace: Duration,

    /// A resume whose player is still connected takes it over only if that connection has
    /// been silent this long (a client reconnecting from a new network); otherwise it is
    /// refused (4007), so a live player cannot be kicked by whoever else holds its token.
    #[arg(long, env = "TICKSYNC_RESUME_TAKEOVER_AFTER", default_value = "1s", value_parser = humantime::parse_duration)]
    pub resume_takeover_after: Duration,

    /// Secret for join tokens. When set, every `Hello` needs a token minted with it for its
    /// room and player name (docs/security.md); when unset, the server is open.
    #[arg(long, env = "TICKSYNC_JOIN_SECRET", hide_env_values = true)]
    pub join_secret: Option<String>,

    /// Extra browser origins allowed to open WebSockets (comma-separated; `*` allows any). The
    /// server's own host and loopback hosts are always allowed.
    #[arg(long, env = "TICKSYNC_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// A game's page folder, served from disk at `/games/GAME/` (read at each request: edit
    /// and reload), instead of the one the program gives: `GAME=DIR`, or `DIR` for the
    /// default game. Repeatable; comma-separated in the environment. A folder that does not
    /// exist, or an unknown game, stops the start.
    #[arg(long = "static", env = "TICKSYNC_STATIC", value_name = "[GAME=]DIR", value_delimiter = ',', value_parser = StaticDir::parse)]
    pub static_dirs: Vec<StaticDir>,

    /// PEM certificate chain (leaf first) to serve https and wss with, natively. SIGHUP
    /// reloads it and `--tls-key`: new connections get the new pair, open ones keep theirs.
    // The pair is checked by `Server::start`: each may come from another source (file, env,
    // flag), which clap's `requires` would not count.
    #[arg(long, env = "TICKSYNC_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "TICKSYNC_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Reverse proxies (address ranges, comma-separated: `10.0.0.0/8,::1`) whose
    /// `X-Forwarded-For` is believed: per-IP limits and logs then see the client's address. A
    /// peer outside these ranges is the client, whatever it forwards.
    #[arg(long, env = "TICKSYNC_TRUSTED_PROXY", value_delimiter = ',', value_parser = crate::forwarded::parse_net)]
    pub trusted_proxy: Vec<ipnet::IpNet>,

    /// Redis to join a cluster through (`redis://HOST:PORT`); without it the server runs
    /// standalone and needs nothing else.
    #[arg(long, env = "TICKSYNC_REDIS")]
    pub redis: Option<String>,

    /// The WebSocket URL this node's clients are given in a cluster (default: `ws://` and
    /// the address it listens on, `/ws`).
    #[arg(long, env = "TICKSYNC_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How often each room checkpoints its declared state (world, tick, players and their
    /// resume tokens): to Redis in a cluster, to `--state-dir` on a single node. After a
    /// crash the room comes back from its last checkpoint (at most this much play is
    /// rewound) and its players resume their own entities. `0s` turns checkpoints off.
    #[arg(long, env = "TICKSYNC_CHECKPOINT_INTERVAL", default_value = "1s", value_parser = parse_checkpoint_interval)]
    pub checkpoint_interval: Duration,

    /// A single node's durable state: each room's checkpoint, and on SIGTERM its final state,
    /// is written here (atomically), and on start every saved room is restored and waits
    /// `--resume-grace` for its players. Not with `--redis` (a cluster keeps its in Redis).
    #[arg(long, env = "TICKSYNC_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Largest checkpoint, encoded, in bytes: a bigger room is not checkpointed (logged and
    /// counted), and a bigger saved file or Redis value is refused unread.
    #[arg(long, env = "TICKSYNC_MAX_CHECKPOINT_BYTES", default_value_t = 16 << 20, value_parser = clap::value_parser!(u32).range(1024..=(512 << 20)))]
    pub max_checkpoint_bytes: u32,

    /// This node's name in a cluster (default: random).
    #[arg(long, env = "TICKSYNC_NODE_ID")]
    pub node_id: Option<String>,

    /// Players the matchmaker (`POST /matchmake`) seats in one room before it opens another
    /// (capped by `--max-players`).
    #[arg(long, env = "TICKSYNC_ROOM_SIZE", default_value_t = 64)]
    pub room_size: usize,

    /// How long a seat from the matchmaker stays valid.
    #[arg(long, env = "TICKSYNC_SEAT_TTL", default_value = "15s", value_parser = humantime::parse_duration)]
    pub seat_ttl: Duration,

    /// Token for the operator's endpoints (`POST /admin/drain`, `POST /admin/notice`), sent
    /// as `Authorization: Bearer TOKEN`. Without it those endpoints are off.
    #[arg(long, env = "TICKSYNC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Time allowed to finish the shutdown (close frames out) before tasks are dropped.
    #[arg(long, env = "TICKSYNC_SHUTDOWN_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,

    /// DEVELOPMENT ONLY: latency added to every message of every connection, one way, in each
    /// direction (`75ms` gives a 150 ms round trip). At most 10 s. Never in production.
    #[arg(long, env = "TICKSYNC_SIMULATE_LATENCY", default_value = "0s", value_parser = parse_sim_delay)]
    pub simulate_latency: Duration,

    /// DEVELOPMENT ONLY: up to this much more per message, uniform, one way (order is kept, as
    /// TCP keeps it). At most 10 s.
    #[arg(long, env = "TICKSYNC_SIMULATE_JITTER", default_value = "0s", value_parser = parse_sim_delay)]
    pub simulate_jitter: Duration,

    /// DEVELOPMENT ONLY: freeze every connection (both directions) for FOR once every EVERY,
    /// as a lossy link does: `300ms/5s`.
    #[arg(long, env = "TICKSYNC_SIMULATE_STALL", value_name = "FOR/EVERY", value_parser = parse_sim_stall)]
    pub simulate_stall: Option<protocol::netsim::Stall>,
}

impl Default for Config {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            c: Config,
        }
        // One source of defaults: the attributes above (and `TICKSYNC_*` env vars, as in the binary).
        Wrap::parse_from(["ticksync"]).c
    }
}

impl Config {
    /// The game of new rooms whose `Hello` names none (set by `Server::start_with`).
    pub fn default_game(&self) -> &str {
        self.game.as_deref().unwrap_or_default()
    }

    /// The frame rate limit and burst per connection, scaled with the tick rate unless set.
    pub fn message_rate(&self) -> (u32, u32) {
        let tick_rate = u32::from(self.tick_rate);
        (
            self.max_msgs_per_sec.unwrap_or(2 * tick_rate + 10),
            self.msg_burst.unwrap_or(tick_rate),
        )
    }

    /// The time between two ticks.
    pub fn tick_period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.tick_rate))
    }

    /// A new connection's send window (`--max-in-flight`, `--stalled-rate`).
    pub(crate) fn send_window(&self) -> crate::send_window::SendWindow {
        crate::send_window::SendWindow::new(
            usize::from(self.max_in_flight),
            Duration::from_secs_f64(1.0 / f64::from(self.stalled_rate.max(1))),
        )
    }

    /// Ticks between two full snapshots for a client without a baseline (`--full-rate`).
    pub fn full_interval_ticks(&self) -> u32 {
        Self::interval(self.tick_rate, self.full_rate)
    }

    /// `--max-rewind` in ticks, rounded up (0: rewinding off).
    pub fn max_rewind_ticks(&self) -> u32 {
        self.ticks_of(self.max_rewind)
    }

    /// The ticks of recorded state a room keeps for rewinding (0 with rewinding off).
    pub fn rewind_ticks(&self) -> u32 {
        if self.max_rewind.is_zero() {
            return 0;
        }
        self.ticks_of(self.rewind_history).min(MAX_REWIND_TICKS)
    }

    pub(crate) fn ticks_of(&self, d: Duration) -> u32 {
        (d.as_secs_f64() * f64::from(self.tick_rate)).ceil() as u32
    }

    /// The simulated network conditions (`--simulate-*`), `None` when off.
    pub fn network_simulation(&self) -> Option<protocol::netsim::NetSim> {
        protocol::netsim::NetSim {
            latency: self.simulate_latency,
            jitter: self.simulate_jitter,
            stall: self.simulate_stall,
        }
        .enabled()
    }

    fn interval(tick_rate: u16, per_sec: u16) -> u32 {
        u32::from(tick_rate)
            .div_ceil(u32::from(per_sec.max(1)))
            .max(1)
    }
}

/// Most ticks of recorded state a room keeps for rewinding, whatever the tick rate.
pub const MAX_REWIND_TICKS: u32 = 1024;

fn parse_rewind(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))?;
    if d > Duration::from_secs(5) {
        return Err(format!("{s:?}: at most 5s"));
    }
    Ok(d)
}

fn parse_checkpoint_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))?;
    if d > Duration::from_secs(3600) {
        return Err(format!("{s:?}: at most 1h (0s turns checkpoints off)"));
    }
    Ok(d)
}

/// `--simulate-latency`, `--simulate-jitter`: a humantime duration of at most 10 s.
fn parse_sim_delay(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))?;
    protocol::netsim::check_delay(d)
}

/// `--simulate-stall FOR/EVERY`: humantime durations, the stall shorter than its period.
fn parse_sim_stall(s: &str) -> Result<protocol::netsim::Stall, String> {
    protocol::netsim::Stall::parse_with(s, |d| {
        humantime::parse_duration(d).map_err(|e| format!("{d:?}: {e}"))
    })
}

/// A view radius: a finite number of world units, 0 or more.
fn parse_radius(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?}: expected a radius in world units, 0 or more"
        )),
    }
}

/// `--static [GAME=]DIR`: a game's page folder from disk (no game: the default game's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticDir {
    /// The game, or `None` for the server's default game.
    pub game: Option<String>,
    /// The folder, as given (resolved when the server starts).
    pub dir: PathBuf,
}

impl StaticDir {
    /// Parses `GAME=DIR` or `DIR`. What precedes the first `=` is a game only if it is a valid
    /// game name (so `./a=b/web` is a folder).
    pub fn parse(s: &str) -> Result<StaticDir, String> {
        let (game, dir) = match s.split_once('=') {
            Some((g, d)) if protocol::codec::valid_name(g) => (Some(g.to_owned()), d),
            _ => (None, s),
        };
        if dir.is_empty() {
            return Err(format!("{s:?}: expected [GAME=]DIR"));
        }
        Ok(StaticDir {
            game,
            dir: PathBuf::from(dir),
        })
    }
}

impl FromStr for StaticDir {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StaticDir::parse(s)
    }
}

impl fmt::Display for StaticDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.game {
            Some(g) => write!(f, "{g}={}", self.dir.display()),
            None => write!(f, "{}", self.dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        c: Config,
    }

    fn parse(args: &[&str]) -> Result<Config, String> {
        let args = std::iter::once("ticksync").chain(args.iter().copied());
        Wrap::try_parse_from(args)
            .map(|w| w.c)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn network_simulation_is_off_by_default_and_parsed_from_flags() {
        assert_eq!(parse(&[]).unwrap().network_simulation(), None);
        let c = parse(&[
            "--simulate-latency",
            "75ms",
            "--simulate-jitter",
            "10ms",
            "--simulate-stall",
            "300ms/5s",
        ])
        .unwrap();
        let sim = c.network_simulation().expect("on");
        assert_eq!(sim.latency, Duration::from_millis(75));
        assert_eq!(sim.jitter, Duration::from_millis(10));
        let stall = sim.stall.expect("a stall");
        assert_eq!(
            (stall.duration, stall.every),
            (Duration::from_millis(300), Duration::from_secs(5))
        );
    }

    #[test]
    fn bad_network_simulation_values_are_clap_errors() {
        for bad in [
            &["--simulate-latency=-5ms"][..],
            &["--simulate-latency", "11s"],
            &["--simulate-jitter", "1h"],
            &["--simulate-latency", "fast"],
            &["--simulate-stall", "5s/1s"],
            &["--simulate-stall", "1s/1s"],
            &["--simulate-stall", "300ms"],
            &["--simulate-stall", "0s/1s"],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?} is refused"));
            assert!(e.contains("--simulate-"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn checkpoint_limits_are_bounded() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.checkpoint_interval, Duration::from_secs(1));
        assert_eq!(c.max_checkpoint_bytes, 16 << 20);
        assert!(
            parse(&["--checkpoint-interval", "0s"]).is_ok(),
            "0s turns them off"
        );
        for bad in [
            &["--checkpoint-interval", "2h"][..],
            &["--checkpoint-interval", "often"],
            &["--max-checkpoint-bytes", "100"],
            &["--max-checkpoint-bytes", "1073741824"],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?} is refused"));
            assert!(e.contains("checkpoint"), "{bad:?}: {e}");
        }
    }
}
