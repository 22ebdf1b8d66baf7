//! One list of named fields (a struct, or one message variant): their field descriptions, and
//! the statements that write them to a `Writer` and read them back from `Value`s.
//!
//! Ids are positions in the output list; a `Vec2` takes two (`name.x`, `name.y`), a skipped
//! field none. Everything about a field is decided here once (`plan`), and the three
//! generators only print that plan, so `fields()`, `write` and `read` cannot disagree.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{Ident, Type};

use crate::attrs::{self, CodingAttr, InterpAttr, PredictAttr};
use crate::errors::Errors;

/// Largest number of fields of one type or message (`protocol::schema::MAX_FIELDS`).
const MAX_FIELDS: usize = 64;

/// Where the fields live: entity and input structs may declare predictors and visibility;
/// messages may not (`Descriptor::validate` rejects them there).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// An entity, room-state or input struct.
    Struct,
    /// A message variant.
    Message,
}

/// What the Rust type is, which fixes how it is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    F32,
    F64,
    Vec2,
    Int(IntTy),
    Bool,
    Str,
    /// A `WireEnum` (declared with `enumeration`; any other type is not recognised).
    Enum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IntTy {
    name: &'static str,
    /// The type's own range (wider than i32 for some: the coding clamps).
    min: i128,
    max: i128,
}

const INTS: [IntTy; 10] = {
    const fn t(name: &'static str, min: i128, max: i128) -> IntTy {
        IntTy { name, min, max }
    }
    [
        t("u8", 0, u8::MAX as i128),
        t("u16", 0, u16::MAX as i128),
        t("u32", 0, u32::MAX as i128),
        t("u64", 0, u64::MAX as i128),
        // Wire ranges must not depend on the build target: treat the pointer-sized types as 64-bit.
        t("usize", 0, u64::MAX as i128),
        t("i8", i8::MIN as i128, i8::MAX as i128),
        t("i16", i16::MIN as i128, i16::MAX as i128),
        t("i32", i32::MIN as i128, i32::MAX as i128),
        t("i64", i64::MIN as i128, i64::MAX as i128),
        t("isize", i64::MIN as i128, i64::MAX as i128),
    ]
};

const I32: (i128, i128) = (i32::MIN as i128, i32::MAX as i128);

impl Shape {
    /// By the type's last path segment: aliases and paths (`glam::Vec2`, `core::primitive::u8`)
    /// work; type aliases to other names do not (the macro only sees tokens).
    fn of(ty: &Type) -> Option<Shape> {
        let ty = match ty {
            Type::Group(g) => return Shape::of(&g.elem),
            Type::Paren(p) => return Shape::of(&p.elem),
            Type::Path(p) if p.qself.is_none() => p,
            _ => return None,
        };
        let last = ty.path.segments.last()?;
        if !last.arguments.is_none() {
            return None;
        }
        let name = last.ident.to_string();
        Some(match name.as_str() {
            "f32" => Shape::F32,
            "f64" => Shape::F64,
            "Vec2" => Shape::Vec2,
            "bool" => Shape::Bool,
            "String" => Shape::Str,
            _ => Shape::Int(*INTS.iter().find(|t| t.name == name)?),
        })
    }

    /// How many field ids it takes.
    fn width(self) -> usize {
        if self == Shape::Vec2 { 2 } else { 1 }
    }
}

/// A coding with every number final.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Coding {
    Fixed {
        scale: u32,
        min: i32,
        max: i32,
        tolerance: u32,
    },
    Angle {
        bits: u8,
    },
    Int {
        min: i32,
        max: i32,
    },
    Bool,
    Enum,
    Str {
        max_bytes: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Pred {
    None,
    Linear,
    /// The first id of the velocity field (a `Vec2` predicts component-wise from it).
    Velocity(u16),
}

/// A replicated field.
struct Wire {
    /// Its first id.
    id: u16,
    shape: Shape,
    coding: Coding,
    /// As declared; `pred` once the velocity field is numbered.
    predict: Option<(PredictAttr, Span)>,
    pred: Pred,
    interp: InterpAttr,
    owner: bool,
}

/// One Rust field; `wire` is `None` when it is `skip`ped.
pub struct Planned<'a> {
    /// The Rust field's name.
    pub ident: &'a Ident,
    ty: &'a Type,
    wire: Option<Wire>,
}

