//! Compile errors: each bad declaration is rejected with a message that says what to write.

use proc_macro_crate::FoundCrate;
use quote::quote;
use syn::{DeriveInput, parse_quote};

use crate::crate_path::{self, protocol_path};
use crate::{Expand, fields_derive, messages, replicate, wire_enum};

/// All error messages of one expansion, in order.
fn errors(expand: Expand, input: DeriveInput) -> Vec<String> {
    match expand(&input, &quote!(::protocol)) {
        Ok(tokens) => panic!("expanded without error: {tokens}"),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn error(expand: Expand, input: DeriveInput) -> String {
    let all = errors(expand, input);
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().unwrap()
}

fn assert_contains(msg: &str, want: &str) {
    assert!(msg.contains(want), "{msg:?} does not contain {want:?}");
}

#[test]
fn unknown_keys() {
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                #[field(fixd(scale = 1))]
                x: f32,
            }
        ),
    );
    assert_contains(&e, "unknown field attribute `fixd`");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                #[field(fixed(scale = 1, min = 0, max = 1, tol = 0))]
                x: f32,
            }
        ),
    );
    assert_contains(&e, "unknown key `tol` in fixed(...)");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                #[field(interp = cubic)]
                x: bool,
            }
        ),
    );
    assert_contains(&e, "unknown interp `cubic`");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                #[field(predict = magic)]
                #[field(angle(bits = 8))]
                x: f32,
            }
        ),
    );
    assert_contains(&e, "unknown predictor `magic`");
    let e = error(
        replicate::expand,
        parse_quote!(
            #[replicate(title = "t")]
            struct S {
                b: bool,
            }
        ),
    );
    assert_contains(&e, "unknown replicate attribute `title`");
    let e = error(
        messages::expand,
        parse_quote!(
            enum M {
                #[message(nam = "x")]
                A,
            }
        ),
    );
    assert_contains(&e, "unknown message attribute `nam`");
}

#[test]
fn missing_codings() {
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                name: String,
            }
        ),
    );
    assert_contains(&e, "`name` needs #[field(string(max = ..))]");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                speed: f32,
            }
        ),
    );
    assert_contains(&e, "`speed` needs a coding");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                pos: glam::Vec2,
            }
        ),
    );
    assert_contains(&e, "`pos` needs #[field(fixed(");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                pos: Option<f32>,
            }
        ),
    );
    assert_contains(&e, "unsupported field type");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S {
                #[field(fixed(scale = 4, max = 1))]
                x: f32,
            }
        ),
    );
    assert_contains(&e, "fixed(...) needs `min = ...`");
}

#[test]
fn every_bad_field_is_reported() {
    let all = errors(
        fields_derive::expand,
        parse_quote!(
            struct S {
                a: String,
                b: f64,
                ok: u8,
                c: Vec<u8>,
            }
        ),
    );
    assert_eq!(all.len(), 3, "{all:?}");
    // A dangling velocity is reported with the other errors...
    let all = errors(
        fields_derive::expand,
        parse_quote!(
            struct S {
                name: String,
                #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(velo))]
                pos: f32,
            }
        ),
    );
    assert_eq!(all.len(), 2, "{all:?}");
    assert_contains(&all[1], "no field `velo`");
    // ...but one naming a field already reported is not.
    let all = errors(
        fields_derive::expand,
        parse_quote!(
            struct S {
                #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(vel))]
                pos: f32,
                vel: f32,
            }
        ),
    );
    assert_eq!(all.len(), 1, "{all:?}");
    assert_contains(&all[0], "`vel` needs a coding");
}

