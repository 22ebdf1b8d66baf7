//! The Rust side of a game's declaration: the traits that `#[derive(Replicate)]`,
//! `#[derive(Fields)]`, `#[derive(Messages)]` and `#[derive(WireEnum)]` (crate
//! `ticksync-derive`) implement, and that hand-written declarations may implement too.
//!
//! A game's types say what goes on the wire; `Writer` collects their values each tick (the
//! server quantises them per the field codings); `Value`s come back from the wire for inputs and
//! messages.

use crate::schema::{FieldDesc, Value};

/// One field value as a game writes it (before quantisation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Raw {
    /// `Fixed` in units, `Angle` in radians.
    Num(f64),
    /// `Int`, `Bool` (0/1), `Enum` (variant index).
    Int(i64),
    /// A `Str` field: `text[start..end]` of the writer.
    Str(u32, u32),
}

/// Collects field values in field-id order. Reused: `clear` keeps the allocations.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    /// One entry per value written, in order.
    pub raws: Vec<Raw>,
    /// Every string written, back to back (`Raw::Str` holds its range here).
    pub text: String,
}

impl Writer {
    /// Empties it for the next entity or message, keeping the allocations.
    pub fn clear(&mut self) {
        self.raws.clear();
        self.text.clear();
    }
    /// Writes a float: a `Fixed` value in units, an `Angle` in radians.
    #[inline]
    pub fn num(&mut self, v: f64) {
        self.raws.push(Raw::Num(v));
    }
    /// Writes an `Int`, a `Bool` (0/1) or an `Enum` (variant index).
    #[inline]
    pub fn int(&mut self, v: i64) {
        self.raws.push(Raw::Int(v));
    }
    /// Writes a `Str` field's text.
    pub fn str(&mut self, s: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        self.raws.push(Raw::Str(start, self.text.len() as u32));
    }
    /// The text of a `Raw::Str`.
    pub fn text_of(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }
    /// The values as `Value`s (for encoding inputs and messages).
    pub fn values(&self) -> Vec<Value> {
        self.raws
            .iter()
            .map(|r| match *r {
                Raw::Num(v) => Value::Num(v),
                Raw::Int(i) => Value::Int(i),
                Raw::Str(a, b) => Value::Str(self.text_of(a, b).to_owned()),
            })
            .collect()
    }
}

/// A struct of declared fields: an input, the room state, one entity type.
pub trait Fields: Sized {
    /// Its fields in id order (a `Vec2` is two: `name.x`, `name.y`). Ids are positions.
    fn fields() -> Vec<FieldDesc>;
    /// Writes every field's value, in id order.
    fn write(&self, out: &mut Writer);
    /// Builds a value from field values in id order. Values past the end (a sender that knows
    /// fewer fields) take the field's default; extra values (a newer sender) are ignored.
    fn read(values: &[Value]) -> Self;
}

/// The entity types of a world: one struct (one type), or an enum whose variants each hold
/// one struct (one type per variant, ids in variant order).
pub trait Replicate {
    /// `(type name, fields)` per type, in type-id order.
    fn types() -> Vec<(String, Vec<FieldDesc>)>;
    /// This value's type id.
    fn type_id(&self) -> u16;
    /// Writes this value's fields, in id order.
    fn write(&self, out: &mut Writer);
    /// The inverse of `type_id` + `write` (values unquantised, as `Writer::values` gives them),
    /// for state saved and restored elsewhere. `None` for a type id this declaration does not
    /// have, or values that do not fit its fields: more values than fields, a value of the
    /// wrong kind (`Num` for a float, `Int` for an integer, bool or enumeration, `Str` for a
    /// string), an integer outside its Rust type, a bool other than 0/1, an unknown
    /// enumeration index. Missing trailing values (state saved before fields were added) take
    /// the field's default, and so do fields not replicated (`skip`).
    fn read(type_id: u16, values: &[Value]) -> Option<Self>
    where
        Self: Sized;
}