/// Decides every field's ids, coding, predictor, interpolation and visibility, reporting all
/// bad fields at once. `fields` must be named; `whole` is the span for list-wide errors.
pub fn plan<'a>(
    fields: impl IntoIterator<Item = &'a syn::Field>,
    whole: Span,
    ctx: Context,
) -> syn::Result<Vec<Planned<'a>>> {
    let mut errors = Errors::default();
    let mut planned = Vec::new();
    // Fields already reported: a velocity naming one of them is not reported again.
    let mut failed = Vec::new();
    let mut next = 0usize;
    for f in fields {
        let ident = f.ident.as_ref().expect("named fields");
        let Some(wire) = errors.take(wire_of(f, ident, ctx)) else {
            failed.push(ident.unraw());
            continue;
        };
        let wire = wire.map(|mut w| {
            w.id = next.min(usize::from(u16::MAX)) as u16;
            next += w.shape.width();
            w
        });
        planned.push(Planned {
            ident,
            ty: &f.ty,
            wire,
        });
    }
    if next > MAX_FIELDS {
        errors.push(syn::Error::new(
            whole,
            format!("{next} replicated fields (a Vec2 counts two); at most {MAX_FIELDS}"),
        ));
    }
    // Velocity fields may come before or after the fields they drive: resolve once all are
    // numbered.
    let preds: Vec<_> = planned
        .iter()
        .map(|p| {
            let w = p.wire.as_ref()?;
            match &w.predict {
                Some((PredictAttr::Velocity(t), _)) if failed.contains(&t.unraw()) => None,
                _ => Some(resolve_pred(w, p.ident, &planned)),
            }
        })
        .collect();
    for (p, pred) in planned.iter_mut().zip(preds) {
        if let (Some(w), Some(pred)) = (&mut p.wire, pred) {
            w.pred = errors.take(pred).unwrap_or(Pred::None);
        }
    }
    errors.finish()?;
    Ok(planned)
}

fn wire_of(f: &syn::Field, ident: &Ident, ctx: Context) -> syn::Result<Option<Wire>> {
    let a = attrs::field_attrs(&f.attrs)?;
    let name = ident.unraw();
    if let Some(skip) = a.skip {
        if a.coding.is_some() || a.predict.is_some() || a.interp.is_some() || a.owner.is_some() {
            return Err(syn::Error::new(
                skip,
                "a skipped field is not replicated: drop its other keys",
            ));
        }
        return Ok(None);
    }
    let shape = Shape::of(&f.ty);
    let err = |span: Span, msg: String| Err(syn::Error::new(span, msg));
    let (shape, coding) = match (a.coding, shape) {
        (Some((CodingAttr::Enumeration, _)), None) => (Shape::Enum, Coding::Enum),
        (Some((CodingAttr::Enumeration, span)), Some(_)) => {
            return err(
                span,
                "enumeration is for a field whose type implements WireEnum".into(),
            );
        }
        (
            Some((
                CodingAttr::Fixed {
                    scale,
                    min,
                    max,
                    tolerance,
                },
                _,
            )),
            Some(s @ (Shape::F32 | Shape::F64 | Shape::Vec2)),
        ) => (
            s,
            Coding::Fixed {
                scale,
                min,
                max,
                tolerance,
            },
        ),
        (Some((CodingAttr::Fixed { .. }, span)), _) => {
            return err(span, "fixed(...) is for f32, f64 and Vec2 fields".into());
        }
        (Some((CodingAttr::Angle { bits }, _)), Some(s @ (Shape::F32 | Shape::F64))) => {
            (s, Coding::Angle { bits })
        }
        (Some((CodingAttr::Angle { .. }, span)), _) => {
            return err(
                span,
                "angle(...) is for f32 and f64 fields (radians)".into(),
            );
        }
        (Some((CodingAttr::Int { min, max }, _)), Some(Shape::Int(t))) => {
            (Shape::Int(t), int_range(t, min, max)?)
        }
        (Some((CodingAttr::Int { .. }, span)), _) => {
            return err(span, "int(...) is for integer fields".into());
        }
        (Some((CodingAttr::Str { max_bytes }, _)), Some(Shape::Str)) => {
            (Shape::Str, Coding::Str { max_bytes })
        }
        (Some((CodingAttr::Str { .. }, span)), _) => {
            return err(span, "string(...) is for String fields".into());
        }
        (None, Some(Shape::F32 | Shape::F64)) => {
            return err(
                ident.span(),
                format!(
                    "`{name}` needs a coding: #[field(fixed(scale = .., min = .., max = ..))] \
                     or #[field(angle(bits = ..))]"
                ),
            );
        }
        (None, Some(Shape::Vec2)) => {
            return err(
                ident.span(),
                format!("`{name}` needs #[field(fixed(scale = .., min = .., max = ..))]"),
            );
        }
        (None, Some(Shape::Int(t))) => (Shape::Int(t), int_range(t, None, None)?),
        (None, Some(Shape::Bool)) => (Shape::Bool, Coding::Bool),
        (None, Some(Shape::Str)) => {
            return err(
                ident.span(),
                format!("`{name}` needs #[field(string(max = ..))]: its longest value in bytes"),
            );
        }
        (None, Some(Shape::Enum)) | (None, None) => {
            return Err(syn::Error::new_spanned(
                &f.ty,
                format!(
                    "`{name}`: unsupported field type; fields are f32, f64, Vec2, integers, bool, \
                     String, a WireEnum with #[field(enumeration)], or #[field(skip)]"
                ),
            ));
        }
    };
    if let Some((p, span)) = &a.predict {
        let numeric = matches!(coding, Coding::Fixed { .. } | Coding::Angle { .. });
        match p {
            PredictAttr::None => {}
            _ if ctx == Context::Message => {
                return err(*span, "message fields are not predicted".into());
            }
            PredictAttr::Linear if !numeric => {
                return err(
                    *span,
                    "only fixed(...) and angle(...) fields predict".into(),
                );
            }
            PredictAttr::Velocity(_) if !matches!(coding, Coding::Fixed { .. }) => {
                return err(*span, "velocity prediction needs a fixed(...) field".into());
            }
            _ => {}
        }
    }
    if let (Some(span), Context::Message) = (a.owner, ctx) {
        return err(
            span,
            "message fields go to their one recipient: no `owner`".into(),
        );
    }
    Ok(Some(Wire {
        id: 0,
        shape,
        coding,
        predict: a.predict,
        pred: Pred::None,
        interp: a.interp.map_or(InterpAttr::None, |(i, _)| i),
        owner: a.owner.is_some(),
    }))
}

