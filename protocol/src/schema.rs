//! A game's declared state, as data: the descriptor a server sends in `Welcome`, from which any
//! client decodes that game with no generated code.
//!
//! A game declares entity types (named, typed fields), an optional room-state type (replicated
//! like an entity, in slot 0), its input fields and its reliable messages both ways. Every field
//! has a coding (how its value is quantised to an integer), a predictor (what a delta predicts it
//! to be, so only the residual travels), an interpolation hint for clients and a visibility.
//! Field ids are positions in their list and only grow: appending a field keeps old ids valid.

use serde::{Deserialize, Serialize};

/// How a field's value becomes the integer that is stored, predicted and sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Coding {
    /// A fixed-point number: `value = steps / scale`, steps in `min..=max`. The server keeps a
    /// predicted field on its predicted track while the true value stays within `tolerance`
    /// steps of it (0: plain rounding, error at most half a step).
    Fixed {
        /// Steps per unit (at least 1).
        scale: u32,
        /// The smallest value, in steps.
        min: i32,
        /// The largest value, in steps.
        max: i32,
        /// How many steps a predicted field's true value may be off its prediction while the
        /// server keeps storing the prediction.
        tolerance: u32,
    },
    /// An angle in `0..2^bits` steps of a full turn; arithmetic on it wraps.
    Angle {
        /// `2^bits` steps a turn; 1..=`MAX_ANGLE_BITS`.
        bits: u8,
    },
    /// An integer in `min..=max`.
    Int {
        /// The smallest value.
        min: i32,
        /// The largest value.
        max: i32,
    },
    /// 0 or 1.
    Bool,
    /// One of `variants`, by index.
    Enum {
        /// The variants' names in index order, 1..=256 of them.
        #[serde(deserialize_with = "crate::bounded::vec")]
        variants: Vec<String>,
    },
    /// UTF-8 text of at most `max_bytes` bytes, no control characters.
    Str {
        /// The longest text, in bytes.
        max_bytes: u16,
    },
}

/// What a delta predicts a field to be from the client's baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Predictor {
    /// The baseline value.
    None,
    /// Dead reckoning: the baseline value plus the baseline value of velocity field `field`
    /// times the ticks elapsed, times `num / den` (rounded half up). The server fills `num` and
    /// `den` for its tick rate: `num / den` = this field's scale / (velocity scale x tick rate).
    Velocity {
        /// The velocity's field id, a `Fixed` field of the same type.
        field: u16,
        /// The ratio's numerator.
        num: u32,
        /// The ratio's denominator (at least 1 once resolved).
        den: u32,
    },
    /// Linear from the two newest acked values: `b + (b - b2) * (t - tb) / (tb - tb2)`, floored;
    /// the baseline value when the snapshot names no second baseline.
    Linear,
}

/// How clients should draw a field between snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interp {
    /// Show the newest value.
    None,
    /// Interpolate linearly.
    Linear,
    /// Linear along the shorter way round (for `Angle` fields).
    Angle,
}

/// Who receives a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visibility {
    /// Every client (a public field).
    Everyone,
    /// Only the client whose player entity this is.
    Owner,
}

/// One declared field: its id and name, and how it is coded, predicted, drawn and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDesc {
    /// Its position in its type's field list.
    pub id: u16,
    /// Its wire name (a 2-D vector is two fields, `name.x` and `name.y`).
    pub name: String,
    /// How its value is quantised to an integer.
    pub coding: Coding,
    /// What a delta predicts it to be; `None` outside entity and room-state types.
    pub predictor: Predictor,
    /// How clients draw it between snapshots.
    pub interp: Interp,
    /// Who receives it; `Everyone` outside entity and room-state types.
    pub visibility: Visibility,
}

/// An entity type (or the room state, or one reliable message): named fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDesc {
    /// Its position in its list: the type id, action id or event id.
    pub id: u16,
    /// The type's or message's name.
    pub name: String,
    /// Its fields in id order, at most `MAX_FIELDS`.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub fields: Vec<FieldDesc>,
}

/// A number the game tells clients (world size, speeds) for drawing and prediction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// What it is (`world_width`, `player_speed`, ...).
    pub name: String,
    /// Its value (an `f64`, 8 bytes little-endian on the wire).
    pub value: f64,
}

