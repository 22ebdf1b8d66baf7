//! Predictive field-level snapshot deltas: what turns a client's acked baseline into the
//! state at a new tick. Byte layouts: `docs/protocol.md`, "Snapshot deltas".
//!
//! Against the baseline, every entity both tables hold is first *predicted* (each predicted
//! field per its `Predictor`; other fields keep their baseline value). The delta then lists
//! despawns, spawns (public fields in full) and updates: per entity, a mask of the fields that
//! differ from their prediction and their residuals (zig-zag LEB128; angles wrap). An entity
//! whose every field matches its prediction costs nothing. The lists come in *parts*, pieces
//! of the world each encoded once for every client that sees them (every part's despawns
//! apply before any part's spawns, so an entity may leave one part and enter another); the
//! encoder here writes one part, the whole world. A per-client private section follows the
//! parts: the same update format, for the client's own entity's private fields.

use serde::Serialize;

use crate::limits::{MAX_ENTITY_INDEX, MAX_LIST_LEN};
use crate::state::{
    EntityId, EntityRef, FieldPlan, Kind, Plan, Slot, Span, StateTable, TableError, TypePlan,
    angle_diff, predict, predict_exact,
};
use crate::varint::{Reader, put_i64, put_u64};

/// A table a delta is built against (or applied to): the client's acked tick, and for linear
/// predictors the acked tick before it.
#[derive(Clone, Copy, Debug)]
pub struct Baseline<'a> {
    /// The client's table at `tick`.
    pub table: &'a StateTable,
    /// The acked tick the delta is against (`SnapshotHeader::baseline`).
    pub tick: u32,
    /// The table at the acked tick before it, and that tick (`SnapshotHeader::baseline2`):
    /// for `Linear` predictors; `None` when the snapshot names none.
    pub second: Option<(&'a StateTable, u32)>,
}

/// A delta that does not decode, or does not fit the baseline it names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    /// Bytes that do not decode: a malformed varint, a list count larger than the bytes left,
    /// a string that is not UTF-8, bytes after the delta.
    #[error("malformed delta: {0}")]
    Malformed(&'static str),
    /// An entry the table cannot take: an index out of range, a spawn into a held slot, a
    /// despawn or update of an empty one, an unknown type.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A residual or spawn value that takes a cell out of the `i32` range.
    #[error("entity slot {0}: value out of the i32 range")]
    Overflow(u32),
    /// An update's mask names a field its type lacks, or one its section may not carry: a
    /// private field in a shared update, a public one in the private section, or a private
    /// entry for an entity that is not the client's own.
    #[error("entity slot {0}: field mask names fields its type does not have or may not send")]
    BadMask(u32),
}

impl From<&'static str> for DeltaError {
    fn from(e: &'static str) -> Self {
        DeltaError::Malformed(e)
    }
}

/// Reusable buffers for building deltas.
#[derive(Default)]
pub struct Encoder {
    lists: Lists,
    /// `shared`'s one part, kept so its buffers are reused.
    whole: Part,
    scratch: Vec<u8>,
    entry: Vec<u8>,
    base_buf: Vec<i32>,
    /// `part`'s slots to write: (slot, in the part at the baseline, now).
    todo: Vec<(u32, bool, bool)>,
}

/// When each slot's entity last left its prediction: the tick it appeared at, or the newest
/// tick whose recorded values were not the prediction from the tick recorded before. One that
/// has not since a baseline's tick is on its prediction from that baseline (exact dead
/// reckoning over many ticks is the sum of single ticks, and what the lanes cannot judge
/// counts as a departure every tick), so a part skips it without reading either table.
/// Advanced once per recorded tick, for every baseline at once.
#[derive(Clone, Debug, Default)]
pub struct Steady(Vec<u32>);

impl Steady {
    /// Moves on to `now`, recorded at `tick`, from `prev`: the table recorded before it, and
    /// its tick (`None`: the first).
    pub fn advance(
        &mut self,
        plan: &Plan,
        prev: Option<(&StateTable, u32)>,
        now: &StateTable,
        tick: u32,
    ) {
        let since = &mut self.0;
        match prev {
            None => {
                since.clear();
                since.resize(now.slot_count(), tick);
            }
            Some((p, at)) => {
                since.resize(since.len().max(p.slot_count()).max(now.slot_count()), tick);
                let ticks = i64::from(tick.wrapping_sub(at)).max(1);
                plan.scan(p, now, ticks, |i, _| since[i as usize] = tick);
            }
        }
    }

