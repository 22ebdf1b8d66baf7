//! A load run: many bots joining over a ramp, playing for a while, then stopping together.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use crate::behaviour::Behaviours;
use crate::bot::{BotConfig, BotOutcome, LiveStats, run_bot, stopped};
use crate::client::ConnectOptions;
use crate::client::decode_cache::DecodeCache;
use crate::cluster::MatchmakerUrl;
use crate::process;
use crate::report::Report;

/// A bot's default receive buffer: about 16 snapshots of 1000 entities (Linux doubles it for
/// bookkeeping). A bot that falls behind then pushes back on the server within a fraction of a
/// second, and the server drops stale snapshots for it (latest wins), as it would for a slow
/// player, instead of the kernel queueing seconds of snapshots (loopback autotunes to 32 MB
/// here): that backlog makes acks late, baselines fall out of the server's history, full
/// snapshots follow, and they cost the bot more still.
pub const DEFAULT_RECV_BUFFER: usize = 64 * 1024;

/// How long bots get to close cleanly once told to stop (each close waits at most 2 s).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A load run's settings.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server's WebSocket URL, `ws://` or `wss://` (unused with `matchmake`).
    pub url: String,
    /// The room to join. With `matchmake`, the room to ask for: empty lets the matchmaker
    /// choose.
    pub room: String,
    /// The game to ask for (`Hello.game`); `None`: whatever the room plays.
    pub game: Option<String>,
    /// How many bots, each one connection.
    pub bots: usize,
    /// Bots join spread evenly over this long; measuring starts when it is over.
    pub ramp: Duration,
    /// Measured time after the ramp; the run lasts `ramp + duration`.
    pub duration: Duration,
    /// Bot i is named `{name_prefix}{i}`.
    pub name_prefix: String,
    /// The join token every bot presents (unused with `join_secret`).
    pub auth_token: Option<String>,
    /// The server's join secret: each bot mints its own join token with it.
    pub join_secret: Option<String>,
    /// Seeds every bot's play (each its own variation of it): the same seed, the same run.
    pub seed: u64,
    /// Bounds each join: connect, handshakes and the wait for `Welcome`.
    pub connect_timeout: Duration,
    /// Bots join again after an error or a server close (`BotConfig::reconnect`).
    pub reconnect: bool,
    /// Each bot's acks ride on its inputs (one frame per tick) rather than also going out at
    /// once in their own frames.
    pub coalesce_acks: bool,
    /// Each bot's SO_RCVBUF (`None`: the OS default, which on loopback autotunes to many MB).
    pub recv_buffer: Option<usize>,
    /// Bots that receive the same delta against the same baseline share its decoded table
    /// (`DecodeCache`); each still checks its own checksum. Off: each bot decodes alone, as
    /// separate machines would, at many times the CPU.
    pub share_decodes: bool,
    /// A cluster's matchmaker, `http://HOST:PORT` or `https://`: each bot asks it for a seat
    /// (`POST /matchmake`) and joins where it says, and asks again after a lost connection.
    pub matchmake: Option<String>,
    /// Follow node URLs (from the matchmaker or `MOVED`) only to loopback hosts.
    pub loopback_only: bool,
    /// The CAs that `wss://` servers and an `https://` matchmaker are checked against, shared
    /// by every bot: `crate::tls::client_config(Some(path))` or `config_from_pem(pem)` for a
    /// test CA (`--ca-cert`). `None`: the public web's CAs.
    pub tls: Option<Arc<ClientConfig>>,
    /// Each game's bot behaviour (random valid inputs for games without one).
    pub behaviours: Behaviours,
    /// A simulated network link on each bot's side (`--simulate-*`; development and tests):
    /// `ConnectOptions::simulate`. `None`: none.
    pub simulate: Option<protocol::netsim::NetSim>,
    /// Inputs each bot sends a second (`BotConfig::input_rate`); `None`: one per server tick,
    /// as a browser does.
    pub input_rate: Option<f64>,
    /// The share of bots (0 to 1, spread evenly) that apply every snapshot and check its
    /// checksum (`ConnectOptions::verify`); the rest read only headers and ack, a cheaper load.
    pub verify: f64,
}

