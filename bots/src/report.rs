//! Aggregation over bots: the figures a load run reports, as text for people and as
//! one JSON object for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bot::BotOutcome;
use crate::client::stats::latency_histogram;
use crate::error::close_code_name;
use crate::predict::PredictionStats;

/// Distinct error messages kept for the report.
const MAX_ERRORS_REPORTED: usize = 10;

/// A load run's figures. Rates are per bot over each bot's measured window (after the ramp and
/// the bot's first second); latency percentiles are over all samples of all bots in their
/// windows; error counts are over the whole run. Serialized field names are a contract with
/// tools: add, do not rename.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Bots asked for.
    pub bots: usize,
    /// Bots that got a `Welcome` at least once.
    pub bots_connected: usize,
    /// Bots that never got a `Welcome`.
    pub bots_failed: usize,
    /// Joins after a bot's first.
    pub reconnects: u64,
    /// The ramp, over which bots joined, in seconds.
    pub ramp_s: f64,
    /// The measured time after the ramp, in seconds (shorter when interrupted).
    pub duration_s: f64,
    /// Snapshots per second of the median bot: the server's tick rate when it keeps up.
    pub snapshots_per_sec_p50: Option<f64>,
    /// Snapshots per second of the slowest bot.
    pub snapshots_per_sec_min: Option<f64>,
    /// Bytes received per second of the median bot.
    pub bytes_per_sec_p50: Option<f64>,
    /// Mean snapshot size over the windows.
    pub bytes_per_snapshot: Option<f64>,
    /// Median time from sending an input to the first snapshot that applied it, ms.
    pub input_latency_ms_p50: Option<f64>,
    /// 99th percentile of the input latency, ms.
    pub input_latency_ms_p99: Option<f64>,
    /// Worst input latency, ms.
    pub input_latency_ms_max: Option<f64>,
    /// Input latencies measured.
    pub input_latency_samples: u64,
    /// Median ping round trip, ms.
    pub rtt_ms_p50: Option<f64>,
    /// 99th percentile of the ping round trip, ms.
    pub rtt_ms_p99: Option<f64>,
    /// Ping round trips measured.
    pub rtt_samples: u64,
    /// Snapshots received in the windows.
    pub snapshots: u64,
    /// Inputs sent in the windows.
    pub inputs_sent: u64,
    /// Messages not sent in the windows because the socket did not drain.
    pub send_queue_full: u64,
    /// Standalone `Ack` frames sent in the windows (acks that could not ride on an input).
    pub acks_sent: u64,
    /// Ticks skipped between a bot's consecutive snapshots, in the windows.
    pub stale_dropped: u64,
    /// `stale_dropped / (snapshots + stale_dropped)`.
    pub stale_share: f64,
    /// Snapshots whose checksum a bot's world did not reproduce, over the run: any fails it.
    pub checksum_mismatches: u64,
    /// Messages that broke the protocol, over the run: any fails it.
    pub protocol_errors: u64,
    /// Snapshots bots could not apply because they had fallen more than their ring behind:
    /// the bots were overloaded, so the other figures describe them more than the server.
    pub fell_behind: u64,
    /// CPU cores the bot process used over the measured part of the run (Linux only): with
    /// bots and server sharing a machine, read the figures with this.
    pub client_cpu_cores: Option<f64>,
    /// The bot process's peak memory, MB (Linux only).
    pub client_peak_rss_mb: Option<f64>,
    /// The bot process's CPU per snapshot its bots received over the measured part of the
    /// run, µs (Linux only): what the load generator costs, whatever the rate.
    pub client_us_per_snapshot: Option<f64>,
    /// Bots that applied every snapshot and checked its checksum (`--verify`); the others
    /// read only snapshot headers, so checksum figures come from these.
    pub bots_verifying: usize,
    /// The share of snapshot decodes in the windows that found the table another bot of this
    /// process had decoded (`None`: bots decoded alone, `--no-shared-decodes`).
    pub shared_decode_share: Option<f64>,
    /// How connections and join attempts ended, by code name (`protocol::codes::name`;
    /// `abnormal` when the server sent no close frame).
    pub close_codes: BTreeMap<String, u64>,
    /// Game events (`ServerMsg::GameEvent`) the bots received over the whole run, by the name
    /// the game's schema gives them (`{}` when none); ids the schema does not declare count
    /// under `(unknown)` (`client::stats::UNKNOWN_GAME_EVENT`).
    pub game_events: BTreeMap<String, u64>,
    /// What the bots' behaviours counted (`Behaviour::counters`), summed over all bots, by
    /// name: e.g. skirmish's `hitscan_shots` and `hitscan_hits`. `{}` when none.
    pub counters: BTreeMap<String, u64>,
    /// Own-player prediction, for behaviours that predict (`Behaviour::predict`); null when
    /// none did.
    pub prediction: Option<PredictionReport>,
    /// The first distinct error messages.
    pub errors: Vec<String>,
    /// `MOVED` closes after a `Welcome` followed (hand-offs: the room moved to another node).
    pub handoffs: u64,
    /// `MOVED` rejects followed (redirects: the room lives on another node).
    pub redirects: u64,
    /// Bots that got a different player (`Welcome.player`) than their first on some later
    /// join: each counts once.
    pub player_changes: u64,
    /// How long bots were not playing after a connection ended: from its end to the first
    /// snapshot of the next connection, over every such gap of every bot (nearest rank): the
    /// median, ms.
    pub recovery_ms_p50: Option<f64>,
    /// 99th percentile of those gaps, ms.
    pub recovery_ms_p99: Option<f64>,
    /// The longest gap, ms.
    pub recovery_ms_max: Option<f64>,
    /// Gaps measured.
    pub recoveries: u64,
    /// Bots whose last connection ended with no snapshot after it before the run stopped
    /// (their gap is not in the percentiles).
    pub unrecovered: u64,
    /// The network simulation the bots ran under on their side (`--simulate-*`), `None`
    /// (null) when off: figures measured through it include its delays.
    pub simulated: Option<SimulatedLink>,
    /// No checksum mismatch, no protocol error, and at least one bot connected.
    pub passed: bool,
}

