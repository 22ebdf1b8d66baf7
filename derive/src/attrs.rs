//! Parsing of `#[field(...)]`, `#[replicate(...)]` and `#[message(...)]`.
//!
//! Numbers are checked and converted here (fixed-point bounds become steps), so that a bad
//! declaration fails at compile time at the offending token rather than in `Descriptor::resolve`
//! when the server starts.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Ident, Lit, LitStr, Path, Token};

/// The largest `Angle` bit count (`protocol::schema::MAX_ANGLE_BITS`; the runtime is not a
/// dependency of a proc-macro crate, so it is repeated here).
pub const MAX_ANGLE_BITS: i128 = 24;

/// A coding as declared; `Bool` and the default integer range are implied by the type.
#[derive(Clone, Debug)]
pub enum CodingAttr {
    /// `fixed(...)`: `Coding::Fixed`, bounds and tolerance already in steps.
    Fixed {
        scale: u32,
        min: i32,
        max: i32,
        tolerance: u32,
    },
    /// `angle(bits = N)`: `Coding::Angle`.
    Angle { bits: u8 },
    /// Bounds left out take the field type's own range.
    Int {
        min: Option<(i128, Span)>,
        max: Option<(i128, Span)>,
    },
    /// `string(max = N)`: `Coding::Str`.
    Str { max_bytes: u16 },
    /// `enumeration`: `Coding::Enum`, the variants from the field's `WireEnum` type.
    Enumeration,
}

/// `predict = ...`: the field's `Predictor`.
#[derive(Clone, Debug)]
pub enum PredictAttr {
    /// `none` (the default).
    None,
    /// `linear`.
    Linear,
    /// The Rust name of the velocity field; resolved to an id once all fields are numbered.
    Velocity(Ident),
}

/// `interp = ...`: the field's `Interp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterpAttr {
    /// `none` (the default).
    None,
    /// `linear`.
    Linear,
    /// `angle`.
    Angle,
}

/// Everything `#[field(...)]` said about one field; each entry keeps the span of its key.
#[derive(Default)]
pub struct FieldAttrs {
    /// `fixed`, `angle`, `int`, `string` or `enumeration`.
    pub coding: Option<(CodingAttr, Span)>,
    /// `predict = ...`.
    pub predict: Option<(PredictAttr, Span)>,
    /// `interp = ...`.
    pub interp: Option<(InterpAttr, Span)>,
    /// `owner`: a private field.
    pub owner: Option<Span>,
    /// `skip`: not replicated.
    pub skip: Option<Span>,
}

const FIELD_KEYS: &str = "fixed, angle, int, string, enumeration, predict, interp, owner, skip";

/// Merges every `#[field(...)]` on a field (several are allowed; a key may appear once).
pub fn field_attrs(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("field")) {
        attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            let span = meta
                .path
                .get_ident()
                .map_or_else(Span::call_site, Ident::span);
            match key.as_str() {
                "fixed" => set_coding(&mut out, &meta, fixed(&meta)?, span),
                "angle" => set_coding(&mut out, &meta, angle(&meta)?, span),
                "int" => set_coding(&mut out, &meta, int(&meta)?, span),
                "string" => set_coding(&mut out, &meta, string(&meta)?, span),
                "enumeration" => set_coding(&mut out, &meta, CodingAttr::Enumeration, span),
                "predict" => {
                    let p = predictor(meta.value()?)?;
                    once(&mut out.predict, (p, span), &meta)
                }
                "interp" => {
                    let i = interp(meta.value()?)?;
                    once(&mut out.interp, (i, span), &meta)
                }
                "owner" => once(&mut out.owner, span, &meta),
                "skip" => once(&mut out.skip, span, &meta),
                _ => Err(meta.error(format!(
                    "unknown field attribute `{key}`; expected one of: {FIELD_KEYS}"
                ))),
            }
        })?;
    }
    Ok(out)
}

/// What an item's or a variant's own attribute (`#[replicate(...)]`, `#[message(...)]`,
/// `#[fields(...)]`, ...) says.
#[derive(Default)]
pub struct ItemAttrs {
    /// `name = "..."`: a wire name.
    pub name: Option<LitStr>,
    /// `crate = "path"`: where the protocol crate is (`crate_path`).
    pub krate: Option<Path>,
}

