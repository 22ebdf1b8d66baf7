//! The bot's side of a simulated network link (`--simulate-*`, `ConnectOptions::simulate`):
//! what a connection reads is held until its delivery time before the frame parser sees it,
//! and what it writes is held before the socket gets it (`wire::FrameWriter`). The schedule
//! (latency, jitter, stalls, order kept) is `protocol::netsim`'s; this is its clock and queue.

use std::collections::VecDeque;

use protocol::netsim::{NetSim, Schedule};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

/// Bytes read from the socket and not yet delivered: past this the client stops reading, as a
/// full TCP window would, until the parser has taken some.
pub const MAX_HELD_INBOUND: usize = 4 * 1024 * 1024;

/// One direction of a simulated link: delivery times on a clock of its own.
#[derive(Debug)]
pub struct Link {
    epoch: Instant,
    schedule: Schedule,
    rng: SmallRng,
}

impl Link {
    /// A link with `sim`'s settings, its clock starting now.
    pub fn new(sim: NetSim) -> Self {
        Self {
            epoch: Instant::now(),
            schedule: Schedule::new(sim),
            rng: SmallRng::seed_from_u64(rand::random()),
        }
    }

    /// When something sent now is delivered (never before what was sent before it).
    pub fn deliver(&mut self) -> Instant {
        let sample: f64 = self.rng.random();
        self.epoch + self.schedule.deliver(self.epoch.elapsed(), sample)
    }
}

/// What the socket gave: bytes, or the end of the stream (`Some(why)` for an error).
#[derive(Debug)]
pub enum Chunk {
    /// Bytes, in order.
    Bytes(Vec<u8>),
    /// The stream ended: EOF (`None`) or an error.
    End(Option<String>),
}

/// The incoming direction: chunks read, each waiting for its delivery time.
#[derive(Debug)]
pub struct Inbound {
    link: Link,
    held: VecDeque<(Instant, Chunk)>,
    held_bytes: usize,
    ended: bool,
}

impl Inbound {
    /// Nothing held yet.
    pub fn new(sim: NetSim) -> Self {
        Self {
            link: Link::new(sim),
            held: VecDeque::new(),
            held_bytes: 0,
            ended: false,
        }
    }

    /// Whether to read more from the socket: under the limit and the stream not over.
    pub fn wants_more(&self) -> bool {
        !self.ended && self.held_bytes < MAX_HELD_INBOUND
    }

    /// The socket gave `chunk` now.
    pub fn arrived(&mut self, chunk: Chunk) {
        match &chunk {
            Chunk::Bytes(b) => self.held_bytes += b.len(),
            Chunk::End(_) => self.ended = true,
        }
        let at = self.link.deliver();
        self.held.push_back((at, chunk));
    }

    /// The next chunk due by `now`, in order.
    pub fn due(&mut self, now: Instant) -> Option<Chunk> {
        if self.held.front()?.0 > now {
            return None;
        }
        let (_, chunk) = self.held.pop_front()?;
        if let Chunk::Bytes(b) = &chunk {
            self.held_bytes -= b.len();
        }
        Some(chunk)
    }

    /// Whether the next held chunk is the end of the stream.
    pub fn end_is_next(&self) -> bool {
        matches!(self.held.front(), Some((_, Chunk::End(_))))
    }

    /// When the next held chunk is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.front().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn chunks_come_out_in_order_at_their_time() {
        let sim = NetSim {
            latency: Duration::from_millis(50),
            ..NetSim::default()
        };
        let mut inbound = Inbound::new(sim);
        let start = Instant::now();
        inbound.arrived(Chunk::Bytes(vec![1, 2]));
        inbound.arrived(Chunk::End(None));
        assert!(!inbound.wants_more(), "nothing is read after the end");
        let first = inbound.next_due().expect("held");
        assert!(first >= start + Duration::from_millis(50));
        assert!(
            inbound.due(first - Duration::from_millis(1)).is_none(),
            "not yet"
        );
        assert!(matches!(inbound.due(first), Some(Chunk::Bytes(b)) if b == [1, 2]));
        let second = inbound.next_due().expect("the end is held too");
        assert!(second >= first);
        assert!(matches!(inbound.due(second), Some(Chunk::End(None))));
        assert!(inbound.due(second).is_none());
    }
}