/// Everything a client needs to decode a game. Its lists decode through `bounded::vec`: a
/// length claim alone never sizes an allocation. Its `hash` is defined in `codec`, next to the
/// encoding it hashes (this module sits below the codec and never calls it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The game's name (`Welcome.game`).
    pub game: String,
    /// Entity types; an entity's type is its index here.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub types: Vec<TypeDesc>,
    /// The room state's type (an index into `types`); it lives in entity slot 0.
    pub room_type: Option<u16>,
    /// The fields of one `Input` (sent every tick).
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub input: Vec<FieldDesc>,
    /// Reliable client -> server messages (`ClientMsg::Action`), by id.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub actions: Vec<TypeDesc>,
    /// Reliable server -> client messages (`ServerMsg::GameEvent`), by id.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub events: Vec<TypeDesc>,
    /// Numbers for clients (world size, speeds), in the game's order.
    #[serde(deserialize_with = "crate::bounded::vec")]
    pub params: Vec<Param>,
}

/// The room state's entity slot (entities' slots start at 1).
pub const ROOM_INDEX: u32 = 0;
/// The room state's version in its slot.
pub const ROOM_VERSION: u32 = 1;

/// Largest number of fields of one type (field masks are at most this many bits).
pub const MAX_FIELDS: usize = 64;
/// Largest `Angle` bit count.
pub const MAX_ANGLE_BITS: u8 = 24;
/// Prediction is exact in f64 (JavaScript numbers) below this.
const EXACT: i128 = 1 << 52;
/// Ticks a prediction may span (the longest history a server keeps).
pub const MAX_PREDICT_TICKS: i64 = 1024;

/// Why a descriptor is invalid (`Descriptor::resolve`, `Descriptor::validate`): the type or
/// field at fault and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("schema: {0}")]
pub struct SchemaError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError(msg.into()))
}

impl Coding {
    /// The integer range of a stored value (strings: their byte length).
    pub fn range(&self) -> (i64, i64) {
        match self {
            Coding::Fixed { min, max, .. } | Coding::Int { min, max } => {
                (i64::from(*min), i64::from(*max))
            }
            Coding::Angle { bits } => (0, (1i64 << bits) - 1),
            Coding::Bool => (0, 1),
            Coding::Enum { variants } => (0, variants.len() as i64 - 1),
            Coding::Str { max_bytes } => (0, i64::from(*max_bytes)),
        }
    }

    /// Whether it is `Str`: text beside the table, its byte length in the cell.
    pub fn is_str(&self) -> bool {
        matches!(self, Coding::Str { .. })
    }

