//! A cluster on a real `redis-server`: nodes register with a heartbeat, a node that is
//! killed leaves the registry within its time to live, one that shuts down leaves at once;
//! rooms are claimed atomically, the matchmaker seats players across nodes, a client at the
//! wrong node is sent to the right one, and notices reach every node.

mod support;

use std::time::{Duration, Instant};

use bots::{Client, ClientError, ConnectOptions, Received};
use protocol::{Event, codes};
use server::Server;
use server::cluster::{Cluster, NODE_TTL, NodeInfo};
use support::process::ServerProcess;
use support::redis::RedisProcess;
use support::{bounded, http_get, http_post, start_server, ws_url};

/// The registry's nodes, by id.
async fn nodes(observer: &Cluster) -> Vec<NodeInfo> {
    let mut n = observer.nodes().await.expect("the registry reads");
    n.sort_by(|a, b| a.id.cmp(&b.id));
    n
}

/// Polls the registry until `done` holds of it.
async fn until(observer: &Cluster, what: &str, done: impl Fn(&[NodeInfo]) -> bool) {
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
    let observer = Cluster::join(&redis.url, "observer".into(), String::new())
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
    until(&observer, "both nodes registered", |n| {
        n.len() == 2 && n.iter().all(|n| n.cpu.is_some())
    })
    .await;
    let registered = nodes(&observer).await;
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
    until(&observer, "the killed node gone", |n| {
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
    assert!(nodes(&observer).await.is_empty(), "removed on shutdown");
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_at_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let cfg = support::test_config(|c| c.redis = Some(format!("redis://127.0.0.1:{port}")));
    let err = match server::Server::start_with(cfg, support::reference_games()).await {
        Ok(_) => panic!("started without its Redis"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("--redis"), "{err}");
}

/// A node of the cluster on `redis`, named `id`, with matchmaking rooms of `room_size`.
async fn node(redis: &RedisProcess, id: &str, room_size: usize) -> Server {
    start_server(|c| {
        c.redis = Some(redis.url.clone());
        c.node_id = Some(id.into());
        c.room_size = room_size;
        c.admin_token = Some("ops".into());
    })
    .await
}

/// A seat from `node`'s matchmaker: (url, room, seat, node id).
async fn matchmake(node: &Server, body: &str) -> (String, String, String, String) {
    let (status, answer) = http_post(node.local_addr(), "/matchmake", body, None).await;
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let field = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {answer}"))
            .to_string()
    };
    (field("url"), field("room"), field("seat"), field("node"))
}

fn opts(url: &str, room: &str, name: &str, seat: Option<&str>) -> ConnectOptions {
    let mut o = ConnectOptions::new(url, room, name);
    o.auth_token = seat.map(str::to_string);
    o
}

/// Connects, following one `MOVED` to the node it names; true if it was moved.
async fn connect_following(mut o: ConnectOptions) -> (Client, protocol::Welcome, bool) {
    match Client::connect(o.clone()).await {
        Ok((c, w)) => (c, w, false),
        Err(ClientError::Rejected { code, reason }) if code == codes::MOVED => {
            o.url = reason;
            let (c, w) = Client::connect(o).await.expect("joins where it was sent");
            (c, w, true)
        }
        Err(e) => panic!("connect failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matchmaker_fills_rooms_spread_over_the_nodes_and_each_seat_admits_once() {
    let redis = RedisProcess::start().await;
    let nodes = [
        node(&redis, "a", 4).await,
        node(&redis, "b", 4).await,
        node(&redis, "c", 4).await,
    ];
    let mut clients = Vec::new();
    let mut seats = Vec::new();
    for i in 0..12 {
        // Any node answers for the whole cluster.
        let (url, room, seat, _) = matchmake(&nodes[i % 3], r#"{"game": "arena"}"#).await;
        let (c, w) = Client::connect(opts(&url, &room, &format!("p{i}"), Some(&seat)))
            .await
            .expect("a seat admits");
        assert_eq!(w.room, room);
        clients.push(c);
        seats.push((url, room, seat));
    }
    // Four to a room, one room on each node.
    let mut held = Vec::new();
    for n in &nodes {
        for r in n.rooms().all() {
            let players = n.inspect(&r.name).await.unwrap().clients.len();
            held.push((r.name, players));
        }
        assert_eq!(n.rooms().all().len(), 1, "one room per node");
    }
    assert_eq!(held.len(), 3, "{held:?}");
    assert!(held.iter().all(|(_, p)| *p == 4), "{held:?}");

    // A seat is good once, and only for its room.
    let (url, room, seat) = &seats[0];
    let again = Client::connect(opts(url, room, "again", Some(seat))).await;
    assert!(
        matches!(&again, Err(ClientError::Rejected { code, reason }) if *code == codes::UNAUTHORIZED && reason.contains("already used")),
        "{:?}",
        again.err()
    );
    let (url, _, seat, _) = matchmake(&nodes[0], r#"{"game": "arena"}"#).await;
    let other = Client::connect(opts(&url, "elsewhere", "x", Some(&seat))).await;
    assert!(
        matches!(&other, Err(ClientError::Rejected { code, .. }) if *code == codes::UNAUTHORIZED),
        "{:?}",
        other.err()
    );

    // Every node lists every room, with the node that holds it.
    support::poll_until(
        "every room in every node's /rooms",
        Duration::from_millis(50),
        || async {
            let (_, body) = http_get(nodes[2].local_addr(), "/rooms").await;
            let rooms: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
            rooms.len() == 3
                && rooms
                    .iter()
                    .all(|r| r["players"] == 4 && r["node"].is_string())
        },
    )
    .await;
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_racing_for_a_new_room_end_with_one_owner_and_everyone_in_it() {
    let redis = RedisProcess::start().await;
    let (a, b) = (node(&redis, "a", 64).await, node(&redis, "b", 64).await);
    // Matchmakers on both nodes asked for the same new room at once agree on its node.
    let asks = (0..10).map(|i| {
        let n = if i % 2 == 0 { &a } else { &b };
        matchmake(n, r#"{"game": "arena", "room": "contested"}"#)
    });
    let answers = futures_util::future::join_all(asks).await;
    assert!(
        answers.windows(2).all(|w| w[0].3 == w[1].3),
        "one node for the room"
    );
    // Clients racing into another new room through both nodes at once, without seats.
    let joins = (0..16).map(|i| {
        let addr = if i % 2 == 0 {
            a.local_addr()
        } else {
            b.local_addr()
        };
        connect_following(opts(&ws_url(addr), "raced", &format!("p{i}"), None))
    });
    let joined = futures_util::future::join_all(joins).await;
    let moved = joined.iter().filter(|(_, _, moved)| *moved).count();
    let holders: Vec<&Server> = [&a, &b]
        .into_iter()
        .filter(|n| n.rooms().get("raced").is_some())
        .collect();
    assert_eq!(holders.len(), 1, "exactly one node plays the room");
    let players = holders[0].rooms().get("raced").unwrap();
    let inspect = holders[0].inspect(&players.name).await.unwrap();
    assert_eq!(inspect.clients.len(), 16, "everyone in the one room");
    assert_eq!(
        moved, 8,
        "the half that reached the other node was sent over"
    );
    drop(joined);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_the_wrong_node_is_told_where_the_room_is() {
    let redis = RedisProcess::start().await;
    let (a, b) = (node(&redis, "a", 64).await, node(&redis, "b", 64).await);
    let (_c, _) = Client::connect(opts(&ws_url(a.local_addr()), "here", "ann", None))
        .await
        .unwrap();
    let refused = Client::connect(opts(&ws_url(b.local_addr()), "here", "bob", None)).await;
    match refused {
        Err(ClientError::Rejected { code, reason }) => {
            assert_eq!(code, codes::MOVED);
            assert_eq!(reason, ws_url(a.local_addr()), "the URL of the room's node");
        }
        other => panic!("expected MOVED, got {:?}", other.map(|_| ())),
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_seat_is_a_clear_reject() {
    let redis = RedisProcess::start().await;
    let a = start_server(|c| {
        c.redis = Some(redis.url.clone());
        c.seat_ttl = Duration::ZERO;
    })
    .await;
    let (url, room, seat, _) = matchmake(&a, r#"{"game": "arena"}"#).await;
    match Client::connect(opts(&url, &room, "late", Some(&seat))).await {
        Err(ClientError::Rejected { code, reason }) => {
            assert_eq!(code, codes::UNAUTHORIZED);
            assert!(reason.contains("expired"), "{reason}");
        }
        other => panic!("expected a reject, got {:?}", other.map(|_| ())),
    }
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_sent_to_one_node_reaches_the_rooms_of_every_node() {
    let redis = RedisProcess::start().await;
    let (a, b) = (node(&redis, "a", 64).await, node(&redis, "b", 64).await);
    let (mut on_b, _) = Client::connect(opts(&ws_url(b.local_addr()), "far", "bob", None))
        .await
        .unwrap();
    let (status, _) = http_post(
        a.local_addr(),
        "/admin/notice",
        r#"{"text": "restart at noon"}"#,
        Some("wrong"),
    )
    .await;
    assert_eq!(status, 401, "the admin token is checked");
    // Until the listener of b is subscribed, a notice may be missed: send until one arrives.
    bounded("the notice on node b", async {
        loop {
            let (status, body) = http_post(
                a.local_addr(),
                "/admin/notice",
                r#"{"text": "restart at noon"}"#,
                Some("ops"),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(got) = tokio::time::timeout_at(deadline, on_b.recv()).await {
                if let Received::Event(Event::Notice { text }) = got.expect("still connected") {
                    assert_eq!(text, "restart at noon");
                    return;
                }
            }
        }
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_rooms_are_played_again_on_a_live_node_within_its_ttl() {
    let redis = RedisProcess::start().await;
    let live = node(&redis, "live", 64).await;
    let mut doomed = ServerProcess::start(&["--redis", &redis.url, "--node-id", "doomed"]).await;
    let (mut c, _) = Client::connect(opts(&ws_url(doomed.addr), "lost", "ann", None))
        .await
        .unwrap();
    support::recv_until(&mut c, "a snapshot", |_, r| {
        matches!(r, Received::Snapshot { .. })
    })
    .await;
    // While the node lives, the live node sends its clients there.
    let refused = Client::connect(opts(&ws_url(live.local_addr()), "lost", "bob", None)).await;
    assert_eq!(
        refused.err().and_then(|e| e.close_code()),
        Some(codes::MOVED)
    );

    doomed.child.kill().await.expect("kill -9");
    let killed = Instant::now();
    // Its players come back through the matchmaker, which places the room on a live node.
    let (url, room, seat) = bounded("the room placed again", async {
        loop {
            let (status, body) = http_post(
                live.local_addr(),
                "/matchmake",
                r#"{"game": "arena", "room": "lost"}"#,
                None,
            )
            .await;
            if status == 200 {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                if v["node"] == "live" {
                    let s = |k: &str| v[k].as_str().unwrap().to_string();
                    return (s("url"), s("room"), s("seat"));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let (_c, w) = Client::connect(opts(&url, &room, "ann", Some(&seat)))
        .await
        .unwrap();
    assert_eq!(w.room, "lost");
    assert!(
        killed.elapsed() <= NODE_TTL + Duration::from_secs(1),
        "playing again within the TTL ({:?})",
        killed.elapsed()
    );
    live.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_nodes_room_goes_on_on_another_node_with_every_player_and_its_state() {
    let redis = RedisProcess::start().await;
    let (a, b) = (node(&redis, "a", 64).await, node(&redis, "b", 64).await);
    let mut players = Vec::new();
    for i in 0..4 {
        let (mut c, w) = Client::connect(opts(
            &ws_url(a.local_addr()),
            "match",
            &format!("p{i}"),
            None,
        ))
        .await
        .unwrap();
        // Each walks its own way for a while, then stops.
        let (dx, dy) = [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)][i];
        for _ in 0..20 {
            c.send_input(&support::arena_input(dx, dy)).unwrap();
            support::recv_until(&mut c, "a snapshot", |_, r| {
                matches!(r, Received::Snapshot { .. })
            })
            .await;
        }
        let last = c.send_input(&support::arena_input(0.0, 0.0)).unwrap();
        players.push((c, w, last));
    }
    // Everyone's stop applied: from here their entities stand still.
    for (c, _, last) in &mut players {
        let last = *last;
        support::recv_until(
            c,
            "the stop applied",
            |_, r| matches!(r, Received::Snapshot { input_seq, .. } if *input_seq >= last),
        )
        .await;
    }
    let before = a.inspect("match").await.unwrap();

    let (status, body) = http_post(a.local_addr(), "/admin/drain", "", Some("ops")).await;
    assert_eq!(status, 200, "{body}");
    let drained: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (drained["rooms"].as_u64(), drained["players"].as_u64()),
        (Some(1), Some(4))
    );
    assert!(
        a.rooms().all().is_empty(),
        "nothing left on the drained node"
    );

    let mut resumed: Vec<Client> = Vec::new();
    for (i, (mut c, w, _)) in players.into_iter().enumerate() {
        match support::ended(&mut c, "the hand-off").await {
            ClientError::Closed { code, reason } => {
                assert_eq!(code, codes::MOVED);
                assert_eq!(reason, ws_url(b.local_addr()), "told where the room went");
            }
            e => panic!("expected a hand-off, got {e}"),
        }
        let mut o = opts(&ws_url(b.local_addr()), "match", &format!("p{i}"), None);
        o.resume_token = Some(w.resume_token.clone());
        let (mut c, again) = Client::connect(o).await.expect("resumes on the new node");
        assert_eq!(again.player, w.player, "the same entity");
        assert!(again.tick >= before.tick, "the room's clock goes on");
        support::recv_until(&mut c, "a snapshot", |_, r| {
            matches!(r, Received::Snapshot { .. })
        })
        .await;
        // Its entity as it was on the old node, every declared field (its own private ones
        // included), bit for bit.
        let was = before.table.get(w.player).expect("it was there");
        let (_, now) = c.latest().expect("a table");
        let is = now.get(w.player).expect("its entity is there");
        assert_eq!(
            (is.ty, is.values),
            (was.ty, was.values),
            "p{i}'s state carried over"
        );
        resumed.push(c);
    }
    let after = b.inspect("match").await.unwrap();
    assert_eq!(after.clients.len(), 4, "every player on the new node");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_with_bots_playing_keeps_every_player_on_its_entity() {
    let redis = RedisProcess::start().await;
    let args =
        |id: &str| ["--redis", &redis.url, "--node-id", id, "--room-size", "8"].map(str::to_string);
    let start = |addr: String, id: &'static str| {
        let args = args(id);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start_at(&addr, &args).await
        }
    };
    let ids = ["n1", "n2", "n3"];
    let mut nodes = Vec::new();
    for id in ids {
        nodes.push(start("127.0.0.1:0".into(), id).await);
    }
    let observer = Cluster::join(&redis.url, "observer".into(), String::new())
        .await
        .unwrap();
    let bots = 24;
    let mut cfg = bots::load::LoadConfig::new("", "", bots, Duration::from_secs(10));
    cfg.matchmake = Some(format!("http://{}", nodes[0].addr));
    cfg.game = Some("arena".into());
    let run = tokio::spawn(async move { support::load_run(&cfg).await });
    until(&observer, "every bot playing", |n| {
        n.iter().map(|n| n.players).sum::<usize>() == bots
    })
    .await;

    // Each node in turn: SIGTERM (it drains), wait for it to exit, start it again on its port.
    for (i, id) in ids.into_iter().enumerate() {
        let addr = nodes[i].addr.to_string();
        nodes[i].signal("-TERM");
        bounded("the node exits", nodes[i].child.wait())
            .await
            .unwrap();
        nodes[i] = start(addr, id).await;
        until(&observer, "the node back", |n| n.len() == 3).await;
    }
    let report = bounded("the run", run).await.unwrap();
    assert_eq!((report.bots_connected, report.bots_failed), (bots, 0));
    assert_eq!(report.checksum_mismatches, 0);
    assert_eq!(report.player_changes, 0, "every bot ends on its own player");
    assert!(
        report.handoffs >= bots as u64,
        "every bot was handed over at least once"
    );
    assert_eq!(report.unrecovered, 0, "every bot playing at the end");
}

#[tokio::test]
async fn standalone_matchmaking_seats_once_and_bounds_its_body() {
    let a = start_server(|_| {}).await;
    let (url, room, seat, _) = matchmake(&a, r#"{"game": "arena"}"#).await;
    assert_eq!(url, ws_url(a.local_addr()), "its own URL");
    let (_c, w) = Client::connect(opts(&url, &room, "ann", Some(&seat)))
        .await
        .expect("the seat admits");
    assert_eq!(w.room, room);
    let again = Client::connect(opts(&url, &room, "bob", Some(&seat))).await;
    assert_eq!(
        again.err().and_then(|e| e.close_code()),
        Some(codes::UNAUTHORIZED)
    );
    // The body limit: one byte over is refused before it is parsed.
    let pad = "x".repeat(server::MATCHMAKE_MAX_BODY);
    let body = format!(r#"{{"game": "arena", "room": "{pad}"}}"#);
    let (status, answer) = http_post(a.local_addr(), "/matchmake", &body, None).await;
    assert_eq!(status, 413, "{answer}");
    let (status, _) = http_post(a.local_addr(), "/matchmake", r#"{"game": "nope"}"#, None).await;
    assert_eq!(status, 400, "an unknown game");
    a.shutdown().await;
}

#[tokio::test]
async fn a_public_url_too_long_for_a_close_reason_is_refused_at_start() {
    let long = format!("ws://{}/ws", "a".repeat(server::MAX_PUBLIC_URL));
    let cfg = support::test_config(|c| c.public_url = Some(long));
    let err = match Server::start_with(cfg, support::reference_games()).await {
        Ok(_) => panic!("started with an unusable --public-url"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("--public-url"), "{err}");
}
