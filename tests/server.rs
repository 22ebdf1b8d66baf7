//! End to end: a real server on a loopback port, real WebSocket bots (issue 3's tests).

mod support;

use std::time::Duration;

use bot_client::{Client, ConnectOptions, Received};
use protocol::{ClientMsg, Event, Hello, ServerMsg, codec, codes};
use support::*;

/// Direction (-1 or 1) that leads from `q` (quantised) towards the middle of the 1000-unit world.
fn towards_middle(q: i32) -> f32 {
    if protocol::quant::dequantize(q) < 500.0 {
        1.0
    } else {
        -1.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bot_sees_the_other_move_and_leave() {
    let server = start_server(|c| c.npcs = 200).await;
    let addr = server.local_addr();
    let (mut a, _) = connect(addr, "arena", "ann").await;
    let (mut b, wb) = connect(addr, "arena", "bob").await;
    assert!(
        wb.players
            .iter()
            .any(|p| p.entity == a.player() && p.name == "ann"),
        "roster names ann"
    );
    let (pa, pb) = (a.player(), b.player());
    recv_until(&mut a, "a sees b", |c, _| {
        c.latest().is_some_and(|(_, t)| t.get(pb).is_some())
    })
    .await;
    recv_until(&mut b, "b sees a", |c, _| {
        c.latest().is_some_and(|(_, t)| t.get(pa).is_some())
    })
    .await;

    // A moves along x, B along y, each towards the middle so no wall stops them.
    let a0 = *b.latest().unwrap().1.get(pa).unwrap();
    let b0 = *a.latest().unwrap().1.get(pb).unwrap();
    let (ax, by) = (towards_middle(a0.x), towards_middle(b0.y));
    let secs = Duration::from_millis(1000);
    let drive_a = tokio::spawn(async move {
        snapshots_during(&mut a, secs, Some((ax, 0.0))).await;
        a
    });
    let drive_b = tokio::spawn(async move {
        snapshots_during(&mut b, secs, Some((0.0, by))).await;
        b
    });
    let (mut a, mut b) = (drive_a.await.unwrap(), drive_b.await.unwrap());
    // Let the last inputs land.
    let settle = b.latest().unwrap().0 + 3;
    recv_tick(&mut b, settle).await;
    recv_tick(&mut a, settle).await;
    let a1 = *b.latest().unwrap().1.get(pa).unwrap();
    let b1 = *a.latest().unwrap().1.get(pb).unwrap();
    let moved = |from: i32, to: i32| protocol::quant::dequantize(to - from);
    // About 200 units/s for about a second; generous margins for a loaded machine.
    assert!(
        moved(a0.x, a1.x) * ax > 60.0,
        "b saw a move along x: {a0:?} -> {a1:?}"
    );
    assert_eq!(a0.y, a1.y, "a did not move along y");
    assert!(
        moved(b0.y, b1.y) * by > 60.0,
        "a saw b move along y: {b0:?} -> {b1:?}"
    );
    assert_eq!(b0.x, b1.x, "b did not move along x");

    // A leaves: B gets the event, then a snapshot without A's entity.
    a.close().await;
    recv_until(
        &mut b,
        "PlayerLeft",
        |_, m| matches!(m, Received::Event(Event::PlayerLeft { entity }) if *entity == pa),
    )
    .await;
    recv_until(&mut b, "a despawned", |c, _| {
        c.latest().is_some_and(|(_, t)| t.get(pa).is_none())
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_snapshot_reproduces_the_server_world() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let (mut bot, _) = connect(addr, "arena", "checker").await;
    let (mut other, _) = connect(addr, "arena", "mover").await;
    let mover = tokio::spawn(async move {
        snapshots_during(&mut other, Duration::from_secs(3), Some((0.7, -0.7))).await;
        other
    });
    // Every snapshot carries the server's checksum; the client checks each one (a mismatch is
    // an error from recv, which fails the test).
    let mut verified = 0;
    recv_until(&mut bot, "120 verified snapshots", |_, m| {
        if let Received::Snapshot { checksum_ok, .. } = m {
            assert_eq!(*checksum_ok, Some(true));
            verified += 1;
        }
        verified >= 120
    })
    .await;
    assert_eq!(bot.stats().counters.checksum_mismatches, 0);

    // And bit for bit: the server's own table for a tick equals the bot's table for that tick.
    let table = assert_world_matches(&server, "arena", &mut bot).await;
    assert_eq!(table.len(), 1000 + 2);
    mover.await.unwrap().close().await;
    bot.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_slows_no_one() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let mut opts = ConnectOptions::new(&ws_url(addr), "arena", "sleepy");
    opts.recv_buffer = Some(4096);
    let (mut sleepy, _) = Client::connect(opts).await.expect("connects");
    recv_tick(&mut sleepy, 1).await;
    let sleepy_conn_name = "sleepy";

    // Three honest clients play for 5 s while `sleepy` reads nothing.
    let stall = Duration::from_secs(5);
    let mut honest = Vec::new();
    for i in 0..3 {
        let (mut c, _) = connect(addr, "arena", &format!("honest{i}")).await;
        honest.push(tokio::spawn(async move {
            snapshots_during(&mut c, stall, Some((0.5, 0.5))).await
        }));
    }
    let mut max_pending = 0;
    let stall_end = tokio::time::Instant::now() + stall;
    while tokio::time::Instant::now() < stall_end {
        let room = server.inspect("arena").await.unwrap();
        let me = room
            .clients
            .iter()
            .find(|c| c.name == sleepy_conn_name)
            .expect("still connected");
        max_pending = max_pending.max(me.pending_snapshots);
        tokio::time::sleep(Duration::from_millis(100)).await; // sampling period, not a sync point
    }
    for h in honest {
        let n = h.await.unwrap();
        let rate = n as f64 / stall.as_secs_f64();
        assert!(
            rate >= 40.0,
            "an honest client got {rate:.1} snapshots/s while another stalled"
        );
    }
    let room = server.inspect("arena").await.unwrap();
    let me = room
        .clients
        .iter()
        .find(|c| c.name == sleepy_conn_name)
        .unwrap();
    assert!(
        max_pending <= 1,
        "at most one pending snapshot, saw {max_pending}"
    );
    assert!(
        me.stale_dropped > 0,
        "stale snapshots were replaced, not queued"
    );
    // The pending-snapshot count can never pass one (it is a slot): what shows that nothing
    // queued for the stalled client is that most of the stall's ~300 snapshots were replaced,
    // and its reliable queue stayed empty.
    eprintln!(
        "stalled client: {} stale of {} ticks",
        me.stale_dropped, room.tick
    );
    assert!(
        me.stale_dropped >= 150,
        "only {} snapshots replaced in a 5 s stall",
        me.stale_dropped
    );
    assert!(
        me.reliable_queued <= 3,
        "{} reliable messages queued",
        me.reliable_queued
    );

    // Reading again, it converges on the current world within a few ticks.
    let target = room.tick + 10;
    recv_tick(&mut sleepy, target).await;
    assert_eq!(sleepy.stats().counters.checksum_mismatches, 0);
    assert_world_matches(&server, "arena", &mut sleepy).await;
    sleepy.close().await;
    server.shutdown().await;
}

fn hello(version: u16) -> Vec<u8> {
    codec::encode_client(&ClientMsg::Hello(Hello {
        version,
        room: "arena".into(),
        name: "old".into(),
        auth_token: None,
        resume_token: None,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_versions_and_garbage_are_refused_and_others_play_on() {
    let server = start_server(|c| c.npcs = 200).await;
    let addr = server.local_addr();
    let (mut honest, _) = connect(addr, "arena", "honest").await;

    // Wrong protocol version: Reject with a clear reason, then a close with the same code.
    let mut ws = raw_ws(addr, None).await.unwrap();
    ws.write_frame(binary(hello(protocol::PROTOCOL_VERSION + 1)))
        .await
        .unwrap();
    let (code, _, msgs) = read_until_close(&mut ws).await;
    assert_eq!(code, codes::VERSION_MISMATCH);
    match &msgs[..] {
        [ServerMsg::Reject { code, reason }] => {
            assert_eq!(*code, codes::VERSION_MISMATCH);
            assert!(
                reason.contains("protocol version 2 is not supported"),
                "{reason}"
            );
        }
        other => panic!("expected one Reject, got {other:?}"),
    }

    // Garbage instead of Hello: BAD_HELLO.
    let mut ws = raw_ws(addr, None).await.unwrap();
    ws.write_frame(binary(vec![0xff, 0x13, 0x37, 0x00]))
        .await
        .unwrap();
    let (code, _, _) = read_until_close(&mut ws).await;
    assert_eq!(code, codes::BAD_HELLO);

    // Garbage after joining: PROTOCOL_ERROR.
    let (mut rude, _) = connect(addr, "arena", "rude").await;
    rude.send_raw(vec![0x07, 0xff, 0xff, 0xff], false).unwrap();
    let err = ended(&mut rude, "close after garbage").await;
    assert_eq!(err.close_code(), Some(codes::PROTOCOL_ERROR), "{err:?}");

    // The honest client never noticed.
    let n = snapshots_during(&mut honest, Duration::from_secs(1), Some((0.0, 1.0))).await;
    assert!(n >= 40, "honest client got {n} snapshots in 1 s");
    assert_eq!(honest.stats().counters.checksum_mismatches, 0);
    honest.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_room_closes_after_its_grace_period() {
    let server = start_server(|c| {
        c.npcs = 10;
        c.room_grace = Duration::from_millis(300);
    })
    .await;
    let addr = server.local_addr();
    let (mut bot, _) = connect(addr, "lobby", "solo").await;
    recv_tick(&mut bot, 30).await; // the room publishes its summary every 30 ticks
    let (status, body) = http_get(addr, "/rooms").await;
    assert_eq!(status, 200);
    let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
    let lobby = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "lobby")
        .expect("lobby listed");
    assert_eq!(lobby["players"], 1);
    assert_eq!(lobby["entities"], 11);
    assert!(lobby["tick_p99_us"].as_u64().is_some());
    bot.close().await;
    poll_until("lobby closes", Duration::from_millis(50), || async {
        !http_get(addr, "/rooms").await.1.contains("\"lobby\"")
    })
    .await;
    assert!(server.rooms().get("lobby").is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_and_unknown_paths_are_404() {
    let server = start_server(|c| c.npcs = 0).await;
    let addr = server.local_addr();
    assert_eq!(http_get(addr, "/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(http_get(addr, "/rooms").await, (200, "[]".to_string()));
    assert_eq!(http_get(addr, "/no/such/thing").await.0, 404);
    let (status, body) = http_get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<canvas"), "the browser game is served at /");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_of_bots_with_minted_join_tokens() {
    let server = start_server(|c| {
        c.npcs = 300;
        c.join_secret = Some("load-secret".into());
    })
    .await;
    let url = ws_url(server.local_addr());
    let mut cfg = bot_client::load::LoadConfig::new(&url, "arena", 10, Duration::from_millis(1500));
    cfg.join_secret = Some("load-secret".into());
    cfg.ramp = Duration::from_millis(200);
    let live = std::sync::Arc::new(bot_client::bot::LiveStats::default());
    let report = bounded(
        "load run",
        bot_client::load::run_load(&cfg, live, std::future::pending()),
    )
    .await;
    assert_eq!((report.bots_connected, report.bots_failed), (10, 0));
    assert_eq!((report.checksum_mismatches, report.protocol_errors), (0, 0));
    let rate = report.snapshots_per_sec_p50.expect("measured");
    assert!(rate >= 40.0, "median {rate:.1} snapshots/s");
    assert!(report.input_latency_ms_p50.is_some());
    // Without the secret, nobody gets in.
    cfg.join_secret = None;
    cfg.bots = 2;
    let live = std::sync::Arc::new(bot_client::bot::LiveStats::default());
    let report = bounded(
        "load run",
        bot_client::load::run_load(&cfg, live, std::future::pending()),
    )
    .await;
    assert_eq!(report.bots_failed, 2);
    server.shutdown().await;
}