    /// Steps per unit for `Fixed`; steps per turn for `Angle`.
    pub fn scale(&self) -> Option<f64> {
        match self {
            Coding::Fixed { scale, .. } => Some(f64::from(*scale)),
            Coding::Angle { bits } => Some((1u64 << bits) as f64),
            _ => None,
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Descriptor {
    /// Fills every velocity predictor's `num / den` for `tick_rate`, then validates.
    pub fn resolve(mut self, tick_rate: u16) -> Result<Descriptor, SchemaError> {
        for t in &mut self.types {
            let scales: Vec<Option<u32>> = t
                .fields
                .iter()
                .map(|f| match f.coding {
                    Coding::Fixed { scale, .. } => Some(scale),
                    _ => None,
                })
                .collect();
            for f in &mut t.fields {
                if let Predictor::Velocity { field, num, den } = &mut f.predictor {
                    let (Some(Some(p)), Some(Some(q))) =
                        (scales.get(f.id as usize), scales.get(*field as usize))
                    else {
                        return err(format!(
                            "{}.{}: velocity prediction needs fixed-point fields",
                            t.name, f.name
                        ));
                    };
                    let (n, d) = (u64::from(*p), u64::from(*q) * u64::from(tick_rate));
                    let g = gcd(n, d).max(1);
                    (*num, *den) = ((n / g) as u32, (d / g) as u32);
                }
            }
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks ids, ranges and predictor references: what a client may rely on.
    pub fn validate(&self) -> Result<(), SchemaError> {
        for (i, t) in self.types.iter().enumerate() {
            if t.id as usize != i {
                return err(format!("type {} has id {}, expected {i}", t.name, t.id));
            }
            validate_fields(&t.name, &t.fields, true)?;
        }
        if let Some(r) = self.room_type
            && r as usize >= self.types.len()
        {
            return err(format!("room type {r} is not a type"));
        }
        validate_fields("input", &self.input, false)?;
        for (kind, list) in [("action", &self.actions), ("event", &self.events)] {
            for (i, m) in list.iter().enumerate() {
                if m.id as usize != i {
                    return err(format!("{kind} {} has id {}, expected {i}", m.name, m.id));
                }
                validate_fields(&m.name, &m.fields, false)?;
            }
        }
        Ok(())
    }
}

/// FNV-1a, 32 bits (`Descriptor::hash`, which `codec` defines over the wire encoding, and
/// string fields' checksums in `state`).
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn validate_fields(owner: &str, fields: &[FieldDesc], entity: bool) -> Result<(), SchemaError> {
    if fields.len() > MAX_FIELDS {
        return err(format!("{owner} has more than {MAX_FIELDS} fields"));
    }
    for (i, f) in fields.iter().enumerate() {
        let at = format!("{owner}.{}", f.name);
        if f.id as usize != i {
            return err(format!("{at} has id {}, expected {i}", f.id));
        }
        match &f.coding {
            Coding::Fixed {
                scale, min, max, ..
            } if *scale == 0 || min > max => {
                return err(format!("{at}: bad fixed-point scale or range"));
            }
            Coding::Int { min, max } if min > max => return err(format!("{at}: min > max")),
            Coding::Angle { bits } if *bits == 0 || *bits > MAX_ANGLE_BITS => {
                return err(format!("{at}: angle bits must be 1..={MAX_ANGLE_BITS}"));
            }
            Coding::Enum { variants } if variants.is_empty() || variants.len() > 256 => {
                return err(format!("{at}: an enum needs 1..=256 variants"));
            }
            _ => {}
        }
        if !entity && (f.predictor != Predictor::None || f.visibility != Visibility::Everyone) {
            return err(format!(
                "{at}: only entity fields have predictors and visibility"
            ));
        }
        let numeric = matches!(f.coding, Coding::Fixed { .. } | Coding::Angle { .. });
        match f.predictor {
            Predictor::None => {}
            _ if !numeric => {
                return err(format!("{at}: only fixed-point and angle fields predict"));
            }
            Predictor::Linear => {}
            Predictor::Velocity { field, num, den } => {
                let Some(v) = fields.get(field as usize) else {
                    return err(format!("{at}: velocity field {field} does not exist"));
                };
                let fixed = |c: &Coding| matches!(c, Coding::Fixed { .. });
                if !fixed(&f.coding) || !fixed(&v.coding) {
                    return err(format!(
                        "{at}: velocity prediction needs fixed-point fields"
                    ));
                }
                if v.visibility != f.visibility && v.visibility == Visibility::Owner {
                    return err(format!("{at}: its velocity field is less visible than it"));
                }
                if den == 0 {
                    return err(format!("{at}: velocity ratio not resolved"));
                }
                let (lo, hi) = v.coding.range();
                let worst = i128::from(lo.abs().max(hi.abs()))
                    * i128::from(MAX_PREDICT_TICKS)
                    * i128::from(num)
                    * 2
                    + i128::from(den);
                if worst >= EXACT {
                    return err(format!(
                        "{at}: velocity range too large for exact prediction"
                    ));
                }
            }
        }
        if let Coding::Fixed { min, max, .. } = f.coding
            && f.predictor == Predictor::Linear
        {
            let span = (i128::from(max) - i128::from(min)) * i128::from(MAX_PREDICT_TICKS);
            if span >= EXACT {
                return err(format!("{at}: range too large for exact linear prediction"));
            }
        }
    }
    Ok(())
}

// ---- values ------------------------------------------------------------------------------

/// A field's value as a game sees it, before quantisation (server) or after (clients).
/// Serialisable for saved room state (it does not travel in messages as such): externally
/// tagged, so `Int(1)` and `Num(1.0)` stay apart, and exact (see `exact_f64`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// `Fixed` (units) and `Angle` (radians).
    Num(#[serde(with = "exact_f64")] f64),
    /// `Int`, `Bool` (0/1), `Enum` (variant index).
    Int(i64),
    /// `Str`.
    Str(String),
}

impl Value {
    /// The value as a float: an `Int` converted, a `Str` 0.
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Num(v) => *v,
            Value::Int(i) => *i as f64,
            Value::Str(_) => 0.0,
        }
    }
}

/// A float in text formats as its shortest exact decimal text (`"0.1"`, `"1e300"`, `"NaN"`):
/// serde_json's default parser may land one ulp off, and JSON has no NaN or infinities, yet a
/// restored value must be the saved one. Binary formats take the f64 as is. Reads a plain
/// number too.
mod exact_f64 {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Text formats: the shortest exact text; binary ones: the f64.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            // Debug, not Display: the shortest text that parses back to `v`, with an exponent
            // for large and small magnitudes.
            s.collect_str(&format_args!("{v:?}"))
        } else {
            s.serialize_f64(*v)
        }
    }

    /// What `serialize` writes, or a plain number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Num(f64),
            Text(String),
        }
        if !d.is_human_readable() {
            return f64::deserialize(d);
        }
        match Either::deserialize(d)? {
            Either::Num(v) => Ok(v),
            Either::Text(t) => t.parse().map_err(D::Error::custom),
        }
    }
}

