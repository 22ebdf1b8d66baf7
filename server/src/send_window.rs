//! How many snapshots a client may have unacknowledged: overload control, per connection.
//!
//! A client that cannot keep up leaves snapshots waiting in its socket, and each one waiting
//! ages what it shows (input latency) while the client's acks, and so its baselines, fall
//! behind. So a writer sends a snapshot only while fewer than a window of them are unacked;
//! latest-wins keeps the one it holds back fresh. The window is what the connection's
//! delivery rate fills in its shortest round trip (its bandwidth-delay product, counted in
//! snapshots) plus `HEADROOM`: a client far away still gets every tick, and one that is slow
//! to read gets about as many as it takes, with a few waiting at most.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Snapshots allowed in flight beyond the bandwidth-delay product: one being read, and two
/// for round trips longer than the shortest (with 2, jitter cost 500 bots on two cores 2-9
/// of their 60 snapshots/s).
const HEADROOM: usize = 3;
/// How often the delivery rate is measured.
const RATE_PERIOD: Duration = Duration::from_millis(250);
/// The shortest round trip is the least over the last one or two of these (a route or a
/// load that changes is followed within two).
const MIN_RTT_PERIOD: Duration = Duration::from_secs(5);
/// The longest shortest round trip the window believes: beyond it, the round trip is a
/// queue, not distance. Without the cap, a client whose every round trip over a period waited
/// behind a backlog got a window sized to that backlog, which kept it: some runs of 2,000 bots
/// on two cores settled there, at full-sized deltas and 2 snapshots/s.
const MAX_RTT: Duration = Duration::from_millis(250);

/// How many snapshots one client may have unacked (its bandwidth-delay product), and which.
#[derive(Debug)]
pub struct SendWindow {
    /// Snapshots sent and not yet acked: their ticks (ascending) and when each was taken.
    in_flight: VecDeque<(u32, Instant)>,
    limit: usize,
    max: usize,
    /// A stalled client (one that stopped acking) still gets one this often.
    keepalive: Duration,
    last_sent: Option<Instant>,
    min_rtt: WindowedMin,
    delivered: u32,
    /// Acks that delivered something, over the same period as `delivered`.
    acks: u32,
    rate_since: Option<Instant>,
    /// Snapshots acked per second over the last `RATE_PERIOD`.
    rate: f64,
}

impl SendWindow {
    /// At most `max` unacked snapshots (at least `HEADROOM + 1`); one per `keepalive` while
    /// the window stays full.
    pub fn new(max: usize, keepalive: Duration) -> Self {
        Self {
            in_flight: VecDeque::new(),
            // One until the first ack: a new client's first snapshots are full ones, the
            // costliest to build and to apply, and more of them before it acks only queue.
            limit: 1,
            max: max.max(HEADROOM + 1),
            keepalive,
            last_sent: None,
            min_rtt: WindowedMin::default(),
            delivered: 0,
            acks: 0,
            rate_since: None,
            rate: 0.0,
        }
    }

    /// Whether a snapshot may go out now (`now` is only read for a full window's keepalive,
    /// so an open window costs no clock read).
    pub fn open(&self, now: impl FnOnce() -> Instant) -> bool {
        !self.is_full()
            || self
                .last_sent
                .is_none_or(|t| now().saturating_duration_since(t) >= self.keepalive)
    }

    /// Whether the window is full (the client is behind).
    pub fn is_full(&self) -> bool {
        self.in_flight.len() >= self.limit
    }

