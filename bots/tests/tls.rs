//! `wss://` and `https://` end to end: clients and bots against fake servers and a stand-in
//! matchmaker that speak TLS (tokio-rustls) with certificates from a test CA (rcgen), trusted
//! through `--ca-cert` or `ConnectOptions::tls`, or not trusted at all.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bots::bot::LiveStats;
use bots::cli::Args;
use bots::load::{LoadConfig, run_load};
use bots::report::Report;
use bots::{Client, ClientError, ConnectOptions, Received, tls};
use clap::Parser;
use protocol::codes;
use support::fake_server::{Behaviour, FakeServer};
use support::matchmaker::Matchmaker;
use support::tls::TestCa;

const LIMIT: Duration = Duration::from_secs(10);
/// What the test servers' certificates are valid for.
const NAMES: &[&str] = &["localhost", "127.0.0.1"];

async fn run(cfg: &LoadConfig) -> Report {
    run_load(cfg, Arc::new(LiveStats::default()), std::future::pending()).await
}

fn trusting(url: &str, ca: &TestCa) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url, "arena", "ada");
    opts.tls = Some(tls::config_from_pem(ca.pem().as_bytes()).unwrap());
    opts
}

async fn connect_error(opts: ConnectOptions) -> String {
    match Client::connect(opts).await {
        Ok(_) => panic!("connected"),
        Err(ClientError::Connect(e)) => e,
        Err(e) => panic!("not a connect error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_plays_over_wss_trusting_the_test_ca() {
    let ca = TestCa::new();
    let behaviour = Behaviour {
        ping_every: Some(10),
        ..Behaviour::default()
    };
    let server = FakeServer::start_tls(behaviour, ca.acceptor(NAMES)).await;
    assert!(server.url().starts_with("wss://127.0.0.1:"));
    let (mut client, welcome) = Client::connect(trusting(&server.url(), &ca)).await.unwrap();
    assert_eq!(welcome.players[0].name, "ada");
    client.send_ping().unwrap();
    let (mut snapshots, mut pongs) = (0, 0);
    while snapshots < 60 || pongs == 0 {
        match tokio::time::timeout(LIMIT, client.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Received::Snapshot { checksum_ok, .. } => {
                assert_eq!(checksum_ok, Some(true));
                snapshots += 1;
                client.send_input(&[]).unwrap();
            }
            Received::Pong { .. } => pongs += 1,
            _ => {}
        }
    }
    // Both directions carried frames: the server decoded inputs (with acks) and got pongs to
    // its pings.
    {
        let log = server.log.lock().unwrap();
        assert!(log.inputs >= 50 && log.bad_inputs == 0, "{}", log.inputs);
        assert!(log.acks_in_inputs > 0);
        assert!(!log.pongs.is_empty());
        // What a browser on the server's own https page sends.
        assert_eq!(log.origins, [Some(format!("https://{}", server.addr))]);
    }
    // The close handshake completes over TLS.
    assert_eq!(client.close_with(codes::NORMAL, "").await, codes::NORMAL);
    assert_eq!(server.client_close_codes(1).await, [codes::NORMAL]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_larger_than_a_tls_record_arrive_whole() {
    let ca = TestCa::new();
    // Full snapshots of thousands of units, in fragments: each message spans several TLS
    // records (16 KiB at most) and several reads.
    let behaviour = Behaviour {
        npcs: 3000,
        full_every: Some(2),
        fragments: 3,
        ..Behaviour::default()
    };
    let server = FakeServer::start_tls(behaviour, ca.acceptor(NAMES)).await;
    let (mut client, _) = Client::connect(trusting(&server.url(), &ca)).await.unwrap();
    let mut largest = 0;
    for _ in 0..20 {
        loop {
            let received = tokio::time::timeout(LIMIT, client.recv()).await.unwrap();
            if let Received::Snapshot {
                checksum_ok, bytes, ..
            } = received.unwrap()
            {
                assert_eq!(checksum_ok, Some(true));
                largest = largest.max(bytes);
                break;
            }
        }
    }
    assert!(largest > 40_000, "the largest snapshot was {largest} bytes");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_or_misnamed_certificate_is_refused() {
    let ca = TestCa::new();
    let server = FakeServer::start_tls(Behaviour::default(), ca.acceptor(NAMES)).await;
    // The public web's CAs (no --ca-cert) do not include the test CA.
    let err = connect_error(ConnectOptions::new(&server.url(), "arena", "ada")).await;
    assert!(err.contains("tls handshake with 127.0.0.1:"), "{err}");
    assert!(
        err.contains("UnknownIssuer") && err.contains("--ca-cert"),
        "{err}"
    );
    // Nor does another CA.
    let err = connect_error(trusting(&server.url(), &TestCa::new())).await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    // The right CA, but a certificate for another address: the URL's host is checked.
    let elsewhere = FakeServer::start_tls(Behaviour::default(), ca.acceptor(&["127.0.0.2"])).await;
    let err = connect_error(trusting(&elsewhere.url(), &ca)).await;
    assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");
    assert!(server.log.lock().unwrap().hellos.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_server_and_plain_to_a_tls_server_fail_clearly() {
    let ca = TestCa::new();
    let plain = FakeServer::start(Behaviour::default()).await;
    let wss = plain.url().replace("ws://", "wss://");
    let err = connect_error(trusting(&wss, &ca)).await;
    assert!(err.contains("tls handshake with"), "{err}");
    let tls = FakeServer::start_tls(Behaviour::default(), ca.acceptor(NAMES)).await;
    let ws = tls.url().replace("wss://", "ws://");
    let err = connect_error(trusting(&ws, &ca)).await;
    assert!(err.contains("websocket handshake"), "{err}");
    assert!(err.contains("use wss://"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_runs_bots_over_wss_with_ca_cert_and_fails_without() {
    let ca = TestCa::new();
    let server = FakeServer::start_tls(Behaviour::default(), ca.acceptor(NAMES)).await;
    let ca_file = ca.pem_file();
    let url = server.url();
    let mut args = vec!["bot-client", "--url", &url, "--bots", "3"];
    // The measured window opens a second after each join.
    args.extend(["--duration", "2s", "--ramp", "0s", "--no-reconnect"]);
    let without = Args::try_parse_from(&args).unwrap().load_config().unwrap();
    args.extend(["--ca-cert", ca_file.path()]);
    let with = Args::try_parse_from(&args).unwrap().load_config().unwrap();

    let r = run(&with).await;
    assert!(r.passed, "{}", r.to_human());
    assert_eq!(r.bots_connected, 3);
    assert!(r.snapshots_per_sec_min.unwrap() > 30.0, "{}", r.to_human());
    assert_eq!((r.checksum_mismatches, r.protocol_errors), (0, 0));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.close_codes.get("normal"), Some(&3), "{:?}", r.close_codes);

    let r = run(&without).await;
    assert!(!r.passed);
    assert_eq!((r.bots_connected, r.bots_failed), (0, 3));
    assert!(r.errors[0].contains("UnknownIssuer"), "{:?}", r.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_matchmaker_seats_bots_on_wss_nodes_that_hand_off() {
    let ca = TestCa::new();
    let last = FakeServer::start_tls(Behaviour::default(), ca.acceptor(NAMES)).await;
    let first = FakeServer::start_tls(Behaviour::draining(&last), ca.acceptor(NAMES)).await;
    let matchmaker = Matchmaker::start_tls(vec![first.url()], ca.acceptor(NAMES)).await;
    assert!(matchmaker.url().starts_with("https://"));
    let mut cfg = LoadConfig::new("ws://127.0.0.1:1/ws", "", 2, Duration::from_millis(1500));
    cfg.matchmake = Some(matchmaker.url());
    cfg.loopback_only = true;
    cfg.tls = Some(tls::config_from_pem(ca.pem().as_bytes()).unwrap());
    let r = run(&cfg).await;
    assert!(r.passed, "{}", r.to_human());
    assert_eq!((r.handoffs, r.player_changes), (2, 0), "{}", r.to_human());
    assert_eq!(matchmaker.requests().len(), 2);
    assert_eq!(last.log.lock().unwrap().hellos.len(), 2);

    // Without the CA, the matchmaker itself is refused.
    cfg.tls = None;
    let r = run(&cfg).await;
    assert_eq!(r.bots_failed, 2);
    assert!(r.errors[0].starts_with("matchmaker: "), "{:?}", r.errors);
    assert!(r.errors[0].contains("UnknownIssuer"), "{:?}", r.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_never_downgrade_from_tls_to_plain_ws() {
    let ca = TestCa::new();
    let plain = FakeServer::start(Behaviour::default()).await;
    let config = tls::config_from_pem(ca.pem().as_bytes()).unwrap();

    // An https:// matchmaker naming a ws:// node.
    let matchmaker = Matchmaker::start_tls(vec![plain.url()], ca.acceptor(NAMES)).await;
    let mut cfg = LoadConfig::new("ws://127.0.0.1:1/ws", "", 1, Duration::from_millis(300));
    cfg.matchmake = Some(matchmaker.url());
    cfg.tls = Some(config.clone());
    let r = run(&cfg).await;
    assert_eq!(r.bots_failed, 1);
    assert!(r.errors[0].contains("downgrade"), "{:?}", r.errors);

    // A wss:// node redirecting (MOVED) to a ws:// one, or handing off to it.
    let redirecting = Behaviour {
        reject: Some((codes::MOVED, plain.url())),
        ..Behaviour::default()
    };
    let redirecting = FakeServer::start_tls(redirecting, ca.acceptor(NAMES)).await;
    let mut cfg = LoadConfig::new(&redirecting.url(), "arena", 1, Duration::from_millis(300));
    cfg.tls = Some(config.clone());
    let r = run(&cfg).await;
    assert_eq!((r.bots_failed, r.redirects), (1, 0));
    assert!(r.errors[0].contains("downgrade"), "{:?}", r.errors);
    let handing_off = FakeServer::start_tls(Behaviour::draining(&plain), ca.acceptor(NAMES)).await;
    let mut cfg = LoadConfig::new(&handing_off.url(), "arena", 1, Duration::from_millis(1000));
    cfg.tls = Some(config.clone());
    cfg.reconnect = false;
    let r = run(&cfg).await;
    assert_eq!(r.handoffs, 0);
    assert!(
        r.errors.iter().any(|e| e.contains("downgrade")),
        "{:?}",
        r.errors
    );
    assert!(plain.log.lock().unwrap().hellos.is_empty());

    // Up is fine: a ws:// node redirecting to a wss:// one.
    let secure = FakeServer::start_tls(Behaviour::default(), ca.acceptor(NAMES)).await;
    let upgrading = FakeServer::start(Behaviour {
        reject: Some((codes::MOVED, secure.url())),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = LoadConfig::new(&upgrading.url(), "arena", 1, Duration::from_millis(500));
    cfg.tls = Some(config);
    let r = run(&cfg).await;
    assert!(r.passed, "{}", r.to_human());
    assert_eq!(r.redirects, 1);
}
