//! A game's replicated state at one tick: entities by slot, each a type and one quantised
//! integer per field (strings beside), as the server records it and a client rebuilds it.
//!
//! `Plan` is a descriptor compiled for the hot paths: per type, which fields are predicted,
//! which are private, and how. Prediction and the checksum live here so the server, the bots
//! and (ported line for line) the browser compute them identically.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::limits::MAX_ENTITY_INDEX;
use crate::schema::{Coding, Descriptor, Predictor, Visibility};

/// An entity's wire id: its slot index plus the slot's version. A reused index always comes with
/// a new version, so a client never confuses a new entity with an old one (slotmap's key layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityId {
    /// Its slot, below `MAX_ENTITY_INDEX`; slot 0 is the room state's.
    pub index: u32,
    /// Never 0 (the server's are odd); a reused slot comes with a new one.
    pub version: u32,
}

/// Why an entity could not be put in or found in a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// An index not below `MAX_ENTITY_INDEX`.
    #[error("entity index {0} is out of range (limit {MAX_ENTITY_INDEX})")]
    IndexOutOfRange(u32),
    /// An insert (a spawn) into a slot that holds an entity.
    #[error("entity slot {0} is already occupied")]
    Occupied(u32),
    /// A slot without an entity, where one was needed (a despawn, an update).
    #[error("entity slot {0} is empty")]
    Vacant(u32),
    /// A type id the descriptor's `types` does not have.
    #[error("entity type {0} is not in the schema")]
    UnknownType(u16),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// 0: the slot is empty (slotmap versions of live keys are odd, so never 0).
    pub(crate) version: u32,
    pub(crate) ty: u16,
}

/// Entities by slot; `stride` value cells per entity.
///
/// A table is *dense* (`new`: cells by slot index, iterated in index order: the server's,
/// which holds most slots of its world) or *compact* (`compact`: cells by row, in no
/// particular order, with a map from slot to row: a client's under interest management,
/// which holds a few hundred entities scattered over thousands of slots). Both behave the
/// same through this API; only their cost differs.
#[derive(Debug, Default)]
pub struct StateTable {
    /// Per slot (dense) or per row (compact).
    meta: Vec<Meta>,
    values: Vec<i32>,
    /// String fields by cell (`slot * stride + field`), sorted by cell; the cell holds the
    /// byte length. A sorted `Vec` so copying a table reuses its memory (strings are shared).
    strings: Vec<(u32, Arc<str>)>,
    stride: usize,
    len: usize,
    /// Compact tables: each row's slot, and each slot's row.
    compact: Option<Box<Rows>>,
}

#[derive(Debug, Default)]
struct Rows {
    slots: Vec<u32>,
    rows: HashMap<u32, u32, BuildHasherDefault<SlotHasher>>,
    /// One past the highest slot index used since the last `clear`.
    end: u32,
}

impl Clone for Rows {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            rows: self.rows.clone(),
            end: self.end,
        }
    }

    /// Field by field, so a table copied into keeps its memory.
    fn clone_from(&mut self, source: &Self) {
        self.slots.clone_from(&source.slots);
        self.rows.clone_from(&source.rows);
        self.end = source.end;
    }
}

/// Slot indices are small and dense enough that a multiplicative hash spreads them well.
#[derive(Default)]
struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl Clone for StateTable {
    fn clone(&self) -> Self {
        Self {
            meta: self.meta.clone(),
            values: self.values.clone(),
            strings: self.strings.clone(),
            stride: self.stride,
            len: self.len,
            compact: self.compact.clone(),
        }
    }

    /// Reuses this table's allocations: clients copy a baseline for every snapshot.
    fn clone_from(&mut self, source: &Self) {
        self.meta.clone_from(&source.meta);
        self.values.clone_from(&source.values);
        self.strings.clone_from(&source.strings);
        self.stride = source.stride;
        self.len = source.len;
        match (&mut self.compact, &source.compact) {
            (Some(mine), Some(theirs)) => mine.clone_from(theirs),
            (mine, theirs) => mine.clone_from(theirs),
        }
    }
}

impl PartialEq for StateTable {
    /// Equal when they hold the same entities with the same values (dense or compact).
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len || !self.strings.iter().eq(other.strings.iter()) {
            return false;
        }
        match (&self.compact, &other.compact) {
            (None, None) => self.iter().eq(other.iter()),
            _ => self.iter().all(|e| other.get(e.id) == Some(e)),
        }
    }
}
impl Eq for StateTable {}

/// One entity as a table holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntityRef<'a> {
    /// Its slot and version.
    pub id: EntityId,
    /// Its type id, an index into the descriptor's `types`.
    pub ty: u16,
    /// One per field of the table's stride (fields past the type's own are 0).
    pub values: &'a [i32],
}

impl StateTable {
    /// An empty dense table with `stride` cells per entity (`Plan::stride`).
    pub fn new(stride: usize) -> Self {
        Self {
            stride: stride.max(1),
            ..Self::default()
        }
    }

    /// An empty dense table with room for `slots` slots: filled up to there, it does not grow.
    pub fn with_slots(stride: usize, slots: usize) -> Self {
        let mut t = Self::new(stride);
        t.meta.reserve(slots);
        t.values.reserve(slots * t.stride);
        t
    }

    /// An empty compact table with `stride` cells per entity: memory and copies in
    /// proportion to the entities held, not to the highest slot index.
    pub fn compact(stride: usize) -> Self {
        Self {
            compact: Some(Box::default()),
            ..Self::new(stride)
        }
    }

    /// Whether it is compact (`compact`) rather than dense (`new`).
    pub fn is_compact(&self) -> bool {
        self.compact.is_some()
    }

    /// A compact copy of this table: the same entities, values and strings.
    pub fn to_compact(&self) -> StateTable {
        self.copy_into(StateTable::compact(self.stride))
    }

    /// A dense copy of this table: the same entities, values and strings.
    pub fn to_dense(&self) -> StateTable {
        self.copy_into(StateTable::new(self.stride))
    }

