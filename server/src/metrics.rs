//! Server-wide counters and gauges, served as Prometheus text at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

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
    /// Snapshots held back: per tick, each client whose send window was full, and full
    /// snapshots over `--full-rate`.
    pub snapshots_throttled: Counter,
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
            snapshots_throttled: Counter::default(),
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
            m.snapshots_throttled.clone(),
        );
        m
    }
}

impl Metrics {
    pub fn count(family: &Family<CodeLabel, Counter>, code: &str) {
        family
            .get_or_create(&CodeLabel {
                code: code.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}