    /// The snapshot of `tick` went out.
    pub fn sent(&mut self, tick: u32, now: Instant) {
        if self.in_flight.len() >= self.max {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back((tick, now));
        self.last_sent = Some(now);
    }

    /// The client acked `tick` (and so everything sent before it). Returns whether the window
    /// was full and no longer is.
    pub fn acked(&mut self, tick: u32, now: Instant) -> bool {
        let was_full = self.is_full();
        let first_ack = self.rate_since.is_none();
        if first_ack {
            // No rate yet: the headroom, and one for the round trip.
            self.limit = (HEADROOM + 1).min(self.max);
        }
        let delivered_before = self.delivered;
        while let Some(&(t, at)) = self.in_flight.front() {
            if t > tick {
                break;
            }
            self.in_flight.pop_front();
            self.delivered += 1;
            if t == tick {
                self.min_rtt.observe(now.saturating_duration_since(at), now);
            }
        }
        if self.delivered > delivered_before {
            self.acks += 1;
        }
        let since = *self.rate_since.get_or_insert(now);
        let elapsed = now.saturating_duration_since(since);
        if elapsed >= RATE_PERIOD {
            self.rate = f64::from(self.delivered) / elapsed.as_secs_f64();
            let rtt = self.min_rtt.get().min(MAX_RTT);
            let bdp = (self.rate * rtt.as_secs_f64()).round() as usize;
            // A client that acks every k-th snapshot (its inputs, which carry its acks, go
            // out at a lower rate than the ticks) has k in flight before each ack leaves, as
            // TCP's delayed acks do: without room for them its window closes every k.
            let per_ack = f64::from(self.delivered) / f64::from(self.acks.max(1));
            let spacing = (per_ack.ceil() as usize).saturating_sub(1);
            self.limit = (bdp + HEADROOM + spacing).min(self.max);
            self.delivered = 0;
            self.acks = 0;
            self.rate_since = Some(now);
        }
        was_full && !self.is_full()
    }

    /// Forgets what is in flight (the acks were reset).
    pub fn reset(&mut self) {
        self.in_flight.clear();
    }

    /// The window's size now.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The least sample over the current period and the one before.
#[derive(Debug, Default)]
struct WindowedMin {
    current: Option<Duration>,
    previous: Option<Duration>,
    since: Option<Instant>,
}

impl WindowedMin {
    fn observe(&mut self, sample: Duration, now: Instant) {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) >= MIN_RTT_PERIOD {
            self.previous = self.current;
            self.current = Some(sample);
            self.since = Some(now);
        } else {
            self.current = Some(self.current.map_or(sample, |c| c.min(sample)));
        }
    }

    fn get(&self) -> Duration {
        match (self.current, self.previous) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Sends at 60 Hz for `secs` to a client that acks each snapshot `rtt` after it went out
    /// but can take only one every `service` (later ones wait). Returns, for the last second,
    /// the snapshots sent and the most ever in flight.
    fn run(w: &mut SendWindow, secs: u32, rtt: Duration, service: Duration) -> (u32, usize) {
        let t0 = Instant::now();
        let tick_len = Duration::from_micros(16_667);
        let mut acks: VecDeque<(Instant, u32)> = VecDeque::new();
        let mut client_free = t0;
        let (mut sent, mut most) = (0, 0);
        for tick in 0..secs * 60 {
            let now = t0 + tick_len * tick;
            while acks.front().is_some_and(|&(at, _)| at <= now) {
                let (at, t) = acks.pop_front().unwrap();
                w.acked(t, at);
            }
            if w.open(|| now) {
                w.sent(tick, now);
                let arrive = now + rtt / 2;
                client_free = client_free.max(arrive) + service;
                acks.push_back((client_free + rtt / 2, tick));
                if tick >= (secs - 1) * 60 {
                    sent += 1;
                }
            }
            if tick >= (secs - 1) * 60 {
                most = most.max(w.in_flight.len());
            }
        }
        (sent, most)
    }

    #[test]
    fn a_far_client_that_keeps_up_gets_every_tick() {
        let mut w = SendWindow::new(32, Duration::from_millis(500));
        let (sent, _) = run(&mut w, 4, 150 * MS, MS);
        assert!(sent >= 58, "{sent} of 60 ticks sent at a 150 ms round trip");
        assert!(w.limit() >= 10, "window {}", w.limit());
    }

    #[test]
    fn the_window_never_passes_its_max() {
        // 60 Hz at 150 ms needs about 12 in flight; 8 is all it may have.
        let mut w = SendWindow::new(8, Duration::from_millis(500));
        let (sent, most) = run(&mut w, 4, 150 * MS, MS);
        assert_eq!(most, 8);
        assert!(sent < 58, "{sent} sent: the cap did not bind");
    }

    #[test]
    fn a_round_trip_that_is_all_queue_does_not_grow_the_window() {
        // Two seconds every time: uncapped, the window would grow by 3 a period to its max.
        let mut w = SendWindow::new(32, Duration::from_millis(500));
        run(&mut w, 12, 2000 * MS, MS);
        assert!(w.limit() <= 5, "window {}", w.limit());
    }

    #[test]
    fn a_slow_client_gets_what_it_takes_with_little_waiting() {
        let mut w = SendWindow::new(32, Duration::from_millis(500));
        // Takes 100 ms per snapshot: 10 a second.
        let (sent, most) = run(&mut w, 6, 2 * MS, 100 * MS);
        assert!(
            (9..=12).contains(&sent),
            "{sent} sent in 1 s to a 10/s client"
        );
        assert!(most <= 5, "{most} in flight");
    }

    #[test]
    fn a_client_that_acks_every_third_snapshot_still_gets_every_tick() {
        // Its inputs (which carry its acks) go out at 20 Hz, half a tick after every third
        // tick, each acking the newest snapshot it has read; it reads some at once and some
        // 30 ms late (a busy client), so some acks leave with snapshots still on the way.
        let t0 = Instant::now();
        let tick_len = Duration::from_micros(16_667);
        let mut w = SendWindow::new(32, Duration::from_millis(500));
        let (mut arrived, mut sent_last_second) = (VecDeque::new(), 0);
        let mut newest = None;
        for tick in 0..240u32 {
            let now = t0 + tick_len * tick;
            if w.open(|| now) {
                w.sent(tick, now);
                let late = if tick % 2 == 0 { MS } else { 30 * MS };
                arrived.push_back((now + late, tick));
                if tick >= 180 {
                    sent_last_second += 1;
                }
            }
            let input_at = now + tick_len / 2;
            if tick % 3 == 0 {
                arrived.make_contiguous().sort_unstable();
                while arrived.front().is_some_and(|&(at, _)| at <= input_at) {
                    newest = newest.max(arrived.pop_front().map(|(_, t)| t));
                }
                if let Some(t) = newest {
                    w.acked(t, input_at);
                }
            }
        }
        assert!(
            sent_last_second >= 59,
            "{sent_last_second} of 60 ticks sent, window {}",
            w.limit()
        );
    }

    #[test]
    fn a_client_that_stops_acking_gets_a_keepalive() {
        let t0 = Instant::now();
        let mut w = SendWindow::new(8, Duration::from_millis(500));
        w.sent(1, t0);
        w.acked(1, t0 + MS);
        let mut sent = 0;
        for i in 0..120u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 16 + 2);
            if w.open(|| now) {
                w.sent(i + 2, now);
                sent += 1;
            }
        }
        assert!(w.is_full());
        // The window after a first ack (4), then one each 500 ms of the ~2 s.
        assert!((4..=7).contains(&sent), "{sent} sent without acks");
        assert!(w.acked(120, t0 + Duration::from_secs(2)), "an ack opens it");
    }

    #[test]
    fn a_client_that_never_acks_gets_its_window_then_a_keepalive() {
        let t0 = Instant::now();
        let mut w = SendWindow::new(8, Duration::from_millis(500));
        let sent = (0..60u32)
            .filter(|&tick| {
                let now = t0 + Duration::from_millis(u64::from(tick) * 16);
                let open = w.open(|| now);
                if open {
                    w.sent(tick, now);
                }
                open
            })
            .count();
        // One before the first ack, then one at 500 ms (the run ends at 944 ms).
        assert_eq!(sent, 2);
    }
}
