//! The production edge, end to end on real processes: native TLS (https, wss, and a
//! certificate reload on SIGHUP that keeps open connections), client addresses from trusted
//! proxies only, `--config` files, and JSON logs with room and connection spans.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bots::load::LoadConfig;
use fastwebsockets::{OpCode, WebSocket};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use protocol::ServerMsg;
use support::process::{ServerProcess, metric_code, metric_label};
use support::tls::{
    TempDir, TestCa, client_config, connect_from, https_get, peer_leaf, tls_connect, websocket,
    write_leaf,
};
use support::{
    assert_clean_run, binary, bounded, hello, hello_bytes, load_run, poll_until, start_server,
    try_http_get,
};
use tokio::io::AsyncReadExt;

type Ws = WebSocket<TokioIo<Upgraded>>;

/// Reads until a snapshot of a tick after `after`; returns its tick.
async fn snapshot_after(ws: &mut Ws, after: u32) -> u32 {
    bounded("a snapshot", async {
        loop {
            let frame = ws.read_frame().await.expect("the connection stays open");
            assert_ne!(frame.opcode, OpCode::Close, "the connection was closed");
            if frame.opcode != OpCode::Binary {
                continue;
            }
            if let Ok(ServerMsg::Snapshot(s)) = protocol::codec::decode_server(&frame.payload) {
                if s.header.tick > after {
                    return s.header.tick;
                }
            }
        }
    })
    .await
}

fn reloads(metrics: &str, result: &str) -> f64 {
    metric_label(metrics, "ticksync_tls_reloads_total", "result", result)
}

#[tokio::test]
async fn native_tls_serves_https_and_wss_and_a_sighup_reload_keeps_open_connections() {
    let dir = TempDir::new("tls");
    let (first, second) = (TestCa::new("first CA"), TestCa::new("second CA"));
    let (cert, key) = write_leaf(&first, &dir.0);
    let srv = ServerProcess::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let addr = srv.addr;
    let (trusts_first, trusts_second) = (client_config(&[&first]), client_config(&[&second]));
    let trusts_both = client_config(&[&first, &second]);

    // The page over https; no plain-text fallback on the TLS port.
    let (status, page) = https_get(addr, "/games/arena/", &trusts_first)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<canvas"), "the game page: {page:.200}");
    assert!(
        !matches!(try_http_get(addr, "/healthz").await, Ok((200, _))),
        "plain HTTP must not be served on the TLS port"
    );

    // A player over wss.
    let tls = tls_connect(addr, None, &trusts_first).await.unwrap();
    let leaf_before = peer_leaf(&tls);
    let mut ws = websocket(tls, &addr.to_string(), "/ws", &[]).await.unwrap();
    ws.write_frame(binary(hello_bytes(hello("tls", "ann"))))
        .await
        .unwrap();
    let tick = snapshot_after(&mut ws, 0).await;

    // A certificate from another CA, then SIGHUP.
    write_leaf(&second, &dir.0);
    srv.signal("-HUP");
    poll_until(
        "the reload is counted",
        Duration::from_millis(50),
        || async {
            let (_, m) = https_get(addr, "/metrics", &trusts_both).await.unwrap();
            reloads(&m, "ok") == 1.0
        },
    )
    .await;
    // New connections get the new certificate...
    let err = tls_connect(addr, None, &trusts_first).await.err();
    assert!(
        err.is_some(),
        "a new connection still got the old certificate"
    );
    let fresh = tls_connect(addr, None, &trusts_second).await.unwrap();
    assert_ne!(peer_leaf(&fresh), leaf_before);
    // ...and the open one plays on: a snapshot a second of ticks later.
    snapshot_after(&mut ws, tick + 60).await;

    // A broken pair is refused and the served one stays.
    std::fs::write(&key, "not a key").unwrap();
    srv.signal("-HUP");
    poll_until(
        "the failed reload is counted",
        Duration::from_millis(50),
        || async {
            let (_, m) = https_get(addr, "/metrics", &trusts_second).await.unwrap();
            reloads(&m, "failed") == 1.0
        },
    )
    .await;
    tls_connect(addr, None, &trusts_second).await.unwrap();
}