    fn copy_into(&self, mut c: StateTable) -> StateTable {
        for e in self.iter() {
            if let Ok(cells) = c.insert(e.id, e.ty) {
                cells.copy_from_slice(e.values);
            }
        }
        c.strings.clone_from(&self.strings);
        c
    }

    /// Cells per entity.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// How many entities it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no entity.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the highest slot index in use or used since the last `clear`.
    pub fn slot_count(&self) -> usize {
        match &self.compact {
            Some(c) => c.end as usize,
            None => self.meta.len(),
        }
    }

    /// Empties the table for `stride` cells per entity, keeping the allocations.
    pub fn reset(&mut self, stride: usize) {
        self.clear();
        self.stride = stride.max(1);
    }

    /// Removes every entity, keeping the allocations.
    pub fn clear(&mut self) {
        self.meta.clear();
        self.values.clear();
        self.strings.clear();
        self.len = 0;
        if let Some(c) = &mut self.compact {
            c.slots.clear();
            c.rows.clear();
            c.end = 0;
        }
    }

    /// Where slot `index`'s entity is in `meta`, if the slot holds one.
    #[inline]
    fn row(&self, index: u32) -> Option<usize> {
        match &self.compact {
            None => self
                .meta
                .get(index as usize)
                .filter(|m| m.version != 0)
                .map(|_| index as usize),
            Some(c) => c.rows.get(&index).map(|&r| r as usize),
        }
    }

    /// The slot of the entity in row `row` of `meta`.
    #[inline]
    fn slot_of(&self, row: usize) -> u32 {
        match &self.compact {
            None => row as u32,
            Some(c) => c.slots[row],
        }
    }

    /// The entity in slot `index`, whatever its version.
    #[inline]
    pub fn at(&self, index: u32) -> Option<EntityRef<'_>> {
        let r = self.row(index)?;
        let m = self.meta[r];
        let i = r * self.stride;
        Some(EntityRef {
            id: EntityId {
                index,
                version: m.version,
            },
            ty: m.ty,
            values: &self.values[i..i + self.stride],
        })
    }

    /// Entity `id`: the entity in its slot, if it has that version.
    pub fn get(&self, id: EntityId) -> Option<EntityRef<'_>> {
        self.at(id.index).filter(|e| e.id.version == id.version)
    }

    /// Adds an entity of type `ty` to an empty slot, every field 0; returns its cells.
    pub fn insert(&mut self, id: EntityId, ty: u16) -> Result<&mut [i32], TableError> {
        if id.index >= MAX_ENTITY_INDEX {
            return Err(TableError::IndexOutOfRange(id.index));
        }
        // A version of 0 would read as empty: store it as given but never 0.
        let m = Meta {
            version: id.version.max(1),
            ty,
        };
        let stride = self.stride;
        let r = match &mut self.compact {
            None => {
                let i = id.index as usize;
                if i == self.meta.len() {
                    // The next slot (a table recorded in slot order): new cells are zeros.
                    self.meta.push(m);
                    self.values.resize((i + 1) * stride, 0);
                    self.len += 1;
                    return Ok(&mut self.values[i * stride..]);
                }
                if i > self.meta.len() {
                    self.meta.resize(i + 1, Meta::default());
                    self.values.resize((i + 1) * stride, 0);
                }
                if self.meta[i].version != 0 {
                    return Err(TableError::Occupied(id.index));
                }
                self.meta[i] = m;
                i
            }
            Some(c) => {
                let r = self.meta.len();
                match c.rows.entry(id.index) {
                    Entry::Occupied(_) => return Err(TableError::Occupied(id.index)),
                    Entry::Vacant(v) => v.insert(r as u32),
                };
                c.slots.push(id.index);
                c.end = c.end.max(id.index + 1);
                self.meta.push(m);
                self.values.resize((r + 1) * stride, 0);
                r
            }
        };
        self.len += 1;
        let cells = &mut self.values[r * stride..(r + 1) * stride];
        cells.fill(0);
        Ok(cells)
    }

    /// Removes the entity in slot `index`.
    pub fn remove(&mut self, index: u32) -> Result<EntityId, TableError> {
        let r = self.row(index).ok_or(TableError::Vacant(index))?;
        let version = self.meta[r].version;
        match &mut self.compact {
            None => self.meta[r] = Meta::default(),
            Some(c) => {
                // The last row moves into the hole.
                c.rows.remove(&index);
                c.slots.swap_remove(r);
                self.meta.swap_remove(r);
                let (stride, last) = (self.stride, self.meta.len());
                if r < last {
                    self.values
                        .copy_within(last * stride..(last + 1) * stride, r * stride);
                    c.rows.insert(c.slots[r], r as u32);
                }
                self.values.truncate(last * stride);
            }
        }
        self.len -= 1;
        if !self.strings.is_empty() {
            let lo = index * self.stride as u32;
            let hi = lo + self.stride as u32;
            self.strings.retain(|(k, _)| !(lo..hi).contains(k));
        }
        Ok(EntityId { index, version })
    }

    /// The cells of the entity in slot `index`, to change in place.
    #[inline]
    pub fn values_mut(&mut self, index: u32) -> Result<&mut [i32], TableError> {
        let r = self.row(index).ok_or(TableError::Vacant(index))?;
        let i = r * self.stride;
        Ok(&mut self.values[i..i + self.stride])
    }

    /// A string field's text ("" when unset).
    pub fn string(&self, index: u32, field: u16) -> &str {
        let cell = index * self.stride as u32 + u32::from(field);
        match self.strings.binary_search_by_key(&cell, |(k, _)| *k) {
            Ok(i) => &self.strings[i].1,
            Err(_) => "",
        }
    }

    /// Sets a string field (and its cell, the byte length).
    pub fn set_string(&mut self, index: u32, field: u16, text: &str) -> Result<(), TableError> {
        let cell = index * self.stride as u32 + u32::from(field);
        self.values_mut(index)?[usize::from(field)] = text.len() as i32;
        match self.strings.binary_search_by_key(&cell, |(k, _)| *k) {
            Ok(i) if text.is_empty() => {
                self.strings.remove(i);
            }
            Ok(i) => {
                if &*self.strings[i].1 != text {
                    self.strings[i].1 = Arc::from(text);
                }
            }
            Err(_) if text.is_empty() => {}
            Err(i) => self.strings.insert(i, (cell, Arc::from(text))),
        }
        Ok(())
    }

    /// Every row's meta and the cells, for linear passes over the whole table (a dense
    /// table's rows are its slots, empty ones included).
    #[inline]
    pub(crate) fn raw_mut(&mut self) -> (&[Meta], &mut [i32], usize) {
        (&self.meta, &mut self.values, self.stride)
    }

    /// Entities in index order (dense) or in no particular order (compact).
    pub fn iter(&self) -> impl Iterator<Item = EntityRef<'_>> + '_ {
        let stride = self.stride;
        self.meta
            .iter()
            .zip(self.values.chunks_exact(stride))
            .enumerate()
            .filter(|(_, (m, _))| m.version != 0)
            .map(move |(r, (m, values))| EntityRef {
                id: EntityId {
                    index: self.slot_of(r),
                    version: m.version,
                },
                ty: m.ty,
                values,
            })
    }
}