#[test]
fn codings_must_fit_the_type() {
    for (input, want) in [
        (
            parse_quote!(
                struct S {
                    #[field(string(max = 4))]
                    x: u8,
                }
            ),
            "string(...) is for String fields",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(angle(bits = 4))]
                    x: glam::Vec2,
                }
            ),
            "angle(...) is for f32 and f64",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(int(max = 4))]
                    x: f32,
                }
            ),
            "int(...) is for integer fields",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(enumeration)]
                    x: u8,
                }
            ),
            "enumeration is for a field whose type implements WireEnum",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1))]
                    x: bool,
                }
            ),
            "fixed(...) is for f32, f64 and Vec2",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(angle(bits = 8), int(max = 3))]
                    x: f32,
                }
            ),
            "a field has one coding",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(owner, owner)]
                    x: bool,
                }
            ),
            "`owner` given twice",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(skip, owner)]
                    x: bool,
                }
            ),
            "a skipped field is not replicated",
        ),
    ] {
        assert_contains(&error(fields_derive::expand, input), want);
    }
}

#[test]
fn numbers_are_range_checked() {
    for (input, want) in [
        (
            parse_quote!(
                struct S {
                    #[field(int(min = -1))]
                    x: u8,
                }
            ),
            "-1 is outside u8's wire range 0..=255",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(int(max = 3000000000))]
                    x: u64,
                }
            ),
            "3000000000 is outside u64's wire range 0..=2147483647",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(int(min = 5, max = 4))]
                    x: u8,
                }
            ),
            "max is below min",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(angle(bits = 25))]
                    x: f32,
                }
            ),
            "angle bits must be 1..=24",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 0, min = 0, max = 1))]
                    x: f32,
                }
            ),
            "scale must be",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1000000, min = 0, max = 5000))]
                    x: f32,
                }
            ),
            "outside the i32 range",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 2, max = 1))]
                    x: f32,
                }
            ),
            "max is below min",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1, tolerance = -1))]
                    x: f32,
                }
            ),
            "tolerance cannot be negative",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(string(max = 70000))]
                    x: String,
                }
            ),
            "string max must be 1..=65535",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(angle(bits = 2.5))]
                    x: f32,
                }
            ),
            "expected an integer",
        ),
    ] {
        assert_contains(&error(fields_derive::expand, input), want);
    }
}

#[test]
fn predictors_are_checked() {
    for (input, want) in [
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(vel))]
                    pos: f32,
                }
            ),
            "no field `vel` to take `pos`'s velocity from",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(vel))]
                    pos: f32,
                    #[field(skip)]
                    vel: f32,
                }
            ),
            "velocity field `vel` is skipped",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(vel))]
                    pos: Vec2,
                    #[field(fixed(scale = 1, min = 0, max = 1))]
                    vel: f32,
                }
            ),
            "must both be Vec2",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(vel))]
                    pos: f32,
                    #[field(angle(bits = 8))]
                    vel: f32,
                }
            ),
            "velocity field `vel` must be fixed(...)",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(angle(bits = 8), predict = velocity(vel))]
                    pos: f32,
                    #[field(fixed(scale = 1, min = 0, max = 1))]
                    vel: f32,
                }
            ),
            "velocity prediction needs a fixed(...) field",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(fixed(scale = 1, min = 0, max = 1), predict = velocity(vel))]
                    pos: f32,
                    #[field(fixed(scale = 1, min = 0, max = 1), owner)]
                    vel: f32,
                }
            ),
            "velocity field `vel` is owner-only",
        ),
        (
            parse_quote!(
                struct S {
                    #[field(predict = linear)]
                    hp: u8,
                }
            ),
            "only fixed(...) and angle(...) fields predict",
        ),
    ] {
        assert_contains(&error(fields_derive::expand, input), want);
    }
}

