//! Per-tick snapshot encoding: the shared part of each delta is encoded once per distinct
//! (baseline, second baseline) and shared by every client with that pair; each client gets its
//! small header in front and its private part behind.

use bytes::Bytes;
use protocol::state_delta::{Baseline, Encoder};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable, codec};

use crate::outbox::SnapshotMsg;

/// The baselines a delta is taken against: `(baseline, baseline2)`; `(None, None)` is full.
pub type BaseKey = (Option<u32>, Option<u32>);

/// Encoded shared deltas of the current tick by baselines; outboxes hold references to them
/// until their writers have sent them.
#[derive(Default)]
pub struct DeltaCache {
    entries: Vec<(BaseKey, Bytes)>,
    encoder: Encoder,
    private: Vec<u8>,
    /// Encodings built this tick (for stats and benches).
    pub encodes: usize,
}

impl DeltaCache {
    /// Starts a new tick.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.encodes = 0;
    }

    /// The shared part of the delta from `base` (at the key's ticks) to `now` at `tick`.
    pub fn shared(
        &mut self,
        plan: &Plan,
        key: BaseKey,
        base: Option<&Baseline<'_>>,
        now: &StateTable,
        tick: u32,
    ) -> Bytes {
        if let Some((_, bytes)) = self.entries.iter().find(|(k, _)| *k == key) {
            return bytes.clone();
        }
        let mut buf = Vec::new();
        self.encoder.shared(plan, base, now, tick, &mut buf);
        self.encodes += 1;
        let bytes = Bytes::from(buf);
        self.entries.push((key, bytes.clone()));
        bytes
    }

    /// One client's snapshot message: its header, the shared delta, its private part.
    #[allow(clippy::too_many_arguments)]
    pub fn client_snapshot(
        &mut self,
        plan: &Plan,
        header: &SnapshotHeader,
        key: BaseKey,
        base: Option<&Baseline<'_>>,
        now: &StateTable,
        own: EntityId,
        has_private: bool,
    ) -> SnapshotMsg {
        let tick = header.tick;
        let mut private = std::mem::take(&mut self.private);
        private.clear();
        if has_private {
            self.encoder
                .private(plan, own, base, now, tick, &mut private);
            // A section with no entry is left out: the delta simply ends.
            if private == [0] {
                private.clear();
            }
        }
        let shared = self.shared(plan, key, base, now, tick);
        let mut own = Vec::with_capacity(32 + private.len());
        codec::encode_snapshot_header(header, &mut own);
        let head_len = own.len();
        own.extend_from_slice(&private);
        self.private = private;
        SnapshotMsg {
            own: Bytes::from(own),
            head_len,
            shared,
        }
    }
}