// ---- the compiled plan ------------------------------------------------------------------

/// How one field is coded and predicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any integer coding but angles and strings.
    Int,
    /// Wraps modulo `1 << bits`.
    Angle {
        /// `1 << bits` steps a turn.
        bits: u8,
    },
    /// Text: the cell holds its byte length and a change sends the whole text; never
    /// predicted.
    Str,
}

/// One field as the hot paths need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldPlan {
    /// How its cell is compared, predicted and sent.
    pub kind: Kind,
    /// What a delta predicts it to be.
    pub predictor: Predictor,
    /// Whether it is private (`Visibility::Owner`).
    pub owner: bool,
}

/// One entity type's fields, sorted into the lists the encoder, the decoder and the checksum walk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypePlan {
    /// Every field, by id.
    pub fields: Vec<FieldPlan>,
    /// Fields with a predictor other than `None`, by visibility.
    pub predicted_public: Vec<u16>,
    /// The private fields with a predictor other than `None`.
    pub predicted_owner: Vec<u16>,
    /// The public fields: what spawns and shared updates carry.
    pub public: Vec<u16>,
    /// The private fields: what the private section carries, for the client's own entity.
    pub owner: Vec<u16>,
    /// The public fields that dead-reckon exactly (`Velocity` with `den == 1` on a non-angle
    /// field whose velocity field is not itself predicted): `(field, velocity field, num)`.
    /// Predicted in place with one multiply-add; the others go through `predict`.
    pub exact_public: Vec<(u16, u16, u32)>,
    /// `predicted_public` minus `exact_public`.
    pub other_public: Vec<u16>,
    /// Public fields with no predictor, numbers and strings apart.
    pub plain_public: Vec<u16>,
    /// The public `Str` fields.
    pub str_public: Vec<u16>,
    /// The checksum's terms of the public number fields: `(field, multiplier, rotation)`.
    pub public_terms: Vec<(u32, u32, u32)>,
    /// Bit `f` set for each public field `f`: what a shared update's mask may name.
    pub public_mask: u64,
    /// Bit `f` set for each private field `f`: what a private update's mask may name.
    pub owner_mask: u64,
}

impl TypePlan {
    /// Whether any public field is a string (the lanes leave strings out).
    pub fn has_public_strings(&self) -> bool {
        !self.str_public.is_empty()
    }

    /// Whether any field predicts from a second baseline (`Predictor::Linear`).
    pub fn uses_second(&self) -> bool {
        self.fields
            .iter()
            .any(|f| matches!(f.predictor, Predictor::Linear))
    }
}

/// A descriptor compiled for building, applying and checking snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each type's plan, by type id.
    pub types: Vec<TypePlan>,
    /// Cells per entity: the most fields of any type.
    pub stride: usize,
    lanes: Lanes,
}

/// Every type's plan laid out so that the hot loops over whole tables (predict, checksum, the
/// encoder's "on its prediction?") run the same branch-free code for every entity whatever its
/// type: what takes no part has a zero mask or multiplier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Lanes {
    /// `ty * stride + cell`: all ones for a public number field, 0 for other cells (private,
    /// string, padding).
    check_mask: Vec<u32>,
    /// `check_mask` without the cells `exact` predicts.
    plain_mask: Vec<u32>,
    /// Per type, `exact_public` padded with no-ops (`cell += cell * 0`) to `exact_width`
    /// entries, so every type runs the same number of multiply-adds: `ty * exact_width + i`.
    exact: Vec<(u16, u16, i64)>,
    /// Per `exact` entry: all ones, or 0 for padding.
    exact_live: Vec<u32>,
    exact_width: usize,
    /// Per type: it has public predictions `exact_public` cannot express.
    general: Vec<bool>,
}

/// Some entities' share of the public checksum: the sum of their keys and their count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumPart {
    /// The entities' keys, added up (wrapping).
    pub sum: u32,
    /// How many entities: the finaliser mixes it in.
    pub count: u32,
}

impl ChecksumPart {
    fn add_key(&mut self, key: u32) {
        self.sum = self.sum.wrapping_add(key);
        self.count = self.count.wrapping_add(1);
    }
}

impl std::ops::Add for ChecksumPart {
    type Output = ChecksumPart;

    /// Both parts' entities.
    fn add(self, other: ChecksumPart) -> ChecksumPart {
        ChecksumPart {
            sum: self.sum.wrapping_add(other.sum),
            count: self.count.wrapping_add(other.count),
        }
    }
}

/// Up to this many exact ops (types x `exact_width`) take the lanes (a game with more falls
/// back to the field-by-field path).
const MAX_LANE_OPS: usize = 64;

