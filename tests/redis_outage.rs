//! A cluster whose Redis goes away, on real processes: the nodes play on the rooms they hold,
//! `/healthz` says degraded and the matchmaker answers 503 at once; a Redis restarted empty
//! on the same port gets every node's entry, rooms, game index and seat key back, with no
//! restart of a node. Also: a room the directory gives to another node moves there with its
//! players, and a node whose id a live node holds refuses to start.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bots::{Client, ClientError, ConnectOptions, Received};
use protocol::{Event, codes};
use server::cluster::NODE_TTL;
use support::process::ServerProcess;
use support::redis::RedisProcess;
use support::{bounded, http_get, http_post_head, poll_until, ws_url};
use tokio::sync::watch;

/// The tests run one at a time: each runs several servers at 60 Hz on a two-core machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ADMIN: &str = "ops";

/// A node of the cluster on `redis`, named `id`, as a process of its own.
async fn node(redis: &RedisProcess, id: &str) -> ServerProcess {
    ServerProcess::start(&[
        "--redis",
        &redis.url,
        "--node-id",
        id,
        "--admin-token",
        ADMIN,
        "--npcs",
        "100",
    ])
    .await
}

/// One command to the Redis on `port`, over a connection of its own: the reply as text (a
/// string, an integer, `OK`), `None` for nil.
async fn redis_cmd(port: u16, args: &[&str]) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers");
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query_async(&mut conn).await.unwrap() {
        redis::Value::Nil => None,
        redis::Value::Int(i) => Some(i.to_string()),
        redis::Value::BulkString(b) => Some(String::from_utf8(b).unwrap()),
        redis::Value::SimpleString(s) => Some(s),
        redis::Value::Okay => Some("OK".into()),
        other => panic!("redis {args:?}: {other:?}"),
    }
}

