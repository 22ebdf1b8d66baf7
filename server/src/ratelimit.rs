//! Per-connection message rate limit: a token bucket, plus a strike rule that closes a
//! connection which keeps sending far past the rate.

use std::time::{Duration, Instant};

/// What to do with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: take it.
    Allow,
    /// Over the rate: drop this message.
    Drop,
    /// Dropped more than a second's worth of the rate within one second: close.
    Abuse,
}

/// One connection's bucket and strike count.
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    window_start: Instant,
    dropped_in_window: u32,
}

impl RateLimit {
    /// `rate_per_sec` messages a second on average, `burst` at once; full at `now`.
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate_per_sec),
            burst,
            tokens: burst,
            last: now,
            window_start: now,
            dropped_in_window: 0,
        }
    }

    /// A message arrived at `now`: whether to take it, drop it, or close the connection.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.dropped_in_window = 0;
        }
        self.dropped_in_window += 1;
        if f64::from(self.dropped_in_window) > self.rate {
            Verdict::Abuse
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_traffic_at_the_rate_passes() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(100, 10, t0);
        for i in 0..1000 {
            assert_eq!(
                r.check(t0 + Duration::from_millis(10 * i)),
                Verdict::Allow,
                "message {i}"
            );
        }
    }

    #[test]
    fn a_burst_beyond_the_bucket_is_dropped_then_recovers() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(100, 10, t0);
        for _ in 0..10 {
            assert_eq!(r.check(t0), Verdict::Allow);
        }
        assert_eq!(r.check(t0), Verdict::Drop);
        assert_eq!(r.check(t0 + Duration::from_millis(10)), Verdict::Allow);
    }

    #[test]
    fn a_sustained_flood_is_abuse() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(100, 10, t0);
        let verdicts: Vec<_> = (0..200).map(|_| r.check(t0)).collect();
        assert_eq!(
            verdicts.iter().filter(|v| **v == Verdict::Allow).count(),
            10
        );
        assert_eq!(verdicts.last(), Some(&Verdict::Abuse));
    }
}