/// How well the bots predicted their own entities: errors measured at each snapshot that
/// applied a newer input, between the server's state and the bot's prediction for that input,
/// over the own type's position (world units).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredictionReport {
    /// Predictions checked.
    pub reconciled: u64,
    /// Of those, errors above `predict::CORRECTION_EPSILON` (the shown entity had to move).
    pub corrections: u64,
    /// `corrections / reconciled`.
    pub correction_share: f64,
    /// Median error.
    pub error_p50: f64,
    /// 99th percentile error.
    pub error_p99: f64,
    /// Largest error.
    pub error_max: f64,
}

impl PredictionReport {
    fn of(stats: &PredictionStats) -> Option<Self> {
        (stats.reconciled > 0).then(|| PredictionReport {
            reconciled: stats.reconciled,
            corrections: stats.corrections,
            correction_share: round3(stats.corrections as f64 / stats.reconciled as f64),
            error_p50: round3(stats.error(0.5).unwrap_or(0.0)),
            error_p99: round3(stats.error(0.99).unwrap_or(0.0)),
            error_max: round3(stats.error(1.0).unwrap_or(0.0)),
        })
    }
}

/// A simulated link's settings, as the report shows them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulatedLink {
    /// Latency added each way, ms.
    pub latency_ms: f64,
    /// Jitter added each way (up to), ms.
    pub jitter_ms: f64,
    /// The periodic stall, `FOR/EVERY` (e.g. `300ms/5s`), or null.
    pub stall: Option<String>,
}

impl SimulatedLink {
    /// The report's view of `sim`.
    pub fn of(sim: protocol::netsim::NetSim) -> Self {
        let ms = |d: Duration| round3(d.as_secs_f64() * 1000.0);
        Self {
            latency_ms: ms(sim.latency),
            jitter_ms: ms(sim.jitter),
            stall: sim.stall.map(|s| {
                format!(
                    "{}/{}",
                    humantime::format_duration(s.duration),
                    humantime::format_duration(s.every)
                )
            }),
        }
    }
}