/// Merges every `#[attr_name(...)]` in `attrs`, taking only `keys` (of `name`, `crate`).
pub fn item_attrs(attrs: &[Attribute], attr_name: &str, keys: &[&str]) -> syn::Result<ItemAttrs> {
    let mut out = ItemAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(attr_name)) {
        attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            match key.as_str() {
                "name" if keys.contains(&"name") => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().is_empty() {
                        return Err(syn::Error::new(lit.span(), "a name cannot be empty"));
                    }
                    once(&mut out.name, lit, &meta)
                }
                "crate" if keys.contains(&"crate") => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let path = lit.parse_with(Path::parse_mod_style).map_err(|_| {
                        syn::Error::new(
                            lit.span(),
                            "`crate` is the protocol crate's path, as in \
                             \"::ticksync::protocol\"",
                        )
                    })?;
                    once(&mut out.krate, path, &meta)
                }
                _ => {
                    let expected: Vec<_> =
                        keys.iter().map(|k| format!("`{k} = \"...\"`")).collect();
                    Err(meta.error(format!(
                        "unknown {attr_name} attribute `{key}`; expected {}",
                        expected.join(" or ")
                    )))
                }
            }
        })?;
    }
    Ok(out)
}

fn key_of(meta: &ParseNestedMeta) -> String {
    meta.path
        .get_ident()
        .map_or_else(|| "<path>".to_owned(), Ident::to_string)
}

