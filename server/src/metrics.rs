//! Server-wide counters and gauges, served as Prometheus text at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A counter's label: a close or reject code's name, or another reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The name (`codes::name`, or the reason's).
    pub code: String,
}

/// Every metric of one server, and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    /// TCP connections still speaking HTTP (not yet upgraded).
    pub sockets_open: Gauge,
    /// Open WebSocket connections.
    pub connections_open: Gauge,
    /// Upgrades refused: origin, connection limits.
    pub upgrades_refused: Family<CodeLabel, Counter>,
    /// Joins refused with `Reject`, by code name.
    pub rejects: Family<CodeLabel, Counter>,
    /// Connections the server closed, by code name.
    pub closes: Family<CodeLabel, Counter>,
    /// Client messages dropped by the per-connection rate limit.
    pub rate_limited: Counter,
    /// Inputs dropped because a room's inbox was full.
    pub inputs_dropped: Counter,
    /// Inputs and actions refused because they do not fit the game's declaration, by kind.
    pub invalid_messages: Family<CodeLabel, Counter>,
    /// What the rooms count.
    pub rooms: RoomMetrics,
    /// Open rooms (set when `/metrics` is read).
    pub rooms_open: Gauge,
    /// Certificate reloads (SIGHUP), by result.
    pub tls_reloads: Family<ResultLabel, Counter>,
    /// Rooms' checkpoints and restores.
    pub checkpoints: CheckpointMetrics,
}

/// What checkpoints count: rooms saved, and rooms brought back from a save.
#[derive(Clone)]
pub struct CheckpointMetrics {
    /// Checkpoints stored or not, by outcome: `ok`, `failed` (the store erred), `not_holder`
    /// (another node holds the room now), `too_big` (over `--max-checkpoint-bytes`).
    pub written: Family<CodeLabel, Counter>,
    /// Bytes of the checkpoints stored.
    pub bytes: Counter,
    /// Rooms restored, by what from: `handoff` (a drain), `checkpoint` (after a crash), `disk`
    /// (`--state-dir`, at start).
    pub restored: Family<CodeLabel, Counter>,
    /// Saved rooms refused (corrupt, truncated, too big, another game's, a newer format).
    pub refused: Counter,
    /// Play rewound by each restore from a checkpoint: how old the checkpoint was.
    pub rewind_seconds: Histogram,
}

impl Default for CheckpointMetrics {
    fn default() -> Self {
        Self {
            written: Family::default(),
            bytes: Counter::default(),
            restored: Family::default(),
            refused: Counter::default(),
            rewind_seconds: Histogram::new([0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]),
        }
    }
}

/// A counter's label: how an operation ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `failed`.
    pub result: String,
}

/// What every room's loop counts (shared by their threads; each is an atomic or a short lock).
#[derive(Clone)]
pub struct RoomMetrics {
    /// Snapshots held back: per tick, each client whose send window was full, and full
    /// snapshots over `--full-rate`.
    pub snapshots_throttled: Counter,
    /// Loop passes (one or more simulation steps and a snapshot each).
    pub ticks: Counter,
    /// Passes whose work took longer than a tick period: the room runs late.
    pub tick_overruns: Counter,
    /// Ticks dropped because a room fell further behind than `--max-catchup`.
    pub ticks_lost: Counter,
    /// How long each pass took.
    pub tick_seconds: Histogram,
    /// Inputs whose view time was rewound to (lag compensation), by how: `kept`, or clamped
    /// (`future`: later than the present; `cap`: beyond the round trip plus `--max-rewind`).
    pub rewinds: Family<CodeLabel, Counter>,
}