impl LoadConfig {
    /// `bots` bots in `room` at `url` for `duration`, all joining at once (no ramp), with a
    /// 64 KB receive buffer each and shared decodes, reconnecting after errors.
    pub fn new(url: &str, room: &str, bots: usize, duration: Duration) -> Self {
        Self {
            url: url.to_owned(),
            room: room.to_owned(),
            game: None,
            bots,
            ramp: Duration::ZERO,
            duration,
            name_prefix: "bot".to_owned(),
            auth_token: None,
            join_secret: None,
            seed: 1,
            connect_timeout: Duration::from_secs(10),
            reconnect: true,
            coalesce_acks: true,
            recv_buffer: Some(DEFAULT_RECV_BUFFER),
            share_decodes: true,
            matchmake: None,
            loopback_only: false,
            tls: None,
            behaviours: Behaviours::default(),
            simulate: None,
            input_rate: None,
            verify: 1.0,
        }
    }

    /// Whether bot `i` verifies: `verify` of the bots, spread evenly (`spread`).
    pub fn verifies(&self, i: usize) -> bool {
        spread(i, self.verify)
    }

    /// How many bots verify (`verifies`).
    pub fn verifying(&self) -> usize {
        (0..self.bots).filter(|&i| self.verifies(i)).count()
    }

    fn bot(
        &self,
        i: usize,
        measure_from: Instant,
        cache: Option<&Arc<DecodeCache>>,
        matchmake: Option<&MatchmakerUrl>,
    ) -> (ConnectOptions, BotConfig) {
        let mut opts =
            ConnectOptions::new(&self.url, &self.room, &format!("{}{i}", self.name_prefix));
        opts.auth_token.clone_from(&self.auth_token);
        if let Some(secret) = &self.join_secret {
            let expires = protocol::join_token::now_unix() + 24 * 3600;
            let token =
                protocol::join_token::mint(secret.as_bytes(), &opts.room, &opts.name, expires);
            opts.auth_token = Some(token);
        }
        opts.game.clone_from(&self.game);
        opts.connect_timeout = self.connect_timeout;
        opts.coalesce_acks = self.coalesce_acks;
        opts.recv_buffer = self.recv_buffer;
        opts.decode_cache = cache.cloned();
        opts.tls.clone_from(&self.tls);
        opts.simulate = self.simulate;
        opts.verify = self.verifies(i);
        // Distinct, reproducible play per bot.
        let mut config = BotConfig::new(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        config.measure_from = measure_from;
        config.reconnect = self.reconnect;
        config.matchmake = matchmake.cloned();
        config.join_secret.clone_from(&self.join_secret);
        config.loopback_only = self.loopback_only;
        config.behaviours.clone_from(&self.behaviours);
        config.input_rate = self.input_rate;
        (opts, config)
    }
}

/// Whether member `i` of a run is among `fraction` (0 to 1) of its members, spread evenly:
/// member 0 first, then about one in every `1 / fraction`. The floor's clients use the same
/// spread for their eager readers, so both runs split their clients alike.
pub fn spread(i: usize, fraction: f64) -> bool {
    let f = fraction.clamp(0.0, 1.0);
    (i as f64 * f).ceil() < ((i + 1) as f64 * f).ceil()
}

/// Waits up to `grace` for every task of `tasks` to finish, then aborts the rest. Returns
/// what the finished ones returned (a panicked task leaves nothing) and whether all finished.
pub async fn collect_within<T: 'static>(tasks: &mut JoinSet<T>, grace: Duration) -> (Vec<T>, bool) {
    let mut done = Vec::with_capacity(tasks.len());
    let collect = async {
        while let Some(finished) = tasks.join_next().await {
            if let Ok(outcome) = finished {
                done.push(outcome);
            }
        }
    };
    let all = tokio::time::timeout(grace, collect).await.is_ok();
    tasks.abort_all();
    (done, all)
}