/// A set of reliable messages: an enum whose variants have named fields (or none).
pub trait Messages: Sized {
    /// `(message name, fields)` per message, in id order.
    fn messages() -> Vec<(String, Vec<FieldDesc>)>;
    /// This message's id: its position in `messages` (`Action.id`).
    fn id(&self) -> u16;
    /// Writes this message's field values, in id order.
    fn write(&self, out: &mut Writer);
    /// `None` for an id the set does not have.
    fn read(id: u16, values: &[Value]) -> Option<Self>;
}

/// A fieldless enum used as a field type (`Coding::Enum`).
pub trait WireEnum: Sized {
    /// The variants' wire names in index order (`Coding::Enum`'s `variants`).
    fn variants() -> Vec<String>;
    /// This value's variant index: what travels.
    fn index(&self) -> u32;
    /// The variant at index `i`; `None` past the last.
    fn from_index(i: u32) -> Option<Self>;
}

/// No messages: for a game without actions or events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoMessages {}

impl Messages for NoMessages {
    fn messages() -> Vec<(String, Vec<FieldDesc>)> {
        Vec::new()
    }
    fn id(&self) -> u16 {
        match *self {}
    }
    fn write(&self, _: &mut Writer) {
        match *self {}
    }
    fn read(_: u16, _: &[Value]) -> Option<Self> {
        None
    }
}

/// No room state.
impl Replicate for () {
    fn types() -> Vec<(String, Vec<FieldDesc>)> {
        Vec::new()
    }
    fn type_id(&self) -> u16 {
        0
    }
    fn write(&self, _: &mut Writer) {}
    /// There is nothing to read back: no room state.
    fn read(_: u16, _: &[Value]) -> Option<Self> {
        None
    }
}

/// Helpers the derive's generated `read` uses: a value by position, or the default; and
/// whether a value fits a field (`Replicate::read`: missing values fit, they take defaults).
pub mod read {
    use crate::declare::WireEnum;
    use crate::schema::Value;

    /// A float field (`f32`, `f64`, a `Vec2` component).
    pub fn fits_num(v: Option<&Value>) -> bool {
        matches!(v, None | Some(Value::Num(_)))
    }

    /// An integer field of type `T` (values of 64-bit types are written `as i64`: any fits).
    pub fn fits_int<T: TryFrom<i64>>(v: Option<&Value>) -> bool {
        match v {
            None => true,
            Some(Value::Int(i)) => T::try_from(*i).is_ok(),
            _ => false,
        }
    }

    /// A `bool` field: 0 or 1.
    pub fn fits_bool(v: Option<&Value>) -> bool {
        matches!(v, None | Some(Value::Int(0 | 1)))
    }

    /// A `WireEnum` field of type `E`: an index it has.
    pub fn fits_enum<E: WireEnum>(v: Option<&Value>) -> bool {
        match v {
            None => true,
            Some(Value::Int(i)) => u32::try_from(*i).is_ok_and(|i| E::from_index(i).is_some()),
            _ => false,
        }
    }

    /// A `String` field.
    pub fn fits_str(v: Option<&Value>) -> bool {
        matches!(v, None | Some(Value::Str(_)))
    }

    /// Value `i` as a float; 0 when missing or a string.
    pub fn num(values: &[Value], i: usize) -> f64 {
        values.get(i).map_or(0.0, Value::as_f64)
    }

    /// Value `i` as an integer (a float truncated, saturating); 0 when missing or a string.
    pub fn int(values: &[Value], i: usize) -> i64 {
        match values.get(i) {
            Some(Value::Int(v)) => *v,
            Some(Value::Num(v)) => *v as i64,
            _ => 0,
        }
    }

    /// Value `i` as text; empty when missing or not a string.
    pub fn string(values: &[Value], i: usize) -> String {
        match values.get(i) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }
}
