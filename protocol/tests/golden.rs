//! Golden vectors: the Rust encoding of every message, value list, descriptor and of snapshot
//! deltas over a test game, checked in under `protocol/golden/` as `NAME.bin` plus `NAME.json`
//! (its meaning), with `index.json` listing them. The browser client's tests decode the same
//! files and apply the same deltas, so both sides stay in lock-step bit for bit.
//!
//! Kinds (`kind` in each JSON):
//! - `client` / `server`: one message; `message` is its serde JSON (externally tagged enums);
//!   messages carrying game values also give them `decoded` per the descriptor.
//! - `snapshot`: a `ServerMsg::Snapshot` of the test game (`descriptor`: the Welcome vector
//!   carrying its schema): `own` player, `baseline` / `baseline2` tables as the client holds
//!   them, the `result` table and its checksums. Tables list entities in slot order:
//!   `{index, version, type, values (one per field of its type), strings {field id: text}}`.
//! - `delta`: bare delta bytes applied to `baseline` at `tick`: `expect` is a result table or
//!   an `error` kind (`malformed`, `index_out_of_range`, `occupied`, `vacant`, `unknown_type`,
//!   `overflow`, `bad_mask`).
//! - `values`: `schema::encode_values` of `values` for `fields`; `decoded` is what
//!   `decode_values` gives back.
//! - `descriptor`: `codec::encode_descriptor` of the test descriptor, and its `hash`.
//!
//! This test fails when any encoding changes and the files were not regenerated:
//! `UPDATE_GOLDEN=1 cargo test -p protocol --test golden` rewrites them (and deletes stale ones).

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::path::PathBuf;

use protocol::codec;
use protocol::messages::*;
use protocol::schema::{
    self, Coding, Descriptor, FieldDesc, Interp, Param, Predictor, TypeDesc, Value, Visibility,
    number,
};
use protocol::state::{EntityId, Plan, StateTable, TableError};
use protocol::state_delta::{self, Baseline, DeltaError, Encoder};
use serde_json::{Value as Json, json};

mod golden_files;
use golden_files::{Vector, check_vectors, hex, table_from_json, table_json, view};

// ---- the test game -----------------------------------------------------------------------------

fn id(index: u32, version: u32) -> EntityId {
    EntityId { index, version }
}

fn field(name: &str, coding: Coding) -> FieldDesc {
    FieldDesc::new(name, coding)
}

fn fixed(name: &str, scale: u32, min: i32, max: i32, tolerance: u32) -> FieldDesc {
    field(
        name,
        Coding::Fixed {
            scale,
            min,
            max,
            tolerance,
        },
    )
}

fn enumeration(name: &str, variants: &[&str]) -> FieldDesc {
    field(
        name,
        Coding::Enum {
            variants: variants.iter().map(|s| s.to_string()).collect(),
        },
    )
}

fn predicted(mut f: FieldDesc, predictor: Predictor, interp: Interp) -> FieldDesc {
    f.predictor = predictor;
    f.interp = interp;
    f
}

fn owner(mut f: FieldDesc) -> FieldDesc {
    f.visibility = Visibility::Owner;
    f
}

fn velocity(field: u16) -> Predictor {
    Predictor::Velocity {
        field,
        num: 0,
        den: 0,
    }
}

fn ty(id: u16, name: &str, fields: Vec<FieldDesc>) -> TypeDesc {
    TypeDesc {
        id,
        name: name.into(),
        fields: number(fields),
    }
}

const SHIP: u16 = 0;
const ROCK: u16 = 1;
const ROOM: u16 = 2;

