//! Rooms survive the crash of their process: a cluster node killed with `kill -9` has its rooms
//! restored from their checkpoints on a live node, and a single node with `--state-dir` keeps
//! its rooms through a SIGTERM and through a `kill -9`; in both, every bot ends on its own
//! player. Saved rooms that cannot be trusted are refused, moved aside, and the node starts.
//! Real processes throughout: the server binary, `redis-server`, bots over loopback.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bots::report::Report;
use server::cluster::{Cluster, NodeInfo};
use support::process::{ServerProcess, metric_code};
use support::redis::RedisProcess;
use support::{bounded, http_get};

fn state_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("ticksync-durable-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Bots playing arena against `url` (or through `matchmaker`) for `secs`, reconnecting.
fn bots(url: &str, matchmaker: Option<String>, n: usize, secs: u64) -> bots::load::LoadConfig {
    let mut cfg = bots::load::LoadConfig::new(url, "durable", n, Duration::from_secs(secs));
    cfg.matchmake = matchmaker;
    cfg.game = Some("arena".into());
    cfg.ramp = Duration::from_millis(500);
    cfg
}

fn assert_every_player_kept(report: &Report, n: usize) {
    assert_eq!(
        (report.bots_connected, report.bots_failed),
        (n, 0),
        "{report:?}"
    );
    assert_eq!(report.checksum_mismatches, 0, "{report:?}");
    assert_eq!(
        report.player_changes, 0,
        "every bot ends on its own player: {report:?}"
    );
    assert_eq!(
        report.unrecovered, 0,
        "every bot playing at the end: {report:?}"
    );
}

/// `/rooms` of the node at `addr`: each room's players and tick, by name.
async fn rooms(addr: std::net::SocketAddr) -> HashMap<String, (u64, u64)> {
    let (status, body) = http_get(addr, "/rooms").await;
    assert_eq!(status, 200, "{body}");
    let v: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    v.iter()
        .map(|r| {
            let n = |k: &str| r[k].as_u64().unwrap_or_default();
            (
                r["name"].as_str().unwrap().to_string(),
                (n("players"), n("tick")),
            )
        })
        .collect()
}

/// Polls `/rooms` at `addr` until its players add up to `n`.
async fn until_players(addr: std::net::SocketAddr, n: u64, what: &str) {
    bounded(what, async {
        while rooms(addr).await.values().map(|r| r.0).sum::<u64>() != n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// Waits until every room of the node at `addr` has stored a checkpoint taken after this
/// call. A room stores one per interval, and at most one more a few ticks after a join: once
/// twice as many as it has rooms are stored, each of them has stored one.
async fn fresh_checkpoints(addr: std::net::SocketAddr) {
    let stored = || async {
        let (_, text) = http_get(addr, "/metrics").await;
        let ok = metric_code(&text, "ticksync_checkpoints_written_total", "ok");
        (ok, support::process::metric(&text, "ticksync_rooms_open"))
    };
    let (from, rooms) = stored().await;
    bounded("a checkpoint of every room", async {
        while stored().await.0 < from + 2.0 * rooms {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

async fn metric(addr: std::net::SocketAddr, name: &str, code: &str) -> f64 {
    let (_, text) = http_get(addr, "/metrics").await;
    metric_code(&text, name, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_rooms_come_back_from_their_checkpoints_with_every_player() {
    let redis = RedisProcess::start().await;
    let args = |id: &'static str| {
        ["--redis", &redis.url, "--node-id", id, "--room-size", "4"].map(str::to_string)
    };
    let start = |id: &'static str| {
        let args = args(id);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start(&args).await
        }
    };
    // The matchmaker's node lives; the other is killed.
    let live = start("live").await;
    let mut doomed = start("doomed").await;
    let observer = Cluster::join(&redis.url, "observer".into(), String::new())
        .await
        .unwrap();
    let n = 12;
    let cfg = bots("", Some(format!("http://{}", live.addr)), n, 14);
    let run = tokio::spawn(async move { support::load_run(&cfg).await });
    let doomed_rooms = bounded("every bot playing, some on the doomed node", async {
        loop {
            let nodes: Vec<NodeInfo> = observer.nodes().await.unwrap();
            let players: usize = nodes.iter().map(|n| n.players).sum();
            let on_doomed: Vec<(String, u32)> = nodes
                .iter()
                .filter(|n| n.id == "doomed")
                .flat_map(|n| n.room_list.iter().map(|r| (r.name.clone(), r.tick)))
                .collect();
            if players == n && !on_doomed.is_empty() {
                return on_doomed;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // A checkpoint after the last join: the room's players are all in it.
    fresh_checkpoints(doomed.addr).await;
    let before = rooms(doomed.addr).await;
    doomed.child.kill().await.expect("kill -9");

    let report = run.await.unwrap();
    assert_every_player_kept(&report, n);
    assert!(
        report.recoveries > 0,
        "the doomed node's bots reconnected: {report:?}"
    );
    let after = rooms(live.addr).await;
    for (name, _) in &doomed_rooms {
        let (_, tick_before) = before[name];
        let (_, tick_after) = *after
            .get(name)
            .unwrap_or_else(|| panic!("room {name} restored on the live node: {after:?}"));
        assert!(
            tick_after > tick_before,
            "{name}: tick {tick_before} -> {tick_after}"
        );
    }
    assert!(metric(live.addr, "ticksync_rooms_restored_total", "checkpoint").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_with_a_state_dir_keeps_every_player_through_sigterm_and_kill() {
    let dir = state_dir();
    let dir_arg = dir.to_str().unwrap().to_string();
    let args = ["--state-dir", &dir_arg];
    let mut node = ServerProcess::start(&args).await;
    let addr = node.addr;
    let n = 6;
    let cfg = bots(&support::ws_url(addr), None, n, 16);
    let run = tokio::spawn(async move { support::load_run(&cfg).await });
    until_players(addr, n as u64, "every bot playing").await;

    // SIGTERM: the node writes each room's final state, and exits.
    node.signal("-TERM");
    bounded("the node exits", node.child.wait()).await.unwrap();
    assert!(files(&dir).len() == 1, "one room saved: {:?}", files(&dir));
    let mut node = ServerProcess::start_at(&addr.to_string(), &args).await;
    assert_eq!(
        metric(addr, "ticksync_rooms_restored_total", "disk").await,
        1.0
    );
    until_players(addr, n as u64, "every bot back after the restart").await;
    fresh_checkpoints(addr).await;

    // kill -9, and a restart at once: the last checkpoint brings the room back.
    node.child.kill().await.expect("kill -9");
    let node = ServerProcess::start_at(&addr.to_string(), &args).await;
    assert_eq!(
        metric(addr, "ticksync_rooms_restored_total", "disk").await,
        1.0
    );

    let report = run.await.unwrap();
    assert_every_player_kept(&report, n);
    assert!(
        report.recoveries >= 2 * n as u64,
        "each bot came back twice: {report:?}"
    );
    drop(node);
    let _ = std::fs::remove_dir_all(dir);
}

/// The saved rooms' files in `dir` (not the refused ones).
fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "room"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_rooms_that_cannot_be_trusted_are_moved_aside_and_the_node_starts() {
    let dir = state_dir();
    let dir_arg = dir.to_str().unwrap().to_string();
    let args = ["--state-dir", &dir_arg];
    // A room saved by a SIGTERM, to make good and bad copies of.
    let node = ServerProcess::start(&args).await;
    let (_client, welcome) = support::connect(node.addr, "good", "ann").await;
    node.signal("-TERM");
    let mut node = node;
    bounded("the node exits", node.child.wait()).await.unwrap();
    let good = std::fs::read(dir.join("good.room")).unwrap();
    let saved: serde_json::Value = serde_json::from_slice(&good).unwrap();
    assert_eq!(
        saved["room"]["players"][0]["player"]["index"],
        welcome.player.index
    );

    let variant = |room: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = saved.clone();
        v["room"]["name"] = room.into();
        edit(&mut v);
        (room.to_string(), serde_json::to_vec(&v).unwrap())
    };
    let bad = [
        variant("newer", &|v| v["format"] = 99.into()),
        variant("other-game", &|v| v["room"]["game"] = "chess".into()),
        variant("redeclared", &|v| {
            v["schema_hash"] = (v["schema_hash"].as_u64().unwrap() ^ 1).into()
        }),
        variant("bad-world", &|v| {
            v["room"]["world"]["entities"][0]["ty"] = 999.into()
        }),
        variant("crowd", &|v| {
            let p = v["room"]["players"][0].clone();
            v["room"]["players"] = vec![p; 10_000].into();
        }),
        ("truncated".to_string(), good[..good.len() / 2].to_vec()),
        ("garbage".to_string(), b"\x00\xffnot json".to_vec()),
    ];
    for (room, bytes) in &bad {
        std::fs::write(dir.join(format!("{room}.room")), bytes).unwrap();
    }
    std::fs::write(dir.join("not a room.room"), b"{}").unwrap();

    let node = ServerProcess::start(&args).await;
    // Its player waits to resume (the room lists it within half a second).
    until_players(node.addr, 1, "the good room's player listed").await;
    let open = rooms(node.addr).await;
    assert_eq!(
        open.keys().collect::<Vec<_>>(),
        ["good"],
        "only the good room: {open:?}"
    );
    let (_, text) = http_get(node.addr, "/metrics").await;
    assert_eq!(
        support::process::metric(&text, "ticksync_saved_rooms_refused_total"),
        (bad.len() + 1) as f64
    );
    let refused: Vec<_> = std::fs::read_dir(dir.join("refused"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(refused.len(), bad.len() + 1, "{refused:?}");
    assert_eq!(files(&dir).len(), 1, "only the good room's file stays");
    drop(node);
    let _ = std::fs::remove_dir_all(dir);
}

/// The chaos run, short: three nodes, Redis and bots through the matchmaker, while a node is
/// killed (and started again at once, under its own id), another is stopped with SIGTERM and
/// started again, and Redis is killed and started again empty. Every bot ends on its own
/// player, every snapshot checks, and once the bots have left nothing of theirs stays in
/// Redis: no room entry, no hand-off state, no checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_chaos_run_loses_no_player_and_leaves_nothing_behind() {
    let mut redis = RedisProcess::start().await;
    let redis_url = redis.url.clone();
    let port = redis.port;
    let args = |id: &str| {
        [
            "--redis",
            &redis_url,
            "--node-id",
            id,
            "--room-size",
            "4",
            "--room-grace",
            "1s",
        ]
        .map(str::to_string)
    };
    let start = |addr: String, id: &'static str| {
        let args = args(id);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start_at(&addr, &args).await
        }
    };
    let any = "127.0.0.1:0".to_string();
    let mut nodes = vec![
        start(any.clone(), "n1").await,
        start(any.clone(), "n2").await,
        start(any, "n3").await,
    ];
    let observer = Cluster::join(&redis.url, "observer".into(), String::new())
        .await
        .unwrap();
    let n = 12;
    let cfg = bots("", Some(format!("http://{}", nodes[0].addr)), n, 16);
    let run = tokio::spawn(async move { support::load_run(&cfg).await });
    bounded("every bot playing", async {
        while observer
            .nodes()
            .await
            .unwrap()
            .iter()
            .map(|n| n.players)
            .sum::<usize>()
            != n
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    fresh_checkpoints(nodes[2].addr).await;

    // kill -9 of node 3, started again at once (it waits for its old entry to expire).
    let addr = nodes[2].addr.to_string();
    nodes[2].child.kill().await.expect("kill -9");
    nodes[2] = start(addr, "n3").await;
    // SIGTERM of node 2 (it drains), started again when it has exited.
    let addr = nodes[1].addr.to_string();
    nodes[1].signal("-TERM");
    bounded("node 2 exits", nodes[1].child.wait())
        .await
        .unwrap();
    nodes[1] = start(addr, "n2").await;
    // Redis killed, and started again empty on its port two seconds later.
    redis.kill().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis = RedisProcess::start_on(port).await;

    let report = run.await.unwrap();
    assert_every_player_kept(&report, n);
    // Once the rooms' grace and a directory entry's time to live are past, nothing is left.
    let left = || async {
        let client = redis::Client::open(redis.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("ticksync:*")
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.into_iter()
            .filter(|k| {
                ["ticksync:room:", "ticksync:state:", "ticksync:checkpoint:"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .collect::<Vec<_>>()
    };
    bounded("no room, state or checkpoint key left", async {
        while !left().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    drop(nodes);
}
