//! A simulated network link, as pure schedule math: when a message sent at `now` reaches the
//! other end through a link with added latency, jitter and periodic stalls.
//!
//! For development and tests only (`--simulate-latency` and friends on the server and the
//! bots). Time is a `Duration` since a connection-local epoch and the jitter is a sample given
//! by the caller, so the schedule needs no clock and no random source. Each direction of a
//! connection gets its own `Schedule`: the delay is one way.

use std::fmt;
use std::time::Duration;

/// The largest latency or jitter a simulation accepts: more is a typo, not a network.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// A periodic stall: the link delivers nothing for `duration`, once every `every`, starting at
/// `every` after the epoch (the first `every` of a connection is never stalled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// How long each stall lasts (shorter than `every`).
    pub duration: Duration,
    /// The period: one stall starts at each multiple of it.
    pub every: Duration,
}

impl Stall {
    /// A stall of `duration` every `every`: both non-zero, and the stall shorter than its period.
    pub fn new(duration: Duration, every: Duration) -> Result<Stall, String> {
        if duration.is_zero() {
            return Err("a stall must last longer than 0".into());
        }
        if duration >= every {
            return Err(format!(
                "a stall ({duration:?}) must be shorter than its period ({every:?})"
            ));
        }
        Ok(Stall { duration, every })
    }

    /// Parses `FOR/EVERY` (e.g. `300ms/5s`), each side read by `duration` (humantime in the
    /// binaries).
    pub fn parse_with(
        s: &str,
        duration: impl Fn(&str) -> Result<Duration, String>,
    ) -> Result<Stall, String> {
        let Some((stall, every)) = s.split_once('/') else {
            return Err(format!(
                "expected FOR/EVERY, e.g. 300ms/5s (a 300 ms stall every 5 s), got {s:?}"
            ));
        };
        Stall::new(duration(stall.trim())?, duration(every.trim())?)
    }

    /// The end of the stall `at` falls in, if it falls in one.
    fn end_of_stall_at(&self, at: Duration) -> Option<Duration> {
        let every = self.every.as_nanos();
        let at_ns = at.as_nanos();
        let k = at_ns / every;
        let start = k * every;
        let end = start + self.duration.as_nanos();
        (k >= 1 && at_ns < end).then(|| nanos(end))
    }
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{:?}", self.duration, self.every)
    }
}

fn nanos(n: u128) -> Duration {
    Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
}

/// Checks a latency or jitter: at most `MAX_DELAY`.
pub fn check_delay(d: Duration) -> Result<Duration, String> {
    if d > MAX_DELAY {
        return Err(format!(
            "{d:?} is more than the {MAX_DELAY:?} a simulated link accepts"
        ));
    }
    Ok(d)
}

/// The simulated link's settings, the same in both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetSim {
    /// Added to every message, one way.
    pub latency: Duration,
    /// Up to this much more, uniform in [0, jitter], per message.
    pub jitter: Duration,
    /// Periodic stalls, if any.
    pub stall: Option<Stall>,
}

impl NetSim {
    /// `Some` when anything is simulated; `None` (no simulation, no work) otherwise.
    pub fn enabled(self) -> Option<NetSim> {
        (self != NetSim::default()).then_some(self)
    }
}

/// One direction of a simulated link: hands out delivery times in send order.
#[derive(Clone, Debug)]
pub struct Schedule {
    sim: NetSim,
    /// The previous message's delivery time: none is delivered before it (TCP keeps order).
    last: Duration,
}

impl Schedule {
    /// A link with these settings, nothing sent yet.
    pub fn new(sim: NetSim) -> Self {
        Self {
            sim,
            last: Duration::ZERO,
        }
    }

    /// The settings.
    pub fn sim(&self) -> NetSim {
        self.sim
    }

    /// When a message sent at `now` is delivered, with `sample` in [0, 1) picking its jitter:
    /// `now + latency + jitter * sample`, never before the message sent before it, and held
    /// to the end of a stall it would arrive in. Later calls must not go back in `now`.
    pub fn deliver(&mut self, now: Duration, sample: f64) -> Duration {
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let jitter = self.sim.jitter.mul_f64(sample);
        let mut at = (now + self.sim.latency + jitter).max(self.last);
        if let Some(end) = self.sim.stall.and_then(|s| s.end_of_stall_at(at)) {
            at = end;
        }
        self.last = at;
        at
    }