#[tokio::test]
async fn a_bad_certificate_stops_the_server_at_start_naming_the_file() {
    let dir = TempDir::new("badtls");
    let cert = dir.path("cert.pem");
    std::fs::write(&cert, "no certificate here").unwrap();
    let cert = cert.to_str().unwrap();
    let addr = ["--addr", "127.0.0.1:0"];
    let (ok, _, err) = run(
        &[&addr[..], &["--tls-cert", cert, "--tls-key", cert]].concat(),
        &[],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains("--tls-cert") && err.contains("cert.pem"),
        "{err}"
    );

    // A certificate without its key (one from a config file, the other forgotten) is no TLS.
    let (ok, _, err) = run(&[&addr[..], &["--tls-cert", cert]].concat(), &[]).await;
    assert!(!ok);
    assert!(
        err.contains("--tls-cert and --tls-key go together"),
        "{err}"
    );
}

/// Upgrades from `source` (plain TCP); the HTTP status (101 when it opened).
async fn upgrade_status(addr: SocketAddr, source: &str, path: &str, xff: Option<&str>) -> u16 {
    let source: IpAddr = source.parse().unwrap();
    let tcp = connect_from(addr, Some(source)).await.unwrap();
    support::tls::upgrade_status(tcp, &addr.to_string(), path, xff).await
}

#[tokio::test]
async fn per_ip_limits_believe_x_forwarded_for_only_from_trusted_proxies() {
    // Loopback counts here, and each peer may hold one connection.
    let untrusted = start_server(|c| {
        c.max_connections_per_ip = 1;
        c.limit_loopback = true;
    })
    .await;
    let addr = untrusted.local_addr();
    assert_eq!(
        upgrade_status(addr, "127.0.0.3", "/ws", Some("10.0.0.1")).await,
        101
    );
    // A forged address from a peer nobody trusts changes nothing: it is still 127.0.0.3.
    assert_eq!(
        upgrade_status(addr, "127.0.0.3", "/ws", Some("10.0.0.2")).await,
        503
    );

    let proxied = start_server(|c| {
        c.max_connections_per_ip = 1;
        c.limit_loopback = true;
        c.trusted_proxy = vec!["127.0.0.2/32".parse().unwrap()];
    })
    .await;
    let addr = proxied.local_addr();
    // Through the trusted proxy, each forwarded client is counted on its own...
    assert_eq!(
        upgrade_status(addr, "127.0.0.2", "/ws", Some("10.0.0.1")).await,
        101
    );
    assert_eq!(
        upgrade_status(addr, "127.0.0.2", "/ws", Some("10.0.0.2")).await,
        101
    );
    assert_eq!(
        upgrade_status(addr, "127.0.0.2", "/ws", Some("10.0.0.1")).await,
        503
    );
    // ...and a client's own forged entry left of the proxy's is not believed.
    let forged = Some("10.9.9.9, 10.0.0.2");
    assert_eq!(upgrade_status(addr, "127.0.0.2", "/ws", forged).await, 503);
    // The same header straight from an untrusted peer is that peer's connection.
    assert_eq!(
        upgrade_status(addr, "127.0.0.4", "/ws", Some("10.0.0.7")).await,
        101
    );
    assert_eq!(
        upgrade_status(addr, "127.0.0.4", "/ws", Some("10.0.0.8")).await,
        503
    );
}