/// Runs the bots until `ramp + duration` has passed or `interrupt` completes (Ctrl-C), then
/// stops them and reports. `live` is updated while it runs.
pub async fn run_load(
    cfg: &LoadConfig,
    live: Arc<LiveStats>,
    interrupt: impl Future<Output = ()>,
) -> Report {
    let matchmake = match cfg.matchmake.as_deref().map(MatchmakerUrl::parse) {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => {
            let mut report = Report::from_outcomes(cfg.bots, cfg.ramp, Duration::ZERO, &[]);
            report.errors.push(format!("matchmaker: {e}"));
            return report;
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now();
    let measure_from = start + cfg.ramp;
    let mut bots = JoinSet::new();
    let cache = cfg.share_decodes.then(|| Arc::new(DecodeCache::default()));
    for i in 0..cfg.bots {
        let (opts, config) = cfg.bot(i, measure_from, cache.as_ref(), matchmake.as_ref());
        let joins_at = start + cfg.ramp.mul_f64(i as f64 / cfg.bots as f64);
        let mut stop = stop_rx.clone();
        let live = live.clone();
        bots.spawn(async move {
            let its_turn = tokio::select! {
                _ = sleep_until(joins_at.into()) => true,
                _ = stopped(&mut stop) => false,
            };
            if its_turn {
                run_bot(opts, config, stop, live).await
            } else {
                // Stopped before its turn: it never tried, which counts as never connected.
                BotOutcome::new(opts.name)
            }
        });
    }
    tokio::pin!(interrupt);
    let interrupted = tokio::select! {
        _ = sleep_until(measure_from.into()) => false,
        _ = &mut interrupt => true,
    };
    let cpu_at_start = process::cpu_seconds();
    let snapshots_at_start = live.snapshots.load(Relaxed);
    let decodes_at_start = cache.as_ref().map(|c| c.counts());
    if !interrupted {
        tokio::select! {
            _ = sleep_until((measure_from + cfg.duration).into()) => {}
            _ = &mut interrupt => {}
        }
    }
    let measured = Instant::now().saturating_duration_since(measure_from);
    let cpu_seconds = cpu_at_start.zip(process::cpu_seconds()).map(|(a, b)| b - a);
    let cpu_cores = cpu_seconds.map(|c| c / measured.as_secs_f64().max(1e-3));
    let snapshots_measured = live.snapshots.load(Relaxed) - snapshots_at_start;
    let us_per_snapshot = cpu_seconds
        .filter(|_| snapshots_measured > 0)
        .map(|c| c * 1e6 / snapshots_measured as f64);
    let shared_decodes = cache
        .as_ref()
        .zip(decodes_at_start)
        .and_then(|(c, (hits0, misses0))| {
            let (hits, misses) = c.counts();
            let lookups = hits + misses - hits0 - misses0;
            // None for a game with private fields: its bots never share.
            (lookups > 0).then(|| (hits - hits0) as f64 / lookups as f64)
        });
    stop_tx.send_replace(true);

    // A panicked bot leaves no outcome and so counts as failed.
    let (outcomes, stopped_in_time) = collect_within(&mut bots, STOP_GRACE).await;
    let mut report = Report::from_outcomes(cfg.bots, cfg.ramp, measured, &outcomes);
    report.client_cpu_cores = cpu_cores.map(|c| (c * 1000.0).round() / 1000.0);
    report.client_us_per_snapshot = us_per_snapshot.map(|u| (u * 100.0).round() / 100.0);
    report.bots_verifying = cfg.verifying();
    report.client_peak_rss_mb = process::peak_rss_mb().map(f64::round);
    report.shared_decode_share = shared_decodes.map(|s| (s * 1000.0).round() / 1000.0);
    report.simulated = cfg.simulate.map(crate::report::SimulatedLink::of);
    if !stopped_in_time {
        report.errors.push(format!(
            "{} bots did not stop within {}s and were not counted",
            cfg.bots - outcomes.len(),
            STOP_GRACE.as_secs()
        ));
    }
    report
}