/// The type's own range clamped to i32 (the stored width), narrowed by the declared bounds.
fn int_range(
    t: IntTy,
    min: Option<(i128, Span)>,
    max: Option<(i128, Span)>,
) -> syn::Result<Coding> {
    let lo = t.min.max(I32.0);
    let hi = t.max.min(I32.1);
    let check = |b: Option<(i128, Span)>, default: i128| match b {
        None => Ok(default),
        Some((v, _)) if (lo..=hi).contains(&v) => Ok(v),
        Some((v, span)) => Err(syn::Error::new(
            span,
            format!("{v} is outside {}'s wire range {lo}..={hi}", t.name),
        )),
    };
    let (min_v, max_v) = (check(min, lo)?, check(max, hi)?);
    if min_v > max_v {
        let span = max.or(min).map_or_else(Span::call_site, |(_, s)| s);
        return Err(syn::Error::new(span, "max is below min"));
    }
    Ok(Coding::Int {
        min: min_v as i32,
        max: max_v as i32,
    })
}

fn resolve_pred(w: &Wire, ident: &Ident, all: &[Planned]) -> syn::Result<Pred> {
    let target = match &w.predict {
        None | Some((PredictAttr::None, _)) => return Ok(Pred::None),
        Some((PredictAttr::Linear, _)) => return Ok(Pred::Linear),
        Some((PredictAttr::Velocity(target), _)) => target,
    };
    let err = |msg: String| Err(syn::Error::new(target.span(), msg));
    let (name, target_name) = (ident.unraw(), target.unraw());
    let Some(t) = all.iter().find(|p| p.ident.unraw() == target_name) else {
        return err(format!(
            "no field `{target_name}` to take `{name}`'s velocity from"
        ));
    };
    let Some(v) = &t.wire else {
        return err(format!("velocity field `{target_name}` is skipped"));
    };
    if !matches!(v.coding, Coding::Fixed { .. }) {
        return err(format!(
            "velocity field `{target_name}` must be fixed(...) (its scale sets the ratio)"
        ));
    }
    if (w.shape == Shape::Vec2) != (v.shape == Shape::Vec2) {
        return err(format!(
            "`{name}` and its velocity `{target_name}` must both be Vec2 (predicted per \
             component) or both scalars"
        ));
    }
    if v.owner && !w.owner {
        return err(format!(
            "velocity field `{target_name}` is owner-only but `{name}` is seen by everyone"
        ));
    }
    Ok(Pred::Velocity(v.id))
}

