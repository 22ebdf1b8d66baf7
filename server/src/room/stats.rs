//! A room's tick timing and the summary `/rooms` shows.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What `/rooms` reports for one room (refreshed twice a second by the room).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    /// The game the room plays.
    pub game: String,
    /// Its players, connected or within their resume grace.
    pub players: usize,
    /// Entities in its world.
    pub entities: usize,
    /// Its current tick.
    pub tick: u32,
    /// Its ticks per second.
    pub tick_rate: u16,
    /// The median time a tick's work took, over the last 1,024 ticks.
    pub tick_p50_us: u32,
    /// The 99th percentile of the same.
    pub tick_p99_us: u32,
    /// Seconds since the room opened.
    pub uptime_s: f64,
    /// Ticks dropped because the loop fell too far behind.
    pub lost_ticks: u64,
    /// Snapshots replaced before a slow client took them (sum over current clients).
    pub stale_dropped: u64,
    /// Delta encodings in the last tick (one per distinct baseline).
    pub encodes_per_tick: usize,
    /// Clients behind at the last tick: their send window (unacked snapshots) was full.
    pub lagging_clients: usize,
    /// Snapshots handed to each client per second over the last half second: the median
    /// client's and the slowest's (`None`: no client counted yet).
    pub send_rate_p50: Option<f64>,
    /// The slowest client's, likewise.
    pub send_rate_min: Option<f64>,
    /// The network simulation its connections run under (`--simulate-*`); absent when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<Simulated>,
}

/// The simulated network conditions, as `/rooms` shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Simulated {
    /// Latency added each way, in ms.
    pub latency_ms: f64,
    /// Jitter added each way (up to), in ms.
    pub jitter_ms: f64,
    /// The periodic stall, `FOR/EVERY` (e.g. `300ms/5s`), or `None`.
    pub stall: Option<String>,
}

impl Simulated {
    /// What `/rooms` shows for `sim`.
    pub fn of(sim: protocol::netsim::NetSim) -> Self {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
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

/// Durations of the last `WINDOW` ticks.
pub struct TickStats {
    durations_us: Vec<u32>,
    next: usize,
    started: Instant,
    /// Ticks dropped so far because the loop fell too far behind.
    pub lost_ticks: u64,
}

const WINDOW: usize = 1024;

impl TickStats {
    /// No tick yet, for a room opened at `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            durations_us: Vec::with_capacity(WINDOW),
            next: 0,
            started,
            lost_ticks: 0,
        }
    }

    /// A tick whose work took `d`.
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u128::from(u32::MAX)) as u32;
        if self.durations_us.len() < WINDOW {
            self.durations_us.push(us);
        } else {
            self.durations_us[self.next] = us;
        }
        self.next = (self.next + 1) % WINDOW;
    }

    /// The p50 and p99 of the recorded durations, in microseconds (one sort for both).
    pub fn p50_p99_us(&self) -> (u32, u32) {
        let mut v = self.durations_us.clone();
        if v.is_empty() {
            return (0, 0);
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.99))
    }

    /// Writes the timing fields of `info` (percentiles, uptime, lost ticks).
    pub fn fill(&self, info: &mut RoomInfo) {
        (info.tick_p50_us, info.tick_p99_us) = self.p50_p99_us();
        info.uptime_s = self.started.elapsed().as_secs_f64();
        info.lost_ticks = self.lost_ticks;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_over_a_sliding_window() {
        let mut s = TickStats::new(Instant::now());
        for us in 1..=100 {
            s.record(Duration::from_micros(us));
        }
        assert_eq!(s.p50_p99_us(), (51, 99));
        for _ in 0..WINDOW {
            s.record(Duration::from_micros(7));
        }
        assert_eq!(s.p50_p99_us().1, 7);
    }
}