const TAU: f64 = std::f64::consts::TAU;

/// Quantises a game value for `coding`, clamped into its range (NaN to 0). Strings are not
/// numbers: their stored integer is their byte length.
pub fn quantize(coding: &Coding, v: &Value) -> i32 {
    if let Coding::Fixed {
        scale, min, max, ..
    } = *coding
    {
        return quantize_fixed(v.as_f64(), scale, min, max);
    }
    let (lo, hi) = coding.range();
    let q = match (coding, v) {
        (Coding::Angle { bits }, v) => {
            let turns = (v.as_f64() / TAU).rem_euclid(1.0);
            let n = 1i64 << bits;
            (round_sat(turns * n as f64)).rem_euclid(n)
        }
        (Coding::Str { .. }, Value::Str(s)) => s.len() as i64,
        (_, Value::Int(i)) => *i,
        (_, v) => round_sat(v.as_f64()),
    };
    q.clamp(lo, hi) as i32
}

/// `quantize` for a `Fixed { scale, min, max }` coding: the hot case, recorded for every
/// position of every entity every tick.
#[inline]
pub fn quantize_fixed(v: f64, scale: u32, min: i32, max: i32) -> i32 {
    // Into range first (NaN as 0): rounding a value between two integers stays between them,
    // and the range is i32's, so the rounding needs no saturating 64-bit steps.
    let y = v * f64::from(scale);
    let y = if y.is_nan() { 0.0 } else { y };
    let y = y.max(f64::from(min)).min(f64::from(max));
    let t = y as i32;
    let frac = y - f64::from(t);
    t.wrapping_add(i32::from(frac >= 0.5) - i32::from(frac <= -0.5))
}

/// `x.round() as i64` (halves away from zero; `as` saturates and maps NaN to 0, what
/// untrusted or buggy floats need) without the libm call `round` is on x86-64's baseline:
/// the fraction `x - trunc(x)` is exact for every finite double.
fn round_sat(x: f64) -> i64 {
    let t = x as i64;
    let frac = x - t as f64;
    // Without branches: which side of a half the fraction falls is data, not a pattern.
    t.saturating_add(i64::from(frac >= 0.5) - i64::from(frac <= -0.5))
}

/// The game value of a stored integer.
pub fn dequantize(coding: &Coding, q: i32) -> Value {
    match coding {
        Coding::Fixed { scale, .. } => Value::Num(f64::from(q) / f64::from(*scale)),
        Coding::Angle { bits } => Value::Num(f64::from(q) / (1u64 << bits) as f64 * TAU),
        _ => Value::Int(i64::from(q)),
    }
}

/// Checks that `text` fits a `Str` field: length and no control characters.
pub fn check_str(text: &str, max_bytes: u16) -> Result<(), &'static str> {
    if text.len() > usize::from(max_bytes) {
        return Err("string longer than its field allows");
    }
    if text.chars().any(char::is_control) {
        return Err("string contains control characters");
    }
    Ok(())
}

// ---- compact value lists (inputs, actions, game events) -----------------------------------

/// Appends `values` (one per field, in order) coded per the fields: numbers as zig-zag LEB128
/// varints of their quantised value (clamped into range), strings as a LEB128 byte length and
/// the bytes (control characters dropped, cut to the field's limit). Missing trailing values
/// are sent as 0 / empty, extra ones dropped: the result always decodes.
pub fn encode_values(fields: &[FieldDesc], values: &[Value], out: &mut Vec<u8>) {
    for (i, f) in fields.iter().enumerate() {
        match (&f.coding, values.get(i)) {
            (Coding::Str { max_bytes }, Some(Value::Str(s))) => {
                let mut clean: String = s.chars().filter(|c| !c.is_control()).collect();
                let mut end = clean.len().min(usize::from(*max_bytes));
                while !clean.is_char_boundary(end) {
                    end -= 1;
                }
                clean.truncate(end);
                crate::varint::put_u64(out, clean.len() as u64);
                out.extend_from_slice(clean.as_bytes());
            }
            (Coding::Str { .. }, _) => crate::varint::put_u64(out, 0),
            (c, Some(v)) => crate::varint::put_i64(out, i64::from(quantize(c, v))),
            (c, None) => crate::varint::put_i64(out, i64::from(quantize(c, &Value::Int(0)))),
        }
    }
}