    /// `advance` when the recorder already knows which entities of `now` left their
    /// prediction from `prev` (the table recorded before, `None`: the first), or appeared:
    /// `moved`. Only the slots `prev` held and `now` does not are looked up (a despawn must
    /// never read as steady); no values are compared.
    pub fn advance_moved(
        &mut self,
        prev: Option<&StateTable>,
        now: &StateTable,
        moved: &[u32],
        tick: u32,
    ) {
        let since = &mut self.0;
        let Some(prev) = prev else {
            since.clear();
            since.resize(now.slot_count(), tick);
            return;
        };
        since.resize(
            since.len().max(prev.slot_count()).max(now.slot_count()),
            tick,
        );
        for &i in moved {
            since[i as usize] = tick;
        }
        for e in prev.iter() {
            if now.at(e.id.index).is_none() {
                since[e.id.index as usize] = tick;
            }
        }
    }

    /// Whether slot `i`'s entity has kept to its prediction from `base` to `tick`.
    pub fn since(&self, i: u32, base: u32, tick: u32) -> bool {
        self.0
            .get(i as usize)
            .is_some_and(|&s| tick.wrapping_sub(s) >= tick.wrapping_sub(base))
    }

    /// When slot `i`'s entity last left its prediction, for `Encoder::part`: `tick` (the
    /// tick `now` was recorded at) for a slot it does not know.
    pub fn tick_of(&self, i: u32, tick: u32) -> u32 {
        self.0.get(i as usize).copied().unwrap_or(tick)
    }
}

/// One part of a delta: its despawn, spawn and update lists, each with its count. Built by
/// `Encoder::part`; a client's delta is `write_parts` of the parts it sees (then its private
/// section).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part {
    /// The three lists, one after the other: one allocation, sized once.
    bytes: Vec<u8>,
    /// Where the spawn and the update lists start in `bytes`.
    starts: [usize; 2],
    /// What its lists hold.
    pub counts: DeltaCounts,
}

impl Part {
    /// Its bytes on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it has no bytes: not built yet (a built part has its three counts).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// List `k`: 0 despawns, 1 spawns, 2 updates, each with its count.
    #[inline]
    fn list(&self, k: usize) -> &[u8] {
        let [s, u] = self.starts;
        match k {
            0 => &self.bytes[..s],
            1 => &self.bytes[s..u],
            _ => &self.bytes[u..],
        }
    }
}

/// Writes the parts of a delta: their count, every part's despawns, every part's spawns,
/// every part's updates.
pub fn write_parts<'a>(parts: impl Iterator<Item = &'a Part> + Clone, out: &mut Vec<u8>) {
    out.reserve(parts.clone().map(Part::len).sum::<usize>() + 10);
    put_u64(out, parts.clone().count() as u64);
    for list in 0..3 {
        for l in parts.clone().map(|p| p.list(list)) {
            // Most lists of most parts are their count alone (an empty list): a push, not a
            // copy call.
            match l {
                [byte] => out.push(*byte),
                l => out.extend_from_slice(l),
            }
        }
    }
}

/// The three lists of the part being built.
#[derive(Default)]
struct Lists {
    despawns: Vec<u8>,
    spawns: Vec<u8>,
    updates: Vec<u8>,
    gaps: [Gaps; 3],
    counts: DeltaCounts,
}

impl Lists {
    fn clear(&mut self) {
        self.despawns.clear();
        self.spawns.clear();
        self.updates.clear();
        self.gaps = Default::default();
        self.counts = DeltaCounts::default();
    }

    /// Writes what `slot` says of index `i` between `bt` (the baseline's table) and `now`.
    #[allow(clippy::too_many_arguments)]
    fn slot(
        &mut self,
        plan: &Plan,
        base: Option<&Baseline<'_>>,
        bt: &StateTable,
        now: &StateTable,
        tick: u32,
        i: u32,
        slot: Slot,
        scratch: &mut Vec<u8>,
    ) {
        self.entity(
            plan,
            base,
            bt,
            now,
            tick,
            (i, bt.at(i), now.at(i)),
            slot,
            scratch,
        );
    }

