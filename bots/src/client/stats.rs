//! What one connection measured: counters, and latency samples in fixed-size histograms (so a
//! long run costs no more memory than a short one).

use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

use hdrhistogram::Histogram;
use protocol::TypeDesc;

/// Latencies are recorded in microseconds up to a minute, to 2 significant digits (1%): about
/// 20 KB per histogram, which matters with a thousand bots.
pub const LATENCY_MAX_US: u64 = 60_000_000;
const LATENCY_SIGFIG: u8 = 2;

/// An empty latency histogram with the bounds every bot uses, so histograms can be added up.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG).expect("valid histogram bounds")
}

/// Records a duration in microseconds, clamped into the histogram's range.
pub fn record_latency(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.clamp(1, LATENCY_MAX_US));
}

/// Plain counts. `Copy`, so a bot can take one at the start of its measured window and subtract
/// it at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Snapshots applied (and verified, when they carried a checksum).
    pub snapshots: u64,
    /// Payload bytes of every server message.
    pub bytes_in: u64,
    /// Ticks skipped between consecutive snapshots: the server replaced a snapshot this client
    /// had not taken yet (latest wins).
    pub stale_dropped: u64,
    /// Snapshots whose checksum this client's world did not reproduce.
    pub checksum_mismatches: u64,
    /// Undecodable or unexpected messages, snapshots out of order, unknown baselines, deltas
    /// that do not apply.
    pub protocol_errors: u64,
    /// Snapshots against a baseline this client had dropped because it fell more than the
    /// ring's capacity behind (client overload, not a server fault).
    pub fell_behind: u64,
    /// Room events every game has (`ServerMsg::Event`: joins, leaves, chat, notices).
    pub events: u64,
    /// Game-declared events (`ServerMsg::GameEvent`).
    pub game_events: u64,
    /// Inputs sent (each may carry an ack).
    pub inputs_sent: u64,
    /// Standalone `Ack` frames (acks that could not ride on an input).
    pub acks_sent: u64,
    /// Messages not sent because the writer's queue was full.
    pub send_queue_full: u64,
}

impl Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            snapshots: self.snapshots - o.snapshots,
            bytes_in: self.bytes_in - o.bytes_in,
            stale_dropped: self.stale_dropped - o.stale_dropped,
            checksum_mismatches: self.checksum_mismatches - o.checksum_mismatches,
            protocol_errors: self.protocol_errors - o.protocol_errors,
            fell_behind: self.fell_behind - o.fell_behind,
            events: self.events - o.events,
            game_events: self.game_events - o.game_events,
            inputs_sent: self.inputs_sent - o.inputs_sent,
            acks_sent: self.acks_sent - o.acks_sent,
            send_queue_full: self.send_queue_full - o.send_queue_full,
        }
    }
}

impl Add for Counters {
    type Output = Counters;
    fn add(self, o: Counters) -> Counters {
        Counters {
            snapshots: self.snapshots + o.snapshots,
            bytes_in: self.bytes_in + o.bytes_in,
            stale_dropped: self.stale_dropped + o.stale_dropped,
            checksum_mismatches: self.checksum_mismatches + o.checksum_mismatches,
            protocol_errors: self.protocol_errors + o.protocol_errors,
            fell_behind: self.fell_behind + o.fell_behind,
            events: self.events + o.events,
            game_events: self.game_events + o.game_events,
            inputs_sent: self.inputs_sent + o.inputs_sent,
            acks_sent: self.acks_sent + o.acks_sent,
            send_queue_full: self.send_queue_full + o.send_queue_full,
        }
    }
}

impl AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        *self = *self + o;
    }
}

/// The name game events whose id the schema does not declare are counted under (each one is
/// also a protocol error). Not a name a game would give an event, so it cannot hide one.
pub const UNKNOWN_GAME_EVENT: &str = "(unknown)";

/// Game events received (`ServerMsg::GameEvent`), by event id: one count per event the schema
/// declares at most, so memory is bounded by the schema however long the connection lives.
/// Counted when they arrive, before their values are decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GameEventCounts {
    /// Indexed by event id (`schema.events[id]`); only as long as the highest id seen.
    pub by_id: Vec<u64>,
    /// Events with an id the schema does not declare.
    pub unknown: u64,
}

