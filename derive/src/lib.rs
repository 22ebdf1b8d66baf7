//! Derives for a ticksync game's declarations: they implement the traits of
//! `protocol::declare` from annotated Rust types, so a game says once, next to its state, how
//! every field goes on the wire.
//!
//! | derive      | on                                                  | implements           |
//! |-------------|-----------------------------------------------------|----------------------|
//! | `Fields`    | a struct with named fields (an input, a room state) | `Fields`             |
//! | `Replicate` | a struct (one entity type)                          | `Fields` + `Replicate` |
//! | `Replicate` | an enum of `Variant(Struct)` (the world's types)    | `Replicate`          |
//! | `Messages`  | an enum of unit or named-field variants             | `Messages`           |
//! | `WireEnum`  | a fieldless enum (a field type)                     | `WireEnum`           |
//!
//! The crate using them depends on `ticksync` (generated code names `::ticksync::protocol`) or
//! on `protocol` directly (`::protocol`; preferred when both are there). Renamed dependencies
//! are followed, and inside `protocol` itself the path is `crate`. Where neither is a direct
//! dependency (say a studio crate re-exporting `ticksync`), give the path on the item:
//! `#[replicate(crate = "::engine::ticksync::protocol")]`, and likewise `#[fields(crate = ..)]`,
//! `#[messages(crate = ..)]`, `#[wire_enum(crate = ..)]` for the other derives. Dev-dependencies
//! count too: a crate with `ticksync` in `[dependencies]` and `protocol` only in
//! `[dev-dependencies]` gets `::protocol`, which its library cannot see; give it `crate` there.
//!
//! # Example
//!
//! ```
//! use glam::Vec2;
//! use protocol::declare::{Fields, Messages, Replicate, WireEnum, Writer};
//! use protocol::schema::{Descriptor, TypeDesc};
//! use ticksync_derive::{Fields, Messages, Replicate, WireEnum};
//!
//! /// A field type: travels as its variant's position; names are `red`, `blue`.
//! #[derive(Clone, Copy, Debug, Default, PartialEq, WireEnum)]
//! pub enum Team {
//!     #[default]
//!     Red,
//!     Blue,
//! }
//!
//! /// One entity type (`Replicate` on a struct also implements `Fields`).
//! #[derive(Clone, Debug, Default, PartialEq, Replicate)]
//! #[replicate(name = "tank")] // the default: the struct's name in snake_case
//! pub struct Tank {
//!     /// Two fields, `pos.x` and `pos.y`, in 1/64 unit steps over 0..=2000 units;
//!     /// dead-reckoned from `vel` (pos.x from vel.x, pos.y from vel.y), and kept on that
//!     /// prediction while within 2 steps of it.
//!     #[field(
//!         fixed(scale = 64, min = 0.0, max = 2000.0, tolerance = 0.03125),
//!         predict = velocity(vel),
//!         interp = linear
//!     )]
//!     pub pos: Vec2,
//!     /// Units per second, 1/16 unit steps.
//!     #[field(fixed(scale = 16, min = -300, max = 300))]
//!     pub vel: Vec2,
//!     /// Radians, 1024 steps a turn, extrapolated from its last two values.
//!     #[field(angle(bits = 10), predict = linear, interp = angle)]
//!     pub heading: f32,
//!     #[field(int(min = 0, max = 100))]
//!     pub health: u8,
//!     /// Only the tank's player receives it; range 0..=65535 from the type.
//!     #[field(owner)]
//!     pub ammo: u16,
//!     /// Bools need no attribute.
//!     pub firing: bool,
//!     #[field(enumeration)]
//!     pub team: Team,
//!     #[field(string(max = 24))]
//!     pub name: String,
//!     /// Server-side only: not replicated, `read` gives `Default::default()`.
//!     #[field(skip)]
//!     pub respawn_tick: u64,
//! }
//!
//! #[derive(Clone, Debug, Default, PartialEq, Replicate)] // type name "shell"
//! pub struct Shell {
//!     #[field(fixed(scale = 16, min = 0, max = 2000), predict = velocity(vel), interp = linear)]
//!     pub pos: Vec2,
//!     #[field(fixed(scale = 16, min = -600, max = 600))]
//!     pub vel: Vec2,
//! }
//!
//! /// The world's entity types: type id = variant index (tank 0, shell 1).
//! #[derive(Clone, Debug, PartialEq, Replicate)]
//! pub enum Entity {
//!     Tank(Tank),
//!     Shell(Shell),
//! }
//!
//! /// One tick of a player's input.
//! #[derive(Clone, Debug, Default, PartialEq, Fields)]
//! pub struct Input {
//!     #[field(fixed(scale = 100, min = -1, max = 1))]
//!     pub throttle: f32,
//!     #[field(angle(bits = 8))]
//!     pub aim: f32,
//!     pub fire: bool,
//! }
//!
//! /// Reliable client -> server messages: id = variant index, names in snake_case.
//! #[derive(Clone, Debug, PartialEq, Messages)]
//! pub enum Action {
//!     Respawn,
//!     #[message(name = "say")]
//!     Chat {
//!         #[field(string(max = 140))]
//!         text: String,
//!     },
//!     SetTeam {
//!         #[field(enumeration)]
//!         team: Team,
//!     },
//! }
//!
//! // What the server sends in `Welcome`.
//! let to_types = |list: Vec<(String, Vec<_>)>| -> Vec<TypeDesc> {
//!     list.into_iter()
//!         .enumerate()
//!         .map(|(id, (name, fields))| TypeDesc { id: id as u16, name, fields })
//!         .collect()
//! };
//! let descriptor = Descriptor {
//!     game: "tanks".into(),
//!     types: to_types(Entity::types()),
//!     room_type: None,
//!     input: Input::fields(),
//!     actions: to_types(Action::messages()),
//!     events: vec![],
//!     params: vec![],
//! }
//! .resolve(60)
//! .unwrap();
//! assert_eq!(descriptor.types[1].name, "shell");
//! assert_eq!(descriptor.actions[1].name, "say");
//!
//! // Each tick the server writes every entity's values in field-id order.
//! let tank = Entity::Tank(Tank { name: "ada".into(), ..Tank::default() });
//! let mut out = Writer::default();
//! tank.write(&mut out);
//! assert_eq!(out.raws.len(), descriptor.types[tank.type_id() as usize].fields.len());
//!
//! // Inputs and messages come back as values.
//! let say = Action::Chat { text: "gg".into() };
//! let mut out = Writer::default();
//! say.write(&mut out);
//! assert_eq!(Action::read(say.id(), &out.values()), Some(say));
//! assert_eq!(Team::from_index(Team::Blue.index()), Some(Team::Blue));
//! ```
//!
//! # `#[field(...)]`
//!
//! On struct fields and named message-variant fields; keys combine with commas, each at most
//! once. A field's id is its position among the replicated fields, its wire name the Rust
//! name; a `Vec2` (any type whose last path segment is `Vec2`, with `new(x, y)` and `.x`/`.y`)
//! is two fields `name.x`, `name.y` with consecutive ids. At most 64 fields.
//!
//! Coding, at most one (`min`/`max`/`tolerance` take integer or float literals, may be
//! negative; fixed-point bounds are in units and become `round(x * scale)` steps):
//!
//! - `fixed(scale = S, min = A, max = B, tolerance = T)` -> `Coding::Fixed`; `tolerance`
//!   defaults to 0. Required on `Vec2`; on `f32`/`f64` this or `angle`.
//! - `angle(bits = N)` -> `Coding::Angle`, N in 1..=24; for `f32`/`f64` radians.
//! - `int(min = A, max = B)` -> `Coding::Int`; either bound may be omitted. Without it an
//!   integer field (`u8`..`u64`, `i8`..`i64`, `usize`, `isize`) takes its type's range clamped
//!   to i32 (`u32`: `0..=i32::MAX`). Bounds must lie in that range.
//! - `string(max = N)` -> `Coding::Str` of at most N bytes; required on `String`.
//! - `enumeration` -> `Coding::Enum` with the variants of the field's `WireEnum` type.
//! - `bool` fields take no coding: `Coding::Bool`.
//!
//! Then, optionally:
//!
//! - `predict = none | linear | velocity(field)`: `Predictor::None` (default), `Linear` (on
//!   fixed and angle fields), or `Velocity` from another fixed field of the same struct (a
//!   `Vec2` from a `Vec2`, per component). `Descriptor::resolve` sets its ratio for the tick
//!   rate. The velocity field must not be less visible than the field it drives.
//! - `interp = none | linear | angle`: how clients draw it between snapshots (default none).
//! - `owner`: only the owning player receives it (`Visibility::Owner`).
//! - `skip`: not replicated; `read` fills it with `Default::default()`. No other keys.
//!
//! Message fields take no `predict` or `owner`. Mistakes (an unknown key, a `String` without
//! `string(max)`, an `f32` without a coding, `velocity` naming a missing field, out-of-range
//! bounds) are compile errors at the offending token.
//!
//! # Values
//!
//! `write` emits, in id order: floats as `Writer::num` (a `Vec2` as two), integers and bools
//! as `Writer::int`, an enumeration as its variant's index, a `String` as `Writer::str`.
//! `read` takes values by position; values past the end (an older sender) give 0, false, "",
//! the first variant, and extra values are ignored.
//!
//! `Replicate::read(type_id, values)` (for saved room state) is stricter: `None` for an
//! unknown type id, more values than fields, or a value that does not fit its field (wrong
//! kind, an integer outside its Rust type, a bool other than 0/1, an unknown enumeration
//! index); missing trailing values still take defaults. On a struct it is `Fields::read`
//! behind those checks, so with both traits in scope call it as
//! `<Tank as Replicate>::read(0, &values)` (or `<Tank as Fields>::read(&values)`).
//!
//! # Names
//!
//! Entity type names: `#[replicate(name = "...")]` on the struct, else its name in
//! snake_case. Message names: `#[message(name = "...")]` on the variant, else the variant's
//! name in snake_case. `WireEnum` variant names: snake_case.