    /// `slot`, given what the tables hold at index `i` (looked up once by the caller).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn entity(
        &mut self,
        plan: &Plan,
        base: Option<&Baseline<'_>>,
        bt: &StateTable,
        now: &StateTable,
        tick: u32,
        (i, b, n): (u32, Option<EntityRef<'_>>, Option<EntityRef<'_>>),
        slot: Slot,
        scratch: &mut Vec<u8>,
    ) {
        match (slot, b, n) {
            (Slot::Gone, Some(_), _) => self.despawn(i),
            (Slot::Differs | Slot::Check, Some(b), Some(n)) => {
                let Some(tp) = plan.types.get(usize::from(n.ty)) else {
                    return;
                };
                let base = base.expect("a baseline entity means a baseline");
                let span = span_for(base, tick, n.id, n.ty);
                if slot == Slot::Check && !differs(tp, &b, bt, &n, now, &span) {
                    return;
                }
                let gap = &mut self.gaps[2];
                if encode_update(
                    tp,
                    &tp.public,
                    &b,
                    bt,
                    &n,
                    now,
                    &span,
                    gap,
                    scratch,
                    &mut self.updates,
                ) {
                    self.counts.updates += 1;
                }
            }
            (Slot::Replaced, b, Some(n)) => {
                if b.is_some() {
                    self.despawn(i);
                }
                self.spawn(plan, now, &n);
            }
            (Slot::New, _, Some(n)) => self.spawn(plan, now, &n),
            _ => {}
        }
    }

    fn despawn(&mut self, i: u32) {
        put_u64(&mut self.despawns, u64::from(self.gaps[0].gap(i)));
        self.counts.despawns += 1;
    }

    fn spawn(&mut self, plan: &Plan, now: &StateTable, n: &EntityRef<'_>) {
        let s = &mut self.spawns;
        put_u64(s, u64::from(self.gaps[1].gap(n.id.index)));
        put_u64(s, u64::from(n.id.version));
        put_u64(s, u64::from(n.ty));
        if let Some(tp) = plan.types.get(usize::from(n.ty)) {
            for &f in &tp.public {
                encode_value(now, n, &tp.fields[usize::from(f)], f, s);
            }
        }
        self.counts.spawns += 1;
    }

    /// The lists with their counts, as they go on the wire.
    fn write(&self, part: &mut Part) {
        let c = self.counts;
        let out = &mut part.bytes;
        out.clear();
        // Each count takes at most 10 bytes.
        out.reserve(self.despawns.len() + self.spawns.len() + self.updates.len() + 30);
        for (k, (count, bytes)) in [c.despawns, c.spawns, c.updates]
            .into_iter()
            .zip([&self.despawns, &self.spawns, &self.updates])
            .enumerate()
        {
            if k > 0 {
                part.starts[k - 1] = out.len();
            }
            put_u64(out, count as u64);
            out.extend_from_slice(bytes);
        }
        part.counts = c;
    }
}

#[derive(Default)]
struct Gaps(u32);
impl Gaps {
    #[inline]
    fn gap(&mut self, index: u32) -> u32 {
        let g = index - self.0;
        self.0 = index + 1;
        g
    }
}

/// The span of entity `id` of type `ty`. The second baseline counts only if it holds the same
/// entity as the same type: an entity whose type changed under the same id (the delta respawned
/// it) must not be predicted from another type's cells, which may be private there.
fn span_for<'a>(base: &Baseline<'a>, tick: u32, id: EntityId, ty: u16) -> Span<'a> {
    Span {
        ticks: i64::from(tick.wrapping_sub(base.tick)).max(1),
        second: base.second.and_then(|(t2, tick2)| {
            let e = t2.get(id).filter(|e| e.ty == ty)?;
            Some((e.values, i64::from(base.tick.wrapping_sub(tick2))))
        }),
    }
}

/// Whether any public field of `n` differs from its prediction from `b`.
#[inline]
fn differs(
    tp: &TypePlan,
    b: &EntityRef<'_>,
    bt: &StateTable,
    n: &EntityRef<'_>,
    nt: &StateTable,
    span: &Span<'_>,
) -> bool {
    let (bv, nv) = (b.values, n.values);
    tp.exact_public.iter().any(|&(f, vf, num)| {
        let (f, vf) = (usize::from(f), usize::from(vf));
        nv[f] != predict_exact(bv[f], bv[vf], span.ticks, num)
    }) || tp
        .plain_public
        .iter()
        .any(|&f| nv[usize::from(f)] != bv[usize::from(f)])
        || tp.other_public.iter().any(|&f| {
            let fi = usize::from(f);
            nv[fi] != predict(&tp.fields[fi], fi, bv, span)
        })
        || strings_differ(tp, b, bt, n, nt)
}

/// Whether any public string field of `n` differs from `b`'s.
fn strings_differ(
    tp: &TypePlan,
    b: &EntityRef<'_>,
    bt: &StateTable,
    n: &EntityRef<'_>,
    nt: &StateTable,
) -> bool {
    tp.str_public
        .iter()
        .any(|&f| nt.string(n.id.index, f) != bt.string(b.id.index, f))
}

/// The residual of `now` against `pred` for a field of `kind`.
#[inline]
fn residual(kind: Kind, now: i32, pred: i32) -> i64 {
    match kind {
        Kind::Angle { bits } => angle_diff(i64::from(now), i64::from(pred), bits),
        _ => i64::from(now) - i64::from(pred),
    }
}