/// Why a value list did not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Bytes that are not a value list: a malformed varint, too few bytes for the fields, or
    /// bytes after the last field.
    #[error("{0}")]
    Malformed(&'static str),
    /// A value outside its field's declared range, an unknown enum tag, an oversize string.
    #[error("field {field}: {why}")]
    OutOfRange {
        /// The field's name.
        field: String,
        /// The rule its value breaks.
        why: &'static str,
    },
}

/// Decodes exactly one value per field from `bytes`, validating each against its coding.
pub fn decode_values(fields: &[FieldDesc], bytes: &[u8]) -> Result<Vec<Value>, ValueError> {
    let mut r = crate::varint::Reader::new(bytes);
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let bad = |why| ValueError::OutOfRange {
            field: f.name.clone(),
            why,
        };
        let v = match &f.coding {
            Coding::Str { max_bytes } => {
                let len = r.u64().map_err(ValueError::Malformed)?;
                if len > u64::from(*max_bytes) {
                    return Err(bad("string longer than its field allows"));
                }
                let b = r.bytes(len as usize).map_err(ValueError::Malformed)?;
                let s = std::str::from_utf8(b).map_err(|_| bad("string is not UTF-8"))?;
                check_str(s, *max_bytes).map_err(bad)?;
                Value::Str(s.to_owned())
            }
            c => {
                let q = r.i64().map_err(ValueError::Malformed)?;
                let (lo, hi) = c.range();
                if q < lo || q > hi {
                    return Err(bad(match c {
                        Coding::Enum { .. } => "unknown enum tag",
                        _ => "value outside the declared range",
                    }));
                }
                dequantize(c, q as i32)
            }
        };
        out.push(v);
    }
    if r.remaining() != 0 {
        return Err(ValueError::Malformed("bytes left after the last field"));
    }
    Ok(out)
}

// ---- building a descriptor ----------------------------------------------------------------

impl FieldDesc {
    /// A field everyone sees, not predicted, not interpolated; `id` is set when it is added to
    /// its type.
    pub fn new(name: &str, coding: Coding) -> FieldDesc {
        FieldDesc {
            id: 0,
            name: name.to_owned(),
            coding,
            predictor: Predictor::None,
            interp: Interp::None,
            visibility: Visibility::Everyone,
        }
    }
}