/// Every coding, every predictor, both visibilities, a room state, input, actions, events.
fn descriptor() -> Descriptor {
    Descriptor {
        game: "golden".into(),
        types: vec![
            ty(
                SHIP,
                "ship",
                vec![
                    predicted(
                        fixed("pos.x", 16, -16_000, 16_000, 2),
                        velocity(2),
                        Interp::Linear,
                    ),
                    predicted(
                        fixed("pos.y", 16, -16_000, 16_000, 2),
                        velocity(3),
                        Interp::Linear,
                    ),
                    fixed("vel.x", 16, -4800, 4800, 0),
                    fixed("vel.y", 16, -4800, 4800, 0),
                    predicted(
                        field("heading", Coding::Angle { bits: 12 }),
                        Predictor::Linear,
                        Interp::Angle,
                    ),
                    field("alive", Coding::Bool),
                    enumeration("team", &["red", "blue"]),
                    field("name", Coding::Str { max_bytes: 16 }),
                    owner(predicted(
                        fixed("fuel", 10, 0, 1000, 0),
                        Predictor::Linear,
                        Interp::Linear,
                    )),
                    owner(field("ammo", Coding::Int { min: 0, max: 99 })),
                ],
            ),
            ty(
                ROCK,
                "rock",
                vec![
                    fixed("pos.x", 16, -16_000, 16_000, 0),
                    fixed("pos.y", 16, -16_000, 16_000, 0),
                    predicted(
                        field("spin", Coding::Angle { bits: 8 }),
                        Predictor::Linear,
                        Interp::Angle,
                    ),
                ],
            ),
            ty(
                ROOM,
                "room",
                vec![
                    enumeration("phase", &["warmup", "playing", "ended"]),
                    predicted(
                        fixed("time_left", 100, 0, 100_000, 1),
                        Predictor::Linear,
                        Interp::Linear,
                    ),
                    field("score", Coding::Int { min: 0, max: 1000 }),
                    field("motd", Coding::Str { max_bytes: 32 }),
                ],
            ),
        ],
        room_type: Some(ROOM),
        input: number(input_fields()),
        actions: vec![
            ty(
                0,
                "buy",
                vec![
                    enumeration("item", &["shield", "boost"]),
                    field("count", Coding::Int { min: 1, max: 9 }),
                ],
            ),
            ty(
                1,
                "rename",
                vec![field("name", Coding::Str { max_bytes: 16 })],
            ),
            ty(2, "ready", vec![]),
        ],
        events: vec![
            ty(
                0,
                "kill",
                vec![
                    field("killer", Coding::Str { max_bytes: 16 }),
                    field("victim", Coding::Str { max_bytes: 16 }),
                ],
            ),
            ty(
                1,
                "score",
                vec![
                    enumeration("team", &["red", "blue", "draw"]),
                    field(
                        "points",
                        Coding::Int {
                            min: -100,
                            max: 100,
                        },
                    ),
                ],
            ),
        ],
        params: vec![
            Param {
                name: "world_width".into(),
                value: 1000.0,
            },
            Param {
                name: "world_height".into(),
                value: 750.5,
            },
            Param {
                name: "speed".into(),
                value: 3.25,
            },
        ],
    }
    .resolve(60)
    .expect("the golden descriptor is valid")
}

fn input_fields() -> Vec<FieldDesc> {
    vec![
        fixed("move_x", 100, -100, 100, 0),
        fixed("move_y", 100, -100, 100, 0),
        field("aim", Coding::Angle { bits: 16 }),
        field("fire", Coding::Bool),
        enumeration("weapon", &["gun", "rocket"]),
        field("say", Coding::Str { max_bytes: 8 }),
    ]
}

const OWN: EntityId = EntityId {
    index: 3,
    version: 1,
};

/// The server's state at `t` (100..=113): a room, ships (one the client's own), a rock.
/// Everything is on its prediction unless noted; see the comments for what each delta holds.
fn world(t: u32) -> StateTable {
    let plan = Plan::new(&descriptor());
    let mut s = plan.new_table();
    let d = i32::try_from(t).unwrap() - 100;
    let mut put = |index: u32, version: u32, ty: u16, values: &[i32], text: Option<(u16, &str)>| {
        s.insert(id(index, version), ty)
            .unwrap()
            .copy_from_slice(&pad(values));
        if let Some((f, text)) = text {
            s.set_string(index, f, text).unwrap();
        }
    };
    // Room: time_left falls 2 steps a tick (exact for the linear predictor with a second
    // baseline); the score goes up at 110; the motd changes at 112.
    let score = if t >= 110 { 4 } else { 3 };
    let motd = if t >= 112 { "sudden death!" } else { "welcome" };
    put(0, 1, ROOM, &[1, 90_000 - 2 * d, score, 0], Some((3, motd)));
    // Ship 1 flies at (120, -60) steps/s, i.e. (2, -1) a tick; its heading turns 100 a tick
    // and wraps at 102.
    put(
        1,
        1,
        SHIP,
        &[
            1000 + 2 * d,
            500 - d,
            120,
            -60,
            (3900 + 100 * d) % 4096,
            1,
            0,
            0,
            800,
            10,
        ],
        Some((7, "ann")),
    );
    // Slot 2: "bob" until 111, then despawned and the slot reused by "cy" (version 3).
    if t < 112 {
        put(
            2,
            1,
            SHIP,
            &[4000, 4000, 0, 0, 0, 0, 1, 0, 5, 0],
            Some((7, "bob")),
        );
    } else {
        let e = d - 12;
        put(
            2,
            3,
            SHIP,
            &[
                -8000 - 80 * e,
                -8000 + 80 * e,
                -4800,
                4800,
                1024,
                1,
                1,
                0,
                1000,
                99,
            ],
            Some((7, "cy")),
        );
    }
    // The client's own ship: starts moving at 101 (a velocity residual), turns back at 112;
    // its private fuel burns 3 a tick (linear), its private ammo drops at 101 and 112.
    let vx = match t {
        ..101 => 0,
        101..112 => 240,
        _ => -480,
    };
    let px = match t {
        ..=101 => -2000,
        102..=112 => -2000 + 4 * (d - 1),
        _ => -1956 - 8 * (d - 12),
    };
    let ammo = match t {
        ..101 => 50,
        101..112 => 49,
        _ => 48,
    };
    put(
        3,
        1,
        SHIP,
        &[px, 3000, vx, 0, 2048, 1, 1, 0, 1000 - 3 * d, ammo],
        Some((7, "me")),
    );
    // A rock spinning 7 a tick, wrapping at 101.
    put(5, 1, ROCK, &[100, 200, (250 + 7 * d) % 256], None);
    // Ship 7 at the range's corner; its heading jumps across 0 at 112 (a wrapped residual).
    let heading = match t {
        ..112 => 4090,
        112 => 5,
        _ => 10,
    };
    put(
        7,
        1,
        SHIP,
        &[16_000, -16_000, 0, 0, heading, 1, 1, 0, 0, 0],
        Some((7, "Zoë ☃")),
    );
    s
}