/// Appends one update entry's fields (`fields` in ascending id order) to `out` if any differs
/// from its prediction; returns whether it did.
#[allow(clippy::too_many_arguments)]
fn encode_update(
    tp: &TypePlan,
    fields: &[u16],
    b: &EntityRef<'_>,
    bt: &StateTable,
    n: &EntityRef<'_>,
    nt: &StateTable,
    span: &Span<'_>,
    gap: &mut Gaps,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> bool {
    let mut mask = 0u64;
    scratch.clear();
    for &f in fields {
        let fp = &tp.fields[usize::from(f)];
        let fi = usize::from(f);
        if fp.kind == Kind::Str {
            let s = nt.string(n.id.index, f);
            if s != bt.string(b.id.index, f) {
                mask |= 1 << f;
                put_u64(scratch, s.len() as u64);
                scratch.extend_from_slice(s.as_bytes());
            }
            continue;
        }
        let pred = predict(fp, fi, b.values, span);
        let r = residual(fp.kind, n.values[fi], pred);
        if r != 0 {
            mask |= 1 << f;
            put_i64(scratch, r);
        }
    }
    if mask == 0 {
        return false;
    }
    put_u64(out, u64::from(gap.gap(n.id.index)));
    put_u64(out, mask);
    out.extend_from_slice(scratch);
    true
}

fn encode_value(t: &StateTable, e: &EntityRef<'_>, fp: &FieldPlan, f: u16, out: &mut Vec<u8>) {
    if fp.kind == Kind::Str {
        let s = t.string(e.id.index, f);
        put_u64(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    } else {
        put_i64(out, i64::from(e.values[usize::from(f)]));
    }
}

/// What a delta held, for stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeltaCounts {
    /// Despawn entries.
    pub despawns: usize,
    /// Spawn entries.
    pub spawns: usize,
    /// Update entries: entities off their prediction.
    pub updates: usize,
}

impl Encoder {
    /// Appends the shared part of the delta from `base` (`None`: a full snapshot) to `now`
    /// at `tick`: every entity's public fields.
    pub fn shared(
        &mut self,
        plan: &Plan,
        base: Option<&Baseline<'_>>,
        now: &StateTable,
        tick: u32,
        out: &mut Vec<u8>,
    ) -> DeltaCounts {
        self.shared_with(plan, base, now, tick, None, out)
    }

    /// `shared`, skipping without a look the entities `steady` (of `now`, at `tick`) says
    /// kept to their prediction since the baseline: a pass over one array instead of a
    /// comparison of both tables.
    pub fn shared_steady(
        &mut self,
        plan: &Plan,
        base: Option<&Baseline<'_>>,
        now: &StateTable,
        tick: u32,
        steady: &Steady,
        out: &mut Vec<u8>,
    ) -> DeltaCounts {
        self.shared_with(plan, base, now, tick, Some(steady), out)
    }

    fn shared_with(
        &mut self,
        plan: &Plan,
        base: Option<&Baseline<'_>>,
        now: &StateTable,
        tick: u32,
        steady: Option<&Steady>,
        out: &mut Vec<u8>,
    ) -> DeltaCounts {
        self.lists.clear();
        let empty = StateTable::new(plan.stride);
        let bt = base.map_or(&empty, |b| b.table);
        let mut scratch = std::mem::take(&mut self.scratch);
        let ticks = base.map_or(1, |b| i64::from(tick.wrapping_sub(b.tick)).max(1));
        let lists = &mut self.lists;
        match (base, steady) {
            (Some(b), Some(steady)) => {
                for i in 0..bt.slot_count().max(now.slot_count()) as u32 {
                    if steady.since(i, b.tick, tick) {
                        continue;
                    }
                    if let Some(slot) = Slot::of(bt.at(i), now.at(i)) {
                        lists.slot(plan, base, bt, now, tick, i, slot, &mut scratch);
                    }
                }
            }
            _ => plan.scan(bt, now, ticks, |i, slot| {
                lists.slot(plan, base, bt, now, tick, i, slot, &mut scratch);
            }),
        }
        self.scratch = scratch;
        // One part: the whole world.
        self.lists.write(&mut self.whole);
        write_parts(std::iter::once(&self.whole), out);
        self.whole.counts
    }

    /// One part of a delta from `base` (`None`: against nothing) to `now` at `tick`: the
    /// entities that were in the part at the baseline (`base_slots` of the baseline's table)
    /// and those in it now (`now_slots` of `now`), both in ascending order. One that is only
    /// in `base_slots` is despawned (it left the part, or the world), one only in `now_slots`
    /// spawned (it entered), one in both updated against its prediction. Parts must not share
    /// an entity at either tick. Every slot in `base_slots` must hold an entity in the
    /// baseline's table (a placement of that table), every one in `now_slots` one in `now`. The second baseline is not used: it would depend on what the
    /// client saw at that tick too. `now_since`: for each of `now_slots`, when it last left
    /// its prediction (`Steady::tick_of`, of `now` at `tick`): gathered once per tick for
    /// every baseline's part, so the scan reads it in order.
    #[allow(clippy::too_many_arguments)]
    pub fn part(
        &mut self,
        plan: &Plan,
        base: Option<(&StateTable, u32, &[u32])>,
        now: &StateTable,
        now_slots: &[u32],
        now_since: &[u32],
        tick: u32,
        part: &mut Part,
    ) {
        self.lists.clear();
        let empty = StateTable::new(plan.stride);
        let (bt, base_tick, base_slots) = base.unwrap_or((&empty, tick, &[]));
        let baseline = Baseline {
            table: bt,
            tick: base_tick,
            second: None,
        };
        let baseline = base.map(|_| &baseline);
        let mut scratch = std::mem::take(&mut self.scratch);
        // First the slots to write, without touching the tables: most are steady. Both lists
        // ascend: a merge.
        let todo = &mut self.todo;
        todo.clear();
        let steady_from = tick.wrapping_sub(base_tick);
        let (mut bi, mut ni) = (0, 0);
        while bi < base_slots.len() && ni < now_slots.len() {
            let (x, y) = (base_slots[bi], now_slots[ni]);
            if x == y {
                // In the part at both ticks and on its prediction since the baseline: the
                // same entity, nothing to write, and no need to touch the tables.
                let steady = base.is_some() && tick.wrapping_sub(now_since[ni]) >= steady_from;
                if !steady {
                    todo.push((x, true, true));
                }
                bi += 1;
                ni += 1;
            } else if x < y {
                todo.push((x, true, false));
                bi += 1;
            } else {
                todo.push((y, false, true));
                ni += 1;
            }
        }
        todo.extend(base_slots[bi..].iter().map(|&x| (x, true, false)));
        todo.extend(now_slots[ni..].iter().map(|&y| (y, false, true)));
        // Then their cells, read ahead: the slots are scattered over the tables, each a cache
        // miss, and loads that depend on nothing overlap where the encoding below would take
        // them one at a time.
        let mut touched = 0;
        for &(i, was, is) in todo.iter() {
            if was && is {
                touched ^= bt.at(i).map_or(0, |e| e.values[0]);
            }
            if is {
                touched ^= now.at(i).map_or(0, |e| e.values[0]);
            }
        }
        std::hint::black_box(touched);
        for &(i, was, is) in todo.iter() {
            // Only in the part at the baseline: it left, whatever it is now. Its slot is not
            // looked up (a cache miss a despawn does not need: the baseline holds it).
            if !is {
                self.lists.despawn(i);
                continue;
            }
            let (b, n) = (was.then(|| bt.at(i)).flatten(), now.at(i));
            let slot = match Slot::of(b, n) {
                // Not steady: it almost always differs, and encoding finds out anyway (no
                // entry when no field does), where judging first read every field twice.
                Some(Slot::Check) => Slot::Differs,
                Some(slot) => slot,
                None => continue,
            };
            self.lists
                .entity(plan, baseline, bt, now, tick, (i, b, n), slot, &mut scratch);
        }
        self.scratch = scratch;
        self.lists.write(part);
    }

    /// Appends the private part for the client whose player is `own`: its private fields
    /// against its baseline (or against 0 when the entity is new to it).
    pub fn private(
        &mut self,
        plan: &Plan,
        own: EntityId,
        base: Option<&Baseline<'_>>,
        now: &StateTable,
        tick: u32,
        out: &mut Vec<u8>,
    ) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut entry = std::mem::take(&mut self.entry);
        entry.clear();
        let wrote = (|| {
            let n = now.get(own)?;
            let tp = plan.types.get(usize::from(n.ty))?;
            if tp.owner.is_empty() {
                return None;
            }
            let fresh;
            let zeros = StateTable::new(plan.stride);
            let held = base.and_then(|b| b.table.get(own).filter(|b| b.ty == n.ty).map(|e| (b, e)));
            let (b, bt, span) = match held {
                Some((base, e)) => (e, base.table, span_for(base, tick, own, n.ty)),
                None => {
                    self.base_buf.clear();
                    self.base_buf.resize(plan.stride, 0);
                    fresh = EntityRef {
                        id: own,
                        ty: n.ty,
                        values: &self.base_buf,
                    };
                    let span = Span {
                        ticks: 1,
                        second: None,
                    };
                    (fresh, &zeros, span)
                }
            };
            let written = encode_update(
                tp,
                &tp.owner,
                &b,
                bt,
                &n,
                now,
                &span,
                &mut Gaps(0),
                &mut scratch,
                &mut entry,
            );
            Some(written)
        })();
        if wrote == Some(true) {
            put_u64(out, 1);
            out.extend_from_slice(&entry);
        } else {
            put_u64(out, 0);
        }
        self.scratch = scratch;
        self.entry = entry;
    }
}