/// A player kept playing in the background: it sends an input at each snapshot and counts
/// the snapshots and the notices it gets; the first error ends it and is kept.
struct Player {
    snapshots: Arc<AtomicU64>,
    notices: Arc<Mutex<Vec<String>>>,
    error: Arc<Mutex<Option<ClientError>>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Player {
    fn start(mut c: Client) -> Player {
        let snapshots = Arc::new(AtomicU64::new(0));
        let notices = Arc::new(Mutex::new(Vec::new()));
        let error = Arc::new(Mutex::new(None));
        let (stop, mut stopped) = watch::channel(false);
        let (n, texts, err) = (snapshots.clone(), notices.clone(), error.clone());
        let task = tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = stopped.changed() => break,
                    got = c.recv() => got,
                };
                match got {
                    Ok(Received::Snapshot { .. }) => {
                        let t = n.fetch_add(1, Ordering::Relaxed) as f64 * 0.05;
                        let _ = c.send_input(&support::arena_input(t.cos(), t.sin()));
                    }
                    Ok(Received::Event(Event::Notice { text })) => texts.lock().unwrap().push(text),
                    Ok(_) => {}
                    Err(e) => {
                        *err.lock().unwrap() = Some(e);
                        return;
                    }
                }
            }
            c.close().await;
        });
        Player {
            snapshots,
            notices,
            error,
            stop,
            task,
        }
    }

    /// Snapshots received over the next second (none if the connection broke).
    async fn rate(&self) -> u64 {
        let before = self.snapshots.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await; // the measurement window itself
        self.assert_playing();
        self.snapshots.load(Ordering::Relaxed) - before
    }

    fn assert_playing(&self) {
        let error = self.error.lock().unwrap().clone();
        assert!(error.is_none(), "the player's connection ended: {error:?}");
    }

    async fn stop(self) {
        self.assert_playing();
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// At 60 Hz a second holds 60 snapshots; this leaves room for a busy two-core machine.
const MIN_SNAPSHOTS_PER_SEC: u64 = 45;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_play_on_while_redis_is_down_and_everything_comes_back_with_it() {
    let _serial = SERIAL.lock().await;
    let redis = RedisProcess::start().await;
    let port = redis.port;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (c, welcome) = Client::connect(ConnectOptions::new(&ws_url(a.addr), "outage", "ann"))
        .await
        .expect("joins on a");
    let ann = Player::start(c);
    poll_until("ann playing", Duration::from_millis(20), || async {
        ann.snapshots.load(Ordering::Relaxed) >= 10
    })
    .await;
    assert_eq!(
        redis_cmd(port, &["GET", "ticksync:room:outage"])
            .await
            .as_deref(),
        Some("a")
    );
    let secret = redis_cmd(port, &["GET", "ticksync:secret"])
        .await
        .expect("the seat key");
    assert_eq!(
        http_get(a.addr, "/healthz").await,
        (200, "ok\n".to_string())
    );

    redis.kill().await;
    let killed = Instant::now();
    let rate = ann.rate().await;
    assert!(
        rate >= MIN_SNAPSHOTS_PER_SEC,
        "{rate} snapshots/s right after the kill"
    );

    // Degraded, still 200: the node plays its rooms.
    poll_until(
        "a's /healthz degraded",
        Duration::from_millis(50),
        || async {
            let (status, body) = http_get(a.addr, "/healthz").await;
            assert_eq!(status, 200, "{body}");
            body.starts_with("degraded:") && body.contains("Redis")
        },
    )
    .await;
    // The matchmaker says so at once, on either node.
    for n in [&a, &b] {
        let asked = Instant::now();
        let (status, head, body) =
            http_post_head(n.addr, "/matchmake", r#"{"game": "arena"}"#, None).await;
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "answered in {:?}",
            asked.elapsed()
        );
        eprintln!("503 in {:?}", asked.elapsed());
        assert_eq!(status, 503, "{head}\n{body}");
        assert!(head.contains("\r\nretry-after: 1"), "{head}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
        let error = v["error"].as_str().expect("an error");
        assert!(
            error.contains("Redis") && error.contains("unreachable"),
            "{error}"
        );
    }
    // Past the directory's time to live, the room still plays.
    if let Some(rest) = (NODE_TTL + Duration::from_secs(1)).checked_sub(killed.elapsed()) {
        tokio::time::sleep(rest).await; // an outage longer than every key's life
    }
    let rate = ann.rate().await;
    assert!(
        rate >= MIN_SNAPSHOTS_PER_SEC,
        "{rate} snapshots/s during the outage"
    );
    let (_, body) = http_get(b.addr, "/healthz").await;
    assert!(body.starts_with("degraded:"), "b: {body}");

    // Back, empty, on the same port: everything is published again, with no restart.
    let _redis = RedisProcess::start_on(port).await;
    let back = Instant::now();
    let recovered = Duration::from_secs(10);
    let within = |what: &str| {
        assert!(
            back.elapsed() <= recovered,
            "{what} took {:?} after Redis came back",
            back.elapsed()
        )
    };
    poll_until("a and b healthy", Duration::from_millis(50), || async {
        http_get(a.addr, "/healthz").await.1 == "ok\n"
            && http_get(b.addr, "/healthz").await.1 == "ok\n"
    })
    .await;
    within("health");
    poll_until(
        "everything back in Redis",
        Duration::from_millis(50),
        || async {
            redis_cmd(port, &["EXISTS", "ticksync:node:a"])
                .await
                .as_deref()
                == Some("1")
                && redis_cmd(port, &["EXISTS", "ticksync:node:b"])
                    .await
                    .as_deref()
                    == Some("1")
                && redis_cmd(port, &["GET", "ticksync:room:outage"])
                    .await
                    .as_deref()
                    == Some("a")
                && redis_cmd(port, &["SISMEMBER", "ticksync:game:arena", "outage"])
                    .await
                    .as_deref()
                    == Some("1")
                && redis_cmd(port, &["GET", "ticksync:secret"]).await.is_some()
        },
    )
    .await;
    within("the registry and the directory");
    assert_eq!(
        redis_cmd(port, &["GET", "ticksync:secret"]).await,
        Some(secret),
        "the seat key every node held, not a new one"
    );

    // The matchmaker seats again, in the room that played on, and the seat admits.
    let (url, room, seat) = bounded("a seat", async {
        loop {
            let (status, _, body) =
                http_post_head(a.addr, "/matchmake", r#"{"game": "arena"}"#, None).await;
            if status == 200 {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_string();
                return (s("url"), s("room"), s("seat"));
            }
            assert_eq!(status, 503, "{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    within("a seat");
    eprintln!("seats again {:?} after Redis came back", back.elapsed());
    assert_eq!(
        (url.as_str(), room.as_str()),
        (ws_url(a.addr).as_str(), "outage")
    );
    let mut o = ConnectOptions::new(&url, &room, "bob");
    o.auth_token = Some(seat);
    let (bob, w) = Client::connect(o).await.expect("the seat admits");
    assert_eq!(w.room, "outage");
    assert_ne!(w.player, welcome.player);

    // The notice channel is back too: a notice sent on b reaches ann on a.
    bounded("a notice from b reaches a", async {
        loop {
            let (status, _, body) = http_post_head(
                b.addr,
                "/admin/notice",
                r#"{"text": "redis is back"}"#,
                Some(ADMIN),
            )
            .await;
            assert!(status == 200 || status == 503, "{status}: {body}");
            tokio::time::sleep(Duration::from_millis(300)).await;
            if ann
                .notices
                .lock()
                .unwrap()
                .iter()
                .any(|t| t == "redis is back")
            {
                return;
            }
        }
    })
    .await;
    let rate = ann.rate().await;
    assert!(rate >= MIN_SNAPSHOTS_PER_SEC, "{rate} snapshots/s after");
    bob.close().await;
    ann.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_the_directory_gives_to_another_node_moves_there_with_its_player() {
    let _serial = SERIAL.lock().await;
    let redis = RedisProcess::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (mut c, welcome) =
        Client::connect(ConnectOptions::new(&ws_url(a.addr), "contested", "ann"))
            .await
            .expect("joins on a");
    support::recv_tick(&mut c, welcome.tick + 5).await;
    // The directory gives the room to b, as a matchmaker would after a's entry expired while
    // a could not renew it (a stall, Redis lost its data).
    redis_cmd(
        redis.port,
        &["SET", "ticksync:room:contested", "b", "PX", "3000"],
    )
    .await;
    // At its next beat a stops the room and sends its player to b.
    match support::ended(&mut c, "the room stops on a").await {
        ClientError::Closed { code, reason } => {
            assert_eq!(code, codes::MOVED);
            assert_eq!(reason, ws_url(b.addr));
        }
        e => panic!("expected MOVED, got {e}"),
    }
    // b had not opened the room: a's state went with the player, who resumes there.
    let mut o = ConnectOptions::new(&ws_url(b.addr), "contested", "ann");
    o.resume_token = Some(welcome.resume_token.clone());
    let (mut c, again) = Client::connect(o).await.expect("resumes on b");
    assert_eq!(again.player, welcome.player, "the same entity");
    assert!(again.tick >= welcome.tick, "the room's clock goes on");
    support::recv_tick(&mut c, again.tick + 5).await;
    // a plays it no more: a newcomer there is sent to b.
    let refused = Client::connect(ConnectOptions::new(&ws_url(a.addr), "contested", "bob")).await;
    match refused {
        Err(ClientError::Rejected { code, reason }) => {
            assert_eq!((code, reason), (codes::MOVED, ws_url(b.addr)));
        }
        other => panic!("expected MOVED, got {:?}", other.map(|_| ())),
    }
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_id_held_by_a_live_node_is_refused_and_a_dead_nodes_is_taken() {
    let _serial = SERIAL.lock().await;
    let redis = RedisProcess::start().await;
    let _live = node(&redis, "dup").await;
    let started = Instant::now();
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_ticksync"))
        .args(["--addr", "127.0.0.1:0", "--log", "warn", "--npcs", "10"])
        .args(["--redis", &redis.url, "--node-id", "dup"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = bounded("the second node exits", second).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it started: {stderr}");
    assert!(
        stderr.contains("--node-id 'dup' is taken"),
        "a clear error: {stderr}"
    );
    assert!(
        started.elapsed() >= NODE_TTL,
        "it waited for the entry to expire ({:?})",
        started.elapsed()
    );

    // A node killed without a goodbye leaves its entry for up to NODE_TTL: its successor
    // with the same id waits for it, then starts.
    let mut killed = node(&redis, "phoenix").await;
    killed.child.kill().await.expect("kill -9");
    let again = node(&redis, "phoenix").await;
    poll_until("phoenix registered", Duration::from_millis(50), || async {
        redis_cmd(redis.port, &["GET", "ticksync:node:phoenix"])
            .await
            .is_some_and(|v| v.contains(&again.addr.to_string()))
    })
    .await;
}
