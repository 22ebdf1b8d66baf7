//! The network simulator (`--simulate-*`) end to end: a real server that delays every
//! connection, real bots that measure it.

mod support;

use std::time::Duration;

use bots::Received;
use support::process::metric;
use support::*;

/// Pings until a `Pong` comes back; its round trip.
async fn ping(client: &mut bots::Client) -> Duration {
    client.send_ping().expect("ping sent");
    let mut rtt = None;
    recv_until(client, "pong", |_, msg| match msg {
        Received::Pong { rtt: r } => {
            rtt = Some(*r);
            true
        }
        _ => false,
    })
    .await;
    rtt.expect("a pong")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_latency_doubles_into_the_round_trip_and_snapshots_keep_the_tick_rate() {
    let server = start_server(|c| {
        c.npcs = 50;
        c.simulate_latency = Duration::from_millis(50);
    })
    .await;
    let addr = server.local_addr();
    let (mut bot, _) = bounded("connect through the delay", connect(addr, "slow", "ann")).await;

    // 50 ms each way: every round trip takes at least 100 ms.
    for _ in 0..3 {
        let rtt = ping(&mut bot).await;
        assert!(rtt >= Duration::from_millis(98), "rtt {rtt:?}");
        assert!(rtt < Duration::from_millis(1000), "rtt {rtt:?}");
    }
    let rtt_p50 = bot.stats().rtt_us.value_at_quantile(0.5);
    assert!(rtt_p50 >= 98_000, "median rtt {rtt_p50} µs");

    // Latency delays snapshots, it does not thin them: the send window covers the round trip.
    snapshots_during(&mut bot, Duration::from_millis(500), Some((0.5, 0.0))).await;
    let n = snapshots_during(&mut bot, Duration::from_secs(1), Some((0.5, 0.0))).await;
    assert!(n >= 45, "{n} snapshots in a second at 60 Hz through 50 ms");

    // `/rooms` says so (refreshed twice a second), and so does `/metrics`.
    poll_until(
        "/rooms shows the simulation",
        Duration::from_millis(100),
        || async {
            let (status, body) = http_get(addr, "/rooms").await;
            assert_eq!(status, 200);
            let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
            let sim = &rooms[0]["simulated"];
            sim["latency_ms"] == 50.0 && sim["jitter_ms"] == 0.0 && sim["stall"].is_null()
        },
    )
    .await;
    let metrics = http_get(addr, "/metrics").await.1;
    assert_eq!(metric(&metrics, "ticksync_simulated_latency_seconds"), 0.05);
    assert_eq!(metric(&metrics, "ticksync_simulated_jitter_seconds"), 0.0);
    bot.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_holds_a_round_trip_until_it_ends() {
    // 400 ms stalls every second: a ping sent just after a stall begins waits for its end.
    let server = start_server(|c| {
        c.npcs = 10;
        c.simulate_stall = Some(
            protocol::netsim::Stall::new(Duration::from_millis(400), Duration::from_secs(1))
                .unwrap(),
        );
    })
    .await;
    let addr = server.local_addr();
    let (mut bot, _) = bounded("connect", connect(addr, "stalls", "ann")).await;
    let mut longest = Duration::ZERO;
    // Pings for about 2.5 s (each connection's stalls run on its own clock): some cross a stall.
    // Paced, to stay well within the message rate limit.
    let end = tokio::time::Instant::now() + Duration::from_millis(2500);
    let mut pace = tokio::time::interval(Duration::from_millis(40));
    while tokio::time::Instant::now() < end {
        pace.tick().await;
        longest = longest.max(ping(&mut bot).await);
    }
    assert!(
        longest >= Duration::from_millis(150),
        "longest rtt {longest:?}"
    );
    let (_, body) = http_get(addr, "/rooms").await;
    assert!(body.contains("\"stall\": \"400ms/1s\""), "{body}");
    bot.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_simulation_nothing_shows() {
    let server = start_server(|c| c.npcs = 10).await;
    let addr = server.local_addr();
    let (mut bot, _) = connect(addr, "plain", "ann").await;
    recv_until(&mut bot, "a snapshot", |_, m| {
        matches!(m, Received::Snapshot { .. })
    })
    .await;
    let (status, body) = http_get(addr, "/rooms").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"plain\""), "{body}");
    assert!(!body.contains("simulated"), "{body}");
    let metrics = http_get(addr, "/metrics").await.1;
    assert!(!metrics.contains("ticksync_simulated"));
    bot.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_side_latency_doubles_into_the_round_trip() {
    let server = start_server(|c| c.npcs = 50).await;
    let addr = server.local_addr();
    let mut opts = bots::ConnectOptions::new(&ws_url(addr), "botside", "ann");
    opts.simulate = Some(protocol::netsim::NetSim {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(10),
        stall: None,
    });
    let (mut bot, _) = bounded("connect through the delay", bots::Client::connect(opts))
        .await
        .expect("bot connects");
    for _ in 0..3 {
        let rtt = ping(&mut bot).await;
        assert!(rtt >= Duration::from_millis(78), "rtt {rtt:?}");
        assert!(rtt < Duration::from_millis(1000), "rtt {rtt:?}");
    }
    snapshots_during(&mut bot, Duration::from_millis(500), Some((0.5, 0.0))).await;
    let n = snapshots_during(&mut bot, Duration::from_secs(1), Some((0.5, 0.0))).await;
    assert!(
        n >= 45,
        "{n} snapshots in a second at 60 Hz through 40-50 ms"
    );
    bot.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_through_a_simulated_link_reports_it() {
    let server = start_server(|c| c.npcs = 50).await;
    let url = ws_url(server.local_addr());
    let mut cfg = bots::load::LoadConfig::new(&url, "loadsim", 3, Duration::from_secs(2));
    cfg.simulate = Some(protocol::netsim::NetSim {
        latency: Duration::from_millis(30),
        ..Default::default()
    });
    let report = load_run(&cfg).await;
    assert_clean_run(&report, 3);
    let sim = report
        .simulated
        .as_ref()
        .expect("the report has the simulation");
    assert_eq!(sim.latency_ms, 30.0);
    assert!(
        report
            .to_json()
            .contains("\"simulated\":{\"latency_ms\":30.0")
    );
    if let Some(rtt) = report.rtt_ms_p50 {
        assert!(rtt >= 58.0, "median rtt {rtt} ms");
    }
    let plain = bots::report::Report::from_outcomes(1, Duration::ZERO, Duration::ZERO, &[]);
    assert!(plain.to_json().contains("\"simulated\":null"));
}