/// What the encoder must write for one slot (`Plan::scan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// In the baseline only: a despawn.
    Gone,
    /// In `now` only: a spawn.
    New,
    /// Another entity (version or type) in the same slot: a despawn and a spawn.
    Replaced,
    /// The same entity, off its prediction in some public number field: an update.
    Differs,
    /// The same entity, which the lanes cannot judge: compare it field by field.
    Check,
}

impl Slot {
    /// What a slot holding `b` at the baseline and `n` now asks of the encoder before any
    /// value is compared: `None` when it is empty at both.
    #[inline]
    pub(crate) fn of(b: Option<EntityRef<'_>>, n: Option<EntityRef<'_>>) -> Option<Slot> {
        Some(match (b, n) {
            (None, None) => return None,
            (Some(_), None) => Slot::Gone,
            (None, Some(_)) => Slot::New,
            (Some(b), Some(n)) if b.id != n.id || b.ty != n.ty => Slot::Replaced,
            (Some(_), Some(_)) => Slot::Check,
        })
    }
}

impl Lanes {
    fn new(types: &[TypePlan], stride: usize) -> Lanes {
        let width = types
            .iter()
            .map(|tp| tp.exact_public.len())
            .max()
            .unwrap_or(0);
        let mut l = Lanes {
            check_mask: vec![0; types.len() * stride],
            plain_mask: vec![0; types.len() * stride],
            exact: Vec::with_capacity(types.len() * width),
            exact_live: Vec::with_capacity(types.len() * width),
            exact_width: width,
            general: types.iter().map(|tp| !tp.other_public.is_empty()).collect(),
        };
        for (ty, tp) in types.iter().enumerate() {
            for &(f, _, _) in &tp.public_terms {
                l.check_mask[ty * stride + f as usize] = u32::MAX;
                if !tp.exact_public.iter().any(|&(e, _, _)| u32::from(e) == f) {
                    l.plain_mask[ty * stride + f as usize] = u32::MAX;
                }
            }
            let pad = width - tp.exact_public.len();
            for &(f, vf, num) in &tp.exact_public {
                l.exact.push((f, vf, i64::from(num)));
                l.exact_live.push(u32::MAX);
            }
            l.exact.extend(std::iter::repeat_n((0, 0, 0), pad));
            l.exact_live.extend(std::iter::repeat_n(0, pad));
        }
        l
    }
}

impl Plan {
    /// Compiles a validated descriptor.
    pub fn new(d: &Descriptor) -> Plan {
        let types: Vec<TypePlan> = d
            .types
            .iter()
            .map(|t| {
                let mut tp = TypePlan::default();
                for f in &t.fields {
                    let kind = match f.coding {
                        Coding::Angle { bits } => Kind::Angle { bits },
                        Coding::Str { .. } => Kind::Str,
                        _ => Kind::Int,
                    };
                    let owner = f.visibility == Visibility::Owner;
                    tp.fields.push(FieldPlan {
                        kind,
                        predictor: f.predictor,
                        owner,
                    });
                    let (all, predicted) = if owner {
                        (&mut tp.owner, &mut tp.predicted_owner)
                    } else {
                        (&mut tp.public, &mut tp.predicted_public)
                    };
                    all.push(f.id);
                    if owner {
                        tp.owner_mask |= 1 << f.id;
                    } else {
                        tp.public_mask |= 1 << f.id;
                        if kind == Kind::Str {
                            tp.str_public.push(f.id);
                        } else if f.predictor == Predictor::None {
                            tp.plain_public.push(f.id);
                        }
                    }
                    if f.predictor != Predictor::None {
                        predicted.push(f.id);
                    }
                }
                tp
            })
            .collect();
        let types: Vec<TypePlan> = types
            .into_iter()
            .map(|mut tp| {
                tp.public_terms = tp
                    .public
                    .iter()
                    .filter(|&&f| tp.fields[usize::from(f)].kind != Kind::Str)
                    .map(|&f| term(f))
                    .collect();
                for &f in &tp.predicted_public {
                    let fp = tp.fields[usize::from(f)];
                    match fp.predictor {
                        Predictor::Velocity { field, num, den: 1 }
                            if fp.kind == Kind::Int
                                && tp
                                    .fields
                                    .get(usize::from(field))
                                    .is_some_and(|v| v.predictor == Predictor::None) =>
                        {
                            tp.exact_public.push((f, field, num));
                        }
                        _ => tp.other_public.push(f),
                    }
                }
                tp
            })
            .collect();
        let stride = types
            .iter()
            .map(|t| t.fields.len())
            .max()
            .unwrap_or(0)
            .max(1);
        Plan {
            lanes: Lanes::new(&types, stride),
            types,
            stride,
        }
    }

    /// An empty dense table of this plan's stride.
    pub fn new_table(&self) -> StateTable {
        StateTable::new(self.stride)
    }

    /// Type `ty`'s plan, or `TableError::UnknownType`.
    pub fn ty(&self, ty: u16) -> Result<&TypePlan, TableError> {
        self.types
            .get(usize::from(ty))
            .ok_or(TableError::UnknownType(ty))
    }
}

/// The timing of a prediction: the baseline's age in ticks and, for linear predictors, the
/// second baseline's values and its distance from the first.
#[derive(Clone, Copy, Debug)]
pub struct Span<'a> {
    /// `tick - baseline` (at least 1).
    pub ticks: i64,
    /// The entity's values at the second baseline, and `baseline - baseline2`.
    pub second: Option<(&'a [i32], i64)>,
}

/// `round(a / d)`, halves up, for `d > 0`. Wrapping: exact for the values a valid schema
/// allows (below 2^53), and no panic for what a hostile peer may send.
#[inline]
fn div_round(a: i64, d: i64) -> i64 {
    a.wrapping_mul(2).wrapping_add(d).div_euclid(2 * d)
}