fn pad(values: &[i32]) -> Vec<i32> {
    let mut v = values.to_vec();
    v.resize(Plan::new(&descriptor()).stride, 0);
    v
}

// ---- JSON forms --------------------------------------------------------------------------------

fn id_json(id: Option<EntityId>) -> Json {
    id.map_or(
        Json::Null,
        |id| json!({"index": id.index, "version": id.version}),
    )
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Num(x) => json!(x),
        Value::Int(i) => json!(i),
        Value::Str(s) => json!(s),
    }
}

fn error_kind(e: &DeltaError) -> &'static str {
    match e {
        DeltaError::Malformed(_) => "malformed",
        DeltaError::Table(TableError::IndexOutOfRange(_)) => "index_out_of_range",
        DeltaError::Table(TableError::Occupied(_)) => "occupied",
        DeltaError::Table(TableError::Vacant(_)) => "vacant",
        DeltaError::Table(TableError::UnknownType(_)) => "unknown_type",
        DeltaError::Overflow(_) => "overflow",
        DeltaError::BadMask(_) => "bad_mask",
    }
}

// ---- vectors -----------------------------------------------------------------------------------

fn vector(name: &str, bytes: Vec<u8>, meaning: Json) -> Vector {
    Vector {
        name: name.into(),
        bytes,
        meaning,
    }
}

fn client(name: &str, msg: ClientMsg) -> Vector {
    let bytes = codec::encode_client(&msg);
    assert_eq!(codec::decode_client(&bytes).as_ref(), Ok(&msg), "{name}");
    vector(name, bytes, json!({"kind": "client", "message": msg}))
}

fn server(name: &str, msg: ServerMsg) -> Vector {
    let bytes = codec::encode_server(&msg);
    assert_eq!(codec::decode_server(&bytes).as_ref(), Ok(&msg), "{name}");
    vector(name, bytes, json!({"kind": "server", "message": msg}))
}

/// The field values of a message or input, as `decode_values` gives them back.
fn decoded(fields: &[FieldDesc], bytes: &[u8]) -> Json {
    let values = schema::decode_values(fields, bytes).unwrap();
    Json::Object(
        fields
            .iter()
            .zip(&values)
            .map(|(f, v)| (f.name.clone(), value_json(v)))
            .collect(),
    )
}

fn encode(fields: &[FieldDesc], values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    schema::encode_values(fields, values, &mut out);
    out
}

fn with_decoded(mut v: Vector, name: &str, fields: &[FieldDesc], bytes: &[u8]) -> Vector {
    v.meaning["decoded"] = json!({"name": name, "fields": decoded(fields, bytes)});
    v
}

const WELCOME: &str = "server_welcome";

/// A snapshot of the test game from `base` (with `base2`) to `tick`, as the server builds it for
/// the client whose player is `own`; checks that the client's apply reproduces it.
fn snapshot(
    name: &str,
    own: Option<EntityId>,
    base: Option<u32>,
    base2: Option<u32>,
    tick: u32,
) -> Vector {
    snapshot_of(
        name,
        own,
        base.map(|t| (t, world(t))),
        base2.map(|t| (t, world(t))),
        tick,
        world(tick),
    )
}