// ---- applying -----------------------------------------------------------------------------

fn checked_index(next: &mut u32, gap: u32) -> Result<u32, DeltaError> {
    let index = next
        .checked_add(gap)
        .filter(|&i| i < MAX_ENTITY_INDEX)
        .ok_or(TableError::IndexOutOfRange(u32::MAX))?;
    *next = index + 1;
    Ok(index)
}

fn count(r: &mut Reader<'_>) -> Result<usize, DeltaError> {
    let n = r.u64()?;
    // Every entry takes at least one byte: no count can claim more than what is left.
    if n > MAX_LIST_LEN as u64 || n > r.remaining() as u64 {
        return Err(DeltaError::Malformed("list longer than the message"));
    }
    Ok(n as usize)
}

fn read_str<'a>(r: &mut Reader<'a>) -> Result<&'a str, DeltaError> {
    let len = r.u64()?;
    let b = r.bytes(usize::try_from(len).map_err(|_| "length overflow")?)?;
    std::str::from_utf8(b).map_err(|_| DeltaError::Malformed("string is not UTF-8"))
}

fn to_i32(v: i64, index: u32) -> Result<i32, DeltaError> {
    i32::try_from(v).map_err(|_| DeltaError::Overflow(index))
}

/// Which update section is being applied.
#[derive(Clone, Copy)]
enum Section {
    Shared,
    /// The private section of the client whose player this is (`None`: a client without one,
    /// for which any private entry is an error).
    Private(Option<EntityId>),
}