#[test]
fn too_many_fields() {
    let fields = (0..33).map(|i| -> syn::Field {
        let name = quote::format_ident!("f{i}");
        parse_quote!(#[field(fixed(scale = 1, min = 0, max = 1))] #name: Vec2)
    });
    let e = error(
        fields_derive::expand,
        parse_quote!(struct S { #(#fields),* }),
    );
    assert_contains(&e, "66 replicated fields (a Vec2 counts two); at most 64");
}

#[test]
fn shapes_of_declarations() {
    let e = error(
        fields_derive::expand,
        parse_quote!(
            struct S(u8);
        ),
    );
    assert_contains(&e, "Fields needs named fields");
    let e = error(
        fields_derive::expand,
        parse_quote!(
            enum E {
                A,
            }
        ),
    );
    assert_contains(&e, "Fields derives on a struct");
    let all = errors(
        replicate::expand,
        parse_quote!(
            enum E {
                A(Tank),
                B { x: u8 },
                C,
            }
        ),
    );
    assert_eq!(all.len(), 2, "{all:?}");
    assert_contains(
        &all[0],
        "each variant of a Replicate enum holds one entity struct",
    );
    let e = error(
        replicate::expand,
        parse_quote!(
            #[replicate(name = "x")]
            enum E {
                A(Tank),
            }
        ),
    );
    assert_contains(&e, "put #[replicate(name = ..)] on those");
    let e = error(
        messages::expand,
        parse_quote!(
            enum M {
                A(u8),
            }
        ),
    );
    assert_contains(&e, "a message variant is a unit or has named fields");
    let e = error(
        messages::expand,
        parse_quote!(
            enum M {
                A {
                    #[field(owner)]
                    b: bool,
                },
            }
        ),
    );
    assert_contains(&e, "no `owner`");
    let e = error(
        messages::expand,
        parse_quote!(
            enum M {
                A {
                    #[field(angle(bits = 4), predict = linear)]
                    b: f32,
                },
            }
        ),
    );
    assert_contains(&e, "message fields are not predicted");
    let e = error(
        wire_enum::expand,
        parse_quote!(
            enum E {
                A,
                B(u8),
            }
        ),
    );
    assert_contains(&e, "WireEnum variants have no fields");
    let e = error(
        wire_enum::expand,
        parse_quote!(
            enum E {}
        ),
    );
    assert_contains(&e, "a WireEnum has 1..=256 variants, not 0");
}

#[test]
fn generics_and_raw_names_expand() {
    let input: DeriveInput = parse_quote! {
        struct S<T: Default> { r#type: u8, #[field(skip)] extra: T }
    };
    let out = fields_derive::expand(&input, &quote!(::protocol))
        .unwrap()
        .to_string();
    assert_contains(
        &out,
        "impl < T : Default > :: protocol :: declare :: Fields for S < T >",
    );
    assert_contains(&out, "\"type\"");
}

fn name(n: &str) -> Option<FoundCrate> {
    Some(FoundCrate::Name(n.into()))
}

#[test]
fn protocol_path_prefers_protocol_then_the_facade() {
    let path =
        |found_protocol, found_ticksync| protocol_path(found_protocol, found_ticksync).to_string();
    // A direct dependency on protocol, perhaps renamed, wins.
    assert_eq!(path(name("protocol"), None), ":: protocol");
    assert_eq!(path(name("protocol"), name("ticksync")), ":: protocol");
    assert_eq!(path(name("wire"), name("ticksync")), ":: wire");
    // Code in protocol itself.
    assert_eq!(path(Some(FoundCrate::Itself), None), "crate");
    assert_eq!(path(Some(FoundCrate::Itself), name("ticksync")), "crate");
    // Only the facade, perhaps renamed: its re-export.
    assert_eq!(path(None, name("ticksync")), ":: ticksync :: protocol");
    assert_eq!(path(None, name("engine")), ":: engine :: protocol");
    assert_eq!(path(None, Some(FoundCrate::Itself)), "crate :: protocol");
    // Neither: the old path, so the compiler says protocol is missing.
    assert_eq!(path(None, None), ":: protocol");
}

#[test]
fn generated_code_uses_the_path_given() {
    let facade = quote!(::ticksync::protocol);
    let tank: DeriveInput = parse_quote! {
        struct Tank {
            #[field(fixed(scale = 16, min = 0, max = 100), predict = velocity(vel))]
            pos: Vec2,
            #[field(fixed(scale = 16, min = -10, max = 10))]
            vel: Vec2,
            #[field(enumeration)]
            team: Team,
            #[field(string(max = 8))]
            name: String,
        }
    };
    let world: DeriveInput = parse_quote!(
        enum World {
            Tank(Tank),
        }
    );
    let action: DeriveInput = parse_quote!(
        enum Action {
            Say {
                #[field(enumeration)]
                team: Team,
            },
        }
    );
    let team: DeriveInput = parse_quote!(
        enum Team {
            Red,
        }
    );
    let cases: [(Expand, &DeriveInput); 5] = [
        (fields_derive::expand, &tank),
        (replicate::expand, &tank),
        (replicate::expand, &world),
        (messages::expand, &action),
        (wire_enum::expand, &team),
    ];
    for (expand, input) in cases {
        let out = expand(input, &facade).unwrap().to_string();
        // Every path into protocol goes through the facade.
        let all = out.matches(":: protocol ::").count();
        let through = out.matches(":: ticksync :: protocol ::").count();
        assert!(all > 0 && all == through, "{out}");
    }
}

#[test]
fn crate_attributes() {
    let path = |input: DeriveInput, attr: &str, keys: &[&str]| {
        crate_path::resolve(&input.attrs, attr, keys).map(|p| p.to_string())
    };
    let replicate_keys = &["name", "crate"][..];
    assert_eq!(
        path(
            parse_quote!(
                #[replicate(name = "tank", crate = "::engine::ticksync::protocol")]
                struct Tank;
            ),
            "replicate",
            replicate_keys,
        )
        .unwrap(),
        ":: engine :: ticksync :: protocol"
    );
    assert_eq!(
        path(
            parse_quote!(
                #[fields(crate = "crate::wire")]
                struct Input;
            ),
            "fields",
            &["crate"],
        )
        .unwrap(),
        "crate :: wire"
    );
    // Without the attribute, this crate's manifest decides: derive/Cargo.toml has protocol as a
    // dev-dependency.
    assert_eq!(
        path(
            parse_quote!(
                struct S;
            ),
            "fields",
            &["crate"]
        )
        .unwrap(),
        ":: protocol"
    );
    let err = |input, attr, keys| path(input, attr, keys).unwrap_err().to_string();
    assert_contains(
        &err(
            parse_quote!(
                #[messages(crate = "not a path")]
                enum M {}
            ),
            "messages",
            &["crate"],
        ),
        "`crate` is the protocol crate's path",
    );
    assert_contains(
        &err(
            parse_quote!(
                #[wire_enum(name = "x")]
                enum E {}
            ),
            "wire_enum",
            &["crate"],
        ),
        "unknown wire_enum attribute `name`; expected `crate = \"...\"`",
    );
    assert_contains(
        &err(
            parse_quote!(
                #[replicate(crate = "::a", crate = "::b")]
                struct S;
            ),
            "replicate",
            replicate_keys,
        ),
        "`crate` given twice",
    );
    // A message variant takes a name only.
    let e = error(
        messages::expand,
        parse_quote!(
            enum M {
                #[message(crate = "::p")]
                A,
            }
        ),
    );
    assert_contains(
        &e,
        "unknown message attribute `crate`; expected `name = \"...\"`",
    );
    // A Replicate enum takes `crate` but no name.
    let world: DeriveInput = parse_quote!(
        #[replicate(crate = "::engine::protocol")]
        enum World {
            Tank(Tank),
        }
    );
    assert_eq!(
        path(world.clone(), "replicate", replicate_keys).unwrap(),
        ":: engine :: protocol"
    );
    assert!(replicate::expand(&world, &quote!(::engine::protocol)).is_ok());
}
