//! Golden vectors: the Rust encoding of one message of each kind, checked in under
//! `protocol/golden/` as `NAME.bin` plus `NAME.json` (its meaning), with `index.json` listing
//! them. The browser client's tests decode the same files, so both sides stay in lock-step.
//!
//! This test fails when the encoding changes and the files were not regenerated:
//! `UPDATE_GOLDEN=1 cargo test -p protocol --test golden` rewrites them.

use std::path::PathBuf;

use protocol::codec;
use protocol::delta::Delta;
use protocol::messages::*;
use protocol::table::{EntityId, EntityState, EntityTable, KIND_NPC, KIND_PLAYER};
use serde_json::{Value, json};

fn id(index: u32, version: u32) -> EntityId {
    EntityId { index, version }
}

fn npc(x: i32, y: i32) -> EntityState {
    EntityState {
        kind: KIND_NPC,
        x,
        y,
    }
}

/// A small world before and after a few ticks: moves (small, large, negative), a despawn, a
/// slot reused with a new version, a kind change, spawns with large coordinates.
fn tables() -> (EntityTable, EntityTable) {
    let base: EntityTable = [
        (id(0, 1), npc(160, 320)),
        (id(1, 1), npc(15_984, 8)),
        (id(2, 1), npc(4000, 4000)),
        (
            id(3, 1),
            EntityState {
                kind: KIND_PLAYER,
                x: 8000,
                y: 8000,
            },
        ),
        (id(4, 1), npc(-5, 70_000)),
        (id(6, 1), npc(1, 2)),
    ]
    .into_iter()
    .collect();
    let now: EntityTable = [
        (id(0, 1), npc(190, 296)),  // small move
        (id(1, 1), npc(15_984, 8)), // still
        (id(2, 3), npc(100, 200)),  // slot reused
        (
            id(3, 1),
            EntityState {
                kind: KIND_PLAYER,
                x: 7947,
                y: 8300,
            },
        ), // large move
        (
            id(4, 1),
            EntityState {
                kind: 7,
                x: -5,
                y: 70_000,
            },
        ), // kind changed
        (
            id(9, 1),
            EntityState {
                kind: KIND_PLAYER,
                x: 16_000,
                y: 0,
            },
        ), // spawned
        (id(300, 5), npc(-1_000_000, 2_000_000)), // spawned, far
    ]
    .into_iter()
    .collect();
    (base, now)
}

struct Vector {
    name: &'static str,
    bytes: Vec<u8>,
    meaning: Value,
}

fn client(name: &'static str, msg: ClientMsg) -> Vector {
    let bytes = codec::encode_client(&msg);
    assert_eq!(codec::decode_client(&bytes).as_ref(), Ok(&msg), "{name}");
    Vector {
        name,
        bytes,
        meaning: json!({"direction": "client", "message": msg}),
    }
}

fn server(name: &'static str, msg: ServerMsg) -> Vector {
    let bytes = codec::encode_server(&msg);
    assert_eq!(codec::decode_server(&bytes).as_ref(), Ok(&msg), "{name}");
    Vector {
        name,
        bytes,
        meaning: json!({"direction": "server", "message": msg}),
    }
}

fn snapshot(
    name: &'static str,
    base: &EntityTable,
    now: &EntityTable,
    baseline: Option<u32>,
) -> Vector {
    let delta = Delta::between(base, now);
    let msg = ServerMsg::Snapshot(Snapshot {
        tick: 1234,
        baseline,
        input_seq: 77,
        server_time_us: 20_566_666,
        checksum: Some(now.checksum()),
        delta,
    });
    let mut v = server(name, msg);
    v.meaning["baseline_table"] = json!(base);
    v.meaning["baseline_checksum"] = json!(base.checksum());
    v.meaning["result_table"] = json!(now);
    v.meaning["result_checksum"] = json!(now.checksum());
    v
}

fn vectors() -> Vec<Vector> {
    let (base, now) = tables();
    let ann = PlayerInfo {
        entity: id(3, 1),
        name: "ann".into(),
    };
    vec![
        client(
            "client_hello",
            ClientMsg::Hello(Hello {
                version: protocol::PROTOCOL_VERSION,
                room: "arena".into(),
                name: "ann".into(),
                auth_token: None,
                resume_token: None,
            }),
        ),
        client(
            "client_hello_tokens",
            ClientMsg::Hello(Hello {
                version: 300,
                room: "lobby-2_b".into(),
                name: "Zoë ☃".into(),
                auth_token: Some("eyJ0.sig".into()),
                resume_token: Some("r".repeat(300 - 45)),
            }),
        ),
        client(
            "client_input",
            ClientMsg::Input(Input {
                seq: 1,
                dx: 127,
                dy: -127,
                buttons: 0,
            }),
        ),
        client(
            "client_input_large_seq",
            ClientMsg::Input(Input {
                seq: 70_000,
                dx: 0,
                dy: 64,
                buttons: 5,
            }),
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
        server(
            "server_welcome",
            ServerMsg::Welcome(Welcome {
                version: protocol::PROTOCOL_VERSION,
                player: id(3, 1),
                room: "arena".into(),
                tick_rate: 60,
                tick: 1200,
                resume_token: "3f1c0d9e8b7a65544332211000ffeedd".into(),
                world_width: 1000.0,
                world_height: 1000.0,
                player_speed: 200.0,
                players: vec![
                    ann.clone(),
                    PlayerInfo {
                        entity: id(9, 1),
                        name: "bob".into(),
                    },
                ],
            }),
        ),
        server(
            "server_reject",
            ServerMsg::Reject {
                code: protocol::codes::VERSION_MISMATCH,
                reason: "protocol version 300 is not supported; this server speaks 1".into(),
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
            ServerMsg::Event(Event::PlayerLeft { entity: id(3, 1) }),
        ),
        server(
            "server_event_chat",
            ServerMsg::Event(Event::Chat {
                from: id(3, 1),
                text: "hello".into(),
            }),
        ),
        server(
            "server_event_notice",
            ServerMsg::Event(Event::Notice {
                text: "restart in 5 min".into(),
            }),
        ),
        snapshot("server_snapshot_full", &EntityTable::new(), &now, None),
        snapshot("server_snapshot_delta", &base, &now, Some(1228)),
        snapshot("server_snapshot_empty_delta", &now, &now, Some(1233)),
    ]
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

#[test]
fn golden_vectors_match_the_encoding() {
    let dir = golden_dir();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let vectors = vectors();
    let index = json!({
        "protocol_version": protocol::PROTOCOL_VERSION,
        "vectors": vectors.iter().map(|v| v.name).collect::<Vec<_>>(),
    });
    let mut files = vec![("index.json".to_string(), pretty(&index))];
    for v in &vectors {
        let mut meaning = v.meaning.clone();
        meaning["hex"] = json!(hex(&v.bytes));
        files.push((format!("{}.bin", v.name), v.bytes.clone()));
        files.push((format!("{}.json", v.name), pretty(&meaning)));
    }
    if update {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    for (name, bytes) in &files {
        let on_disk = std::fs::read(dir.join(name)).unwrap_or_default();
        assert!(
            &on_disk == bytes,
            "golden file protocol/golden/{name} differs from the current encoding. If the wire \
             change is intended, bump PROTOCOL_VERSION if it is incompatible, run \
             `UPDATE_GOLDEN=1 cargo test -p protocol --test golden`, update docs/protocol.md \
             and the browser decoder, and commit the files."
        );
    }
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap();
    s.push(b'\n');
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