#![warn(missing_docs)]

mod attrs;
mod case;
mod crate_path;
mod errors;
mod fields;
mod fields_derive;
mod messages;
mod replicate;
mod wire_enum;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `protocol::declare::Fields` for a struct with named fields; see the crate docs
/// for `#[field(...)]`.
#[proc_macro_derive(Fields, attributes(fields, field))]
pub fn derive_fields(input: TokenStream) -> TokenStream {
    run(input, "fields", &["crate"], fields_derive::expand)
}

/// Implements `protocol::declare::Replicate`: on a struct (with `Fields` too; name from
/// `#[replicate(name = "...")]` or the struct's snake_case name), or on an enum whose variants
/// each hold one such struct (type id = variant index).
#[proc_macro_derive(Replicate, attributes(replicate, field))]
pub fn derive_replicate(input: TokenStream) -> TokenStream {
    run(input, "replicate", &["name", "crate"], replicate::expand)
}

/// Implements `protocol::declare::Messages` for an enum of unit and named-field variants
/// (id = variant index; name from `#[message(name = "...")]` or snake_case).
#[proc_macro_derive(Messages, attributes(messages, message, field))]
pub fn derive_messages(input: TokenStream) -> TokenStream {
    run(input, "messages", &["crate"], messages::expand)
}

/// Implements `protocol::declare::WireEnum` for a fieldless enum (index = position, names in
/// snake_case).
#[proc_macro_derive(WireEnum, attributes(wire_enum))]
pub fn derive_wire_enum(input: TokenStream) -> TokenStream {
    run(input, "wire_enum", &["crate"], wire_enum::expand)
}

/// An expansion, given the protocol crate's path (`::protocol`, `::ticksync::protocol`, ...).
type Expand = fn(&DeriveInput, &proc_macro2::TokenStream) -> syn::Result<proc_macro2::TokenStream>;

/// Expands with the protocol crate's path from `#[attr_name(crate = "...")]` (`keys` are
/// all the keys that attribute takes) or the calling crate's manifest.
fn run(input: TokenStream, attr_name: &str, keys: &[&str], expand: Expand) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    crate_path::resolve(&input.attrs, attr_name, keys)
        .and_then(|protocol| expand(&input, &protocol))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[cfg(test)]
mod tests;
