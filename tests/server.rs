//! End to end: a real server on a loopback port, real WebSocket bots.

mod support;

use std::time::Duration;

use bots::client::ring::TableRing;
use bots::{Client, ConnectOptions, Received};
use fastwebsockets::OpCode;
use protocol::{ClientMsg, Event, Input, Plan, ServerMsg, codec, codes, schema};
use support::process::metric;
use support::*;

/// Direction (-1 or 1) that leads from `x` (world units) towards the middle of the 1000-unit
/// arena.
fn towards_middle(x: f64) -> f64 {
    if x < 500.0 { 1.0 } else { -1.0 }
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

    // A moves along x, B along y, each towards the middle so no wall stops them. Positions
    // are read by field name and dequantised through the Welcome's descriptor.
    let a0 = pos(&b, pa).unwrap();
    let b0 = pos(&a, pb).unwrap();
    let (ax, by) = (towards_middle(a0.0), towards_middle(b0.1));
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
    let a1 = pos(&b, pa).unwrap();
    let b1 = pos(&a, pb).unwrap();
    // About 200 units/s for about a second; generous margins for a loaded machine.
    assert!(
        (a1.0 - a0.0) * ax > 60.0,
        "b saw a move along x: {a0:?} -> {a1:?}"
    );
    assert_eq!(a0.1, a1.1, "a did not move along y");
    assert!(
        (b1.1 - b0.1) * by > 60.0,
        "a saw b move along y: {b0:?} -> {b1:?}"
    );
    assert_eq!(b0.0, b1.0, "b did not move along x");
    // The other's velocity as replicated: 200 units/s on the axis it moves along.
    assert_eq!(num(&b, pa, "vel.x"), Some(200.0 * ax));

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

    // And bit for bit: the server's own table for a tick equals the bot's table for that tick
    // (arena has no owner-only fields: the bot holds every cell the server has).
    let table = assert_world_matches(&server, "arena", &mut bot).await;
    assert_eq!(table.len(), 1000 + 2);
    let inspect = server.inspect("arena").await.unwrap();
    assert_eq!(inspect.game, "arena");
    assert!(
        bot.plan().types.iter().all(|t| t.owner.is_empty()),
        "arena declares no private fields"
    );
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
    // queued for the stalled client is that most of what it was handed in the stall was
    // replaced, and its reliable queue stayed empty. Its acks stop, so its send window soon
    // fills, and it is handed a snapshot at `--stalled-rate` (2 a second) at most.
    eprintln!(
        "stalled client: {} stale of {} ticks",
        me.stale_dropped, room.tick
    );
    assert!(
        me.stale_dropped >= 40,
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

/// Acks ride on inputs: a client that puts its newest applied tick in each `Input`, and never
/// sends a standalone `Ack`, gets deltas against that tick; the same client sending inputs
/// without an ack gets only full snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_ride_on_inputs() {
    let server = start_server(|c| c.npcs = 100).await;
    let addr = server.local_addr();
    // A raw WebSocket: every frame this client sends is written below, and none is an `Ack`.
    let mut ws = raw_ws(addr, None).await.unwrap();
    ws.write_frame(binary(hello_bytes(hello("arena", "acker"))))
        .await
        .unwrap();
    let welcome = bounded("welcome", async {
        loop {
            let f = ws.read_frame().await.unwrap();
            if f.opcode == OpCode::Binary
                && let ServerMsg::Welcome(w) = codec::decode_server(&f.payload).unwrap()
            {
                return w;
            }
        }
    })
    .await;
    let plan = Plan::new(&welcome.schema);
    let mut values = Vec::new();
    schema::encode_values(&welcome.schema.input, &arena_input(0.5, 0.0), &mut values);
    let mut ring = TableRing::default();

    // Unacked, they come at `--stalled-rate` (2 a second) after the first.
    const UNACKED: usize = 6;
    const ACKED: usize = 60;
    let (mut seq, mut snapshots, mut applied_seq) = (0u32, 0usize, 0u32);
    // Phase 2: every tick acked so far, the newest one, and what the deltas were against.
    let mut acks = std::collections::BTreeSet::new();
    let mut newest_ack = None;
    let (mut against_newest, mut deltas, mut fulls_after_delta) = (0, 0, 0);
    bounded("snapshots with and without acks", async {
        while snapshots < UNACKED + ACKED {
            let f = ws.read_frame().await.unwrap();
            if f.opcode != OpCode::Binary {
                continue;
            }
            let Some((header, delta)) = codec::decode_snapshot_header(&f.payload).unwrap() else {
                continue; // events, pongs
            };
            let checked = ring
                .apply(&plan, Some(welcome.player), &header, delta)
                .unwrap_or_else(|e| panic!("snapshot {}: {e}", header.tick));
            assert!(checked, "every snapshot carries a checksum, and it matches");
            snapshots += 1;
            applied_seq = header.input_seq;
            let ack = if snapshots <= UNACKED {
                assert_eq!(
                    header.baseline, None,
                    "no ack yet: snapshot {} must be full",
                    header.tick
                );
                None
            } else {
                match header.baseline {
                    Some(b) => {
                        assert!(
                            acks.contains(&b),
                            "delta against {b}, which was never acked"
                        );
                        deltas += 1;
                        against_newest += usize::from(Some(b) == newest_ack);
                    }
                    None if deltas > 0 => fulls_after_delta += 1,
                    None => {}
                }
                acks.insert(header.tick);
                newest_ack = Some(header.tick);
                Some(header.tick)
            };
            seq += 1;
            let input = ClientMsg::Input(Input {
                seq,
                ack,
                view: None,
                values: values.clone(),
            });
            ws.write_frame(binary(codec::encode_client(&input)))
                .await
                .unwrap();
        }
    })
    .await;
    eprintln!(
        "{deltas} deltas of {ACKED} acked snapshots, {against_newest} against the newest ack"
    );
    assert!(
        deltas >= ACKED - 5,
        "acks on inputs gave only {deltas} deltas"
    );
    assert_eq!(fulls_after_delta, 0, "a full snapshot after deltas began");
    assert!(
        against_newest >= ACKED / 3,
        "only {against_newest} snapshots were against the newest ack"
    );
    // The server took the acks from the inputs.
    let room = server.inspect("arena").await.unwrap();
    let me = room.clients.iter().find(|c| c.name == "acker").unwrap();
    assert_eq!(me.acked, newest_ack);
    // And it applied the inputs, acked or not.
    assert!(
        applied_seq > UNACKED as u32,
        "the server reports input {applied_seq} applied, of {seq} sent"
    );
    let _ = ws
        .write_frame(fastwebsockets::Frame::close(codes::NORMAL, b""))
        .await;
    server.shutdown().await;
}

/// Overload control: a client that stops acking while it reads (as one with a backlog in its
/// socket does) gets the rest of its send window, then a snapshot per `--stalled-rate`
/// interval; acking again brings every tick back. Checked on the ticks the snapshots carry,
/// and on `/rooms` and `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_acks_lag_gets_fewer_fresh_snapshots() {
    let server = start_server(|c| {
        c.npcs = 100;
        c.stalled_rate = 5;
    })
    .await;
    let addr = server.local_addr();
    // 5 snapshots/s, in ticks at 60 Hz.
    let every = 12u32;
    let mut ws = raw_ws(addr, None).await.unwrap();
    ws.write_frame(binary(hello_bytes(hello("arena", "laggard"))))
        .await
        .unwrap();
    bounded("acked, then lagging", async {
        // Acking every snapshot as it comes: a round trip well under a tick, so a window of
        // a few snapshots.
        for _ in 0..40 {
            let tick = next_snapshot_tick(&mut ws).await;
            ws.write_frame(ack(tick)).await.unwrap();
        }
    })
    .await;
    // Reading on without acking: the window's few, then the stalled rate.
    let mut lagging = Vec::new();
    bounded("throttled snapshots", async {
        while lagging.len() < 10 {
            lagging.push(next_snapshot_tick(&mut ws).await);
        }
    })
    .await;
    let stalled = &lagging[lagging.len() - 4..];
    assert!(
        stalled.windows(2).all(|w| w[1] - w[0] >= every - 1),
        "a client that stopped acking got snapshots at ticks {lagging:?}"
    );
    // Its writer sees it: everything it took since the last ack is unacked.
    let room = server.inspect("arena").await.unwrap();
    let me = room.clients.iter().find(|c| c.name == "laggard").unwrap();
    let span = lagging[lagging.len() - 1] - lagging[0];
    assert!(me.ack_lag > span, "ack lag {} over {lagging:?}", me.ack_lag);
    // `/rooms` is refreshed twice a second; the client stays behind while it does not ack.
    poll_until(
        "/rooms counts the lagging client",
        Duration::from_millis(100),
        || async {
            let (_, rooms) = http_get(addr, "/rooms").await;
            let rooms: serde_json::Value = serde_json::from_str(&rooms).unwrap();
            // And its send rate: `--stalled-rate` (5) a second, not 60.
            let rate = rooms[0]["send_rate_min"].as_f64();
            rooms[0]["lagging_clients"] == 1 && rate.is_some_and(|r| r <= 8.0)
        },
    )
    .await;
    let metrics = http_get(addr, "/metrics").await.1;
    let throttled = metric(&metrics, "ticksync_snapshots_throttled_total");
    assert!(throttled >= 20.0, "{throttled} snapshots throttled");
    // Acking the newest again: every tick comes back.
    let consecutive = bounded("every tick again", async {
        let mut prev = *lagging.last().unwrap();
        let mut consecutive = 0;
        for _ in 0..40 {
            let tick = next_snapshot_tick(&mut ws).await;
            ws.write_frame(ack(tick)).await.unwrap();
            consecutive += usize::from(tick == prev + 1);
            prev = tick;
        }
        consecutive
    })
    .await;
    assert!(
        consecutive >= 30,
        "only {consecutive} of 40 snapshots followed the one before once acks resumed"
    );
    let _ = ws
        .write_frame(fastwebsockets::Frame::close(codes::NORMAL, b""))
        .await;
    server.shutdown().await;
}