fn once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{}` given twice", key_of(meta))));
    }
    *slot = Some(value);
    Ok(())
}

fn set_coding(
    out: &mut FieldAttrs,
    meta: &ParseNestedMeta,
    coding: CodingAttr,
    span: Span,
) -> syn::Result<()> {
    if out.coding.is_some() {
        return Err(meta.error(
            "a field has one coding: fixed, angle, int, string or enumeration, not several",
        ));
    }
    out.coding = Some((coding, span));
    Ok(())
}

/// Parses `key = value, ...` inside `name(...)`, handing each key to `each`.
fn keys(
    meta: &ParseNestedMeta,
    allowed: &str,
    mut each: impl FnMut(&str, &ParseNestedMeta) -> syn::Result<bool>,
) -> syn::Result<()> {
    let outer = key_of(meta);
    meta.parse_nested_meta(|inner| {
        let key = key_of(&inner);
        if each(&key, &inner)? {
            Ok(())
        } else {
            Err(inner.error(format!(
                "unknown key `{key}` in {outer}(...); expected {allowed}"
            )))
        }
    })
}

/// `fixed(scale = 64, min = 0.0, max = 2000.0, tolerance = 0.03125)`: bounds in units,
/// converted to steps (`round(x * scale)`).
fn fixed(meta: &ParseNestedMeta) -> syn::Result<CodingAttr> {
    let (mut scale, mut min, mut max, mut tolerance) = (None, None, None, None);
    keys(meta, "scale, min, max, tolerance", |key, m| {
        let slot = match key {
            "scale" => {
                let (v, span) = integer(m.value()?)?;
                let v = u32::try_from(v)
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| syn::Error::new(span, "scale must be 1..=4294967295"))?;
                return once(&mut scale, (v, span), m).map(|()| true);
            }
            "min" => &mut min,
            "max" => &mut max,
            "tolerance" => &mut tolerance,
            _ => return Ok(false),
        };
        let n = number(m.value()?)?;
        once(slot, n, m).map(|()| true)
    })?;
    let missing = |what: &str| meta.error(format!("fixed(...) needs `{what} = ...`"));
    let (scale, _) = scale.ok_or_else(|| missing("scale"))?;
    let (min, min_span) = min.ok_or_else(|| missing("min"))?;
    let (max, max_span) = max.ok_or_else(|| missing("max"))?;
    let steps = |x: f64, span: Span, what: &str| -> syn::Result<i64> {
        let s = (x * f64::from(scale)).round();
        if s < f64::from(i32::MIN) || s > f64::from(i32::MAX) {
            return Err(syn::Error::new(
                span,
                format!("{what} = {x} is {s} steps at scale {scale}: outside the i32 range"),
            ));
        }
        Ok(s as i64)
    };
    let lo = steps(min, min_span, "min")?;
    let hi = steps(max, max_span, "max")?;
    if lo > hi {
        return Err(syn::Error::new(max_span, "max is below min"));
    }
    let tolerance = match tolerance {
        None => 0,
        Some((t, span)) if t < 0.0 => {
            return Err(syn::Error::new(span, "tolerance cannot be negative"));
        }
        Some((t, span)) => steps(t, span, "tolerance")? as u32,
    };
    Ok(CodingAttr::Fixed {
        scale,
        min: lo as i32,
        max: hi as i32,
        tolerance,
    })
}

/// `angle(bits = 10)`.
fn angle(meta: &ParseNestedMeta) -> syn::Result<CodingAttr> {
    let mut bits = None;
    keys(meta, "bits", |key, m| {
        if key != "bits" {
            return Ok(false);
        }
        let (v, span) = integer(m.value()?)?;
        if !(1..=MAX_ANGLE_BITS).contains(&v) {
            return Err(syn::Error::new(
                span,
                format!("angle bits must be 1..={MAX_ANGLE_BITS}"),
            ));
        }
        once(&mut bits, v as u8, m).map(|()| true)
    })?;
    let bits = bits.ok_or_else(|| meta.error("angle(...) needs `bits = ...`"))?;
    Ok(CodingAttr::Angle { bits })
}

/// `int(min = 0, max = 100)`; either bound may be left to the type (checked in `fields`).
fn int(meta: &ParseNestedMeta) -> syn::Result<CodingAttr> {
    let (mut min, mut max) = (None, None);
    keys(meta, "min, max", |key, m| {
        let slot = match key {
            "min" => &mut min,
            "max" => &mut max,
            _ => return Ok(false),
        };
        let v = integer(m.value()?)?;
        once(slot, v, m).map(|()| true)
    })?;
    if min.is_none() && max.is_none() {
        return Err(meta.error("int(...) needs `min = ...` and/or `max = ...`"));
    }
    Ok(CodingAttr::Int { min, max })
}

/// `string(max = 24)`: the most UTF-8 bytes the field carries.
fn string(meta: &ParseNestedMeta) -> syn::Result<CodingAttr> {
    let mut max = None;
    keys(meta, "max", |key, m| {
        if key != "max" {
            return Ok(false);
        }
        let (v, span) = integer(m.value()?)?;
        let v = u16::try_from(v)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| syn::Error::new(span, "string max must be 1..=65535 bytes"))?;
        once(&mut max, v, m).map(|()| true)
    })?;
    let max_bytes = max.ok_or_else(|| meta.error("string(...) needs `max = ...` (bytes)"))?;
    Ok(CodingAttr::Str { max_bytes })
}

/// `predict = none | linear | velocity(field)`.
fn predictor(input: ParseStream) -> syn::Result<PredictAttr> {
    let kind: Ident = input.parse()?;
    match kind.to_string().as_str() {
        "none" => Ok(PredictAttr::None),
        "linear" => Ok(PredictAttr::Linear),
        "velocity" => {
            let content;
            syn::parenthesized!(content in input);
            let field: Ident = content.parse()?;
            if !content.is_empty() {
                return Err(content.error("velocity(...) takes one field name"));
            }
            Ok(PredictAttr::Velocity(field))
        }
        other => Err(syn::Error::new(
            kind.span(),
            format!("unknown predictor `{other}`; expected none, linear or velocity(field)"),
        )),
    }
}

/// `interp = none | linear | angle`.
fn interp(input: ParseStream) -> syn::Result<InterpAttr> {
    let kind: Ident = input.parse()?;
    match kind.to_string().as_str() {
        "none" => Ok(InterpAttr::None),
        "linear" => Ok(InterpAttr::Linear),
        "angle" => Ok(InterpAttr::Angle),
        other => Err(syn::Error::new(
            kind.span(),
            format!("unknown interp `{other}`; expected none, linear or angle"),
        )),
    }
}

/// An integer or float literal, optionally negative, as f64.
fn number(input: ParseStream) -> syn::Result<(f64, Span)> {
    let neg = input.parse::<Option<Token![-]>>()?.is_some();
    let lit: Lit = input.parse()?;
    let v = match &lit {
        Lit::Int(i) => i.base10_parse::<f64>()?,
        Lit::Float(f) => f.base10_parse::<f64>()?,
        _ => return Err(syn::Error::new(lit.span(), "expected a number")),
    };
    Ok((if neg { -v } else { v }, lit.span()))
}

/// An integer literal, optionally negative; wide enough for any bound worth range-checking.
fn integer(input: ParseStream) -> syn::Result<(i128, Span)> {
    let neg = input.parse::<Option<Token![-]>>()?.is_some();
    let lit: Lit = input.parse()?;
    let Lit::Int(i) = &lit else {
        return Err(syn::Error::new(lit.span(), "expected an integer"));
    };
    let v = i.base10_parse::<i128>()?;
    Ok((if neg { -v } else { v }, lit.span()))
}