impl Report {
    /// `ramp` and `duration`: the run's settings (the measured part is `duration`, after `ramp`).
    pub fn from_outcomes(
        bots: usize,
        ramp: Duration,
        duration: Duration,
        outcomes: &[BotOutcome],
    ) -> Report {
        let connected = outcomes.iter().filter(|o| o.connected()).count();
        let mut rates: Vec<f64> = outcomes
            .iter()
            .filter_map(BotOutcome::snapshots_per_sec)
            .collect();
        rates.sort_by(f64::total_cmp);
        let mut byte_rates: Vec<f64> = outcomes
            .iter()
            .filter_map(BotOutcome::bytes_per_sec)
            .collect();
        byte_rates.sort_by(f64::total_cmp);

        let (mut latency, mut rtt) = (latency_histogram(), latency_histogram());
        let mut close_codes = BTreeMap::new();
        let mut game_events: BTreeMap<String, u64> = BTreeMap::new();
        let mut counters: BTreeMap<String, u64> = BTreeMap::new();
        let mut prediction = PredictionStats::default();
        let mut errors: Vec<String> = Vec::new();
        let (mut snapshots, mut bytes, mut stale) = (0, 0, 0);
        let (mut inputs_sent, mut send_queue_full, mut acks_sent) = (0, 0, 0);
        for o in outcomes {
            // Same bounds everywhere, so adding cannot fail.
            let _ = latency.add(&o.input_latency_us);
            let _ = rtt.add(&o.rtt_us);
            snapshots += o.window_counters.snapshots;
            bytes += o.window_counters.bytes_in;
            stale += o.window_counters.stale_dropped;
            inputs_sent += o.window_counters.inputs_sent;
            send_queue_full += o.window_counters.send_queue_full;
            acks_sent += o.window_counters.acks_sent;
            for &code in &o.close_codes {
                *close_codes.entry(close_code_name(code)).or_insert(0) += 1;
            }
            for (name, &n) in &o.game_events {
                match game_events.get_mut(name) {
                    Some(total) => *total += n,
                    None => _ = game_events.insert(name.clone(), n),
                }
            }
            for (name, &n) in &o.counters {
                *counters.entry(name.clone()).or_insert(0) += n;
            }
            prediction.add(&o.prediction);
            for e in &o.errors {
                if errors.len() < MAX_ERRORS_REPORTED && !errors.contains(e) {
                    errors.push(e.clone());
                }
            }
        }
        let checksum_mismatches = outcomes.iter().map(|o| o.checksum_mismatches).sum();
        let protocol_errors = outcomes.iter().map(|o| o.protocol_errors).sum();
        let fell_behind = outcomes.iter().map(|o| o.fell_behind).sum();
        let mut recovery_ms: Vec<f64> = outcomes
            .iter()
            .flat_map(|o| &o.recoveries)
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        recovery_ms.sort_by(f64::total_cmp);
        let count = |f: fn(&BotOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count() as u64;
        Report {
            bots,
            bots_connected: connected,
            bots_failed: outcomes.len() - connected + bots.saturating_sub(outcomes.len()),
            reconnects: outcomes
                .iter()
                .map(|o| u64::from(o.connections.saturating_sub(1)))
                .sum(),
            ramp_s: round3(ramp.as_secs_f64()),
            duration_s: round3(duration.as_secs_f64()),
            snapshots_per_sec_p50: percentile(&rates, 0.5).map(round3),
            snapshots_per_sec_min: rates.first().copied().map(round3),
            bytes_per_sec_p50: percentile(&byte_rates, 0.5).map(f64::round),
            bytes_per_snapshot: (snapshots > 0).then(|| round3(bytes as f64 / snapshots as f64)),
            input_latency_ms_p50: quantile_ms(&latency, 0.5),
            input_latency_ms_p99: quantile_ms(&latency, 0.99),
            input_latency_ms_max: quantile_ms(&latency, 1.0),
            input_latency_samples: latency.len(),
            rtt_ms_p50: quantile_ms(&rtt, 0.5),
            rtt_ms_p99: quantile_ms(&rtt, 0.99),
            rtt_samples: rtt.len(),
            snapshots,
            inputs_sent,
            send_queue_full,
            acks_sent,
            stale_dropped: stale,
            stale_share: if snapshots + stale == 0 {
                0.0
            } else {
                stale as f64 / (snapshots + stale) as f64
            },
            checksum_mismatches,
            protocol_errors,
            fell_behind,
            client_cpu_cores: None,
            client_peak_rss_mb: None,
            client_us_per_snapshot: None,
            bots_verifying: bots,
            shared_decode_share: None,
            close_codes,
            game_events,
            counters,
            prediction: PredictionReport::of(&prediction),
            errors,
            handoffs: outcomes.iter().map(|o| u64::from(o.handoffs)).sum(),
            redirects: outcomes.iter().map(|o| u64::from(o.redirects)).sum(),
            player_changes: count(|o| o.player_changed),
            recovery_ms_p50: percentile(&recovery_ms, 0.5).map(round3),
            recovery_ms_p99: percentile(&recovery_ms, 0.99).map(round3),
            recovery_ms_max: recovery_ms.last().copied().map(round3),
            recoveries: recovery_ms.len() as u64,
            unrecovered: count(|o| o.unrecovered),
            simulated: None,
            passed: checksum_mismatches == 0 && protocol_errors == 0 && connected > 0,
        }
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }

    /// A few aligned lines for people.
    pub fn to_human(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
        let num = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let kb = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1} KB/s", v / 1000.0));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "ticksync bot run: {} bots, {:.1} s measured after a {:.1} s ramp",
            self.bots, self.duration_s, self.ramp_s
        );
        let mut row = |label: &str, value: String| {
            let _ = writeln!(s, "  {label:<22}{value}");
        };
        row(
            "bots",
            format!(
                "{} connected, {} failed, {} reconnects",
                self.bots_connected, self.bots_failed, self.reconnects
            ),
        );
        row(
            "snapshots/s per bot",
            format!(
                "p50 {}, min {}",
                num(self.snapshots_per_sec_p50),
                num(self.snapshots_per_sec_min)
            ),
        );
        row(
            "bytes/s per bot",
            format!(
                "p50 {} ({} bytes per snapshot)",
                kb(self.bytes_per_sec_p50),
                self.bytes_per_snapshot
                    .map_or("-".to_owned(), |b| format!("{b:.0}"))
            ),
        );
        row(
            "input latency",
            format!(
                "p50 {}, p99 {}, max {} ({} samples)",
                ms(self.input_latency_ms_p50),
                ms(self.input_latency_ms_p99),
                ms(self.input_latency_ms_max),
                self.input_latency_samples
            ),
        );
        row(
            "ping rtt",
            format!(
                "p50 {}, p99 {} ({} samples)",
                ms(self.rtt_ms_p50),
                ms(self.rtt_ms_p99),
                self.rtt_samples
            ),
        );
        row(
            "stale dropped",
            format!(
                "{} ({:.2}% of {} ticks)",
                self.stale_dropped,
                self.stale_share * 100.0,
                self.snapshots + self.stale_dropped
            ),
        );
        if self.send_queue_full > 0 {
            row(
                "unsent (socket full)",
                format!(
                    "{} of {} inputs sent",
                    self.send_queue_full, self.inputs_sent
                ),
            );
        }
        if let Some(sim) = &self.simulated {
            row(
                "simulated link",
                format!(
                    "+{:.1} ms latency, +0-{:.1} ms jitter each way, stalls {}",
                    sim.latency_ms,
                    sim.jitter_ms,
                    sim.stall.as_deref().unwrap_or("none")
                ),
            );
        }
        row("checksum mismatches", self.checksum_mismatches.to_string());
        row("protocol errors", self.protocol_errors.to_string());
        if self.fell_behind > 0 {
            row(
                "fell behind",
                format!("{} (the bots were overloaded)", self.fell_behind),
            );
        }
        if let (Some(cpu), Some(rss)) = (self.client_cpu_cores, self.client_peak_rss_mb) {
            let per = self
                .client_us_per_snapshot
                .map_or(String::new(), |us| format!(", {us:.1} µs per snapshot"));
            row(
                "bot process",
                format!("{cpu:.2} cores{per}, peak RSS {rss:.0} MB"),
            );
        }
        if self.bots_verifying < self.bots {
            row(
                "verifying",
                format!(
                    "{} of {} bots applied every snapshot and checked its checksum",
                    self.bots_verifying, self.bots
                ),
            );
        }
        if let Some(share) = self.shared_decode_share {
            row(
                "shared decodes",
                format!("{:.1}% of lookups found another bot's table", share * 100.0),
            );
        }
        if self.handoffs + self.redirects + self.player_changes > 0 {
            row(
                "moved (followed)",
                format!(
                    "{} hand-offs, {} redirects; {} bots changed player",
                    self.handoffs, self.redirects, self.player_changes
                ),
            );
        }
        if self.recoveries + self.unrecovered > 0 {
            row(
                "recovery",
                format!(
                    "p50 {}, p99 {}, max {} ({} gaps; {} bots out at the end)",
                    ms(self.recovery_ms_p50),
                    ms(self.recovery_ms_p99),
                    ms(self.recovery_ms_max),
                    self.recoveries,
                    self.unrecovered
                ),
            );
        }
        let codes: Vec<String> = self
            .close_codes
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        row(
            "close codes",
            if codes.is_empty() {
                "-".to_owned()
            } else {
                codes.join(", ")
            },
        );
        let events: Vec<String> = self
            .game_events
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        row(
            "game events",
            if events.is_empty() {
                "-".to_owned()
            } else {
                events.join(", ")
            },
        );
        if !self.counters.is_empty() {
            let counted: Vec<String> = self
                .counters
                .iter()
                .map(|(name, n)| format!("{name} {n}"))
                .collect();
            row("counters", counted.join(", "));
        }
        if let Some(p) = &self.prediction {
            row(
                "prediction",
                format!(
                    "{} checked, {} corrections ({:.1}%), error p50 {} p99 {} max {}",
                    p.reconciled,
                    p.corrections,
                    p.correction_share * 100.0,
                    p.error_p50,
                    p.error_p99,
                    p.error_max
                ),
            );
        }
        for e in &self.errors {
            row("error", e.clone());
        }
        row(
            "result",
            if self.passed { "PASS" } else { "FAIL" }.to_owned(),
        );
        s
    }
}

