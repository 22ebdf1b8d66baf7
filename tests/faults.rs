//! Faults and limits: resume after a dropped connection, graceful shutdown, a panicking room,
//! the connection / room / player limits, the frame rate limit, and the idle timeout.

mod support;

use std::time::Duration;

use bots::{Client, ConnectOptions, Received};
use fastwebsockets::OpCode;
use protocol::{Event, ServerMsg, Value, codec, codes};
use support::process::{ServerProcess, metric, metric_code};
use support::*;

/// Options that present `token` to take player `name` in `arena` back.
fn resuming(addr: std::net::SocketAddr, name: &str, token: String) -> ConnectOptions {
    let mut o = ConnectOptions::new(&ws_url(addr), "arena", name);
    o.resume_token = Some(token);
    o
}

/// Joins over a raw WebSocket and returns it with the Welcome, after the first snapshot.
async fn raw_join(
    addr: std::net::SocketAddr,
    name: &str,
) -> (
    fastwebsockets::WebSocket<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>,
    protocol::Welcome,
) {
    let mut ws = raw_ws(addr, None).await.unwrap();
    ws.write_frame(binary(hello_bytes(hello("arena", name))))
        .await
        .unwrap();
    let mut welcome = None;
    bounded("welcome and a snapshot", async {
        loop {
            let f = ws.read_frame().await.unwrap();
            if f.opcode != OpCode::Binary {
                continue;
            }
            match codec::decode_server(&f.payload).unwrap() {
                ServerMsg::Welcome(w) => welcome = Some(w),
                ServerMsg::Snapshot(_) if welcome.is_some() => return,
                _ => {}
            }
        }
    })
    .await;
    (ws, *welcome.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_resumes_its_player_within_the_grace() {
    let server = start_server(|c| {
        c.npcs = 50;
        c.resume_grace = Duration::from_secs(10);
    })
    .await;
    let addr = server.local_addr();
    let (mut watcher, _) = connect(addr, "arena", "watcher").await;
    let (ws, welcome) = raw_join(addr, "ann").await;
    drop(ws); // the TCP connection just ends: no close frame

    let o = resuming(addr, "ann", welcome.resume_token.clone());
    let (mut back, again) = Client::connect(o).await.expect("resumes");
    assert_eq!(again.player, welcome.player, "the same entity comes back");
    assert_eq!(
        again.resume_token, welcome.resume_token,
        "the player keeps its token (a checkpoint taken before the resume holds it)"
    );
    let mut first = None;
    recv_until(&mut back, "first snapshot", |_, m| {
        if let Received::Snapshot { baseline, .. } = m {
            first = Some(*baseline);
            return true;
        }
        false
    })
    .await;
    assert_eq!(first, Some(None), "a resumed client gets a full snapshot");
    // The watcher saw no leave, and the player still moves under the new connection.
    let n = snapshots_during(&mut back, Duration::from_millis(500), Some((1.0, 0.0))).await;
    assert!(n > 10);
    let end = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(m) = tokio::time::timeout_at(end, watcher.recv()).await {
        let left = matches!(m, Ok(Received::Event(Event::PlayerLeft { entity })) if entity == welcome.player);
        assert!(!left, "a resumed player never left");
    }
    let seen = watcher
        .latest()
        .map(|(_, t)| t.get(welcome.player).is_some());
    assert_eq!(seen, Some(true));
    // An old token is spent.
    let o = resuming(addr, "ann", welcome.resume_token);
    assert_eq!(
        refused_with(o).await,
        Some(codes::BAD_RESUME),
        "a spent token is refused"
    );
    back.close().await;
    watcher.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_before_the_old_connection_dropped_takes_the_player_over() {
    let server = start_server(|c| {
        c.npcs = 10;
        c.resume_takeover_after = Duration::from_millis(300);
    })
    .await;
    let addr = server.local_addr();
    let (mut watcher, _) = connect(addr, "arena", "watcher").await;
    // The old connection is still up as far as the server can tell (a phone that changed
    // networks leaves such a socket behind), and its client resumes on a new one.
    let (mut old, welcome) = connect(addr, "arena", "ann").await;
    // While the old connection is heard from (it acks), a resume is refused: whoever else
    // holds the token cannot kick a live player.
    recv_until(&mut old, "a snapshot acked", |_, m| {
        matches!(m, Received::Snapshot { .. })
    })
    .await;
    let o = resuming(addr, "ann", welcome.resume_token.clone());
    assert_eq!(
        refused_with(o).await,
        Some(codes::BAD_RESUME),
        "a live player stays"
    );
    // Once it has gone silent (this client no longer reads, so no longer acks), it is.
    let (mut new, again) = bounded("taken over", async {
        loop {
            let o = resuming(addr, "ann", welcome.resume_token.clone());
            if let Ok(taken) = Client::connect(o).await {
                return taken;
            }
            // Polled, like `poll_until`: the silence is the server's to judge.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(again.player, welcome.player, "the same entity");
    assert_eq!(
        again.resume_token, welcome.resume_token,
        "and the same token"
    );
    let ended = bounded("the old connection closes", async {
        loop {
            if let Err(e) = old.recv().await {
                return e;
            }
        }
    })
    .await;
    assert_eq!(ended.close_code(), Some(codes::REPLACED), "{ended}");
    // The new connection plays the player; no one saw it leave.
    let n = snapshots_during(&mut new, Duration::from_millis(500), Some((1.0, 0.0))).await;
    assert!(n > 10);
    let end = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(m) = tokio::time::timeout_at(end, watcher.recv()).await {
        let left = matches!(m, Ok(Received::Event(Event::PlayerLeft { entity })) if entity == welcome.player);
        assert!(!left, "a player taken over never left");
    }
    new.close().await;
    watcher.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_the_dropped_player_leaves() {
    let server = start_server(|c| {
        c.npcs = 10;
        c.resume_grace = Duration::from_millis(300);
    })
    .await;
    let addr = server.local_addr();
    let (mut watcher, _) = connect(addr, "arena", "watcher").await;
    let (ws, welcome) = raw_join(addr, "ann").await;
    drop(ws);
    let gone = welcome.player;
    recv_until(
        &mut watcher,
        "PlayerLeft after the grace",
        |_, m| matches!(m, Received::Event(Event::PlayerLeft { entity }) if *entity == gone),
    )
    .await;
    recv_until(&mut watcher, "despawned", |c, _| {
        c.latest().is_some_and(|(_, t)| t.get(gone).is_none())
    })
    .await;
    let o = resuming(addr, "ann", welcome.resume_token);
    assert_eq!(
        refused_with(o).await,
        Some(codes::BAD_RESUME),
        "too late to resume"
    );
    watcher.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_client_with_going_away_and_exits() {
    let mut server = ServerProcess::start(&["--npcs", "100", "--shutdown-timeout", "3s"]).await;
    let mut bots = Vec::new();
    for i in 0..5 {
        let (mut c, _) = connect(
            server.addr,
            if i % 2 == 0 { "arena" } else { "lobby" },
            &format!("b{i}"),
        )
        .await;
        recv_tick(&mut c, 1).await;
        bots.push(c);
    }
    server.signal("-TERM");
    for mut c in bots {
        let err = ended(&mut c, "close on shutdown").await;
        assert_eq!(err.close_code(), Some(codes::GOING_AWAY), "{err:?}");
    }
    let status = tokio::time::timeout(Duration::from_secs(5), server.child.wait())
        .await
        .expect("exits within the shutdown bound")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// A tiny game whose logic panics on the input `boom`, declared with the derives like any game.
mod fragile {
    use protocol::declare::NoMessages;
    use server::game::{Ctx, EntityKey, Game};
    use ticksync_derive::{Fields, Replicate};

    pub const NAME: &str = "fragile";

    #[derive(Replicate, Clone, Debug)]
    #[replicate(name = "dot")]
    pub struct Dot {
        #[field(fixed(scale = 16, min = 0, max = 100), interp = linear)]
        pub x: f32,
    }

    #[derive(Fields, Clone, Copy, Debug, Default)]
    pub struct Poke {
        #[field(fixed(scale = 127, min = -1, max = 1))]
        pub move_x: f32,
        pub boom: bool,
    }

    pub struct Fragile;

    impl Fragile {
        /// A room's game, with `dots` dots in its world.
        pub fn new(ctx: &mut Ctx<'_, Fragile>, dots: usize) -> Fragile {
            for i in 0..dots {
                ctx.world.insert(Dot { x: i as f32 });
            }
            Fragile
        }
    }

    impl Game for Fragile {
        type Entity = Dot;
        type Room = ();
        type Input = Poke;
        type Action = NoMessages;
        type Event = NoMessages;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
            ctx.world.insert(Dot { x: 50.0 })
        }

        fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Poke) {
            assert!(!input.boom, "game logic bug triggered on purpose");
            if let Some(d) = ctx.world.get_mut(player) {
                d.x = (d.x + input.move_x).clamp(0.0, 100.0);
            }
        }

        fn step(&mut self, _ctx: &mut Ctx<'_, Self>, _dt: f32) {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_closes_only_its_own_clients() {
    let server = start_server_with(
        |c| c.game = Some(fragile::NAME.into()),
        |_| {
            let mut games = server::Games::default();
            games.register(fragile::NAME, |ctx| fragile::Fragile::new(ctx, 20));
            games
        },
    )
    .await;
    let addr = server.local_addr();
    let (mut calm, w) = connect(addr, "calm", "calm").await;
    assert_eq!(w.game, fragile::NAME);
    let (mut doomed, _) = connect(addr, "boom", "doomed").await;
    let (mut neighbour, _) = connect(addr, "boom", "neighbour").await;
    recv_tick(&mut doomed, 1).await;
    // A valid input (the server checks it against the declaration), that the game chokes on.
    doomed
        .send_input(&[Value::Num(0.0), Value::Int(1)])
        .unwrap();
    for c in [&mut doomed, &mut neighbour] {
        let err = ended(c, "room failure close").await;
        assert_eq!(err.close_code(), Some(codes::SERVER_ERROR), "{err:?}");
    }
    assert!(
        server.rooms().get("boom").is_none(),
        "the failed room is gone"
    );
    let n = snapshots_during(&mut calm, Duration::from_millis(500), None).await;
    assert!(n >= 20, "the other room plays on ({n} snapshots in 0.5 s)");
    // The room name can be used again.
    let (again, _) = connect(addr, "boom", "again").await;
    again.close().await;
    calm.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_room_and_player_limits() {
    let server = start_server(|c| {
        c.npcs = 10;
        c.max_connections_per_ip = 3;
        c.limit_loopback = true;
        c.max_players_per_room = 2;
        c.max_rooms = 1;
    })
    .await;
    let addr = server.local_addr();
    let (a, _) = connect(addr, "arena", "a").await;
    let (b, _) = connect(addr, "arena", "b").await;
    let opts = |room: &str, name: &str| ConnectOptions::new(&ws_url(addr), room, name);
    assert_eq!(
        refused_with(opts("arena", "c")).await,
        Some(codes::ROOM_FULL)
    );
    // Its socket may still count against the per-IP limit (3): the next would be refused at
    // the upgrade, before any room is asked.
    poll_until(
        "the refused connection closed",
        Duration::from_millis(20),
        || async { server.connections() == 2 },
    )
    .await;
    assert_eq!(
        refused_with(opts("other", "d")).await,
        Some(codes::SERVER_FULL)
    );
    // Two open (once the refused ones have finished closing), a third is allowed, the fourth
    // from this IP is refused at the upgrade.
    poll_until(
        "refused connections closed",
        Duration::from_millis(20),
        || async { server.connections() == 2 },
    )
    .await;
    let third = raw_upgrade(addr, None, None)
        .await
        .expect("third connection");
    assert_eq!(raw_upgrade(addr, None, None).await.err(), Some(503));
    drop(third);
    a.close().await;
    b.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_silent_is_timed_out() {
    let server = start_server(|c| {
        c.npcs = 10;
        c.ping_interval = Duration::from_millis(200);
        c.idle_timeout = Duration::from_millis(800);
    })
    .await;
    let addr = server.local_addr();
    // Joins, then reads everything but never sends a byte (not even a pong).
    let mut s = raw_upgrade(addr, None, None).await.unwrap();
    use tokio::io::AsyncWriteExt;
    s.write_all(&client_frame(
        true,
        0x2,
        &hello_bytes(hello("arena", "mute")),
    ))
    .await
    .unwrap();
    assert_eq!(raw_close_code(&mut s).await, codes::TIMEOUT);
    // A client timed out for silence keeps its player for the resume grace.
    let (ws, welcome) = raw_join(addr, "sleeper").await; // then reads (and pongs) no more
    poll_until("sleeper timed out", Duration::from_millis(50), || async {
        let room = server.inspect("arena").await.unwrap();
        room.clients.iter().all(|c| c.name != "sleeper")
    })
    .await;
    drop(ws);
    let o = resuming(addr, "sleeper", welcome.resume_token);
    let (back, again) = Client::connect(o)
        .await
        .expect("a timed-out player resumes");
    assert_eq!(again.player, welcome.player);
    back.close().await;
    // A client that answers pings (auto-pong) but is otherwise idle stays. It never acks, so
    // after its first snapshot it gets one per `--stalled-rate` interval (2 a second).
    let mut o = ConnectOptions::new(&ws_url(addr), "arena", "quiet");
    o.auto_ack = false;
    let (mut quiet, _) = Client::connect(o).await.unwrap();
    let n = snapshots_during(&mut quiet, Duration::from_millis(1500), None).await;
    assert!(n > 1, "the idle but live client kept receiving ({n})");
    assert!(n <= 5, "an unacking client is paced ({n} in 1.5 s)");
    quiet.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_handshakes_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_server(|c| {
        c.npcs = 0;
        c.max_handshaking = 5;
        c.handshake_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap(); // and never finishes
        idle.push(s);
    }
    // The server holds five; the sixth is closed on accept, long before any timeout.
    // (If an idle socket was not accepted yet when the probe arrived, it is answered: retry.)
    poll_until(
        "sixth socket refused",
        Duration::from_millis(20),
        || async {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let _ = s
                .write_all(
                    b"GET /healthz HTTP/1.1
Host: x

",
                )
                .await;
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
            buf.is_empty() // closed without an answer
        },
    )
    .await;
    drop(idle);
    // Until the server has seen the idle sockets close, a probe may still be refused (reset).
    poll_until(
        "served again once they are gone",
        Duration::from_millis(20),
        || async { matches!(try_http_get(addr, "/healthz").await, Ok((200, _))) },
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_server(|c| {
        c.npcs = 0;
        c.max_http_head = 8192;
    })
    .await;
    let addr = server.local_addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let _ = s.write_all(big.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = bounded("answer to a huge head", s.read_to_end(&mut buf)).await;
    let head = String::from_utf8_lossy(&buf);
    assert!(head.starts_with("HTTP/1.1 431"), "got {head:?}");
    // A normal request still works.
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    server.shutdown().await;
}

/// Sends an arena input every `1 / per_sec` seconds (on average: a late timer catches up) for
/// `d`, reading what arrives meanwhile. Returns the close code if the server closed first.
async fn send_frames(client: &mut Client, per_sec: f64, d: Duration) -> Option<u16> {
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    let end = tokio::time::Instant::now() + d;
    bounded("paced frames", async {
        loop {
            tokio::select! {
                at = every.tick() => {
                    if at >= end {
                        return None;
                    }
                    // A refused write means the connection is closing: recv reports how.
                    let _ = client.send_input(&arena_input(0.0, 0.0));
                }
                m = client.recv() => {
                    if let Err(e) = m {
                        return Some(e.close_code().unwrap_or_else(|| panic!("{e}")));
                    }
                }
            }
        }
    })
    .await
}

/// The frame rate limit follows `--tick-rate`: by default `2 x tick rate + 10` frames per
/// second, with a burst of one second of ticks, and a connection is closed (1008) once it has
/// dropped more than a second's worth within a second, i.e. when it sends more than about
/// twice the limit. So at 20 Hz (50 frames/s, burst 20) a client sending 7 x 20 = 140
/// frames/s has frames dropped and is closed, while one input per tick (20/s) never is; and
/// the same 140 frames/s at 60 Hz (130/s, burst 60) loses nothing in two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_rate_limit_scales_with_the_tick_rate() {
    const FLOOD: f64 = 7.0 * 20.0;
    let server = start_server(|c| {
        c.npcs = 10;
        c.tick_rate = 20;
    })
    .await;
    let addr = server.local_addr();
    let (mut honest, w) = connect(addr, "arena", "honest").await;
    assert_eq!(w.tick_rate, 20);
    // One input per snapshot (per tick) for two seconds: nothing dropped.
    let n = snapshots_during(&mut honest, Duration::from_secs(2), Some((0.5, 0.0))).await;
    assert!((25..=50).contains(&n), "{n} snapshots in 2 s at 20 Hz");
    let m = http_get(addr, "/metrics").await.1;
    assert_eq!(metric(&m, "ticksync_messages_rate_limited_total"), 0.0);

    // The flood, while the honest client keeps playing.
    let playing = tokio::spawn(async move {
        snapshots_during(&mut honest, Duration::from_secs(3), Some((0.0, 0.5))).await;
        honest
    });
    let (mut flooder, _) = connect(addr, "arena", "flooder").await;
    let code = send_frames(&mut flooder, FLOOD, Duration::from_secs(5)).await;
    assert_eq!(
        code,
        Some(codes::POLICY_VIOLATION),
        "{FLOOD} frames/s at 20 Hz"
    );
    let honest = playing.await.expect("the honest client stayed connected");
    let m = http_get(addr, "/metrics").await.1;
    let dropped = metric(&m, "ticksync_messages_rate_limited_total");
    // Closed at the first drop past 50 (the rate) within a second; those 50 were counted.
    assert!(dropped >= 50.0, "only {dropped} frames dropped");
    assert_eq!(
        metric_code(&m, "ticksync_closes_total", "policy_violation"),
        1.0,
        "only the flooder was closed"
    );
    honest.close().await;
    server.shutdown().await;

    // The same client behaviour at the default 60 Hz is within the limit.
    let server = start_server(|c| c.npcs = 10).await;
    let addr = server.local_addr();
    let (mut fast, w) = connect(addr, "arena", "fast").await;
    assert_eq!(w.tick_rate, 60);
    assert_eq!(
        send_frames(&mut fast, FLOOD, Duration::from_secs(2)).await,
        None
    );
    let m = http_get(addr, "/metrics").await.1;
    assert_eq!(metric(&m, "ticksync_messages_rate_limited_total"), 0.0);
    fast.close().await;
    server.shutdown().await;
}