/// A standalone `Ack` frame.
fn ack(tick: u32) -> fastwebsockets::Frame<'static> {
    binary(codec::encode_client(&ClientMsg::Ack { tick }))
}

/// The tick of the next snapshot on a raw WebSocket (other messages are skipped).
async fn next_snapshot_tick<S>(ws: &mut fastwebsockets::WebSocket<S>) -> u32
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let f = ws.read_frame().await.unwrap();
        if f.opcode == OpCode::Binary
            && let Ok(Some((header, _))) = codec::decode_snapshot_header(&f.payload)
        {
            return header.tick;
        }
    }
}

fn hello_version(version: u16) -> Vec<u8> {
    hello_bytes(protocol::Hello {
        version,
        ..hello("arena", "old")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_versions_and_garbage_are_refused_and_others_play_on() {
    let server = start_server(|c| c.npcs = 200).await;
    let addr = server.local_addr();
    let (mut honest, _) = connect(addr, "arena", "honest").await;

    // Wrong protocol version: Reject with a clear reason, then a close with the same code.
    // A version 1 client (its Hello had no game field) and a future one alike.
    let v1_hello = [
        &[0x00, 0x01, 0x05][..],
        b"arena",
        &[0x03],
        b"old",
        &[0x00, 0x00],
    ]
    .concat();
    let future_hello = hello_version(protocol::PROTOCOL_VERSION + 1);
    for (version, bytes) in [
        (1, v1_hello),
        (protocol::PROTOCOL_VERSION + 1, future_hello),
    ] {
        let mut ws = raw_ws(addr, None).await.unwrap();
        ws.write_frame(binary(bytes)).await.unwrap();
        let (code, _, msgs) = read_until_close(&mut ws).await;
        assert_eq!(code, codes::VERSION_MISMATCH);
        match &msgs[..] {
            [ServerMsg::Reject { code, reason }] => {
                assert_eq!(*code, codes::VERSION_MISMATCH);
                let want = format!(
                    "protocol version {version} is not supported; this server speaks {}",
                    protocol::PROTOCOL_VERSION
                );
                assert_eq!(reason, &want);
            }
            other => panic!("expected one Reject, got {other:?}"),
        }
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
    assert_eq!(lobby["game"], "arena");
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
    // `/` launches the default game: its page, at /games/arena/ (tests/statics.rs has the rest).
    assert_eq!(http_get(addr, "/").await.0, 302);
    let (status, body) = http_get(addr, "/games/arena/").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<canvas"),
        "the browser game is served at /games/arena/"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_bots_send_fewer_inputs_and_read_only_headers_yet_get_every_tick() {
    let server = start_server(|c| c.npcs = 300).await;
    let url = ws_url(server.local_addr());
    let mut cfg = bots::load::LoadConfig::new(&url, "arena", 10, Duration::from_millis(2000));
    cfg.ramp = Duration::from_millis(200);
    cfg.input_rate = Some(20.0);
    cfg.verify = 0.3;
    let report = load_run(&cfg).await;
    assert_clean_run(&report, 10);
    assert_eq!(report.bots_verifying, 3);
    // Each bot's window (the measured time less its first second) is about a second.
    let per_bot_second = report.inputs_sent as f64 / 10.0 / (report.duration_s - 1.0);
    assert!(
        (12.0..=28.0).contains(&per_bot_second),
        "{per_bot_second:.1} inputs a second per bot at --input-rate 20"
    );
    // Acks ride on the inputs: one every three snapshots still moves the baselines on.
    assert!(
        report.acks_sent * 10 < report.inputs_sent,
        "{} standalone acks, {} inputs",
        report.acks_sent,
        report.inputs_sent
    );
    // Bots that read only headers still measured their inputs' latency.
    assert!(report.input_latency_samples > 0);
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
    let mut cfg = bots::load::LoadConfig::new(&url, "arena", 10, Duration::from_millis(1500));
    cfg.join_secret = Some("load-secret".into());
    cfg.ramp = Duration::from_millis(200);
    let report = load_run(&cfg).await;
    assert_clean_run(&report, 10);
    assert!(report.input_latency_ms_p50.is_some());
    // Arena has no private fields: bots after the first decode each snapshot from the cache.
    let shared = report.shared_decode_share.expect("bots share decodes");
    assert!(shared > 0.5, "{shared}");
    // Without the secret, nobody gets in.
    cfg.join_secret = None;
    cfg.bots = 2;
    let report = load_run(&cfg).await;
    assert_eq!(report.bots_failed, 2);
    server.shutdown().await;
}