/// Applies one update section to `t`.
fn apply_updates(
    plan: &Plan,
    r: &mut Reader<'_>,
    t: &mut StateTable,
    section: Section,
) -> Result<(), DeltaError> {
    let mut next = 0u32;
    for _ in 0..count(r)? {
        let index = checked_index(&mut next, r.u32()?)?;
        let mask = r.u64()?;
        let e = t.at(index).ok_or(TableError::Vacant(index))?;
        let tp = plan.ty(e.ty)?;
        let allowed = match section {
            Section::Shared => tp.public_mask,
            Section::Private(Some(own)) if own == e.id => tp.owner_mask,
            Section::Private(_) => return Err(DeltaError::BadMask(index)),
        };
        if mask & !allowed != 0 {
            return Err(DeltaError::BadMask(index));
        }
        let mut bits = mask;
        while bits != 0 {
            let f = bits.trailing_zeros() as u16;
            bits &= bits - 1;
            let fp = tp.fields[usize::from(f)];
            if fp.kind == Kind::Str {
                let s = read_str(r)?;
                t.set_string(index, f, s)?;
                continue;
            }
            let res = r.i64()?;
            let cell = &mut t.values_mut(index)?[usize::from(f)];
            *cell = match fp.kind {
                Kind::Angle { bits } => {
                    (i64::from(*cell).wrapping_add(res)).rem_euclid(1i64 << bits) as i32
                }
                // A hostile residual may be any i64: the sum must not overflow either.
                _ => to_i32(
                    i64::from(*cell)
                        .checked_add(res)
                        .ok_or(DeltaError::Overflow(index))?,
                    index,
                )?,
            };
        }
    }
    Ok(())
}

/// Rebuilds the state at `tick` into `out` from the client's `base` (`None`: a full snapshot)
/// and the delta `bytes` (shared part, then private part). `own`: the client's player, whose
/// private fields it predicts and receives. On error `out` is unspecified (bounded).
pub fn apply(
    plan: &Plan,
    own: Option<EntityId>,
    base: Option<&Baseline<'_>>,
    tick: u32,
    bytes: &[u8],
    out: &mut StateTable,
) -> Result<(), DeltaError> {
    match base {
        Some(b) => {
            let ticks = i64::from(tick.wrapping_sub(b.tick)).max(1);
            plan.predict_exact_into(b.table, ticks, out);
            predict_rest(plan, own, b, tick, out);
        }
        None => out.reset(plan.stride),
    }
    let mut r = Reader::new(bytes);
    // Every part's despawns, then every part's spawns, then every part's updates: an entity
    // that one part removes may be spawned by another.
    let parts = count(&mut r)?;
    let mut moved = None;
    for _ in 0..parts {
        // Removing after predicting is the same as before: an empty slot's cells are never
        // read.
        let mut next = 0u32;
        for _ in 0..count(&mut r)? {
            let index = checked_index(&mut next, r.u32()?)?;
            if own.is_some_and(|o| o.index == index) {
                moved = own.and_then(|o| OwnPrivate::save(plan, out, o));
            }
            out.remove(index)?;
        }
    }
    for _ in 0..parts {
        apply_spawns(plan, &mut r, out)?;
    }
    if let Some(saved) = moved {
        saved.restore(out)?;
    }
    for _ in 0..parts {
        apply_updates(plan, &mut r, out, Section::Shared)?;
    }
    if r.remaining() > 0 {
        apply_updates(plan, &mut r, out, Section::Private(own))?;
    }
    match r.remaining() {
        0 => Ok(()),
        _ => Err(DeltaError::Malformed("bytes after the delta")),
    }
}

