//! Interest management end to end: in a game with a view, each client holds only the entities
//! near its player, verified against the server's checksum of exactly what it sees, while
//! entities come into and go out of its view.

mod support;

use std::time::Duration;

use arena::Arena;
use bots::{Client, Received};
use protocol::{EntityId, Value};
use server::Games;
use support::*;

/// Arena's rules in a 4000 x 4000 world with 400 NPCs, each client seeing 250 units around
/// its player: small enough for a debug build.
const GAME: &str = "near";
const RADIUS: f64 = 250.0;

fn near_game(_: &server::Config) -> Games {
    let seed = arena::DEFAULT_SEED;
    let mut games = Games::default();
    games.register(GAME, move |ctx| {
        Arena::with_world(ctx, 400, seed, 4000.0, Some(RADIUS as f32))
    });
    games
}

fn pos(c: &Client, id: EntityId) -> (f64, f64) {
    let num = |name| match c.field(id, name) {
        Some(Value::Num(v)) => v,
        other => panic!("{name} of {id:?}: {other:?}"),
    };
    (num("pos.x"), num("pos.y"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_only_what_is_near_its_player() {
    let server = start_server_with(|c| c.game = Some(GAME.into()), near_game).await;
    let addr = server.local_addr();
    let (mut a, _) = connect(addr, "arena", "ann").await;
    let (mut b, _) = connect(addr, "arena", "bob").await;
    let mut held = Vec::new();
    let mut verified = 0;
    // Two seconds of play: ann drives right across cells, so NPCs enter and leave her view.
    let end = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < end {
        let m = bounded("a snapshot", a.recv()).await.expect("stays up");
        let Received::Snapshot { checksum_ok, .. } = m else {
            continue;
        };
        // Every snapshot's checksum covers exactly the entities of the cells ann sees.
        assert_eq!(checksum_ok, Some(true));
        verified += 1;
        let _ = a.send_input(&[Value::Num(1.0), Value::Num(0.0)]);
        let me = pos(&a, a.player());
        let (_, table) = a.latest().expect("a table");
        let ids: Vec<EntityId> = table.iter().map(|e| e.id).collect();
        for id in &ids {
            // The 3 x 3 cells around hers: at most two radii away on each axis.
            let (x, y) = pos(&a, *id);
            assert!(
                (x - me.0).abs() <= 2.0 * RADIUS + 0.1 && (y - me.1).abs() <= 2.0 * RADIUS + 0.1,
                "{id:?} at ({x}, {y}) is out of view of ({}, {})",
                me.0,
                me.1
            );
        }
        held.push(ids.len());
        // Keep bob's socket drained.
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::ZERO, b.recv()).await {}
    }
    assert!(verified > 60, "{verified} snapshots verified");
    // `/rooms` counts each client's snapshots once: at most one a tick.
    let rate = bounded("a send rate in /rooms", async {
        loop {
            let (_, rooms) = http_get(server.local_addr(), "/rooms").await;
            let rooms: serde_json::Value = serde_json::from_str(&rooms).unwrap();
            if let Some(r) = rooms[0]["send_rate_p50"].as_f64() {
                return r;
            }
            // Keep both clients reading while /rooms refreshes (twice a second).
            let _ = bounded("a snapshot", a.recv()).await;
            let _ = bounded("a snapshot", b.recv()).await;
        }
    })
    .await;
    // Writers take snapshots when they can, so a half-second window may count one taken just
    // after it closed: 62 at most. Counting twice would show 120.
    assert!(rate <= 62.5, "send rate {rate} a second at 60 Hz");
    let (fewest, most) = (held.iter().min().unwrap(), held.iter().max().unwrap());
    assert!(
        *most < 402,
        "ann holds part of the world, not all of it ({most})"
    );
    assert!(*fewest >= 1, "at least herself");
    a.close().await;
    b.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_verify_every_snapshot_of_a_game_with_views() {
    let server = start_server_with(|c| c.game = Some(GAME.into()), near_game).await;
    let url = ws_url(server.local_addr());
    let mut cfg = bots::load::LoadConfig::new(&url, "arena", 8, Duration::from_millis(2000));
    cfg.ramp = Duration::from_millis(200);
    let report = load_run(&cfg).await;
    assert_clean_run(&report, 8);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_radius_of_0_shows_everything() {
    let server = start_server_with(
        |c| {
            c.game = Some(GAME.into());
            c.view_radius = Some(0.0);
        },
        near_game,
    )
    .await;
    let (mut a, _) = connect(server.local_addr(), "arena", "ann").await;
    // 400 NPCs and ann: the whole world, whatever the game's own radius.
    recv_until(&mut a, "the whole world", |c, _| {
        c.latest().is_some_and(|(_, t)| t.len() == 401)
    })
    .await;
    a.close().await;
    server.shutdown().await;
}