    /// Whether the link is stalled at `now` (nothing is delivered until the stall ends).
    pub fn stalled_at(&self, now: Duration) -> bool {
        self.sim
            .stall
            .is_some_and(|s| s.end_of_stall_at(now).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sim(latency_ms: u64, jitter_ms: u64, stall: Option<(u64, u64)>) -> NetSim {
        NetSim {
            latency: ms(latency_ms),
            jitter: ms(jitter_ms),
            stall: stall.map(|(d, e)| Stall::new(ms(d), ms(e)).unwrap()),
        }
    }

    #[test]
    fn off_is_no_delay_and_not_enabled() {
        let off = NetSim::default();
        assert_eq!(off.enabled(), None);
        let mut s = Schedule::new(off);
        for t in [0, 5, 5, 17, 1000] {
            assert_eq!(s.deliver(ms(t), 0.9), ms(t));
        }
        assert!(sim(1, 0, None).enabled().is_some());
    }

    #[test]
    fn latency_is_added_once_per_direction() {
        let mut s = Schedule::new(sim(75, 0, None));
        assert_eq!(s.deliver(ms(10), 0.5), ms(85));
    }

    #[test]
    fn a_later_message_never_overtakes() {
        let mut s = Schedule::new(sim(50, 40, None));
        let first = s.deliver(Duration::ZERO, 0.99);
        let second = s.deliver(MS, 0.0);
        assert_eq!(second, first, "held behind the first, not before it");
    }

    #[test]
    fn a_stall_holds_everything_until_it_ends() {
        // 200 ms stalls every second: [1000, 1200), [2000, 2200), ...
        let mut s = Schedule::new(sim(10, 0, Some((200, 1000))));
        assert_eq!(s.deliver(ms(500), 0.0), ms(510));
        assert!(s.stalled_at(ms(1100)));
        assert!(!s.stalled_at(ms(1200)));
        assert!(!s.stalled_at(ms(100)), "no stall in the first period");
        assert_eq!(s.deliver(ms(995), 0.0), ms(1200));
        assert_eq!(s.deliver(ms(1100), 0.0), ms(1200));
        assert_eq!(s.deliver(ms(1195), 0.0), ms(1205));
        assert_eq!(s.deliver(ms(2190), 0.0), ms(2200));
    }

    #[test]
    fn bad_stalls_and_delays_are_refused() {
        assert!(Stall::new(MS, MS).is_err());
        assert!(Stall::new(Duration::ZERO, MS).is_err());
        assert!(check_delay(MAX_DELAY).is_ok());
        assert!(check_delay(MAX_DELAY + MS).is_err());
        let parse = |s: &str| {
            s.strip_suffix("ms")
                .and_then(|n| n.parse::<u64>().ok())
                .map(ms)
                .ok_or_else(|| format!("bad {s}"))
        };
        assert_eq!(
            Stall::parse_with("300ms/5000ms", parse),
            Ok(Stall::new(ms(300), ms(5000)).unwrap())
        );
        assert!(Stall::parse_with("300ms", parse).is_err());
        assert!(Stall::parse_with("5000ms/300ms", parse).is_err());
    }

    proptest! {
        #[test]
        fn deliveries_are_in_order_within_bounds_and_outside_stalls(
            latency in 0u64..300,
            jitter in 0u64..100,
            stall in proptest::option::of((1u64..500, 500u64..3000)),
            sends in proptest::collection::vec((0u64..200, 0.0f64..1.0), 1..200),
        ) {
            let stall = stall.filter(|(d, e)| d < e);
            let sim = sim(latency, jitter, stall);
            let mut s = Schedule::new(sim);
            let mut now = Duration::ZERO;
            let mut prev = Duration::ZERO;
            for (gap, sample) in sends {
                now += ms(gap);
                let at = s.deliver(now, sample);
                prop_assert!(at >= prev, "FIFO");
                prop_assert!(at >= now + sim.latency);
                prop_assert!(!s.stalled_at(at), "delivered during a stall");
                let bound = (now + sim.latency + sim.jitter).max(prev);
                if at > bound {
                    // Past the bound only when a stall held it: then it is a stall's end.
                    let st = sim.stall.expect("only a stall delays past the bound");
                    prop_assert_eq!(at.as_nanos() % st.every.as_nanos(), st.duration.as_nanos());
                }
                prev = at;
            }
        }

        #[test]
        fn without_stalls_or_backlog_the_delay_is_latency_plus_jitter(
            latency in 0u64..1000,
            jitter in 0u64..1000,
            sample in 0.0f64..1.0,
        ) {
            let sim = sim(latency, jitter, None);
            let at = Schedule::new(sim).deliver(ms(7), sample);
            prop_assert!(at >= ms(7) + sim.latency);
            prop_assert!(at <= ms(7) + sim.latency + sim.jitter);
        }
    }
}