/// The client's own entity's private fields, kept while one part of a delta despawns it and
/// another spawns it again (it moved between parts: the same entity, same version and type).
struct OwnPrivate {
    id: EntityId,
    ty: u16,
    cells: Vec<(u16, i32)>,
    strings: Vec<(u16, String)>,
}

impl OwnPrivate {
    fn save(plan: &Plan, t: &StateTable, id: EntityId) -> Option<OwnPrivate> {
        let e = t.get(id)?;
        let tp = plan.types.get(usize::from(e.ty))?;
        let (strings, cells): (Vec<u16>, Vec<u16>) = tp
            .owner
            .iter()
            .partition(|&&f| tp.fields[usize::from(f)].kind == Kind::Str);
        Some(OwnPrivate {
            id,
            ty: e.ty,
            cells: cells
                .into_iter()
                .map(|f| (f, e.values[usize::from(f)]))
                .collect(),
            strings: strings
                .into_iter()
                .map(|f| (f, t.string(id.index, f).to_owned()))
                .collect(),
        })
    }

    /// Puts the fields back if the same entity was spawned again.
    fn restore(self, t: &mut StateTable) -> Result<(), DeltaError> {
        if t.get(self.id).is_none_or(|e| e.ty != self.ty) {
            return Ok(());
        }
        let cells = t.values_mut(self.id.index)?;
        for (f, v) in self.cells {
            cells[usize::from(f)] = v;
        }
        for (f, text) in self.strings {
            t.set_string(self.id.index, f, &text)?;
        }
        Ok(())
    }
}

/// Applies one spawn list to `out`.
fn apply_spawns(plan: &Plan, r: &mut Reader<'_>, out: &mut StateTable) -> Result<(), DeltaError> {
    let mut next = 0u32;
    for _ in 0..count(r)? {
        let index = checked_index(&mut next, r.u32()?)?;
        let version = r.u32()?;
        let ty = u16::try_from(r.u32()?).map_err(|_| TableError::UnknownType(u16::MAX))?;
        let tp = plan.ty(ty)?;
        out.insert(EntityId { index, version }, ty)?;
        for &f in &tp.public {
            if tp.fields[usize::from(f)].kind == Kind::Str {
                let s = read_str(r)?;
                out.set_string(index, f, s)?;
            } else {
                let v = to_i32(r.i64()?, index)?;
                out.values_mut(index)?[usize::from(f)] = v;
            }
        }
    }
    Ok(())
}

/// The predictions `Plan::predict_exact_into` leaves out: the public fields of types with
/// predictors other than exact dead reckoning, and the client's own private fields. Each
/// reads the baseline's values, not ones already predicted.
fn predict_rest(
    plan: &Plan,
    own: Option<EntityId>,
    base: &Baseline<'_>,
    tick: u32,
    out: &mut StateTable,
) {
    let own_type = own.and_then(|id| base.table.get(id)).map(|e| e.ty);
    let own_predicted = own_type
        .and_then(|ty| plan.types.get(usize::from(ty)))
        .is_some_and(|tp| !tp.predicted_owner.is_empty());
    if !plan.has_general_types() && !own_predicted {
        return;
    }
    for b in base.table.iter() {
        let Some(tp) = plan.types.get(usize::from(b.ty)) else {
            continue;
        };
        let mine = own == Some(b.id);
        if tp.other_public.is_empty() && !(mine && own_predicted) {
            continue;
        }
        let span = span_for(base, tick, b.id, b.ty);
        let Ok(cells) = out.values_mut(b.id.index) else {
            continue;
        };
        let owner: &[u16] = if mine { &tp.predicted_owner } else { &[] };
        for &f in tp.other_public.iter().chain(owner) {
            let fi = usize::from(f);
            cells[fi] = predict(&tp.fields[fi], fi, b.values, &span);
        }
    }
}

// ---- decoding for people and tools ------------------------------------------------------

