//! The hand-off from a room (and the connection's reader) to a connection's writer.
//!
//! Never waits on the connection (invariant 2): a snapshot replaces any the writer has not
//! taken yet (latest wins, and the replaced one is counted as stale), reliable messages go to a
//! bounded queue whose overflow closes the connection, and the lock is only held to swap values.
//! A snapshot waits in its slot while the client's `SendWindow` is full; an ack that opens it
//! wakes the writer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::send_window::SendWindow;

/// No ack yet.
pub const NO_ACK: u32 = u32::MAX;
/// Both acks unset (newest in the high half, the one before in the low half).
const NO_ACKS: u64 = u64::MAX;

/// What the writer sends next, in priority order.
#[derive(Debug)]
pub enum Outgoing<S> {
    /// A WebSocket control frame reply produced by the reader (pong, close echo).
    Control(fastwebsockets::OpCode, Vec<u8>),
    /// A reliable message, in order (a `Reject` goes out before its close).
    Reliable(Bytes),
    /// Close with this code and reason, then stop.
    Close(u16, String),
    /// The newest snapshot: an order the writer builds from its published tick.
    Snapshot(S),
}

struct Inner<S> {
    close: Option<(u16, String)>,
    control: VecDeque<(fastwebsockets::OpCode, Vec<u8>)>,
    reliable: VecDeque<Bytes>,
    snapshot: Option<(u32, S)>,
    window: SendWindow,
}

/// `S`: what a snapshot is until the writer takes it (the room's `Pending` order).
pub struct Outbox<S> {
    inner: Mutex<Inner<S>>,
    notify: Notify,
    reliable_cap: usize,
    /// The newest snapshot tick the client applied (high half) and the ack before it (low
    /// half), `NO_ACK` when unset: one atomic, so a writer reads a consistent pair.
    acked: AtomicU64,
    /// The newest snapshot tick handed over: acks past it are bogus and ignored (one would
    /// otherwise pin this client to full snapshots, since acks only move forward).
    sent_tick: AtomicU32,
    /// The newest snapshot tick the writer took (sent, or on its way): with the ack, how far
    /// the client lags behind what it was sent.
    taken_tick: AtomicU32,
    /// Snapshots the writer took, for the client's send rate.
    taken: AtomicU64,
    /// Snapshots replaced before the writer took them.
    stale_dropped: AtomicU64,
    /// When the peer last sent anything (ms since `created`), for the idle timeout.
    last_heard_ms: AtomicU64,
    created: std::time::Instant,
}

/// What `Outbox::put_snapshot` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Put {
    /// A snapshot was pending (now dropped as stale).
    pub replaced: bool,
    /// The client's send window is full: the snapshot waits for an ack (it is behind).
    pub window_full: bool,
}

/// A control frame queue longer than this means the peer floods pings: close it.
const CONTROL_CAP: usize = 16;