/// The signed difference `a - b` of two angles, the shorter way round.
#[inline]
pub fn angle_diff(a: i64, b: i64, bits: u8) -> i64 {
    let n = 1i64 << bits;
    let d = (a - b).rem_euclid(n);
    if d >= n / 2 { d - n } else { d }
}

/// Dead reckoning with `den == 1`: `base + v * ticks * num`, saturated to `i32`.
#[inline(always)]
pub fn predict_exact(base: i32, v: i32, ticks: i64, num: u32) -> i32 {
    let moved = i64::from(v)
        .wrapping_mul(ticks)
        .wrapping_mul(i64::from(num));
    i64::from(base)
        .wrapping_add(moved)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// What field `f` of an entity whose baseline values are `base` is predicted to be now.
/// Arithmetic wraps: valid schemas keep it exact (`schema::validate`), and cells or spans a
/// hostile peer sends must not panic (the checksum catches the nonsense).
#[inline]
pub fn predict(fp: &FieldPlan, f: usize, base: &[i32], span: &Span<'_>) -> i32 {
    let b = i64::from(base[f]);
    let p = match fp.predictor {
        Predictor::None => return base[f],
        Predictor::Velocity { field, num, den } => {
            let v = i64::from(base[usize::from(field)]);
            let moved = v.wrapping_mul(span.ticks).wrapping_mul(i64::from(num));
            // `div_round(a, 1) == a`: the common exact ratio needs no division.
            let moved = if den == 1 {
                moved
            } else {
                div_round(moved, i64::from(den))
            };
            b.wrapping_add(moved)
        }
        Predictor::Linear => match span.second {
            Some((b2, gap)) if gap > 0 => {
                let b2 = i64::from(b2[f]);
                let slope = match fp.kind {
                    Kind::Angle { bits } => angle_diff(b, b2, bits),
                    _ => b - b2,
                };
                let moved = slope.wrapping_mul(span.ticks);
                b.wrapping_add(if gap == 1 {
                    moved
                } else {
                    moved.div_euclid(gap)
                })
            }
            _ => b,
        },
    };
    match fp.kind {
        Kind::Angle { bits } => p.rem_euclid(1i64 << bits) as i32,
        _ => p.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
    }
}

// ---- checksum -------------------------------------------------------------------------------

/// Seed of the state checksum ("tick").
pub const CHECKSUM_SEED: u32 = 0x7469_636b;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

/// Per field id `f`: the multiplier `MULS[f % 4]` and the rotation `(7 f + 5) % 32` of its word.
const MULS: [u32; 4] = [0x27d4_eb2f, 0x1656_67b1, 0x85eb_ca6b, 0xc2b2_ae35];

/// Field `f`'s multiplier and rotation in the checksum.
fn term(f: u16) -> (u32, u32, u32) {
    let f = u32::from(f);
    (f, MULS[(f & 3) as usize], (f * 7 + 5) & 31)
}

/// One entity's key: its id and type, xor each counted field's word, multiplied and rotated
/// by its field id, then mixed. The checksum adds the keys up (wrapping), so it does not
/// depend on the order of the entities: a server can sum a part of the world once and give
/// the sum to every client that sees that part. The mix is a bijection, so an entity that
/// differs in any one field changes the sum. Word-wise, so a browser computes it with
/// `Math.imul` just as fast.
#[inline]
fn entity_key(id: EntityId, ty: u16, fields: impl Iterator<Item = (u16, u32)>) -> u32 {
    let mut k = id_key(id, ty);
    for (f, w) in fields {
        let (_, mul, rot) = term(f);
        k ^= w.wrapping_mul(mul).rotate_left(rot);
    }
    mix_key(k)
}

#[inline(always)]
fn id_key(id: EntityId, ty: u16) -> u32 {
    id.index.wrapping_mul(0x9e37_79b1)
        ^ id.version.wrapping_mul(0x85eb_ca77)
        ^ u32::from(ty).wrapping_mul(0xc2b2_ae3d)
}

#[inline(always)]
fn mix_key(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

#[inline]
fn finish(mut h: u32, count: u32) -> u32 {
    h ^= count;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// A field's word in the checksum: its cell, or for strings the FNV-1a of its bytes.
#[inline]
fn word(t: &StateTable, e: &EntityRef<'_>, fp: &FieldPlan, f: u16) -> u32 {
    match fp.kind {
        Kind::Str => crate::schema::fnv1a(t.string(e.id.index, f).as_bytes()),
        _ => e.values[usize::from(f)] as u32,
    }
}

/// Runs `$body` with `$s` bound to `$stride` as a constant for the strides games use, so the
/// per-cell loops in it unroll with their lane constants folded in; any other stride runs the
/// same body with `$s` a variable.
macro_rules! with_const_stride {
    ($stride:expr, $s:ident => $body:expr) => {
        match $stride {
            1 => {
                const $s: usize = 1;
                $body
            }
            2 => {
                const $s: usize = 2;
                $body
            }
            3 => {
                const $s: usize = 3;
                $body
            }
            4 => {
                const $s: usize = 4;
                $body
            }
            5 => {
                const $s: usize = 5;
                $body
            }
            6 => {
                const $s: usize = 6;
                $body
            }
            7 => {
                const $s: usize = 7;
                $body
            }
            8 => {
                const $s: usize = 8;
                $body
            }
            n => {
                #[allow(non_snake_case)]
                let $s = n;
                $body
            }
        }
    };
}

impl Plan {
    /// The checksum of every entity's public fields. Entities of unknown types count with
    /// none of their fields (a client never holds them).
    pub fn public_checksum(&self, t: &StateTable) -> u32 {
        if t.stride != self.stride {
            return self.public_checksum_by_type(t);
        }
        with_const_stride!(t.stride, S => self.public_checksum_lanes(t, S))
    }

    /// `public_checksum` for a table of this plan's stride: every cell of every entity, masked
    /// by its type's lanes (a masked word is 0, and a 0 word leaves the key unchanged).
    #[inline(always)]
    fn public_checksum_lanes(&self, t: &StateTable, stride: usize) -> u32 {
        let mut h = CHECKSUM_SEED;
        let mut count = 0u32;
        let known = self.types.len();
        for (row, (m, cells)) in t.meta.iter().zip(t.values.chunks_exact(stride)).enumerate() {
            if m.version == 0 {
                continue;
            }
            let index = t.slot_of(row);
            let id = EntityId {
                index,
                version: m.version,
            };
            let ty = usize::from(m.ty);
            let mut k = id_key(id, m.ty);
            if ty < known {
                let mask = &self.lanes.check_mask[ty * stride..][..stride];
                for f in 0..stride {
                    let w = cells[f] as u32 & mask[f];
                    k ^= w
                        .wrapping_mul(MULS[f & 3])
                        .rotate_left((f as u32 * 7 + 5) & 31);
                }
                let tp = &self.types[ty];
                if tp.has_public_strings() {
                    k ^= self.string_terms(t, index, tp);
                }
            }
            h = h.wrapping_add(mix_key(k));
            count = count.wrapping_add(1);
        }
        finish(h, count)
    }

    /// The public string fields' part of an entity's key.
    fn string_terms(&self, t: &StateTable, index: u32, tp: &TypePlan) -> u32 {
        let mut k = 0;
        for &f in &tp.str_public {
            let (_, mul, rot) = term(f);
            let w = crate::schema::fnv1a(t.string(index, f).as_bytes());
            k ^= w.wrapping_mul(mul).rotate_left(rot);
        }
        k
    }

    /// `public_checksum` type by type, for tables of any stride (and as the reference the lane
    /// version is tested against).
    fn public_checksum_by_type(&self, t: &StateTable) -> u32 {
        let mut part = ChecksumPart::default();
        for e in t.iter() {
            part.add_key(self.public_key(t, &e));
        }
        self.public_checksum_of([part])
    }

    /// Entity `e`'s term in the public checksum.
    fn public_key(&self, t: &StateTable, e: &EntityRef<'_>) -> u32 {
        let mut k = id_key(e.id, e.ty);
        if let Some(tp) = self.types.get(usize::from(e.ty)) {
            for &(f, mul, rot) in &tp.public_terms {
                let w = e.values.get(f as usize).copied().unwrap_or(0) as u32;
                k ^= w.wrapping_mul(mul).rotate_left(rot);
            }
            k ^= self.string_terms(t, e.id.index, tp);
        }
        mix_key(k)
    }

    /// The public checksum's share of the entities of `t` in `slots` (empty slots count for
    /// nothing). A server that shows each client part of the world sums each part once and
    /// gives every client `public_checksum_of` the parts it sees.
    pub fn checksum_part(&self, t: &StateTable, slots: &[u32]) -> ChecksumPart {
        let mut part = ChecksumPart::default();
        for e in slots.iter().filter_map(|&i| t.at(i)) {
            part.add_key(self.public_key(t, &e));
        }
        part
    }

    /// `checksum_part` of many parts at once: each entity of `t` goes to `parts[part(slot)]`
    /// (none when `part` gives an index past them). One pass over the table in slot order,
    /// where a part at a time looks up slots scattered over the whole table (a cache miss
    /// each).
    pub fn checksum_parts(
        &self,
        t: &StateTable,
        part: impl Fn(u32) -> usize,
        parts: &mut [ChecksumPart],
    ) {
        for e in t.iter() {
            if let Some(p) = parts.get_mut(part(e.id.index)) {
                p.add_key(self.public_key(t, &e));
            }
        }
    }

    /// The public checksum of a table made of these parts (no entity in two of them): for all
    /// of `t`'s entities, the same as `public_checksum(t)`.
    pub fn public_checksum_of(&self, parts: impl IntoIterator<Item = ChecksumPart>) -> u32 {
        let all = parts
            .into_iter()
            .fold(ChecksumPart::default(), |a, b| a + b);
        finish(CHECKSUM_SEED.wrapping_add(all.sum), all.count)
    }

    /// Fills `out` with `base` `ticks` later: every entity's `exact_public` fields dead-reckoned,
    /// the rest copied. One pass over both tables, the same loop for every type.
    pub(crate) fn predict_exact_into(&self, base: &StateTable, ticks: i64, out: &mut StateTable) {
        out.clone_from(base);
        let exact = match self.lanes.exact_width {
            0 => true,
            1 => self.predict_lanes::<1>(ticks, out),
            2 => self.predict_lanes::<2>(ticks, out),
            3 => self.predict_lanes::<3>(ticks, out),
            4 => self.predict_lanes::<4>(ticks, out),
            _ => false,
        };
        if exact {
            return;
        }
        // A prediction out of the i32 range (only hostile input gets there), or a game with
        // many exactly predicted fields per type: saturating, type by type.
        out.values.copy_from_slice(&base.values);
        let (meta, values, stride) = out.raw_mut();
        for (m, cells) in meta.iter().zip(values.chunks_exact_mut(stride)) {
            let Some(tp) = self.types.get(usize::from(m.ty)).filter(|_| m.version != 0) else {
                continue;
            };
            for &(f, vf, num) in &tp.exact_public {
                let (f, vf) = (usize::from(f), usize::from(vf));
                cells[f] = predict_exact(cells[f], cells[vf], ticks, num);
            }
        }
    }

    /// The hot part of `predict_exact_into`, in place on the copied cells (velocity cells are
    /// never predicted themselves, so each read sees the baseline); `W` is `exact_width`.
    /// False when some prediction left the `i32` range: `out` then holds wrapped values.
    fn predict_lanes<const W: usize>(&self, ticks: i64, out: &mut StateTable) -> bool {
        let known = self.types.len();
        if known * W > MAX_LANE_OPS {
            return false;
        }
        let scaled = self.scaled(ticks);
        let mut wrapped = false;
        let (meta, values, stride) = out.raw_mut();
        for (m, cells) in meta.iter().zip(values.chunks_exact_mut(stride)) {
            let ty = usize::from(m.ty);
            if m.version == 0 || ty >= known {
                continue;
            }
            let ops: &[(u16, u16, i64); W] = self.lanes.exact[ty * W..][..W]
                .try_into()
                .expect("W ops per type");
            let ks: &[i64; W] = scaled[ty * W..][..W].try_into().expect("W per type");
            for (&(f, vf, _), &k) in ops.iter().zip(ks) {
                let (f, vf) = (usize::from(f), usize::from(vf));
                let p = i64::from(cells[f]).wrapping_add(i64::from(cells[vf]).wrapping_mul(k));
                // A flag, not a clamp: no branch in the loop.
                wrapped |= p != i64::from(p as i32);
                cells[f] = p as i32;
            }
        }
        !wrapped
    }

    /// Walks the slots of `base` and `now` (`ticks` apart) and tells `visit` what the encoder
    /// must write for each: nothing for an entity on its prediction, which the lanes decide
    /// for most; `Slot::Check` where they cannot (types with other predictors or public
    /// strings, predictions out of the i32 range, another table layout).
    pub(crate) fn scan(
        &self,
        base: &StateTable,
        now: &StateTable,
        ticks: i64,
        mut visit: impl FnMut(u32, Slot),
    ) {
        // One call per slot the encoder writes, not per entity: not worth a copy of the
        // encoder in each of the loops below.
        let visit: &mut dyn FnMut(u32, Slot) = &mut visit;
        let s = self.stride;
        if base.is_compact() || now.is_compact() {
            return self.scan_compact(base, now, visit);
        }
        if base.stride != s || now.stride != s {
            return self.scan_lanes::<0>(base, now, ticks, false, s, visit);
        }
        // The stride a constant, as for the checksum: the per-cell loops unroll.
        with_const_stride!(s, S => match self.lanes.exact_width {
            0 => self.scan_lanes::<0>(base, now, ticks, true, S, visit),
            1 => self.scan_lanes::<1>(base, now, ticks, true, S, visit),
            2 => self.scan_lanes::<2>(base, now, ticks, true, S, visit),
            3 => self.scan_lanes::<3>(base, now, ticks, true, S, visit),
            4 => self.scan_lanes::<4>(base, now, ticks, true, S, visit),
            _ => self.scan_lanes::<0>(base, now, ticks, false, S, visit),
        })
    }

    /// `scan` where a table is compact (only tests and tools build deltas from a client's
    /// tables): slot by slot, every entity held at both ticks checked field by field.
    fn scan_compact(&self, base: &StateTable, now: &StateTable, visit: &mut dyn FnMut(u32, Slot)) {
        let slots = base.slot_count().max(now.slot_count()) as u32;
        for i in 0..slots {
            if let Some(slot) = Slot::of(base.at(i), now.at(i)) {
                visit(i, slot);
            }
        }
    }

    /// `scan` with `W` exact ops per type (`use_lanes` false: every pair is checked) on
    /// tables of stride `s`, the plan's.
    #[inline(always)]
    fn scan_lanes<const W: usize>(
        &self,
        base: &StateTable,
        now: &StateTable,
        ticks: i64,
        use_lanes: bool,
        s: usize,
        visit: &mut dyn FnMut(u32, Slot),
    ) {
        let known = self.types.len();
        let lanes = use_lanes && known * W <= MAX_LANE_OPS;
        let scaled = self.scaled(ticks);
        let slots = base.meta.len().max(now.meta.len());
        for i in 0..slots {
            let bm = base.meta.get(i).copied().unwrap_or_default();
            let nm = now.meta.get(i).copied().unwrap_or_default();
            let slot = match (bm.version != 0, nm.version != 0) {
                (false, false) => continue,
                (true, false) => Slot::Gone,
                (false, true) => Slot::New,
                (true, true) if bm != nm => Slot::Replaced,
                (true, true) => {
                    let ty = usize::from(nm.ty);
                    if !lanes || ty >= known || self.lanes.general[ty] {
                        Slot::Check
                    } else {
                        let b = &base.values[i * s..][..s];
                        let n = &now.values[i * s..][..s];
                        match self.lane_diff::<W>(ty, s, b, n, &scaled) {
                            Some(0) if self.types[ty].has_public_strings() => Slot::Check,
                            Some(0) => continue,
                            Some(_) => Slot::Differs,
                            None => Slot::Check,
                        }
                    }
                }
            };
            visit(i as u32, slot);
        }
    }

    /// The bits in which an entity's public number cells in `n` differ from their exact
    /// prediction from `b` (0: on its prediction); `None` if a prediction left the i32 range.
    #[inline(always)]
    fn lane_diff<const W: usize>(
        &self,
        ty: usize,
        s: usize,
        b: &[i32],
        n: &[i32],
        scaled: &[i64; MAX_LANE_OPS],
    ) -> Option<u32> {
        // Unpredicted cells compare as they are, predicted ones against their prediction.
        let plain = &self.lanes.plain_mask[ty * s..][..s];
        let mut diff = b
            .iter()
            .zip(n)
            .zip(plain)
            .fold(0u32, |d, ((&b, &n), &m)| d | ((b ^ n) as u32 & m));
        let ops: &[(u16, u16, i64); W] = self.lanes.exact[ty * W..][..W].try_into().ok()?;
        let ks: &[i64; W] = scaled[ty * W..][..W].try_into().ok()?;
        let live: &[u32; W] = self.lanes.exact_live[ty * W..][..W].try_into().ok()?;
        let mut wrapped = false;
        for ((&(f, vf, _), &k), &live) in ops.iter().zip(ks).zip(live) {
            let (f, vf) = (usize::from(f), usize::from(vf));
            let p = i64::from(b[f]).wrapping_add(i64::from(b[vf]).wrapping_mul(k));
            wrapped |= p != i64::from(p as i32);
            diff |= (p as i32 ^ n[f]) as u32 & live;
        }
        (!wrapped).then_some(diff)
    }

    /// Each exact op's velocity multiplier for a span of `ticks`, once per table rather than
    /// per entity.
    pub(crate) fn scaled(&self, ticks: i64) -> [i64; MAX_LANE_OPS] {
        let mut scaled = [0i64; MAX_LANE_OPS];
        for (k, &(_, _, num)) in scaled.iter_mut().zip(&self.lanes.exact) {
            *k = num.wrapping_mul(ticks);
        }
        scaled
    }

    /// Whether some type has public predictions beyond `exact_public`.
    pub(crate) fn has_general_types(&self) -> bool {
        self.lanes.general.iter().any(|&g| g)
    }

    /// What the owner's private fields add to the checksum: 0 when `own` is not in the table
    /// or its type has no private fields.
    pub fn owner_checksum(&self, t: &StateTable, own: Option<EntityId>) -> u32 {
        let Some(e) = own.and_then(|id| t.get(id)) else {
            return 0;
        };
        let Some(tp) = self.types.get(usize::from(e.ty)) else {
            return 0;
        };
        if tp.owner.is_empty() {
            return 0;
        }
        let k = entity_key(
            e.id,
            e.ty,
            tp.owner
                .iter()
                .map(|&f| (f, word(t, &e, &tp.fields[usize::from(f)], f))),
        );
        finish(CHECKSUM_SEED.wrapping_add(k), 1)
    }

    /// The checksum a client whose player is `own` verifies: every field it can see.
    pub fn checksum(&self, t: &StateTable, own: Option<EntityId>) -> u32 {
        self.public_checksum(t) ^ self.owner_checksum(t, own)
    }

    /// Whether any type has owner-only fields. Without them every client with the same
    /// baseline and the same delta bytes ends up with the same table and the same checksum,
    /// whichever its player.
    pub fn has_private_fields(&self) -> bool {
        self.types.iter().any(|tp| !tp.owner.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(index: u32, version: u32) -> EntityId {
        EntityId { index, version }
    }

    #[test]
    fn insert_get_remove_and_strings() {
        let mut t = StateTable::new(3);
        t.insert(id(2, 1), 0).unwrap().copy_from_slice(&[1, 2, 3]);
        assert_eq!(t.get(id(2, 1)).unwrap().values, &[1, 2, 3]);
        assert!(t.get(id(2, 3)).is_none());
        assert_eq!(t.insert(id(2, 1), 0), Err(TableError::Occupied(2)));
        t.set_string(2, 1, "hello").unwrap();
        assert_eq!(t.string(2, 1), "hello");
        assert_eq!(t.get(id(2, 1)).unwrap().values[1], 5);
        let c = t.clone();
        assert_eq!(c, t);
        t.remove(2).unwrap();
        assert_eq!(t.string(2, 1), "");
        assert_eq!(t.remove(2), Err(TableError::Vacant(2)));
        assert!(t.is_empty());
        assert_eq!(
            t.insert(id(MAX_ENTITY_INDEX, 1), 0),
            Err(TableError::IndexOutOfRange(MAX_ENTITY_INDEX))
        );
    }

    #[test]
    fn a_compact_table_moves_its_last_row_into_a_removed_one() {
        let mut t = StateTable::compact(2);
        for (i, index) in [900, 7, 40_000].into_iter().enumerate() {
            t.insert(id(index, 1), 0).unwrap()[0] = i as i32;
        }
        assert_eq!(t.insert(id(7, 3), 0), Err(TableError::Occupied(7)));
        assert_eq!(t.slot_count(), 40_001);
        t.set_string(900, 1, "first").unwrap();
        assert_eq!(t.remove(900), Ok(id(900, 1)));
        assert_eq!(t.remove(900), Err(TableError::Vacant(900)));
        assert_eq!(t.string(900, 1), "", "its strings go with it");
        assert_eq!(t.at(40_000).unwrap().values, &[2, 0], "the moved row");
        t.values_mut(40_000).unwrap()[1] = 9;
        assert_eq!(t.get(id(40_000, 1)).unwrap().values, &[2, 9]);
        assert_eq!(t.get(id(7, 1)).unwrap().values, &[1, 0]);
        assert_eq!(t.len(), 2);
        let mut dense = StateTable::new(2);
        dense
            .insert(id(40_000, 1), 0)
            .unwrap()
            .copy_from_slice(&[2, 9]);
        dense.insert(id(7, 1), 0).unwrap()[0] = 1;
        assert_eq!(t, dense, "the same entities, whatever the layout");
        assert_eq!(dense.to_compact(), t);
        t.clear();
        assert!(t.is_empty() && t.at(7).is_none() && t.slot_count() == 0);
    }

    #[test]
    fn velocity_prediction_is_additive_when_exact() {
        let fp = FieldPlan {
            kind: Kind::Int,
            predictor: Predictor::Velocity {
                field: 1,
                num: 1,
                den: 1,
            },
            owner: false,
        };
        let base = [100, -7];
        let one = Span {
            ticks: 1,
            second: None,
        };
        let six = Span {
            ticks: 6,
            second: None,
        };
        let mut x = base;
        for _ in 0..6 {
            x[0] = predict(&fp, 0, &x, &one);
        }
        assert_eq!(x[0], predict(&fp, 0, &base, &six));
        assert_eq!(x[0], 58);
    }

    #[test]
    fn rounding_and_angles() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -2);
        assert_eq!(angle_diff(1, 255, 8), 2);
        assert_eq!(angle_diff(255, 1, 8), -2);
        let fp = FieldPlan {
            kind: Kind::Angle { bits: 8 },
            predictor: Predictor::Linear,
            owner: false,
        };
        let two = [250];
        let span = Span {
            ticks: 2,
            second: Some((&two, 1)),
        };
        // 250 -> 254 in one tick, so 6 more two ticks on: 262 wraps to 6.
        assert_eq!(predict(&fp, 0, &[254], &span), 6);
    }
}
