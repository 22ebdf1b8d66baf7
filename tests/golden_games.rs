//! Golden vectors of the two reference games, checked in under `protocol/golden/games/`: each
//! game's `Welcome` (its resolved descriptor and hash), a full snapshot and two deltas, recorded
//! from a `Sim` tick by tick as a room records them and encoded as a room encodes them (header,
//! shared part, the own player's private part). The JSON shapes are those of
//! `protocol/tests/golden.rs`: snapshots name their Welcome vector in `descriptor` and give the
//! `baseline` / `baseline2` / `result` tables as the client holds them (other entities'
//! owner-only fields zeroed). The browser's `client/tests/games.test.mjs` decodes the same files.
//!
//! Fails when the files are stale; `UPDATE_GOLDEN=1 cargo test --test golden_games`
//! rewrites them (and deletes stale ones).

use std::path::PathBuf;

use protocol::codec;
use protocol::messages::{PlayerInfo, ServerMsg, SnapshotHeader, Welcome};
use protocol::schema::Descriptor;
use protocol::state::{EntityId, Plan, StateTable};
use protocol::state_delta::{self, Baseline, Encoder};
use serde_json::{Value as Json, json};

#[path = "../protocol/tests/golden_files/mod.rs"]
mod golden_files;
use arena::{Arena, Move};
use golden_files::{Vector, check_vectors, hex, table_from_json, table_json, view};
use server::game::{Game, RoomGame, Sim, key_of, wire_id};
use skirmish::Skirmish;

const DT: f32 = 1.0 / 60.0;

/// One game's recording: every tick's server table, oldest first.
struct Recording {
    name: &'static str,
    descriptor: Descriptor,
    plan: Plan,
    players: Vec<(EntityId, String)>,
    own: EntityId,
    tables: Vec<(u32, StateTable)>,
}

impl Recording {
    fn at(&self, tick: u32) -> &StateTable {
        &self.tables.iter().find(|(t, _)| *t == tick).unwrap().1
    }

    fn last_tick(&self) -> u32 {
        self.tables.last().unwrap().0
    }
}

/// Steps `sim` `ticks` times, calling `each` before every step, and records each tick against
/// the table recorded before it (and the one before that), as a room does.
fn record<G: Game>(
    name: &'static str,
    mut sim: Sim<G>,
    players: Vec<(EntityId, String)>,
    ticks: usize,
    mut each: impl FnMut(&mut Sim<G>),
) -> Recording {
    let mut tables: Vec<(u32, StateTable)> = Vec::new();
    for _ in 0..ticks {
        each(&mut sim);
        sim.step(DT);
        let tick = sim.tick();
        let mut t = sim.plan().new_table();
        let n = tables.len();
        let prev = n.checked_sub(1).map(|i| Baseline {
            table: &tables[i].1,
            tick: tables[i].0,
            second: n.checked_sub(2).map(|j| (&tables[j].1, tables[j].0)),
        });
        sim.record(tick, prev, &mut t, &mut Vec::new());
        tables.push((tick, t));
    }
    let own = players[0].0;
    Recording {
        name,
        descriptor: (**sim.descriptor()).clone(),
        plan: (**sim.plan()).clone(),
        players,
        own,
        tables,
    }
}

/// The arena scenario (`arena::scenario(20, 3)`, under the arena's name), 30 ticks.
fn arena_recording() -> Recording {
    let mut sim = Sim::build(arena::NAME, 60, |ctx| {
        Arena::new(ctx, 20, arena::DEFAULT_SEED)
    })
    .expect("valid");
    let mut players = Vec::new();
    for i in 0..3 {
        let name = format!("bot{i}");
        let p = sim.join(&name);
        let angle = i as f32 * 2.399_963;
        sim.input(
            p,
            Move {
                move_x: angle.cos(),
                move_y: angle.sin(),
            },
        );
        players.push((wire_id(p), name));
    }
    // The NPCs keep their courses over the last ticks (every delta would be empty): the second
    // player turns before the last step, so both deltas carry an update.
    let turner = key_of(players[1].0);
    let mut step = 0;
    record(arena::NAME, sim, players, 30, |sim| {
        step += 1;
        if step == 30 {
            sim.input(
                turner,
                Move {
                    move_x: -1.0,
                    move_y: 0.5,
                },
            );
        }
    })
}