/// `snapshot` over given server tables.
fn snapshot_of(
    name: &str,
    own: Option<EntityId>,
    base: Option<(u32, StateTable)>,
    base2: Option<(u32, StateTable)>,
    tick: u32,
    now: StateTable,
) -> Vector {
    let d = descriptor();
    let plan = Plan::new(&d);
    let (base, bt) = base.map_or((None, None), |(t, table)| (Some(t), Some(table)));
    let (base2, bt2) = base2.map_or((None, None), |(t, table)| (Some(t), Some(table)));
    let sb = bt.as_ref().map(|t| Baseline {
        table: t,
        tick: base.unwrap(),
        second: bt2.as_ref().map(|t2| (t2, base2.unwrap())),
    });
    let mut enc = Encoder::default();
    let mut delta = Vec::new();
    enc.shared(&plan, sb.as_ref(), &now, tick, &mut delta);
    if let Some(own) = own {
        enc.private(&plan, own, sb.as_ref(), &now, tick, &mut delta);
    }
    let header = SnapshotHeader {
        tick,
        baseline: base,
        baseline2: base2,
        input_seq: tick - 90,
        server_time_us: u64::from(tick) * 16_667,
        checksum: Some(plan.checksum(&now, own)),
    };
    let mut bytes = Vec::new();
    codec::encode_snapshot(&header, &delta, &mut bytes);

    // The client's side, from the JSON forms of its tables.
    let client = |t: &StateTable| table_from_json(&plan, &table_json(&d, &view(&plan, t, own)));
    let (cb, cb2) = (bt.as_ref().map(client), bt2.as_ref().map(client));
    let cbase = cb.as_ref().map(|t| Baseline {
        table: t,
        tick: base.unwrap(),
        second: cb2.as_ref().map(|t2| (t2, base2.unwrap())),
    });
    let mut got = plan.new_table();
    state_delta::apply(&plan, own, cbase.as_ref(), tick, &delta, &mut got).unwrap();
    let want = client(&now);
    assert_eq!(got, want, "{name}: apply reproduces the table");
    assert_eq!(
        plan.checksum(&got, own),
        header.checksum.unwrap(),
        "{name}: checksum"
    );

    let table = |t: Option<&StateTable>, tick: Option<u32>| match (t, tick) {
        (Some(t), Some(tick)) => {
            json!({"tick": tick, "table": table_json(&d, t), "checksum": plan.checksum(t, own)})
        }
        _ => Json::Null,
    };
    vector(
        name,
        bytes,
        json!({
            "kind": "snapshot",
            "descriptor": WELCOME,
            "own": id_json(own),
            "header": header,
            "delta_hex": hex(&delta),
            "delta_view": state_delta::decode(&plan, cb.as_ref(), &delta).unwrap(),
            "baseline": table(cb.as_ref(), base),
            "baseline2": table(cb2.as_ref(), base2),
            "result": {
                "tick": tick,
                "table": table_json(&d, &want),
                "checksum": plan.checksum(&want, own),
                "public_checksum": plan.public_checksum(&want),
                "owner_checksum": plan.owner_checksum(&want, own),
            },
        }),
    )
}

/// Bare delta bytes applied to the client's table at 100 as of tick 101: the result table, or
/// the error kind.
fn delta_case(
    name: &str,
    own: Option<EntityId>,
    bytes: Vec<u8>,
    want_error: Option<&str>,
) -> Vector {
    let d = descriptor();
    let plan = Plan::new(&d);
    let base = view(&plan, &world(100), Some(OWN));
    let b = Baseline {
        table: &base,
        tick: 100,
        second: None,
    };
    let mut out = plan.new_table();
    let result = state_delta::apply(&plan, own, Some(&b), 101, &bytes, &mut out);
    let expect = match (&result, want_error) {
        (Err(e), Some(kind)) => {
            assert_eq!(error_kind(e), kind, "{name}: {e}");
            json!({"error": kind, "message": e.to_string()})
        }
        (Ok(()), None) => json!({
            "table": table_json(&d, &out),
            "checksum": plan.checksum(&out, own),
        }),
        (r, _) => panic!("{name}: unexpected {r:?}"),
    };
    vector(
        name,
        bytes,
        json!({
            "kind": "delta",
            "descriptor": WELCOME,
            "own": id_json(own),
            "baseline": {"tick": 100, "table": table_json(&d, &base)},
            "tick": 101,
            "expect": expect,
        }),
    )
}

fn leb(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    protocol::varint::put_u64(&mut out, n);
    out
}