/// Numbers `fields` by position.
pub fn number(mut fields: Vec<FieldDesc>) -> Vec<FieldDesc> {
    for (i, f) in fields.iter_mut().enumerate() {
        f.id = i as u16;
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_f64_round_everywhere() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut values = vec![
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.499_999_999_999_999_94,
            -0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            9.3e18,
            -9.3e18,
            9_223_372_036_854_775_807.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -0.0,
        ];
        for _ in 0..100_000 {
            // xorshift: any bit pattern is a double, NaNs and infinities included.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 2_000_001) as f64 / 4.0 - 250_000.0);
        }
        for &v in &values {
            assert_eq!(round_sat(v), v.round() as i64, "{v:e}");
        }
        // The recorder's fast path: round, then clamp.
        for (scale, min, max) in [
            (960, 0, 3_840_000),
            (16, -4800, 4800),
            (1, i32::MIN, i32::MAX),
        ] {
            for &v in &values {
                let want = (v * f64::from(scale)).round() as i64;
                let want = want.clamp(i64::from(min), i64::from(max)) as i32;
                assert_eq!(quantize_fixed(v, scale, min, max), want, "{v:e} x {scale}");
            }
        }
    }

    fn fixed(scale: u32, min: i32, max: i32) -> Coding {
        Coding::Fixed {
            scale,
            min,
            max,
            tolerance: 0,
        }
    }

    #[test]
    fn quantize_clamps_and_wraps() {
        let c = fixed(16, 0, 16_000);
        assert_eq!(quantize(&c, &Value::Num(1.5)), 24);
        assert_eq!(quantize(&c, &Value::Num(-3.0)), 0);
        assert_eq!(quantize(&c, &Value::Num(f64::NAN)), 0);
        assert_eq!(quantize(&c, &Value::Num(1e30)), 16_000);
        let a = Coding::Angle { bits: 8 };
        assert_eq!(quantize(&a, &Value::Num(-TAU / 4.0)), 192);
        assert_eq!(quantize(&a, &Value::Num(TAU)), 0);
        assert_eq!(quantize(&a, &Value::Num(TAU * 0.999)), 0);
    }

    #[test]
    fn values_round_trip_and_are_validated() {
        let fields = number(vec![
            FieldDesc::new("x", fixed(100, -100, 100)),
            FieldDesc::new("fire", Coding::Bool),
            FieldDesc::new(
                "team",
                Coding::Enum {
                    variants: vec!["red".into(), "blue".into()],
                },
            ),
            FieldDesc::new("msg", Coding::Str { max_bytes: 8 }),
        ]);
        let vals = vec![
            Value::Num(-0.5),
            Value::Int(1),
            Value::Int(1),
            Value::Str("hi".into()),
        ];
        let mut b = Vec::new();
        encode_values(&fields, &vals, &mut b);
        assert_eq!(decode_values(&fields, &b).unwrap(), vals);
        // Out of range, unknown tag, oversize string, trailing bytes.
        for (bytes, want) in [
            (
                vec![0xca, 0x01, 0, 0, 0],
                "value outside the declared range",
            ),
            (vec![0, 0, 4, 0], "unknown enum tag"),
            (vec![0, 0, 0, 9], "string longer than its field allows"),
        ] {
            match decode_values(&fields, &bytes) {
                Err(ValueError::OutOfRange { why, .. }) => assert_eq!(why, want),
                other => panic!("{other:?}"),
            }
        }
        b.push(0);
        assert!(matches!(
            decode_values(&fields, &b),
            Err(ValueError::Malformed(_))
        ));
    }

    #[test]
    fn velocity_ratios_resolve_per_tick_rate() {
        let mut pos = FieldDesc::new("x", fixed(960, 0, 960_000));
        pos.predictor = Predictor::Velocity {
            field: 1,
            num: 0,
            den: 0,
        };
        let d = Descriptor {
            game: "g".into(),
            types: vec![TypeDesc {
                id: 0,
                name: "t".into(),
                fields: number(vec![pos, FieldDesc::new("vx", fixed(16, -4800, 4800))]),
            }],
            room_type: None,
            input: vec![],
            actions: vec![],
            events: vec![],
            params: vec![],
        };
        assert!(d.validate().is_err(), "unresolved ratio");
        let r = d.clone().resolve(60).unwrap();
        assert_eq!(
            r.types[0].fields[0].predictor,
            Predictor::Velocity {
                field: 1,
                num: 1,
                den: 1
            }
        );
        let r = d.resolve(50).unwrap();
        assert_eq!(
            r.types[0].fields[0].predictor,
            Predictor::Velocity {
                field: 1,
                num: 6,
                den: 5
            }
        );
    }

    #[test]
    fn values_serialise_exactly_keeping_their_kind() {
        let values = vec![Value::Num(1.0), Value::Int(1), Value::Str("1".into())];
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(json, r#"[{"Num":"1.0"},{"Int":1},{"Str":"1"}]"#);
        assert_eq!(serde_json::from_str::<Vec<Value>>(&json).unwrap(), values);
        // Plain numbers read too.
        let plain: Value = serde_json::from_str(r#"{"Num":2.5}"#).unwrap();
        assert_eq!(plain, Value::Num(2.5));
        // Every f64 comes back bit for bit (serde_json's own float parsing may not).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut floats = vec![f64::NAN, f64::INFINITY, -0.0, f64::MIN_POSITIVE, 1e300];
        floats.extend((0..2000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            f64::from_bits(x)
        }));
        floats.push(f64::from(59.833_336_f32));
        for v in floats {
            let json = serde_json::to_string(&Value::Num(v)).unwrap();
            match serde_json::from_str(&json).unwrap() {
                // NaN payloads are not kept (nothing reads them).
                Value::Num(back) if v.is_nan() => assert!(back.is_nan(), "{json}"),
                Value::Num(back) => assert_eq!(back.to_bits(), v.to_bits(), "{json}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(serde_json::from_str::<Value>(r#"{"Num":"x"}"#).is_err());
    }
}