impl GameEventCounts {
    /// Counts one event `id` from a server whose schema declares `declared` events.
    pub fn count(&mut self, id: u16, declared: usize) {
        let i = usize::from(id);
        if i >= declared {
            self.unknown += 1;
            return;
        }
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, 0);
        }
        self.by_id[i] += 1;
    }

    /// The counts by name (`events`: the schema's, whose ids the counts are of), unknown ids
    /// under [`UNKNOWN_GAME_EVENT`]; events never received are left out.
    pub fn named<'a>(&'a self, events: &'a [TypeDesc]) -> impl Iterator<Item = (&'a str, u64)> {
        let declared = self.by_id.iter().enumerate().map(|(id, &n)| {
            let name = events
                .get(id)
                .map_or(UNKNOWN_GAME_EVENT, |e| e.name.as_str());
            (name, n)
        });
        declared
            .chain(std::iter::once((UNKNOWN_GAME_EVENT, self.unknown)))
            .filter(|&(_, n)| n > 0)
    }
}

/// Everything one client measured since it connected (or since `Client::clear_samples`, for
/// the histograms).
#[derive(Clone, Debug)]
pub struct ClientStats {
    /// Plain counts since the connection started.
    pub counters: Counters,
    /// Game events received over the whole connection, by id (for the report, by name).
    pub game_events: GameEventCounts,
    /// Time from sending input n to receiving the first snapshot whose `input_seq >= n`, in µs.
    pub input_latency_us: Histogram<u64>,
    /// Ping round trips, in µs.
    pub rtt_us: Histogram<u64>,
}

impl Default for ClientStats {
    fn default() -> Self {
        Self {
            counters: Counters::default(),
            game_events: GameEventCounts::default(),
            input_latency_us: latency_histogram(),
            rtt_us: latency_histogram(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_subtract_to_a_window() {
        let start = Counters {
            snapshots: 10,
            bytes_in: 1000,
            ..Counters::default()
        };
        let end = Counters {
            snapshots: 70,
            bytes_in: 7000,
            stale_dropped: 2,
            ..Counters::default()
        };
        let w = end - start;
        assert_eq!((w.snapshots, w.bytes_in, w.stale_dropped), (60, 6000, 2));
        assert_eq!(start + w, end);
    }

    #[test]
    fn game_events_count_by_id_and_name_unknown_ids_apart() {
        let events: Vec<TypeDesc> = ["hit", "announce", "spawn"]
            .into_iter()
            .enumerate()
            .map(|(id, name)| TypeDesc {
                id: id as u16,
                name: name.into(),
                fields: Vec::new(),
            })
            .collect();
        let mut c = GameEventCounts::default();
        for id in [1, 0, 1, 1, 99, u16::MAX] {
            c.count(id, events.len());
        }
        // Nothing beyond the highest id received is kept, nor anything for unknown ids.
        assert_eq!((c.by_id.as_slice(), c.unknown), (&[1, 3][..], 2));
        let named: Vec<_> = c.named(&events).collect();
        assert_eq!(
            named,
            [("hit", 1), ("announce", 3), (UNKNOWN_GAME_EVENT, 2)]
        );
        // Read against a shorter schema (never the case for one connection), ids past it are
        // unknown rather than a panic.
        let named: Vec<_> = c.named(&events[..1]).collect();
        assert_eq!(
            named,
            [("hit", 1), (UNKNOWN_GAME_EVENT, 3), (UNKNOWN_GAME_EVENT, 2)]
        );
        assert_eq!(GameEventCounts::default().named(&events).count(), 0);
    }

    #[test]
    fn latencies_are_clamped_into_range() {
        let mut h = latency_histogram();
        record_latency(&mut h, Duration::ZERO);
        record_latency(&mut h, Duration::from_secs(3600));
        record_latency(&mut h, Duration::from_millis(20));
        assert_eq!(h.len(), 3);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= LATENCY_MAX_US);
        let p50 = h.value_at_quantile(0.5);
        assert!((19_800..=20_200).contains(&p50), "{p50}");
    }
}