impl Default for RoomMetrics {
    fn default() -> Self {
        Self {
            snapshots_throttled: Counter::default(),
            ticks: Counter::default(),
            tick_overruns: Counter::default(),
            ticks_lost: Counter::default(),
            rewinds: Family::default(),
            // 0.25 ms to 67 ms: a 60 Hz tick has 16.7 ms.
            tick_seconds: Histogram::new([
                0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.0167, 0.0333, 0.0667,
            ]),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("ticksync"),
            sockets_open: Gauge::default(),
            connections_open: Gauge::default(),
            upgrades_refused: Family::default(),
            rejects: Family::default(),
            closes: Family::default(),
            rate_limited: Counter::default(),
            inputs_dropped: Counter::default(),
            invalid_messages: Family::default(),
            rooms: RoomMetrics::default(),
            rooms_open: Gauge::default(),
            tls_reloads: Family::default(),
            checkpoints: CheckpointMetrics::default(),
        };
        let r = &mut m.registry;
        r.register(
            "http_sockets_open",
            "TCP connections not (yet) upgraded to WebSocket",
            m.sockets_open.clone(),
        );
        r.register(
            "connections_open",
            "Open WebSocket connections",
            m.connections_open.clone(),
        );
        r.register(
            "upgrades_refused",
            "WebSocket upgrades refused, by reason",
            m.upgrades_refused.clone(),
        );
        r.register(
            "rejects",
            "Joins refused with Reject, by code",
            m.rejects.clone(),
        );
        r.register(
            "closes",
            "Connections closed by the server, by code",
            m.closes.clone(),
        );
        r.register(
            "messages_rate_limited",
            "Client messages dropped by the rate limit",
            m.rate_limited.clone(),
        );
        r.register(
            "inputs_dropped",
            "Inputs dropped because a room inbox was full",
            m.inputs_dropped.clone(),
        );
        r.register(
            "invalid_messages",
            "Inputs and actions outside the game's declaration (the client is closed), by kind",
            m.invalid_messages.clone(),
        );
        r.register(
            "snapshots_throttled",
            "Snapshots not sent to clients whose acks lag too far behind what they were sent, or full snapshots held back from clients without a baseline",
            m.rooms.snapshots_throttled.clone(),
        );
        r.register(
            "ticks",
            "Room loop passes (simulation steps and a snapshot each)",
            m.rooms.ticks.clone(),
        );
        r.register(
            "tick_overruns",
            "Room loop passes that took longer than a tick period",
            m.rooms.tick_overruns.clone(),
        );
        r.register(
            "ticks_lost",
            "Ticks dropped because a room fell more than --max-catchup ticks behind",
            m.rooms.ticks_lost.clone(),
        );
        r.register(
            "rewinds",
            "Inputs with a view time (lag compensation): kept, or clamped to the present (future) or to the cap (cap)",
            m.rooms.rewinds.clone(),
        );
        r.register(
            "tick_duration_seconds",
            "Time each room loop pass took",
            m.rooms.tick_seconds.clone(),
        );
        r.register("rooms_open", "Open rooms", m.rooms_open.clone());
        r.register(
            "tls_reloads",
            "Certificate reloads (SIGHUP), by result",
            m.tls_reloads.clone(),
        );
        let c = &m.checkpoints;
        r.register(
            "checkpoints_written",
            "Room checkpoints, by outcome (ok, failed, not_holder, too_big)",
            c.written.clone(),
        );
        r.register(
            "checkpoint_bytes",
            "Bytes of the room checkpoints stored",
            c.bytes.clone(),
        );
        r.register(
            "rooms_restored",
            "Rooms brought back from a saved state, by source (handoff, checkpoint, disk)",
            c.restored.clone(),
        );
        r.register(
            "saved_rooms_refused",
            "Saved room states refused (corrupt, truncated, too big, another game's, a newer format)",
            c.refused.clone(),
        );
        r.register(
            "checkpoint_rewind_seconds",
            "Play rewound by each restore from a checkpoint (the checkpoint's age)",
            c.rewind_seconds.clone(),
        );
        m
    }
}

impl Metrics {
    /// Counts one `result` in `family`.
    pub fn count_result(family: &Family<ResultLabel, Counter>, result: &str) {
        family
            .get_or_create(&ResultLabel {
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts one `code` in `family`.
    pub fn count(family: &Family<CodeLabel, Counter>, code: &str) {
        family
            .get_or_create(&CodeLabel {
                code: code.to_string(),
            })
            .inc();
    }

    /// Registers the network simulation's settings (`--simulate-*`) as gauges; only called
    /// when one is on, so `/metrics` is unchanged without.
    pub fn simulated(&mut self, sim: protocol::netsim::NetSim) {
        let gauge = |d: std::time::Duration| {
            let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            g.set(d.as_secs_f64());
            g
        };
        let stall = sim.stall.map(|s| (s.duration, s.every)).unwrap_or_default();
        let r = &mut self.registry;
        r.register(
            "simulated_latency_seconds",
            "Latency added one way to every connection (--simulate-latency; development only)",
            gauge(sim.latency),
        );
        r.register(
            "simulated_jitter_seconds",
            "Jitter added one way to every connection (--simulate-jitter; development only)",
            gauge(sim.jitter),
        );
        r.register(
            "simulated_stall_seconds",
            "How long each simulated stall freezes every connection (--simulate-stall)",
            gauge(stall.0),
        );
        r.register(
            "simulated_stall_period_seconds",
            "How often a simulated stall comes (--simulate-stall)",
            gauge(stall.1),
        );
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}
