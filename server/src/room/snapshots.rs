//! Per-tick snapshot encoding: the shared part of each delta is encoded once per distinct
//! (baseline, second baseline) and shared by every client with that pair; each client gets its
//! small header in front and its private part behind.

use bytes::Bytes;
use protocol::state_delta::{Baseline, Encoder};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable, codec};

/// The baselines a delta is taken against: `(baseline, baseline2)`; `(None, None)` is full.
pub type BaseKey = (Option<u32>, Option<u32>);

/// Encoded shared deltas of the current tick by baselines. Reused across ticks.
#[derive(Default)]
pub struct DeltaCache {
    entries: Vec<(BaseKey, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    encoder: Encoder,
    private: Vec<u8>,
    /// Encodings built this tick (for stats and benches).
    pub encodes: usize,
}

impl DeltaCache {
    /// Starts a new tick.
    pub fn clear(&mut self) {
        self.spare.extend(self.entries.drain(..).map(|(_, mut v)| {
            v.clear();
            v
        }));
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
    ) -> &[u8] {
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == key) {
            return &self.entries[i].1;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        self.encoder.shared(plan, base, now, tick, &mut buf);
        self.encodes += 1;
        self.entries.push((key, buf));
        &self.entries.last().expect("just pushed").1
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
    ) -> Bytes {
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
        let mut out = Vec::with_capacity(32 + shared.len() + private.len());
        codec::encode_snapshot_header(header, &mut out);
        out.extend_from_slice(shared);
        out.extend_from_slice(&private);
        self.private = private;
        Bytes::from(out)
    }
}