/// Four tanks on fixed courses, three firing, 92 ticks: shells fired at tick 91 spawn and
/// older ones expire at 92, so the deltas carry spawns and despawns.
fn skirmish_recording() -> Recording {
    let mut sim = Sim::build(skirmish::NAME, 60, |_| Skirmish::new(7)).expect("valid");
    let names = ["ann", "bob", "cy", "Zoë ☃"];
    let tanks: Vec<_> = names.iter().map(|n| sim.join(n)).collect();
    let players = tanks
        .iter()
        .zip(names)
        .map(|(&k, n)| (wire_id(k), n.to_owned()))
        .collect();
    let mut step = 0u32;
    record(skirmish::NAME, sim, players, 92, |sim| {
        step += 1;
        for (i, &k) in tanks.iter().enumerate() {
            let a = i as f32 * 1.3 + 0.4;
            sim.input(
                k,
                skirmish::Input {
                    move_x: a.cos(),
                    move_y: a.sin(),
                    aim: a + 0.5 + step as f32 * 0.02,
                    fire: i != 3,
                    beam: i == 2,
                },
            );
        }
    })
}

// ---- JSON forms (as protocol/tests/golden.rs) ----------------------------------------------

fn id_json(id: EntityId) -> Json {
    json!({"index": id.index, "version": id.version})
}

// ---- vectors -------------------------------------------------------------------------------

fn welcome_name(r: &Recording) -> String {
    format!("{}_welcome", r.name)
}

fn welcome(r: &Recording) -> Vector {
    let d = &r.descriptor;
    let msg = ServerMsg::Welcome(Box::new(Welcome {
        version: protocol::PROTOCOL_VERSION,
        player: r.own,
        room: format!("{}-golden", r.name),
        game: d.game.clone(),
        tick_rate: 60,
        tick: r.last_tick(),
        resume_token: "0123456789abcdef0123456789abcdef".into(),
        players: r
            .players
            .iter()
            .map(|(entity, name)| PlayerInfo {
                entity: *entity,
                name: name.clone(),
            })
            .collect(),
        schema_hash: d.hash(),
        schema: d.clone(),
    }));
    let bytes = codec::encode_server(&msg);
    assert_eq!(codec::decode_server(&bytes).as_ref(), Ok(&msg));
    assert_eq!(d.game, r.name);
    Vector {
        name: welcome_name(r),
        bytes,
        meaning: json!({
            "kind": "server",
            "game": r.name,
            "message": msg,
            "hash": d.hash(),
            "stride": r.plan.stride,
        }),
    }
}

/// The snapshot of the recording's last tick against `base` (and `base2`), as a room sends it
/// to the own player; checks that the client's apply, from the JSON tables, reproduces it.
fn snapshot(r: &Recording, name: &str, base: Option<u32>, base2: Option<u32>) -> Vector {
    let (d, plan, own) = (&r.descriptor, &r.plan, r.own);
    let tick = r.last_tick();
    let now = r.at(tick);
    let sb = base.map(|b| Baseline {
        table: r.at(b),
        tick: b,
        second: base2.map(|b2| (r.at(b2), b2)),
    });
    // As a writer's PublishedTick::build: the private section only for a player whose
    // type has private fields, left out when it has no entry.
    let mut enc = Encoder::default();
    let mut delta = Vec::new();
    enc.shared(plan, sb.as_ref(), now, tick, &mut delta);
    let has_private = now
        .get(own)
        .is_some_and(|e| !plan.types[usize::from(e.ty)].owner.is_empty());
    if has_private {
        let mut private = Vec::new();
        enc.private(plan, own, sb.as_ref(), now, tick, &mut private);
        if private != [0] {
            delta.extend_from_slice(&private);
        }
    }
    let header = SnapshotHeader {
        tick,
        baseline: base,
        baseline2: base2,
        input_seq: tick - 1,
        server_time_us: u64::from(tick) * 16_667,
        checksum: Some(plan.public_checksum(now) ^ plan.owner_checksum(now, Some(own))),
    };
    assert_eq!(header.checksum, Some(plan.checksum(now, Some(own))));
    let mut bytes = Vec::new();
    codec::encode_snapshot(&header, &delta, &mut bytes);

    let client = |t: &StateTable| view(plan, t, Some(own));
    let table = |t: &StateTable, tick: u32| json!({"tick": tick, "table": table_json(d, t), "checksum": plan.checksum(t, Some(own))});
    let cb = base.map(|b| client(r.at(b)));
    let cb2 = base2.map(|b| client(r.at(b)));
    let want = client(now);
    let meaning = json!({
        "kind": "snapshot",
        "game": r.name,
        "descriptor": welcome_name(r),
        "own": id_json(own),
        "header": header,
        "delta_hex": hex(&delta),
        "delta_view": state_delta::decode(plan, cb.as_ref(), &delta).unwrap(),
        "baseline": cb.as_ref().map_or(Json::Null, |t| table(t, base.unwrap())),
        "baseline2": cb2.as_ref().map_or(Json::Null, |t| table(t, base2.unwrap())),
        "result": {
            "tick": tick,
            "table": table_json(d, &want),
            "checksum": plan.checksum(&want, Some(own)),
            "public_checksum": plan.public_checksum(&want),
            "owner_checksum": plan.owner_checksum(&want, Some(own)),
        },
    });
    check_self_consistent(plan, &bytes, &meaning);
    Vector {
        name: name.to_owned(),
        bytes,
        meaning,
    }
}

