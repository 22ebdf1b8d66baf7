//! Games end to end: one server hosting several games, and a skirmish match between two real
//! bots that decode it from the descriptor their `Welcome` carries.

mod support;

use std::collections::HashSet;
use std::f64::consts::{FRAC_PI_2, TAU};
use std::time::Duration;

use bots::{Client, ClientError, Received};
use protocol::{EntityId, Value, codes};
use support::process::metric_code;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_hosts_several_games() {
    let server = start_server(|c| c.npcs = 50).await;
    let addr = server.local_addr();

    // A new room plays the game its first Hello asks for...
    let (mut tanks, wa) = Client::connect(game_opts(addr, "a", "ann", Some("skirmish")))
        .await
        .expect("joins a skirmish room");
    assert_eq!(
        (wa.game.as_str(), wa.schema.game.as_str()),
        ("skirmish", "skirmish")
    );
    let names: Vec<&str> = wa.schema.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["tank", "shell", "match"]);
    assert_eq!(wa.schema.room_type, Some(2));
    assert_eq!(wa.schema.actions[0].name, "switch_team");
    // ... or the server's default game, arena, when it asks for none.
    let (mut dots, wb) = Client::connect(game_opts(addr, "b", "bob", None))
        .await
        .expect("joins the default game");
    assert_eq!(
        (wb.game.as_str(), wb.schema.game.as_str()),
        ("arena", "arena")
    );
    let names: Vec<&str> = wb.schema.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["npc", "player"]);
    assert_ne!(wa.schema_hash, wb.schema_hash);

    // Each client decodes its own game's snapshots.
    recv_tick(&mut tanks, 2).await;
    recv_tick(&mut dots, 2).await;
    let (_, t) = tanks.latest().unwrap();
    assert_eq!(t.len(), 2, "ann's tank and the match state");
    assert_eq!(
        tanks.field(tanks.player(), "name"),
        Some(Value::Str("ann".into()))
    );
    assert_eq!(
        tanks.field(bots::client::read::ROOM, "phase"),
        Some(Value::Int(0)),
        "the match is in warmup"
    );
    assert_eq!(dots.latest().unwrap().1.len(), 50 + 1);
    assert!(pos(&dots, dots.player()).is_some());

    // A room's game is fixed: asking for another is refused.
    match Client::connect(game_opts(addr, "a", "cat", Some("arena"))).await {
        Err(ClientError::Rejected { code, reason }) => {
            assert_eq!(code, codes::WRONG_GAME);
            assert!(reason.contains("skirmish"), "{reason}");
        }
        Ok(_) => panic!("joined room a as arena"),
        Err(e) => panic!("{e}"),
    }
    // So is a game the server does not host, for a new room and for an existing one.
    for room in ["c", "a"] {
        assert_eq!(
            refused_with(game_opts(addr, room, "dan", Some("chess"))).await,
            Some(codes::WRONG_GAME),
            "room {room}"
        );
    }
    // Joining without naming a game takes whatever the room plays.
    let (eve, we) = Client::connect(game_opts(addr, "a", "eve", None))
        .await
        .expect("joins room a");
    assert_eq!(we.game, "skirmish");
    assert_eq!(we.players.len(), 2, "ann and eve");

    // `/rooms` says which game each room plays; the refused joins opened no room.
    let (status, body) = http_get(addr, "/rooms").await;
    assert_eq!(status, 200);
    let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
    let games: Vec<(&str, &str)> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["game"].as_str().unwrap()))
        .collect();
    assert_eq!(games, [("a", "skirmish"), ("b", "arena")]);
    assert_eq!(server.inspect("a").await.unwrap().game, "skirmish");
    let m = http_get(addr, "/metrics").await.1;
    assert_eq!(metric_code(&m, "ticksync_rejects_total", "wrong_game"), 3.0);

    for c in [tanks, dots, eve] {
        c.close().await;
    }
    server.shutdown().await;
}

