//! The nginx guide, tested: real nginx runs `deploy/nginx/ticksync.conf` (the file
//! docs/operations.md shows) with TLS in front of two ticksync nodes on loopback.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use bots::load::LoadConfig;

use support::free_port;
use support::nginx::NginxProcess;
use support::process::ServerProcess;
use support::redis::RedisProcess;
use support::tls::{
    TempDir, TestCa, client_config, connect_from, https_get, tls_connect, upgrade_status,
    write_leaf,
};
use support::{assert_clean_run, load_run};

const SITE: &str = include_str!("../deploy/nginx/ticksync.conf");

/// The guide's site with this test's addresses: nginx on `port` with `cert`/`key`, in front
/// of nodes `a` and `b`. Each placeholder must be there, so a change to the guide that
/// this test would no longer cover fails here.
fn site(port: u16, cert: &Path, key: &Path, a: SocketAddr, b: SocketAddr) -> String {
    let mut s = SITE.to_string();
    for (from, to) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
        (
            "/etc/ticksync/tls/fullchain.pem",
            cert.display().to_string(),
        ),
        ("/etc/ticksync/tls/privkey.pem", key.display().to_string()),
        ("127.0.0.1:9001", a.to_string()),
        ("127.0.0.1:9002", b.to_string()),
    ] {
        assert!(s.contains(from), "the guide's nginx site has no {from:?}");
        s = s.replace(from, &to);
    }
    s
}

#[test]
fn the_operations_guide_shows_the_tested_site() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    assert!(
        guide.contains(SITE.trim()),
        "docs/operations.md must show deploy/nginx/ticksync.conf as it is"
    );
}

#[tokio::test]
async fn behind_nginx_per_ip_limits_count_the_forwarded_client() {
    let dir = TempDir::new("proxy-limits");
    let ca = TestCa::new("edge CA");
    let (cert, key) = write_leaf(&ca, &dir.0);
    // Two connections per client address, loopback included; nginx (127.0.0.1) is trusted.
    let args = [
        "--trusted-proxy",
        "127.0.0.1",
        "--max-connections-per-ip",
        "2",
        "--limit-loopback",
        "true",
    ];
    let (a, b) = (
        ServerProcess::start(&args).await,
        ServerProcess::start(&args).await,
    );
    let port = free_port();
    let nginx = NginxProcess::start(&site(port, &cert, &key, a.addr, b.addr), port).await;
    let trust = client_config(&[&ca]);
    let host = nginx.addr.to_string();
    let via_nginx = |from: &'static str, xff: Option<&'static str>| {
        let (trust, host) = (trust.clone(), host.clone());
        async move {
            let from: IpAddr = from.parse().unwrap();
            let tls = tls_connect(nginx.addr, Some(from), &trust).await.unwrap();
            upgrade_status(tls, &host, "/node/a/ws", xff).await
        }
    };

    // Node a sees each client's own address, not nginx's.
    assert_eq!(via_nginx("127.0.0.3", None).await, 101);
    assert_eq!(via_nginx("127.0.0.3", None).await, 101);
    assert_eq!(
        via_nginx("127.0.0.3", None).await,
        503,
        "the third from one client"
    );
    assert_eq!(via_nginx("127.0.0.4", None).await, 101, "another client");
    // A client that forges the header through nginx is still itself: nginx appends the
    // address it saw, and that is the one believed.
    assert_eq!(via_nginx("127.0.0.3", Some("10.9.9.9")).await, 503);
    // Straight to the node, nobody trusts the sender: its header is ignored.
    let direct = connect_from(a.addr, Some("127.0.0.3".parse().unwrap()))
        .await
        .unwrap();
    let status = upgrade_status(direct, &a.addr.to_string(), "/ws", Some("10.9.9.8")).await;
    assert_eq!(
        status, 503,
        "a forged X-Forwarded-For from an untrusted peer was believed"
    );

    // The page comes through; the operator's endpoints and metrics do not.
    let (status, page) = https_get(nginx.addr, "/games/arena/", &trust)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<canvas"));
    for path in [
        "/metrics",
        "/admin/drain",
        "/node/b/metrics",
        "/node/a/admin/notice",
    ] {
        let (status, _) = https_get(nginx.addr, path, &trust).await.unwrap();
        assert_eq!(status, 403, "{path} must not be served through nginx");
    }
}

#[tokio::test]
async fn bots_play_through_nginx_on_two_cluster_nodes() {
    let dir = TempDir::new("proxy-bots");
    let ca = TestCa::new("edge CA");
    let (cert, key) = write_leaf(&ca, &dir.0);
    let redis = RedisProcess::start().await;
    let port = free_port();
    // Each node's URL goes through nginx, as in the guide; rooms of 8 spread the bots over
    // both nodes.
    let node = |name: &'static str| {
        let public = format!("wss://127.0.0.1:{port}/node/{name}/ws");
        let redis = redis.url.clone();
        async move {
            ServerProcess::start(&[
                "--redis",
                &redis,
                "--node-id",
                name,
                "--public-url",
                &public,
                "--trusted-proxy",
                "127.0.0.1",
                "--room-size",
                "8",
            ])
            .await
        }
    };
    let (a, b) = (node("a").await, node("b").await);
    let nginx = NginxProcess::start(&site(port, &cert, &key, a.addr, b.addr), port).await;

    let bots = 32;
    let mut cfg = LoadConfig::new("", "", bots, Duration::from_secs(3));
    cfg.ramp = Duration::from_secs(1);
    cfg.matchmake = Some(format!("https://127.0.0.1:{port}"));
    cfg.loopback_only = true;
    cfg.tls = Some(bots::tls::config_from_pem(ca.cert_pem.as_bytes()).unwrap());
    let report = load_run(&cfg).await;
    assert_clean_run(&report, bots);

    // Both nodes played rooms, and the cluster's room list comes through nginx too.
    let trust = client_config(&[&ca]);
    let (status, rooms) = https_get(nginx.addr, "/rooms", &trust).await.unwrap();
    assert_eq!(status, 200, "{rooms}");
    let rooms: Vec<serde_json::Value> = serde_json::from_str(&rooms).unwrap();
    for name in ["a", "b"] {
        let url = format!("wss://127.0.0.1:{port}/node/{name}/ws");
        assert!(
            rooms
                .iter()
                .any(|r| r["node"] == name && r["url"] == url.as_str()),
            "no room on node {name}: {rooms:?}"
        );
    }
}