/// Runs the binary with `args` and env `vars` to completion; (success, stdout, stderr).
async fn run(args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ticksync"));
    cmd.args(args).envs(vars.iter().copied());
    let out = bounded("ticksync exits", cmd.output()).await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn config_files_sit_under_env_and_flags_and_unknown_keys_stop_the_start() {
    let dir = TempDir::new("config");
    let file = dir.path("ticksync.toml");
    std::fs::write(
        &file,
        "# a comment\ntick-rate = 30\nnpcs = 5\nseed = 3\ntrusted-proxy = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (ok, out, err) = run(
        &["--config", path, "--seed", "9", "--print-config"],
        &[("TICKSYNC_NPCS", "6"), ("TICKSYNC_SEED", "8")],
    )
    .await;
    assert!(ok, "{err}");
    for line in [
        "tick-rate = \"30\"  # file",
        "npcs = \"6\"  # env",
        "seed = \"9\"  # flag",
        "trusted-proxy = [\"10.0.0.0/8\"]  # file",
        "max-rooms = \"256\"  # default",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }

    // The server runs with it.
    let srv = ServerProcess::start(&["--config", path]).await;
    let (_, rooms) = support::http_get(srv.addr, "/healthz").await;
    assert_eq!(rooms, "ok\n");
    drop(srv);

    std::fs::write(&file, "tick-rate = 30\nmax-player = 4\n").unwrap();
    let (ok, _, err) = run(&["--addr", "127.0.0.1:0"], &[("TICKSYNC_CONFIG", path)]).await;
    assert!(!ok, "an unknown key must stop the start");
    assert!(err.contains("unknown key `max-player`"), "{err}");

    std::fs::write(&file, "room-grace = \"ten seconds\"\n").unwrap();
    let (ok, _, err) = run(&["--addr", "127.0.0.1:0", "--config", path], &[]).await;
    assert!(!ok, "a bad value must stop the start");
    assert!(err.contains("key `room-grace`"), "{err}");
}

#[tokio::test]
async fn json_logs_carry_the_room_and_connection_spans() {
    let mut srv = ServerProcess::start_logged(&[
        "--log-format",
        "json",
        "--log",
        "server=debug",
        "--room-grace",
        "0s",
    ])
    .await;
    let mut logs = srv.stderr.take().unwrap();
    let (client, _) = support::connect(srv.addr, "logged", "ann").await;
    client.close().await;
    let (mut joined, mut closed) = (false, false);
    bounded("the join and the room's close in the logs", async {
        while !(joined && closed) {
            let line = logs.next_line().await.unwrap().expect("more log lines");
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let message = v["fields"]["message"].as_str().unwrap_or_default();
            let spans = v["spans"].as_array().cloned().unwrap_or_default();
            let span = |name: &str| spans.iter().find(|s| s["name"] == name).cloned();
            if message == "joined" {
                let conn = span("conn").unwrap_or_else(|| panic!("no conn span: {line}"));
                assert_eq!(conn["room"], "logged", "{line}");
                assert_eq!(conn["client"], "127.0.0.1", "{line}");
                assert!(conn["id"].is_u64(), "{line}");
                joined = true;
            }
            if message.starts_with("room closed") {
                let room = span("room").unwrap_or_else(|| panic!("no room span: {line}"));
                assert_eq!(room["room"], "logged", "{line}");
                assert!(span("conn").is_none(), "a room is no connection's: {line}");
                closed = true;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn bots_play_over_wss_against_a_test_ca() {
    let dir = TempDir::new("wss-bots");
    let ca = TestCa::new("bots CA");
    let (cert, key) = write_leaf(&ca, &dir.0);
    let server = start_server(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await;
    let url = format!("wss://{}/ws", server.local_addr());
    let bots = 24;
    let mut cfg = LoadConfig::new(&url, "wss", bots, Duration::from_secs(3));
    cfg.tls = Some(bots::tls::config_from_pem(ca.cert_pem.as_bytes()).unwrap());
    assert_clean_run(&load_run(&cfg).await, bots);

    // Bots that do not trust the CA do not get in.
    let mut untrusting = LoadConfig::new(&url, "wss", 1, Duration::from_millis(500));
    untrusting.reconnect = false;
    let report = load_run(&untrusting).await;
    assert_eq!((report.bots_connected, report.bots_failed), (0, 1));
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_closed_after_the_handshake_timeout() {
    let dir = TempDir::new("tls-timeout");
    let ca = TestCa::new("timeout CA");
    let (cert, key) = write_leaf(&ca, &dir.0);
    let server = start_server(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        c.handshake_timeout = Duration::from_millis(300);
    })
    .await;
    let addr = server.local_addr();
    // A peer that connects and says nothing: the server closes it (EOF), not holds it.
    let mut silent = connect_from(addr, None).await.unwrap();
    let mut buf = [0u8; 16];
    let n = bounded("the silent socket is closed", silent.read(&mut buf)).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    let (_, metrics) = https_get(addr, "/metrics", &client_config(&[&ca]))
        .await
        .unwrap();
    let refused = metric_code(&metrics, "ticksync_upgrades_refused_total", "tls_handshake");
    assert_eq!(refused, 1.0, "{metrics}");
}