/// What one duelist saw of the match.
#[derive(Debug, Default)]
struct Seen {
    /// The other tank: where it was and which way its hull pointed when first seen.
    other_first: Option<((f64, f64), f64)>,
    other_moved: bool,
    other_turned: bool,
    shells_spawned: usize,
    shells_despawned: usize,
    /// (killer, victim) of each `kill` event.
    kills: Vec<(String, String)>,
    /// Own `ammo` values seen (private: only this client receives them).
    own_ammo: HashSet<i64>,
    /// Whether the other tank's `ammo` or `reload` was ever not 0 in this client's table
    /// (they are private to its player).
    other_private_seen: bool,
}

impl Seen {
    fn done(&self) -> bool {
        self.other_moved && self.other_turned && self.shells_despawned > 0 && !self.kills.is_empty()
    }
}

/// The difference of two angles the shorter way round, in radians.
fn angle_between(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(TAU);
    d.min(TAU - d)
}

/// A skirmish input: move_x, move_y (-1..1), aim (radians), fire (0 or 1).
fn skirmish_input([mx, my, aim, fire]: [f64; 4]) -> [Value; 4] {
    [
        Value::Num(mx),
        Value::Num(my),
        Value::Num(aim),
        Value::Int(fire as i64),
    ]
}

/// One duelist: first drives toward the middle line and turns its turret (so the other sees
/// it move and turn), then closes in on the other tank, stops 150 units short and aims at it;
/// the `shooter` fires. Plays until it has seen everything `Seen::done` asks for.
async fn duel(mut c: Client, shooter: bool) -> (Client, Seen) {
    let schema = c.schema().clone();
    let type_id = |name: &str| schema.types.iter().position(|t| t.name == name).unwrap() as u16;
    let (tank, shell) = (type_id("tank"), type_id("shell"));
    let me = c.player();
    let mut seen = Seen::default();
    let mut live_shells: HashSet<EntityId> = HashSet::new();
    let mut ticks = 0;
    while !seen.done() {
        let msg = c.recv().await.unwrap_or_else(|e| panic!("{e}"));
        match msg {
            Received::GameEvent { name, values, .. } => {
                assert_eq!(name, "kill", "no other event is due");
                match &values[..] {
                    [Value::Str(killer), Value::Str(victim)] => {
                        seen.kills.push((killer.clone(), victim.clone()));
                    }
                    other => panic!("kill values {other:?}"),
                }
                continue;
            }
            Received::Snapshot { checksum_ok, .. } => assert_eq!(checksum_ok, Some(true)),
            _ => continue,
        }
        ticks += 1;
        let (_, table) = c.latest().unwrap();
        let other = table
            .iter()
            .find(|e| e.ty == tank && e.id != me)
            .map(|e| e.id);
        let shells: HashSet<EntityId> = table
            .iter()
            .filter(|e| e.ty == shell)
            .map(|e| e.id)
            .collect();
        seen.shells_spawned += shells.difference(&live_shells).count();
        seen.shells_despawned += live_shells
            .iter()
            .filter(|id| table.get(**id).is_none())
            .count();
        live_shells = shells;
        if let Some(Value::Int(ammo)) = c.field(me, "ammo") {
            seen.own_ammo.insert(ammo);
        }
        let Some(other) = other else {
            c.send_input(&skirmish_input([0.0; 4])).unwrap();
            continue;
        };
        let mine = pos(&c, me).unwrap();
        let theirs = pos(&c, other).unwrap();
        let hull = num(&c, other, "hull").unwrap();
        let (first_pos, first_hull) = *seen.other_first.get_or_insert((theirs, hull));
        seen.other_moved |= (theirs.0 - first_pos.0).hypot(theirs.1 - first_pos.1) > 20.0;
        seen.other_turned |= angle_between(hull, first_hull) > 0.3;
        seen.other_private_seen |=
            num(&c, other, "ammo") != Some(0.0) || num(&c, other, "reload") != Some(0.0);

        let (dx, dy) = (theirs.0 - mine.0, theirs.1 - mine.1);
        let dist = dx.hypot(dy);
        let input = if ticks < 30 {
            let up = if mine.1 < 500.0 { 1.0 } else { -1.0 };
            [0.0, up, FRAC_PI_2, 0.0]
        } else {
            let (mx, my) = if dist > 150.0 {
                (dx / dist, dy / dist)
            } else {
                (0.0, 0.0)
            };
            let alive = num(&c, other, "health").unwrap() > 0.0;
            let fire = shooter && alive && dist < 350.0;
            [
                mx,
                my,
                dy.atan2(dx).rem_euclid(TAU),
                f64::from(u8::from(fire)),
            ]
        };
        c.send_input(&skirmish_input(input)).unwrap();
    }
    // Stand still and hold fire from now on.
    c.send_input(&skirmish_input([0.0; 4])).unwrap();
    (c, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skirmish_duel_between_two_bots() {
    let server = start_server(|c| c.npcs = 0).await;
    let addr = server.local_addr();
    let (ann, wa) = Client::connect(game_opts(addr, "duel", "ann", Some("skirmish")))
        .await
        .unwrap();
    let (bob, wb) = Client::connect(game_opts(addr, "duel", "bob", Some("skirmish")))
        .await
        .unwrap();
    assert_eq!(wa.game, "skirmish");
    assert_eq!(wb.players.len(), 2);
    let pb = bob.player();
    let a = tokio::spawn(duel(ann, true));
    let b = tokio::spawn(duel(bob, false));
    let ((mut ann, sa), (mut bob, sb)) = tokio::time::timeout(Duration::from_secs(60), async {
        (a.await.unwrap(), b.await.unwrap())
    })
    .await
    .expect("the duel ends within a minute");
    eprintln!("ann saw {sa:?}\nbob saw {sb:?}");

    for (who, seen) in [("ann", &sa), ("bob", &sb)] {
        assert!(seen.other_moved && seen.other_turned, "{who}: {seen:?}");
        assert!(
            seen.shells_spawned > 0 && seen.shells_despawned > 0,
            "{who}"
        );
        // Ann fired, bob never did: the first kill is ann's, of bob.
        assert_eq!(seen.kills[0], ("ann".into(), "bob".into()), "{who}");
        // The other tank's private fields never reached this client.
        assert!(
            !seen.other_private_seen,
            "{who} saw the other's ammo or reload"
        );
        assert_eq!(
            (
                ann.stats().counters.checksum_mismatches,
                bob.stats().counters.checksum_mismatches
            ),
            (0, 0)
        );
    }
    // Each saw its own ammo: bob's full magazine, ann's spent and regained.
    assert_eq!(sb.own_ammo, HashSet::from([5]));
    assert!(
        sa.own_ammo.contains(&5) && sa.own_ammo.len() > 1,
        "{:?}",
        sa.own_ammo
    );
    // The server holds bob's ammo (5) while ann's copy of it is 0.
    let room = server.inspect("duel").await.unwrap();
    let ammo_field = wa.schema.types[0]
        .fields
        .iter()
        .position(|f| f.name == "ammo")
        .unwrap();
    assert_eq!(room.table.get(pb).unwrap().values[ammo_field], 5);
    assert_eq!(num(&ann, pb, "ammo"), Some(0.0));
    // Bit for bit, each client holds the server's table as it may see it.
    assert_world_matches(&server, "duel", &mut ann).await;
    assert_world_matches(&server, "duel", &mut bob).await;
    ann.close().await;
    bob.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_of_skirmish_bots() {
    let server = start_server(|c| c.npcs = 0).await;
    let url = ws_url(server.local_addr());
    let mut cfg = bots::load::LoadConfig::new(&url, "tanks", 6, Duration::from_millis(2000));
    cfg.game = Some("skirmish".into());
    cfg.ramp = Duration::from_millis(200);
    // Skirmish's own bots, as `bot-client` plays them.
    cfg.behaviours = ticksync_reference::app().behaviours().clone();
    let report = load_run(&cfg).await;
    assert_clean_run(&report, 6);
    // Private ammo: each bot's table is its own, so each decodes alone.
    assert_eq!(report.shared_decode_share, None);
    // The hunters count their beams, and predict their own tanks (checked at every snapshot
    // that applied a newer input).
    let (shots, hits) = (
        report.counters["hitscan_shots"],
        report.counters["hitscan_hits"],
    );
    assert!(hits <= shots, "{:?}", report.counters);
    let prediction = report.prediction.as_ref().expect("skirmish bots predict");
    assert!(prediction.reconciled > 0, "{prediction:?}");
    assert!(prediction.corrections <= prediction.reconciled);
    assert_eq!(server.inspect("tanks").await.unwrap().game, "skirmish");
    server.shutdown().await;
}
