//! The client and a short load run against a fake server that speaks the real wire.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bot_client::bot::LiveStats;
use bot_client::load::{LoadConfig, run_load};
use bot_client::{Client, ClientError, ConnectOptions, Received};
use protocol::codes;
use support::fake_server::{Behaviour, FakeServer};

const LIMIT: Duration = Duration::from_secs(10);

/// The close codes the server got from its clients, once it has `n` of them (or after 2 s).
async fn client_close_codes(server: &FakeServer, n: usize) -> Vec<u16> {
    for _ in 0..200 {
        let codes = server.log.lock().unwrap().client_close_codes.clone();
        if codes.len() >= n {
            return codes;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.log.lock().unwrap().client_close_codes.clone()
}

/// Receives until `recv` fails, and returns why (each wait bounded by `LIMIT`).
async fn next_error(client: &mut Client) -> ClientError {
    loop {
        if let Err(e) = tokio::time::timeout(LIMIT, client.recv()).await.unwrap() {
            return e;
        }
    }
}

async fn connect(server: &FakeServer) -> Client {
    let (client, welcome) = Client::connect(ConnectOptions::new(&server.url(), "arena", "ada"))
        .await
        .unwrap();
    assert_eq!(welcome.players[0].name, "ada");
    client
}

/// Receives until `n` snapshots have been applied, returning the other messages' kinds.
async fn take_snapshots(client: &mut Client, n: usize) -> Vec<Received> {
    let mut others = Vec::new();
    let mut seen = 0;
    while seen < n {
        match tokio::time::timeout(LIMIT, client.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Received::Snapshot { checksum_ok, .. } => {
                assert_eq!(checksum_ok, Some(true));
                seen += 1;
            }
            other => others.push(other),
        }
    }
    others
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_servers_world_and_acks_it() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut client = connect(&server).await;
    assert_eq!(client.player().index, 50);
    client.send_ping().unwrap();
    let mut pongs = 0;
    for _ in 0..90 {
        client.send_input(1.0, -0.5, 0).unwrap();
        let others = take_snapshots(&mut client, 1).await;
        pongs += others
            .iter()
            .filter(|m| matches!(m, Received::Pong { .. }))
            .count();
    }
    let (tick, table) = client.latest().unwrap();
    assert_eq!(Some(table), server.log.lock().unwrap().worlds.get(&tick));
    assert_eq!(client.table_at(tick), Some(table));

    let stats = client.stats();
    assert_eq!(stats.counters.snapshots, 90);
    assert_eq!(stats.counters.stale_dropped, 0);
    assert_eq!(stats.counters.checksum_mismatches, 0);
    assert_eq!(stats.counters.protocol_errors, 0);
    assert_eq!(stats.counters.inputs_sent, 90);
    assert!(
        stats.input_latency_us.len() > 60,
        "{}",
        stats.input_latency_us.len()
    );
    assert_eq!(pongs, 1);
    assert_eq!(stats.rtt_us.len(), 1);
    {
        let log = server.log.lock().unwrap();
        // After the first (full) snapshot, deltas are against acked ticks.
        assert_eq!(log.baselines_used[0], None);
        assert!(log.baselines_used[10..].iter().all(Option::is_some));
        assert_eq!(log.origins, vec![Some(format!("http://{}", server.addr))]);
        assert_eq!(log.hellos[0].version, protocol::PROTOCOL_VERSION);
    }
    client.close().await;
    assert_eq!(client_close_codes(&server, 1).await, vec![codes::NORMAL]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_snapshots_and_pings_are_handled() {
    let server = FakeServer::start(Behaviour {
        fragments: 3,
        ping_every: Some(5),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    take_snapshots(&mut client, 30).await;
    let (tick, table) = client.latest().unwrap();
    assert_eq!(Some(table), server.log.lock().unwrap().worlds.get(&tick));
    assert_eq!(client.stats().counters.protocol_errors, 0);
    // Every ping so far got its pong, payload echoed.
    let pongs = server.log.lock().unwrap().pongs.clone();
    assert!(pongs.len() >= 5, "{pongs:?}");
    assert_eq!(pongs[0], 5u32.to_be_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_acks_ride_with_inputs() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut opts = ConnectOptions::new(&server.url(), "arena", "ada");
    opts.coalesce_acks = true;
    let (mut client, _) = Client::connect(opts).await.unwrap();
    take_snapshots(&mut client, 5).await;
    // No inputs: each ack still goes out, one snapshot late.
    for _ in 0..30 {
        client.send_input(0.0, 1.0, 0).unwrap();
        take_snapshots(&mut client, 1).await;
    }
    assert_eq!(client.stats().counters.protocol_errors, 0);
    let log = server.log.lock().unwrap();
    assert!(log.baselines_used[3..].iter().all(Option::is_some));
    let newest = *log.baselines_used.iter().flatten().max().unwrap();
    assert!(newest + 3 >= client.latest().unwrap().0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_is_an_error_with_its_code() {
    let server = FakeServer::start(Behaviour {
        reject: Some((codes::ROOM_FULL, "room arena is full".to_owned())),
        ..Behaviour::default()
    })
    .await;
    let err = Client::connect(ConnectOptions::new(&server.url(), "arena", "ada"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        ClientError::Rejected {
            code: codes::ROOM_FULL,
            reason: "room arena is full".to_owned()
        }
    );
    // The client finished the close handshake before giving up.
    assert_eq!(client_close_codes(&server, 1).await, vec![codes::ROOM_FULL]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checksum_mismatch_is_caught() {
    let server = FakeServer::start(Behaviour {
        corrupt_checksum_at: Some(5),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    let err = next_error(&mut client).await;
    assert_eq!(err, ClientError::ChecksumMismatch { tick: 5 });
    assert!(err.is_protocol_violation());
    assert_eq!(client.stats().counters.checksum_mismatches, 1);
    assert!(client.table_at(5).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_ticks_count_as_stale() {
    let server = FakeServer::start(Behaviour {
        send_every: 3,
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    take_snapshots(&mut client, 10).await;
    // Ticks 3, 6, ..., 30: two skipped between each.
    assert_eq!(client.latest().unwrap().0, 30);
    assert_eq!(client.stats().counters.stale_dropped, 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_close_ends_recv_with_its_code() {
    let server = FakeServer::start(Behaviour {
        close_at: Some((10, codes::TOO_SLOW)),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    let err = next_error(&mut client).await;
    assert_eq!(
        err,
        ClientError::Closed {
            code: codes::TOO_SLOW,
            reason: "bye".to_owned()
        }
    );
    // And keeps saying so.
    assert_eq!(client.recv().await.unwrap_err(), err);
    // The client answered the close.
    assert_eq!(client_close_codes(&server, 1).await, vec![codes::TOO_SLOW]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recv_is_cancel_safe() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut client = connect(&server).await;
    // Cancel many recvs mid-wait; the stream must stay in sync (every checksum still matches).
    for _ in 0..200 {
        let _ = tokio::time::timeout(Duration::from_micros(300), client.recv()).await;
    }
    take_snapshots(&mut client, 30).await;
    assert_eq!(client.stats().counters.protocol_errors, 0);
    assert_eq!(client.stats().counters.checksum_mismatches, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_to_nothing_fails_quickly() {
    let mut opts = ConnectOptions::new("ws://127.0.0.1:1/ws", "arena", "ada");
    opts.connect_timeout = Duration::from_secs(2);
    let err = Client::connect(opts).await.err().unwrap();
    assert!(matches!(err, ClientError::Connect(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_run_reports_what_it_saw() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut cfg = LoadConfig::new(&server.url(), "arena", 5, Duration::from_secs(2));
    cfg.ramp = Duration::from_millis(500);
    let live = Arc::new(LiveStats::default());
    let report = run_load(&cfg, live.clone(), std::future::pending()).await;
    assert!(report.passed, "{}", report.to_human());
    assert_eq!((report.bots_connected, report.bots_failed), (5, 0));
    // The fake ticks every 16 ms (62.5 Hz); the window is short, so allow a margin.
    let p50 = report.snapshots_per_sec_p50.unwrap();
    assert!((50.0..70.0).contains(&p50), "{p50}");
    assert!(report.input_latency_samples > 0 && report.rtt_samples > 0);
    assert_eq!(report.close_codes.get("normal"), Some(&5));
    assert_eq!(live.connected.load(std::sync::atomic::Ordering::Relaxed), 0);
    let inputs = server.log.lock().unwrap().inputs;
    assert!(inputs > 5 * 60, "{inputs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_run_fails_with_the_code() {
    let server = FakeServer::start(Behaviour {
        reject: Some((codes::UNAUTHORIZED, "no token".to_owned())),
        ..Behaviour::default()
    })
    .await;
    let cfg = LoadConfig::new(&server.url(), "arena", 3, Duration::from_millis(500));
    let report = run_load(&cfg, Arc::new(LiveStats::default()), std::future::pending()).await;
    assert!(!report.passed);
    assert_eq!((report.bots_connected, report.bots_failed), (0, 3));
    assert_eq!(report.close_codes.get("unauthorized"), Some(&3));
}
