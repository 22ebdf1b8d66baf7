//! A cluster on a real `redis-server`: nodes register with a heartbeat, a node that is
//! killed leaves the registry within its time to live, one that shuts down leaves at once.

mod support;

use std::time::{Duration, Instant};

use server::cluster::{Cluster, NODE_TTL, NodeInfo};
use support::process::ServerProcess;
use support::redis::RedisProcess;
use support::{bounded, start_server};

/// The registry's nodes, by id.
async fn nodes(observer: &mut Cluster) -> Vec<NodeInfo> {
    let mut n = observer.nodes().await.expect("the registry reads");
    n.sort_by(|a, b| a.id.cmp(&b.id));
    n
}

/// Polls the registry until `done` holds of it.
async fn until(observer: &mut Cluster, what: &str, done: impl Fn(&[NodeInfo]) -> bool) {
    bounded(what, async {
        while !done(&nodes(observer).await) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_and_leave_the_registry_when_stopped_or_killed() {
    let redis = RedisProcess::start().await;
    let mut observer = Cluster::join(&redis.url, "observer".into(), String::new())
        .await
        .expect("redis answers");
    let a = start_server(|c| {
        c.redis = Some(redis.url.clone());
        c.node_id = Some("a".into());
        c.public_url = Some("ws://a.example:8080/ws".into());
    })
    .await;
    let mut b = ServerProcess::start(&["--redis", &redis.url, "--node-id", "b"]).await;
    // Registered, and a second beat has measured CPU.
    until(&mut observer, "both nodes registered", |n| {
        n.len() == 2 && n.iter().all(|n| n.cpu.is_some())
    })
    .await;
    let registered = nodes(&mut observer).await;
    assert_eq!(registered[0].url, "ws://a.example:8080/ws", "as given");
    assert_eq!(
        registered[1].url,
        format!("ws://{}/ws", b.addr),
        "its own address"
    );
    assert_eq!((registered[0].rooms, registered[0].players), (0, 0));
    assert!(registered.iter().all(|n| n.cpu.is_some_and(|c| c >= 0.0)));

    // Killed: no goodbye, the entry expires.
    b.child.kill().await.expect("kill -9");
    let killed = Instant::now();
    until(&mut observer, "the killed node gone", |n| {
        n.iter().all(|n| n.id != "b")
    })
    .await;
    assert!(
        killed.elapsed() <= NODE_TTL + Duration::from_secs(1),
        "gone within its time to live ({:?})",
        killed.elapsed()
    );

    // Shut down: gone at once.
    a.shutdown().await;
    assert!(nodes(&mut observer).await.is_empty(), "removed on shutdown");
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_at_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let cfg = support::test_config(|c| c.redis = Some(format!("redis://127.0.0.1:{port}")));
    let err = match server::Server::start(cfg).await {
        Ok(_) => panic!("started without its Redis"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("--redis"), "{err}");
}