impl<S> Outbox<S> {
    /// `window`: how many snapshots the client may have unacked.
    pub fn new(reliable_cap: usize, window: SendWindow) -> Self {
        Self {
            inner: Mutex::new(Inner {
                close: None,
                control: VecDeque::new(),
                reliable: VecDeque::new(),
                snapshot: None,
                window,
            }),
            notify: Notify::new(),
            reliable_cap,
            acked: AtomicU64::new(NO_ACKS),
            sent_tick: AtomicU32::new(0),
            taken_tick: AtomicU32::new(NO_ACK),
            taken: AtomicU64::new(0),
            stale_dropped: AtomicU64::new(0),
            last_heard_ms: AtomicU64::new(0),
            created: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<S>> {
        // A panic while holding this lock cannot leave it inconsistent (plain swaps): recover.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the pending snapshot with this one of `tick`.
    pub fn put_snapshot(&self, tick: u32, msg: S) -> Put {
        self.sent_tick.store(tick, Ordering::Relaxed);
        let mut inner = self.lock();
        let old = inner.snapshot.replace((tick, msg));
        let replaced = old.is_some();
        let window_full = inner.window.is_full();
        // A writer whose window is full could not take it: the ack that opens the window
        // wakes it instead (a wake-up per client per tick is what overload cannot afford).
        let takeable = inner.window.open(std::time::Instant::now);
        drop(inner);
        // Outside the lock: the replaced order may hold the last reference to its tick.
        drop(old);
        if replaced {
            self.stale_dropped.fetch_add(1, Ordering::Relaxed);
        }
        if takeable {
            self.notify.notify_one();
        }
        Put {
            replaced,
            window_full,
        }
    }

    /// Queues a reliable message; on overflow, closes the connection with `TOO_SLOW`.
    pub fn put_reliable(&self, bytes: Bytes) -> bool {
        let mut inner = self.lock();
        let ok = inner.reliable.len() < self.reliable_cap;
        if ok {
            inner.reliable.push_back(bytes);
        } else if inner.close.is_none() {
            // The client is not reading: drop what it would not read anyway, so the close
            // frame is next.
            inner.reliable.clear();
            inner.close = Some((
                protocol::codes::TOO_SLOW,
                "reliable queue overflow: client reads too slowly".into(),
            ));
        }
        drop(inner);
        self.notify.notify_one();
        ok
    }

    /// Queues a control frame the reader owes the peer (pong, close echo); a flood of them
    /// closes the connection.
    pub fn put_control(&self, opcode: fastwebsockets::OpCode, payload: Vec<u8>) {
        let mut inner = self.lock();
        if inner.control.len() < CONTROL_CAP {
            inner.control.push_back((opcode, payload));
        } else if inner.close.is_none() {
            inner.close = Some((
                protocol::codes::POLICY_VIOLATION,
                "too many control frames".into(),
            ));
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Asks the writer to close. The first reason wins.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let mut inner = self.lock();
        if inner.close.is_none() {
            inner.close = Some((code, reason.into()));
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// The next thing to send, without waiting.
    pub fn take(&self) -> Option<Outgoing<S>> {
        let mut inner = self.lock();
        if let Some((op, p)) = inner.control.pop_front() {
            return Some(Outgoing::Control(op, p));
        }
        if let Some(b) = inner.reliable.pop_front() {
            return Some(Outgoing::Reliable(b));
        }
        if let Some((code, reason)) = inner.close.take() {
            return Some(Outgoing::Close(code, reason));
        }
        if !inner.window.open(std::time::Instant::now) {
            return None;
        }
        let (tick, msg) = inner.snapshot.take()?;
        self.taken_tick.store(tick, Ordering::Relaxed);
        self.taken.fetch_add(1, Ordering::Relaxed);
        Some(Outgoing::Snapshot(msg))
    }

    /// Ticks between the newest snapshot the writer took and the newest ack: snapshots in
    /// flight or waiting in the client's socket. 0 before the first ack or snapshot (a client
    /// that never acks is not lagging: it gets full snapshots, at `--full-rate`).
    pub fn ack_lag(&self) -> u32 {
        match (self.taken_tick.load(Ordering::Relaxed), self.acked()) {
            (NO_ACK, _) | (_, None) => 0,
            (taken, Some(acked)) => taken.saturating_sub(acked),
        }
    }

    /// Waits until something may be ready to `take`.
    pub async fn ready(&self) {
        self.notify.notified().await
    }

    /// Snapshots the writer took (to send) so far.
    pub fn snapshots_taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// Snapshots replaced before the writer took them.
    pub fn stale_dropped(&self) -> u64 {
        self.stale_dropped.load(Ordering::Relaxed)
    }

    /// The snapshot of `tick` was sent (one the writer took but held back is not in flight).
    pub fn snapshot_sent(&self, tick: u32) {
        self.lock().window.sent(tick, std::time::Instant::now());
    }

    /// Whether a snapshot waits for the writer.
    pub fn has_pending_snapshot(&self) -> bool {
        self.lock().snapshot.is_some()
    }

    /// Reliable messages waiting for the writer.
    pub fn reliable_len(&self) -> usize {
        self.lock().reliable.len()
    }

    /// The peer sent something (any frame).
    pub fn heard(&self, now: std::time::Instant) {
        let ms = now.saturating_duration_since(self.created).as_millis() as u64;
        self.last_heard_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the peer last sent anything.
    pub fn silent_for(&self) -> std::time::Duration {
        let heard = std::time::Duration::from_millis(self.last_heard_ms.load(Ordering::Relaxed));
        self.created.elapsed().saturating_sub(heard)
    }

    /// The client acked snapshot `tick` (ignored unless newer than its last ack and not past
    /// the newest snapshot handed over); an ack that opens a full send window wakes the writer.
    pub fn set_acked(&self, tick: u32) {
        if tick > self.sent_tick.load(Ordering::Relaxed) {
            return;
        }
        // Acks only move forward: a reordered old ack must not pull the baseline back.
        let moved = self
            .acked
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                let newest = (cur >> 32) as u32;
                (newest == NO_ACK || tick > newest)
                    .then_some((u64::from(tick) << 32) | u64::from(newest))
            })
            .is_ok();
        if moved {
            let mut inner = self.lock();
            let opened = inner.window.acked(tick, std::time::Instant::now());
            let waiting = inner.snapshot.is_some();
            drop(inner);
            if opened && waiting {
                self.notify.notify_one();
            }
        }
    }

    /// The newest acked tick.
    pub fn acked(&self) -> Option<u32> {
        self.acked_pair().0
    }

    /// The newest acked tick and the acked tick before it.
    pub fn acked_pair(&self) -> (Option<u32>, Option<u32>) {
        let v = self.acked.load(Ordering::Relaxed);
        let get = |t: u32| Some(t).filter(|&t| t != NO_ACK);
        (get((v >> 32) as u32), get(v as u32))
    }

    /// Forgets the acks, so the next snapshot is full (benchmarks set acks with it).
    pub fn reset_ack(&self) {
        self.acked.store(NO_ACKS, Ordering::Relaxed);
        self.lock().window.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outbox = crate::outbox::Outbox<&'static [u8]>;

    fn outbox(reliable_cap: usize) -> Outbox {
        Outbox::new(
            reliable_cap,
            SendWindow::new(3, std::time::Duration::from_secs(3600)),
        )
    }

    fn snap(b: &'static [u8]) -> &'static [u8] {
        b
    }

    #[test]
    fn newest_snapshot_wins_and_stale_ones_are_counted() {
        let o = outbox(4);
        assert!(!o.put_snapshot(1, snap(b"1")).replaced);
        assert!(o.put_snapshot(2, snap(b"2")).replaced);
        assert!(o.put_snapshot(3, snap(b"3")).replaced);
        assert_eq!(o.stale_dropped(), 2);
        assert_eq!(o.snapshots_taken(), 0);
        assert!(matches!(o.take(), Some(Outgoing::Snapshot(m)) if m == snap(b"3")));
        assert!(o.take().is_none());
        assert_eq!(o.snapshots_taken(), 1);
    }

    #[test]
    fn the_ack_lag_counts_from_the_newest_snapshot_taken() {
        let o = outbox(4);
        assert_eq!(o.ack_lag(), 0);
        o.put_snapshot(10, snap(b"a"));
        o.take();
        assert_eq!(o.ack_lag(), 0, "no ack yet");
        o.set_acked(10);
        o.put_snapshot(11, snap(b"b"));
        assert_eq!(o.ack_lag(), 0, "put is not sent");
        o.take();
        o.put_snapshot(12, snap(b"c"));
        o.take();
        assert_eq!(o.ack_lag(), 2);
        o.set_acked(12);
        assert_eq!(o.ack_lag(), 0);
    }

    #[test]
    fn reliable_comes_before_snapshots_and_overflow_closes() {
        let o = outbox(2);
        o.put_snapshot(1, snap(b"s"));
        assert!(o.put_reliable(Bytes::from_static(b"a")));
        assert!(o.put_reliable(Bytes::from_static(b"b")));
        assert!(matches!(o.take(), Some(Outgoing::Reliable(b)) if &b[..] == b"a"));
        assert!(o.put_reliable(Bytes::from_static(b"c")));
        assert!(!o.put_reliable(Bytes::from_static(b"d")));
        assert!(
            matches!(o.take(), Some(Outgoing::Close(code, _)) if code == protocol::codes::TOO_SLOW)
        );
    }

    #[test]
    fn a_reject_goes_out_before_its_close() {
        let o = outbox(2);
        o.put_reliable(Bytes::from_static(b"reject"));
        o.close(4000, "version");
        assert!(matches!(o.take(), Some(Outgoing::Reliable(_))));
        assert!(matches!(o.take(), Some(Outgoing::Close(4000, _))));
    }

    #[test]
    fn acks_only_move_forward_and_never_past_what_was_sent() {
        let o = outbox(1);
        assert_eq!(o.acked(), None);
        o.set_acked(5);
        assert_eq!(o.acked(), None, "nothing was sent yet");
        o.put_snapshot(20, snap(b"s"));
        o.set_acked(u32::MAX - 1);
        assert_eq!(o.acked(), None, "a bogus ack is ignored");
        o.set_acked(10);
        o.set_acked(7);
        assert_eq!(o.acked(), Some(10));
        o.set_acked(11);
        assert_eq!(o.acked_pair(), (Some(11), Some(10)));
    }
}