/// What a client does with the files alone: decode the message, build the baselines from the
/// JSON, apply, and compare with the JSON result and the header's checksum.
fn check_self_consistent(plan: &Plan, bytes: &[u8], m: &Json) {
    let ServerMsg::Snapshot(s) = codec::decode_server(bytes).unwrap() else {
        panic!("not a snapshot");
    };
    let own = EntityId {
        index: m["own"]["index"].as_u64().unwrap() as u32,
        version: m["own"]["version"].as_u64().unwrap() as u32,
    };
    let tables = |k: &str| {
        let j = &m[k];
        (!j.is_null()).then(|| {
            let t = table_from_json(plan, &j["table"]);
            assert_eq!(
                u64::from(plan.checksum(&t, Some(own))),
                j["checksum"].as_u64().unwrap(),
                "{k} checksum"
            );
            (t, j["tick"].as_u64().unwrap() as u32)
        })
    };
    let (b, b2) = (tables("baseline"), tables("baseline2"));
    assert_eq!(s.header.baseline, b.as_ref().map(|x| x.1));
    assert_eq!(s.header.baseline2, b2.as_ref().map(|x| x.1));
    let base = b.as_ref().map(|(t, tick)| Baseline {
        table: t,
        tick: *tick,
        second: b2.as_ref().map(|(t2, tick2)| (t2, *tick2)),
    });
    let mut got = plan.new_table();
    state_delta::apply(
        plan,
        Some(own),
        base.as_ref(),
        s.header.tick,
        &s.delta,
        &mut got,
    )
    .unwrap();
    let want = table_from_json(plan, &m["result"]["table"]);
    assert!(got == want, "apply reproduces the result table");
    let sum = plan.checksum(&got, Some(own));
    assert_eq!(Some(sum), s.header.checksum);
    assert_eq!(u64::from(sum), m["result"]["checksum"].as_u64().unwrap());
}

fn vectors() -> Vec<Vector> {
    let mut v = Vec::new();
    for r in [arena_recording(), skirmish_recording()] {
        let t = r.last_tick();
        let linear = r.name == skirmish::NAME;
        v.push(welcome(&r));
        v.push(snapshot(&r, &format!("{}_full", r.name), None, None));
        v.push(snapshot(
            &r,
            &format!("{}_delta_1", r.name),
            Some(t - 1),
            None,
        ));
        v.push(snapshot(
            &r,
            &format!("{}_delta_6", r.name),
            Some(t - 6),
            linear.then_some(t - 7),
        ));
    }
    v
}

#[test]
fn the_recordings_hold_what_the_vectors_need() {
    let a = arena_recording();
    assert_eq!(a.at(a.last_tick()).len(), 23, "20 NPCs and 3 players");
    let s = skirmish_recording();
    let now = s.at(s.last_tick());
    let shell = s.descriptor.types.iter().position(|t| t.name == "shell");
    let shells = now
        .iter()
        .filter(|e| Some(usize::from(e.ty)) == shell)
        .count();
    assert!(shells > 0, "shells fly at the last tick");
    // The own tank has private fields, so its snapshots carry a private section.
    let own = now.get(s.own).unwrap();
    assert!(!s.plan.types[usize::from(own.ty)].owner.is_empty());
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol/golden/games")
}

#[test]
fn game_golden_vectors_match_the_encoding() {
    let advice = "If the change to a reference game or the wire is intended, run \
                  `UPDATE_GOLDEN=1 cargo test --test golden_games` and commit the files.";
    check_vectors(&golden_dir(), &vectors(), &["kind", "game"], advice);
}