/// Nearest-rank percentile of ascending values.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| round3(h.value_at_quantile(q) as f64 / 1000.0))
}

/// `v` to three decimals, as reports print figures.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::MAX_RECOVERIES_KEPT;
    use crate::client::stats::{GameEventCounts, UNKNOWN_GAME_EVENT, record_latency};
    use crate::error::{ABNORMAL_CLOSURE, ClientError};
    use protocol::{EntityId, codes};

    fn bot(snapshots: u64, secs: u64, latency_ms: &[u64]) -> BotOutcome {
        let mut o = BotOutcome::new("bot".to_owned());
        o.connections = 1;
        o.window = Duration::from_secs(secs);
        o.window_counters.snapshots = snapshots;
        o.window_counters.bytes_in = snapshots * 3300;
        for &ms in latency_ms {
            record_latency(&mut o.input_latency_us, Duration::from_millis(ms));
        }
        record_latency(&mut o.rtt_us, Duration::from_micros(800));
        o.close_codes.push(codes::NORMAL);
        o
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.0));
        assert_eq!(percentile(&v, 0.99), Some(4.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 0.5), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn aggregates_over_bots() {
        let mut slow = bot(500, 10, &[40; 10]);
        slow.window_counters.stale_dropped = 100;
        let mut failed = BotOutcome::new("never".to_owned());
        failed.connect_error = Some(ClientError::Rejected {
            code: codes::ROOM_FULL,
            reason: "full".to_owned(),
        });
        failed.close_codes.push(codes::ROOM_FULL);
        failed.errors.push("rejected".to_owned());
        let mut lost = bot(600, 10, &[10; 10]);
        lost.close_codes = vec![ABNORMAL_CLOSURE];
        let outcomes = vec![bot(600, 10, &[10; 80]), slow, lost, failed];
        let r = Report::from_outcomes(
            5,
            Duration::from_secs(2),
            Duration::from_secs(10),
            &outcomes,
        );
        assert_eq!((r.bots, r.bots_connected, r.bots_failed), (5, 3, 2));
        assert_eq!(r.snapshots_per_sec_p50, Some(60.0));
        assert_eq!(r.snapshots_per_sec_min, Some(50.0));
        assert_eq!(r.bytes_per_sec_p50, Some(198_000.0));
        assert_eq!(r.input_latency_samples, 100);
        let p50 = r.input_latency_ms_p50.unwrap();
        let p99 = r.input_latency_ms_p99.unwrap();
        assert!((9.9..=10.1).contains(&p50), "{p50}");
        assert!((39.6..=40.4).contains(&p99), "{p99}");
        assert_eq!(r.snapshots, 1700);
        assert_eq!(r.stale_dropped, 100);
        assert!((r.stale_share - 100.0 / 1800.0).abs() < 1e-9);
        assert_eq!(r.close_codes["normal"], 2);
        assert_eq!(r.close_codes["room_full"], 1);
        assert_eq!(r.close_codes["abnormal"], 1);
        assert_eq!(r.errors, vec!["rejected".to_owned()]);
        assert!(r.passed);
    }

    #[test]
    fn errors_or_no_connected_bot_fail_the_run() {
        let mut broken = bot(600, 10, &[10]);
        broken.checksum_mismatches = 1;
        let r = Report::from_outcomes(1, Duration::ZERO, Duration::from_secs(10), &[broken]);
        assert!(!r.passed);
        let r = Report::from_outcomes(3, Duration::ZERO, Duration::from_secs(10), &[]);
        assert_eq!((r.bots_connected, r.bots_failed), (0, 3));
        assert_eq!(r.snapshots_per_sec_p50, None);
        assert!(!r.passed);
    }

    #[test]
    fn json_has_the_keys_tools_read() {
        let r = Report::from_outcomes(
            1,
            Duration::ZERO,
            Duration::from_secs(10),
            &[bot(600, 10, &[12])],
        );
        let line = r.to_json();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for key in [
            "bots_connected",
            "bots_failed",
            "snapshots_per_sec_p50",
            "snapshots_per_sec_min",
            "bytes_per_sec_p50",
            "input_latency_ms_p50",
            "input_latency_ms_p99",
            "rtt_ms_p50",
            "rtt_ms_p99",
            "stale_dropped",
            "checksum_mismatches",
            "protocol_errors",
            "close_codes",
            "acks_sent",
            "bots_verifying",
            "client_us_per_snapshot",
            "handoffs",
            "redirects",
            "player_changes",
            "recovery_ms_p50",
            "recovery_ms_p99",
            "recovery_ms_max",
            "recoveries",
            "unrecovered",
            "game_events",
            "counters",
            "prediction",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["close_codes"]["normal"], 1);
        assert_eq!(v["game_events"], serde_json::json!({}));
        assert_eq!(v["counters"], serde_json::json!({}));
        assert!(v["prediction"].is_null());
        assert!(v["snapshots_per_sec_p50"].is_number());
        assert!(r.to_human().contains("PASS"));
    }

    fn player(index: u32) -> EntityId {
        EntityId { index, version: 1 }
    }

    #[test]
    fn a_bot_that_changed_player_counts_once() {
        let mut same = bot(600, 10, &[10]);
        same.connections = 0;
        for _ in 0..3 {
            same.note_welcome(player(7));
        }
        assert_eq!((same.connections, same.player_changed), (3, false));
        let mut changed = bot(600, 10, &[10]);
        changed.connections = 0;
        // Another player, then back to the first: still one bot that changed.
        for p in [7, 8, 7, 9] {
            changed.note_welcome(player(p));
        }
        assert_eq!(changed.first_player, Some(player(7)));
        assert!(changed.player_changed);
        // Same slot, another version: another entity.
        let mut reused = bot(600, 10, &[10]);
        reused.connections = 0;
        reused.note_welcome(player(7));
        reused.note_welcome(EntityId {
            index: 7,
            version: 2,
        });
        assert!(reused.player_changed);
        let r = Report::from_outcomes(
            3,
            Duration::ZERO,
            Duration::from_secs(10),
            &[same, changed, reused],
        );
        assert_eq!(r.player_changes, 2);
        // Joins after each bot's first: 2, 3 and 1.
        assert_eq!(r.reconnects, 6);
        assert!(r.to_human().contains("2 bots changed player"));
    }

    #[test]
    fn moves_and_recoveries_add_up_over_bots() {
        let mut a = bot(600, 10, &[10]);
        a.handoffs = 2;
        a.redirects = 1;
        for ms in [30, 10, 20] {
            a.note_recovery(Duration::from_millis(ms));
        }
        let mut b = bot(600, 10, &[10]);
        b.redirects = 3;
        b.note_recovery(Duration::from_millis(1000));
        b.unrecovered = true;
        let quiet = bot(600, 10, &[10]);
        let r = Report::from_outcomes(3, Duration::ZERO, Duration::from_secs(10), &[a, b, quiet]);
        assert_eq!((r.handoffs, r.redirects, r.player_changes), (2, 4, 0));
        assert_eq!((r.recoveries, r.unrecovered), (4, 1));
        assert_eq!(r.recovery_ms_p50, Some(20.0));
        assert_eq!(r.recovery_ms_p99, Some(1000.0));
        assert_eq!(r.recovery_ms_max, Some(1000.0));
        let human = r.to_human();
        assert!(human.contains("2 hand-offs, 4 redirects"), "{human}");
        assert!(
            human.contains("max 1000.0 ms (4 gaps; 1 bots out at the end)"),
            "{human}"
        );
        // A run with none of it prints neither line.
        let r = Report::from_outcomes(
            1,
            Duration::ZERO,
            Duration::from_secs(1),
            &[bot(1, 1, &[1])],
        );
        assert_eq!((r.recovery_ms_p50, r.recoveries), (None, 0));
        assert!(!r.to_human().contains("recovery"));
    }

    fn events(names: &[&str]) -> Vec<protocol::TypeDesc> {
        names
            .iter()
            .enumerate()
            .map(|(id, name)| protocol::TypeDesc {
                id: id as u16,
                name: (*name).into(),
                fields: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn game_events_add_up_by_name_over_connections_and_bots() {
        let mut counts = GameEventCounts::default();
        for id in [0, 0, 1, 7] {
            counts.count(id, 2);
        }
        let mut a = bot(600, 10, &[10]);
        // Two connections to the same game, then one to a game whose event 0 is another.
        a.note_game_events(&events(&["hit", "announce"]), &counts);
        a.note_game_events(&events(&["hit", "announce"]), &counts);
        let mut other = GameEventCounts::default();
        other.count(0, 1);
        a.note_game_events(&events(&["goal"]), &other);
        assert_eq!(a.game_events.len(), 4);
        let mut b = bot(600, 10, &[10]);
        b.note_game_events(&events(&["hit", "announce"]), &counts);
        let quiet = bot(600, 10, &[10]);
        let r = Report::from_outcomes(3, Duration::ZERO, Duration::from_secs(10), &[a, b, quiet]);
        let expect: BTreeMap<String, u64> = [
            (UNKNOWN_GAME_EVENT, 3),
            ("announce", 3),
            ("goal", 1),
            ("hit", 6),
        ]
        .into_iter()
        .map(|(name, n)| (name.to_owned(), n))
        .collect();
        assert_eq!(r.game_events, expect);
        // Names sorted, in the JSON and in the human report.
        let json = r.to_json();
        assert!(
            json.contains(r#""game_events":{"(unknown)":3,"announce":3,"goal":1,"hit":6}"#),
            "{json}"
        );
        let human = r.to_human();
        assert!(
            human.contains("game events           (unknown) 3, announce 3, goal 1, hit 6\n"),
            "{human}"
        );
        // A run without any prints a dash.
        let r = Report::from_outcomes(
            1,
            Duration::ZERO,
            Duration::from_secs(1),
            &[bot(1, 1, &[1])],
        );
        assert!(r.game_events.is_empty());
        assert!(r.to_human().contains("game events           -\n"));
    }

    #[test]
    fn recovery_samples_per_bot_are_bounded() {
        let mut o = bot(1, 1, &[1]);
        for _ in 0..10_000 {
            o.note_recovery(Duration::from_millis(5));
        }
        assert_eq!(o.recoveries.len(), MAX_RECOVERIES_KEPT);
    }
}