/// A delta decoded without applying it: golden vectors and debugging.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeltaView {
    /// How many parts the shared lists came in (each list below joins them, in order).
    pub parts: usize,
    /// The despawned slots (gaps resolved to indices).
    pub despawns: Vec<u32>,
    /// The spawn entries.
    pub spawns: Vec<SpawnView>,
    /// The shared update entries.
    pub updates: Vec<UpdateView>,
    /// The private section's update entries (the client's own entity).
    pub private: Vec<UpdateView>,
}

/// One spawn entry: a new entity with its public fields in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpawnView {
    /// Its slot.
    pub index: u32,
    /// Its version.
    pub version: u32,
    /// Its type id.
    pub ty: u16,
    /// Public fields in id order: `[field id, value]`.
    pub values: Vec<(u16, FieldValue)>,
}

/// One update entry: the fields of an entity that differ from their prediction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpdateView {
    /// The entity's slot.
    pub index: u32,
    /// `[field id, residual or new text]`.
    pub fields: Vec<(u16, FieldValue)>,
}

/// One field's value in a delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum FieldValue {
    /// A number field: a value (in a spawn) or a residual (in an update), in steps.
    Int(i64),
    /// A `Str` field's text, sent whole.
    Str(String),
}

/// Decodes a delta's entries. Update entries need their entity's type, so `base` (the table
/// the delta applies to, or `None` for a full snapshot) is consulted, along with the spawns.
pub fn decode(
    plan: &Plan,
    base: Option<&StateTable>,
    bytes: &[u8],
) -> Result<DeltaView, DeltaError> {
    let mut r = Reader::new(bytes);
    let mut v = DeltaView::default();
    let mut types = std::collections::HashMap::new();
    if let Some(b) = base {
        for e in b.iter() {
            types.insert(e.id.index, e.ty);
        }
    }
    let parts = count(&mut r)?;
    v.parts = parts;
    for _ in 0..parts {
        let mut next = 0;
        for _ in 0..count(&mut r)? {
            let i = checked_index(&mut next, r.u32()?)?;
            types.remove(&i);
            v.despawns.push(i);
        }
    }
    for _ in 0..parts {
        decode_spawns(plan, &mut r, &mut types, &mut v.spawns)?;
    }
    for _ in 0..parts {
        decode_updates(plan, &mut r, &types, &mut v.updates)?;
    }
    if r.remaining() > 0 {
        decode_updates(plan, &mut r, &types, &mut v.private)?;
    }
    match r.remaining() {
        0 => Ok(v),
        _ => Err(DeltaError::Malformed("bytes after the delta")),
    }
}

fn decode_spawns(
    plan: &Plan,
    r: &mut Reader<'_>,
    types: &mut std::collections::HashMap<u32, u16>,
    spawns: &mut Vec<SpawnView>,
) -> Result<(), DeltaError> {
    let mut next = 0;
    for _ in 0..count(r)? {
        let index = checked_index(&mut next, r.u32()?)?;
        let version = r.u32()?;
        let ty = u16::try_from(r.u32()?).map_err(|_| TableError::UnknownType(u16::MAX))?;
        let tp = plan.ty(ty)?;
        let mut values = Vec::new();
        for &f in &tp.public {
            values.push((f, read_value(&tp.fields[usize::from(f)], r)?));
        }
        types.insert(index, ty);
        spawns.push(SpawnView {
            index,
            version,
            ty,
            values,
        });
    }
    Ok(())
}

fn decode_updates(
    plan: &Plan,
    r: &mut Reader<'_>,
    types: &std::collections::HashMap<u32, u16>,
    updates: &mut Vec<UpdateView>,
) -> Result<(), DeltaError> {
    let mut next = 0;
    for _ in 0..count(r)? {
        let index = checked_index(&mut next, r.u32()?)?;
        let mask = r.u64()?;
        let ty = *types.get(&index).ok_or(TableError::Vacant(index))?;
        let tp = plan.ty(ty)?;
        let mut fields = Vec::new();
        let mut bits = mask;
        while bits != 0 {
            let f = bits.trailing_zeros() as u16;
            bits &= bits - 1;
            let fp = tp
                .fields
                .get(usize::from(f))
                .ok_or(DeltaError::BadMask(index))?;
            fields.push((f, read_value(fp, r)?));
        }
        updates.push(UpdateView { index, fields });
    }
    Ok(())
}

fn read_value(fp: &FieldPlan, r: &mut Reader<'_>) -> Result<FieldValue, DeltaError> {
    Ok(match fp.kind {
        Kind::Str => FieldValue::Str(read_str(r)?.to_owned()),
        _ => FieldValue::Int(r.i64()?),
    })
}
