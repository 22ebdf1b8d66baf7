//! Per-tick snapshot encoding: one delta encoding per distinct baseline, shared by every
//! client with that baseline; each client gets its small header in front.

use bytes::Bytes;
use protocol::{Delta, EntityTable, SnapshotHeader, codec};

/// Encoded deltas of the current tick by baseline (`None`: full). Reused across ticks.
#[derive(Default)]
pub struct DeltaCache {
    entries: Vec<(Option<u32>, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    scratch: Delta,
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

    /// The encoded delta from `base` (the table at tick `baseline`) to `now`.
    pub fn get(
        &mut self,
        baseline: Option<u32>,
        base: Option<&EntityTable>,
        now: &EntityTable,
    ) -> &[u8] {
        if let Some(i) = self.entries.iter().position(|(b, _)| *b == baseline) {
            return &self.entries[i].1;
        }
        let empty = EntityTable::new();
        self.scratch.build(base.unwrap_or(&empty), now);
        let mut buf = self.spare.pop().unwrap_or_default();
        codec::encode_delta(&self.scratch, &mut buf);
        self.encodes += 1;
        self.entries.push((baseline, buf));
        &self.entries.last().expect("just pushed").1
    }
}

/// One client's snapshot message: its header, then the shared delta bytes.
pub fn client_snapshot(header: &SnapshotHeader, delta: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(24 + delta.len());
    codec::encode_snapshot(header, delta, &mut out);
    Bytes::from(out)
}