/// `::std::vec![FieldDesc { .. }, ..]`: the fields in id order.
pub fn descs(plan: &[Planned], krate: &TokenStream) -> TokenStream {
    let mut out = Vec::new();
    for p in plan {
        let Some(w) = &p.wire else { continue };
        let name = p.ident.unraw().to_string();
        let coding = coding_tokens(w.coding, p.ty, krate);
        let interp = match w.interp {
            InterpAttr::None => quote!(None),
            InterpAttr::Linear => quote!(Linear),
            InterpAttr::Angle => quote!(Angle),
        };
        let visibility = if w.owner {
            quote!(Owner)
        } else {
            quote!(Everyone)
        };
        let parts: Vec<(String, u16)> = if w.shape == Shape::Vec2 {
            vec![(format!("{name}.x"), 0), (format!("{name}.y"), 1)]
        } else {
            vec![(name, 0)]
        };
        for (name, component) in parts {
            let id = w.id + component;
            let predictor = match w.pred {
                Pred::None => quote!(#krate::schema::Predictor::None),
                Pred::Linear => quote!(#krate::schema::Predictor::Linear),
                Pred::Velocity(v) => {
                    // num/den depend on the tick rate: `Descriptor::resolve` fills them.
                    let field = v + component;
                    quote!(#krate::schema::Predictor::Velocity { field: #field, num: 0, den: 0 })
                }
            };
            out.push(quote! {
                #krate::schema::FieldDesc {
                    id: #id,
                    name: ::std::string::String::from(#name),
                    coding: #coding,
                    predictor: #predictor,
                    interp: #krate::schema::Interp::#interp,
                    visibility: #krate::schema::Visibility::#visibility,
                }
            });
        }
    }
    quote!(::std::vec![#(#out),*])
}

fn coding_tokens(c: Coding, ty: &Type, krate: &TokenStream) -> TokenStream {
    let lit_i32 = Literal::i32_unsuffixed;
    match c {
        Coding::Fixed {
            scale,
            min,
            max,
            tolerance,
        } => {
            let (min, max) = (lit_i32(min), lit_i32(max));
            quote! {
                #krate::schema::Coding::Fixed {
                    scale: #scale, min: #min, max: #max, tolerance: #tolerance,
                }
            }
        }
        Coding::Angle { bits } => quote!(#krate::schema::Coding::Angle { bits: #bits }),
        Coding::Int { min, max } => {
            let (min, max) = (lit_i32(min), lit_i32(max));
            quote!(#krate::schema::Coding::Int { min: #min, max: #max })
        }
        Coding::Bool => quote!(#krate::schema::Coding::Bool),
        Coding::Enum => quote! {
            #krate::schema::Coding::Enum {
                variants: <#ty as #krate::declare::WireEnum>::variants(),
            }
        },
        Coding::Str { max_bytes } => {
            quote!(#krate::schema::Coding::Str { max_bytes: #max_bytes })
        }
    }
}

/// Whether any field is replicated (else `write`'s and `read`'s parameters go unused).
pub fn any_wired(plan: &[Planned]) -> bool {
    plan.iter().any(|p| p.wire.is_some())
}

/// The name a message's `write` binds field `i` to (`ref`), out of the user's namespace.
pub fn binding(i: usize) -> Ident {
    format_ident!("__field{}", i)
}

/// `(field: binding)` pattern entries for the replicated fields of a message variant.
pub fn bindings(plan: &[Planned]) -> TokenStream {
    let entries = plan
        .iter()
        .enumerate()
        .filter(|(_, p)| p.wire.is_some())
        .map(|(i, p)| {
            let (ident, b) = (p.ident, binding(i));
            quote!(#ident: ref #b)
        });
    quote!(#(#entries,)*)
}

/// Statements writing every replicated field to `out`, from `self.field` or, with `bound`,
/// from the `ref` bindings of `bindings`.
pub fn writes(plan: &[Planned], bound: bool, krate: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    for (i, p) in plan.iter().enumerate() {
        let Some(w) = &p.wire else { continue };
        let ident = p.ident;
        // `value`: the field by value (all written types but String are Copy); `place`: an
        // expression to take `.x` of or borrow.
        let (value, by_ref, place) = if bound {
            let b = binding(i);
            (quote!(*#b), quote!(#b), quote!(#b))
        } else {
            (
                quote!(self.#ident),
                quote!(&self.#ident),
                quote!(self.#ident),
            )
        };
        out.extend(match w.shape {
            Shape::F32 => quote!(out.num(#value as f64);),
            Shape::F64 => quote!(out.num(#value);),
            Shape::Vec2 => quote! {
                out.num(#place.x as f64);
                out.num(#place.y as f64);
            },
            Shape::Int(IntTy { name: "i64", .. }) => quote!(out.int(#value);),
            Shape::Int(_) | Shape::Bool => quote!(out.int(#value as i64);),
            Shape::Enum => quote! {
                out.int(#krate::declare::WireEnum::index(#by_ref) as i64);
            },
            Shape::Str => quote!(out.str(#by_ref);),
        });
    }
    out
}

/// `field: expr,` initialisers building every field from `values` by position (skipped
/// fields and values past the end take defaults).
pub fn reads(plan: &[Planned], krate: &TokenStream) -> TokenStream {
    let read = quote!(#krate::declare::read);
    let inits = plan.iter().map(|p| {
        let (ident, ty) = (p.ident, p.ty);
        let Some(w) = &p.wire else {
            return quote!(#ident: ::std::default::Default::default());
        };
        let i = usize::from(w.id);
        let expr = match w.shape {
            Shape::F32 => quote!(#read::num(values, #i) as f32),
            Shape::F64 => quote!(#read::num(values, #i)),
            Shape::Vec2 => {
                let j = i + 1;
                quote!(<#ty>::new(#read::num(values, #i) as f32, #read::num(values, #j) as f32))
            }
            Shape::Int(IntTy { name: "i64", .. }) => quote!(#read::int(values, #i)),
            Shape::Int(_) => quote!(#read::int(values, #i) as #ty),
            Shape::Bool => quote!(#read::int(values, #i) != 0),
            // An index this build does not know (a newer sender) falls back to the first variant.
            Shape::Enum => quote! {
                <#ty as #krate::declare::WireEnum>::from_index(#read::int(values, #i) as u32)
                    .or_else(|| <#ty as #krate::declare::WireEnum>::from_index(0))
                    .expect("an enum has variants")
            },
            Shape::Str => quote!(#read::string(values, #i)),
        };
        quote!(#ident: #expr)
    });
    quote!(#(#inits,)*)
}

/// How many values the replicated fields take (a `Vec2` two).
pub fn width(plan: &[Planned]) -> usize {
    plan.iter()
        .filter_map(|p| p.wire.as_ref())
        .map(|w| w.shape.width())
        .sum()
}

/// A `bool` expression: whether `values` fit the replicated fields (see
/// `Replicate::read`): no more values than fields, each of its field's kind and range.
pub fn fits(plan: &[Planned], krate: &TokenStream) -> TokenStream {
    let read = quote!(#krate::declare::read);
    let n = width(plan);
    let checks = plan.iter().filter_map(|p| {
        let w = p.wire.as_ref()?;
        let (i, ty) = (usize::from(w.id), p.ty);
        let at = |i: usize| quote!(values.get(#i));
        let (v, next) = (at(i), at(i + 1));
        Some(match w.shape {
            Shape::F32 | Shape::F64 => quote!(#read::fits_num(#v)),
            Shape::Vec2 => quote!(#read::fits_num(#v) && #read::fits_num(#next)),
            // 64-bit types are written `as i64` and read back `as` themselves: any i64 fits.
            Shape::Int(IntTy {
                name: "i64" | "u64" | "isize" | "usize",
                ..
            }) => quote!(#read::fits_int::<i64>(#v)),
            Shape::Int(_) => quote!(#read::fits_int::<#ty>(#v)),
            Shape::Bool => quote!(#read::fits_bool(#v)),
            Shape::Enum => quote!(#read::fits_enum::<#ty>(#v)),
            Shape::Str => quote!(#read::fits_str(#v)),
        })
    });
    if n == 0 {
        // `len() <= 0` would trip clippy's absurd comparison lint in the user's crate.
        quote!(values.is_empty())
    } else {
        quote!(values.len() <= #n #(&& #checks)*)
    }
}
