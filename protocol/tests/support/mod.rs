//! proptest strategies shared by the protocol's property tests.
#![allow(dead_code)]

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use protocol::delta::Delta;
use protocol::messages::*;
use protocol::table::{EntityId, EntityState, EntityTable};

pub fn state() -> impl Strategy<Value = EntityState> {
    (0u8..4, -20_000i32..20_000, -20_000i32..20_000).prop_map(|(kind, x, y)| EntityState {
        kind,
        x,
        y,
    })
}

/// Tables with up to 300 entities over 400 slots, and occasionally extreme coordinates.
pub fn table() -> impl Strategy<Value = EntityTable> {
    btree_map(0u32..400, (0u32..6, state(), any::<bool>()), 0..300).prop_map(|m| {
        m.into_iter()
            .map(|(index, (v, mut s, extreme))| {
                if extreme && index % 7 == 0 {
                    s.x = if index % 2 == 0 { i32::MAX } else { i32::MIN };
                }
                (
                    EntityId {
                        index,
                        version: 2 * v + 1,
                    },
                    s,
                )
            })
            .collect()
    })
}

/// A baseline and a "now" derived from it by the kinds of change a game makes.
pub fn table_pair() -> impl Strategy<Value = (EntityTable, EntityTable)> {
    (
        table(),
        vec((0u8..6, -200i32..200, -200i32..200, state()), 400),
        table(),
    )
        .prop_map(|(base, edits, extra)| {
            let mut now = EntityTable::new();
            for (id, s) in base.iter() {
                let (op, dx, dy, other) = edits[id.index as usize % edits.len()];
                let next = match op {
                    0 => continue, // despawn
                    1 => *s,       // unchanged
                    2 => EntityState {
                        x: s.x.saturating_add(dx),
                        y: s.y.saturating_add(dy),
                        ..*s
                    },
                    3 => EntityState {
                        kind: s.kind ^ 1,
                        ..*s
                    },
                    4 => {
                        now.insert(
                            EntityId {
                                version: id.version + 2,
                                ..id
                            },
                            other,
                        )
                        .unwrap();
                        continue;
                    }
                    _ => other,
                };
                now.insert(id, next).unwrap();
            }
            for (id, s) in extra.iter() {
                if now.slot(id.index).is_none() && base.slot(id.index).is_none() {
                    now.insert(id, *s).unwrap();
                }
            }
            (base, now)
        })
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ]{0,23}".prop_map(|s| format!("p{s}"))
}

fn text() -> impl Strategy<Value = String> {
    "[ -~é☃]{0,60}"
}

fn entity_id() -> impl Strategy<Value = EntityId> {
    (0u32..1 << 20, any::<u32>()).prop_map(|(index, version)| EntityId { index, version })
}

pub fn client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (
            any::<u16>(),
            "[a-zA-Z0-9_-]{1,32}",
            name(),
            proptest::option::of("[ -~]{0,256}"),
            proptest::option::of("[ -~]{0,256}")
        )
            .prop_map(
                |(version, room, name, auth_token, resume_token)| ClientMsg::Hello(Hello {
                    version,
                    room,
                    name,
                    auth_token,
                    resume_token
                })
            ),
        (any::<u32>(), -127i8..=127, -127i8..=127, any::<u8>()).prop_map(
            |(seq, dx, dy, buttons)| ClientMsg::Input(Input {
                seq,
                dx,
                dy,
                buttons
            })
        ),
        any::<u32>().prop_map(|tick| ClientMsg::Ack { tick }),
        any::<u64>().prop_map(|client_time_us| ClientMsg::Ping { client_time_us }),
        text().prop_map(|text| ClientMsg::Chat { text }),
    ]
}

fn player() -> impl Strategy<Value = PlayerInfo> {
    (entity_id(), name()).prop_map(|(entity, name)| PlayerInfo { entity, name })
}

pub fn server_msg() -> impl Strategy<Value = ServerMsg> {
    prop_oneof![
        (
            entity_id(),
            any::<u32>(),
            vec(player(), 0..5),
            any::<(u16, u16)>()
        )
            .prop_map(
                |(player, tick, players, (version, tick_rate))| ServerMsg::Welcome(Welcome {
                    version,
                    player,
                    room: "arena".into(),
                    tick_rate,
                    tick,
                    resume_token: "r".repeat(tick as usize % 40),
                    world_width: 1000.0,
                    world_height: 1000.0,
                    player_speed: 200.0,
                    players,
                })
            ),
        (any::<u16>(), text()).prop_map(|(code, reason)| ServerMsg::Reject { code, reason }),
        (
            table_pair(),
            any::<(u32, Option<u32>, u32, u64, Option<u32>)>()
        )
            .prop_map(
                |((b, n), (tick, baseline, input_seq, server_time_us, checksum))| {
                    ServerMsg::Snapshot(Snapshot {
                        tick,
                        baseline,
                        input_seq,
                        server_time_us,
                        checksum,
                        delta: Delta::between(&b, &n),
                    })
                }
            ),
        any::<(u64, u64)>().prop_map(|(client_time_us, server_time_us)| ServerMsg::Pong {
            client_time_us,
            server_time_us
        }),
        player().prop_map(|p| ServerMsg::Event(Event::PlayerJoined(p))),
        entity_id().prop_map(|entity| ServerMsg::Event(Event::PlayerLeft { entity })),
        (entity_id(), text()).prop_map(|(from, text)| ServerMsg::Event(Event::Chat { from, text })),
        text().prop_map(|text| ServerMsg::Event(Event::Notice { text })),
    ]
}