fn zz(n: i64) -> Vec<u8> {
    leb(protocol::varint::zigzag(n))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const BOM_X_SOH: &str = "\u{feff}x\u{1}";

/// `lists` as the delta's only part: the part count 1, then the lists.
fn one_part(lists: Vec<u8>) -> Vec<u8> {
    cat(&[&[1], &lists])
}

fn delta_cases() -> Vec<Vector> {
    let own = Some(OWN);
    let e =
        |name: &str, lists: Vec<u8>, kind: &str| delta_case(name, own, one_part(lists), Some(kind));
    let ok = |name: &str, lists: Vec<u8>| delta_case(name, own, one_part(lists), None);
    // Masks: ship fields 4 (heading), 7 (name), 8 (fuel, private), 9 (ammo, private).
    vec![
        // Two parts: the second removes rock 5, the first spawns it again elsewhere (an entity
        // that moved from one part of the world to another). Every part's despawns come first.
        delta_case(
            "delta_two_parts",
            own,
            cat(&[
                &[2, 0, 1, 5, 1, 5, 1, 1],
                &zz(160),
                &zz(320),
                &zz(9),
                &[0, 0, 0],
            ]),
            None,
        ),
        // The client's own ship moves from one part to another: despawned by the second part,
        // spawned again (1 step further right) by the first. The same entity: it keeps its
        // private fields (fuel 1000 stays, ammo 50 - 1).
        delta_case(
            "delta_own_moves_between_parts",
            own,
            cat(&[
                &[2, 0, 1, 3, 1, 3, 1, 0],
                &zz(-1984),
                &zz(3000),
                &[0, 0],
                &zz(2048),
                &zz(1),
                &zz(1),
                &[2, b'm', b'e', 0, 0, 0, 1, 3],
                &leb(1 << 9),
                &zz(-1),
            ]),
            None,
        ),
        // No part at all: every entity stays on its prediction.
        delta_case("delta_no_parts", own, vec![0], None),
        delta_case("delta_error_empty", own, vec![], Some("malformed")),
        delta_case(
            "delta_error_more_parts_than_bytes",
            own,
            vec![200, 0, 0, 0],
            Some("malformed"),
        ),
        e("delta_error_truncated_list", vec![1], "malformed"),
        e("delta_error_despawn_vacant", vec![1, 4, 0, 0], "vacant"),
        e(
            "delta_error_index_out_of_range",
            cat(&[&[1], &leb(1 << 20), &[0, 0]]),
            "index_out_of_range",
        ),
        e(
            "delta_error_gap_over_u32",
            cat(&[&[1], &leb(1 << 32), &[0, 0]]),
            "malformed",
        ),
        e(
            "delta_error_varint_over_64_bits",
            vec![
                1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
            ],
            "malformed",
        ),
        e(
            "delta_error_spawn_occupied",
            vec![0, 1, 1, 1, 1, 0, 0, 0],
            "occupied",
        ),
        e(
            "delta_error_spawn_unknown_type",
            vec![0, 1, 4, 1, 9, 0, 0],
            "unknown_type",
        ),
        e(
            "delta_error_spawn_value_overflow",
            cat(&[&[0, 1, 4, 1, 1], &zz(1 << 31), &[0, 0, 0, 0]]),
            "overflow",
        ),
        e(
            "delta_error_update_vacant",
            vec![0, 0, 1, 4, 1, 2],
            "vacant",
        ),
        e(
            "delta_error_private_field_in_shared_part",
            cat(&[&[0, 0, 1, 1], &leb(1 << 8), &[2]]),
            "bad_mask",
        ),
        e(
            "delta_error_field_beyond_type",
            cat(&[&[0, 0, 1, 1], &leb(1 << 10), &[2]]),
            "bad_mask",
        ),
        e(
            "delta_error_private_part_not_own",
            cat(&[&[0, 0, 0, 1, 1], &leb(1 << 9), &[2]]),
            "bad_mask",
        ),
        e(
            "delta_error_private_field_not_private",
            cat(&[&[0, 0, 0, 1, 3], &leb(1 << 4), &[2]]),
            "bad_mask",
        ),
        delta_case(
            "delta_error_private_part_without_player",
            None,
            one_part(cat(&[&[0, 0, 0, 1, 3], &leb(1 << 9), &[2]])),
            Some("bad_mask"),
        ),
        e(
            "delta_error_residual_overflows_i32",
            cat(&[&[0, 0, 1, 7, 1], &zz((1 << 31) - 16_000)]),
            "overflow",
        ),
        e(
            "delta_error_residual_overflows_i64",
            cat(&[&[0, 0, 1, 7, 1], &zz(i64::MAX)]),
            "overflow",
        ),
        e(
            "delta_error_string_not_utf8",
            vec![0, 0, 1, 0, 8, 2, 0xc3, 0x28],
            "malformed",
        ),
        e(
            "delta_error_string_truncated",
            vec![0, 0, 1, 0, 8, 5, b'a'],
            "malformed",
        ),
        e(
            "delta_error_bytes_after_the_delta",
            vec![0, 0, 0, 0, 0],
            "malformed",
        ),
        // Angles wrap whatever the residual: only its low bits matter.
        ok(
            "delta_angle_residual_of_any_size",
            cat(&[
                &[0, 0, 2, 1, 0x10],
                &zz(i64::MIN + 7),
                &[1, 0x10],
                &zz((1 << 40) + 1),
            ]),
        ),
        // Values outside their declared ranges apply as they are (the checksum still covers them).
        ok(
            "delta_values_out_of_range",
            cat(&[
                &[0, 1, 4, 1, 1],
                &zz(i64::from(i32::MIN)),
                &zz(i64::from(i32::MAX)),
                &zz(300),
                &[0],
            ]),
        ),
        // Strings are any UTF-8 (a leading byte-order mark stays); empty removes the text.
        ok(
            "delta_strings_any_utf8",
            cat(&[
                &[0, 0, 2, 0, 8, BOM_X_SOH.len() as u8],
                BOM_X_SOH.as_bytes(),
                &[0, 0x80, 0x01, 0],
            ]),
        ),
        // LEB128 need not be minimal: count 1 and gap 2 written long.
        ok(
            "delta_non_minimal_varints",
            vec![0x81, 0x00, 0x82, 0x80, 0x00, 0, 0],
        ),
        // No private part at all: the own entity's private fields stay on their prediction.
        ok("delta_without_private_part", vec![0, 0, 0]),
    ]
}

fn values_case(name: &str, fields: Vec<FieldDesc>, values: Vec<Value>) -> Vector {
    let fields = number(fields);
    let bytes = encode(&fields, &values);
    let back = schema::decode_values(&fields, &bytes).unwrap();
    vector(
        name,
        bytes,
        json!({
            "kind": "values",
            "fields": fields,
            "values": values.iter().map(value_json).collect::<Vec<_>>(),
            "decoded": back.iter().map(value_json).collect::<Vec<_>>(),
        }),
    )
}

fn same(n: usize, f: impl Fn(usize) -> FieldDesc) -> Vec<FieldDesc> {
    (0..n).map(f).collect()
}

fn values_cases() -> Vec<Vector> {
    use Value::{Int, Num, Str};
    vec![
        values_case(
            "values_fixed",
            same(8, |i| fixed(&format!("x{i}"), 100, -100, 100, 3)),
            // Halves round away from zero; out of range clamps.
            vec![
                Num(0.5),
                Num(-0.505),
                Num(2.0),
                Num(-1.0),
                Num(0.125),
                Num(-0.125),
                Int(-3),
                Num(0.0049),
            ],
        ),
        values_case(
            "values_angle",
            same(6, |i| field(&format!("a{i}"), Coding::Angle { bits: 16 })),
            // Negative and over-a-turn angles wrap; just below a full turn rounds to 0.
            vec![
                Num(-PI / 2.0),
                Num(7.0),
                Num(PI),
                Num(0.0),
                Num(2.0 * PI - 1e-9),
                Num(-100.0),
            ],
        ),
        values_case(
            "values_int",
            same(5, |i| {
                field(&format!("i{i}"), Coding::Int { min: -5, max: 1000 })
            }),
            vec![Int(999), Int(-5), Int(5000), Int(-7), Num(3.5)],
        ),
        values_case(
            "values_bool",
            same(3, |i| field(&format!("b{i}"), Coding::Bool)),
            vec![Int(1), Int(0), Int(7)],
        ),
        values_case(
            "values_enum",
            same(3, |i| enumeration(&format!("e{i}"), &["a", "b", "c"])),
            vec![Int(2), Int(0), Int(9)],
        ),
        values_case(
            "values_str",
            same(4, |i| field(&format!("s{i}"), Coding::Str { max_bytes: 5 })),
            // Too long: cut at the last character boundary within 5 bytes.
            vec![
                Str("héllo".into()),
                Str(String::new()),
                Str("ab".into()),
                Str("☃☃".into()),
            ],
        ),
        values_case(
            "values_input",
            input_fields(),
            vec![
                Num(0.25),
                Num(-1.0),
                Num(PI / 2.0),
                Int(1),
                Int(1),
                Str("hi".into()),
            ],
        ),
    ]
}

/// Slot 4 holds a ship at 200 and, under the same id, a rock at 201: the rock's linear spin
/// has no second baseline (the ship's cells are another type's, some of them private), so it
/// is predicted unchanged at 202 and its residual is the whole change.
fn type_change() -> Vector {
    let plan = Plan::new(&descriptor());
    let at = |ty: u16, values: &[i32]| {
        let mut t = world(100);
        t.insert(id(4, 1), ty)
            .unwrap()
            .copy_from_slice(&pad(values));
        t
    };
    let ship = at(SHIP, &[0, 0, 7, 7, 3000, 1, 0, 0, 900, 99]);
    let rock = at(ROCK, &[0, 0, 10]);
    let next = at(ROCK, &[0, 0, 20]);
    assert_eq!(plan.stride, 10);
    snapshot_of(
        "snapshot_delta_type_change",
        Some(OWN),
        Some((201, rock)),
        Some((200, ship)),
        202,
        next,
    )
}

fn vectors() -> Vec<Vector> {
    let d = descriptor();
    let ann = PlayerInfo {
        entity: id(1, 1),
        name: "ann".into(),
    };
    let input = encode(
        &d.input,
        &[
            Value::Num(0.25),
            Value::Num(-1.0),
            Value::Num(PI / 2.0),
            Value::Int(1),
            Value::Int(1),
            Value::Str("hi".into()),
        ],
    );
    let input_idle = encode(
        &d.input,
        &[
            Value::Num(0.0),
            Value::Num(0.0),
            Value::Num(0.0),
            Value::Int(0),
            Value::Int(0),
            Value::Str(String::new()),
        ],
    );
    let buy = encode(&d.actions[0].fields, &[Value::Int(1), Value::Int(3)]);
    let kill = encode(
        &d.events[0].fields,
        &[Value::Str("ann".into()), Value::Str("Zoë ☃".into())],
    );
    let score = encode(&d.events[1].fields, &[Value::Int(2), Value::Int(-7)]);
    let mut v = vec![
        client(
            "client_hello",
            ClientMsg::Hello(Hello {
                version: protocol::PROTOCOL_VERSION,
                room: "arena".into(),
                name: "ann".into(),
                auth_token: None,
                resume_token: None,
                game: None,
            }),
        ),
        client(
            "client_hello_game_tokens",
            ClientMsg::Hello(Hello {
                version: protocol::PROTOCOL_VERSION,
                room: "lobby-2_b".into(),
                name: "Zoë ☃".into(),
                auth_token: Some("eyJ0.sig".into()),
                resume_token: Some("r".repeat(255)),
                game: Some("skirmish".into()),
            }),
        ),
        with_decoded(
            client(
                "client_input",
                ClientMsg::Input(Input {
                    seq: 1,
                    ack: None,
                    view: None,
                    values: input.clone(),
                }),
            ),
            "input",
            &d.input,
            &input,
        ),
        with_decoded(
            client(
                "client_input_ack",
                ClientMsg::Input(Input {
                    seq: 70_000,
                    ack: Some(4_000_000_000),
                    view: Some(ViewTime {
                        tick: 3_999_999_997,
                        frac: 255,
                    }),
                    values: input_idle.clone(),
                }),
            ),
            "input",
            &d.input,
            &input_idle,
        ),
        client("client_ack", ClientMsg::Ack { tick: 250 }),
        client(
            "client_ack_large",
            ClientMsg::Ack {
                tick: 4_000_000_000,
            },
        ),
        client(
            "client_ping",
            ClientMsg::Ping {
                client_time_us: 5_000_000_123,
            },
        ),
        client(
            "client_chat",
            ClientMsg::Chat {
                text: "gg, wp 👋".into(),
            },
        ),
        with_decoded(
            client(
                "client_action",
                ClientMsg::Action(Action {
                    id: 0,
                    values: buy.clone(),
                }),
            ),
            "buy",
            &d.actions[0].fields,
            &buy,
        ),
        with_decoded(
            client(
                "client_action_no_fields",
                ClientMsg::Action(Action {
                    id: 2,
                    values: vec![],
                }),
            ),
            "ready",
            &[],
            &[],
        ),
        server(
            WELCOME,
            ServerMsg::Welcome(Box::new(Welcome {
                version: protocol::PROTOCOL_VERSION,
                player: OWN,
                room: "arena".into(),
                game: d.game.clone(),
                tick_rate: 60,
                tick: 1200,
                resume_token: "3f1c0d9e8b7a65544332211000ffeedd".into(),
                players: vec![
                    ann.clone(),
                    PlayerInfo {
                        entity: OWN,
                        name: "me".into(),
                    },
                ],
                schema_hash: d.hash(),
                schema: d.clone(),
            })),
        ),
        server(
            "server_reject",
            ServerMsg::Reject {
                code: protocol::codes::VERSION_MISMATCH,
                reason: "protocol version 300 is not supported; this server speaks 3".into(),
            },
        ),
        server(
            "server_pong",
            ServerMsg::Pong {
                client_time_us: 5_000_000_123,
                server_time_us: 61_000,
            },
        ),
        server(
            "server_event_joined",
            ServerMsg::Event(Event::PlayerJoined(ann)),
        ),
        server(
            "server_event_left",
            ServerMsg::Event(Event::PlayerLeft { entity: id(1, 1) }),
        ),
        server(
            "server_event_chat",
            ServerMsg::Event(Event::Chat {
                from: id(1, 1),
                text: "hello".into(),
            }),
        ),
        server(
            "server_event_notice",
            ServerMsg::Event(Event::Notice {
                text: "restart in 5 min".into(),
            }),
        ),
        with_decoded(
            server(
                "server_game_event_kill",
                ServerMsg::GameEvent(Action {
                    id: 0,
                    values: kill.clone(),
                }),
            ),
            "kill",
            &d.events[0].fields,
            &kill,
        ),
        with_decoded(
            server(
                "server_game_event_score",
                ServerMsg::GameEvent(Action {
                    id: 1,
                    values: score.clone(),
                }),
            ),
            "score",
            &d.events[1].fields,
            &score,
        ),
        // A full snapshot: every entity spawned, the own ship's private fields against zero.
        snapshot("snapshot_full", Some(OWN), None, None, 100),
        // One tick on: residuals for the own velocity change, the linear fields (no second
        // baseline: predicted unchanged), a wrapped rock spin; private fuel and ammo.
        snapshot("snapshot_delta_one_tick", Some(OWN), Some(100), None, 101),
        // An older baseline with a second one: every linear field is on its prediction; only
        // the score changed.
        snapshot(
            "snapshot_delta_baseline2",
            Some(OWN),
            Some(104),
            Some(100),
            110,
        ),
        // A despawn and a respawn in the same slot (new version), a string change, a residual
        // across an angle's wrap, a private section (ammo).
        snapshot(
            "snapshot_delta_respawn",
            Some(OWN),
            Some(110),
            Some(104),
            112,
        ),
        // Every entity on its prediction: four empty lists.
        snapshot("snapshot_delta_empty", Some(OWN), Some(112), Some(110), 113),
        // A spectator (no player): no private section.
        snapshot("snapshot_delta_spectator", None, Some(110), Some(104), 112),
        type_change(),
    ];
    v.extend(delta_cases());
    v.extend(values_cases());
    // The close codes by name, so the browser client's table cannot drift from this one.
    let codes: BTreeMap<&str, u16> = protocol::codes::ALL
        .iter()
        .map(|&c| (protocol::codes::name(c), c))
        .collect();
    v.push(vector(
        "close_codes",
        Vec::new(),
        json!({"kind": "codes", "codes": codes}),
    ));
    v.push(vector(
        "descriptor",
        codec::encode_descriptor(&d),
        json!({"kind": "descriptor", "descriptor": d, "hash": d.hash(), "stride": Plan::new(&d).stride}),
    ));
    v
}

#[test]
fn the_world_is_what_the_comments_say() {
    let d = descriptor();
    let plan = Plan::new(&d);
    // The empty delta is one part of empty lists and an empty private section, and the
    // one-tick delta has a private entry.
    let empty = snapshot("e", Some(OWN), Some(112), Some(110), 113);
    assert_eq!(empty.meaning["delta_hex"], "0100000000");
    let one = snapshot("o", Some(OWN), Some(100), None, 101);
    assert_eq!(
        one.meaning["delta_view"]["private"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let respawn = snapshot("r", Some(OWN), Some(110), Some(104), 112);
    let view = &respawn.meaning["delta_view"];
    assert_eq!(view["despawns"], json!([2]));
    assert_eq!(view["spawns"][0]["version"], 3);
    // Ship 7's heading moved 4090 -> 5 the short way: +11.
    let ship7 = view["updates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["index"] == 7)
        .unwrap();
    assert_eq!(ship7["fields"], json!([[4, {"Int": 11}]]));
    assert_eq!(plan.stride, 10);
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

#[test]
fn golden_vectors_match_the_encoding() {
    // `games/` holds the reference games' vectors (server/tests/golden_games.rs).
    let advice = "If the wire change is intended, bump PROTOCOL_VERSION if it is incompatible, run \
                  `UPDATE_GOLDEN=1 cargo test -p protocol --test golden`, update docs/protocol.md \
                  and the browser decoder, and commit the files.";
    check_vectors(&golden_dir(), &vectors(), &["kind"], advice);
}
