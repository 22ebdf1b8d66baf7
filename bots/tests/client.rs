//! The client and short load runs against a fake server that speaks the real v2 wire.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bots::bot::LiveStats;
use bots::client::read::ROOM;
use bots::client::ring::RingError;
use bots::load::{LoadConfig, run_load};
use bots::{Client, ClientError, ConnectOptions, Received};
use protocol::declare::{Fields, Writer, read};
use protocol::{EntityId, FieldDesc, Value, codes};
use support::fake_server::{self, Behaviour, FakeServer};

const LIMIT: Duration = Duration::from_secs(10);

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
    assert_eq!(welcome.game, server.behaviour.game);
    client
}

/// Receives until `n` snapshots have been applied, returning the other messages.
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

/// The client holds exactly what the server sent it at its newest tick.
fn assert_in_sync(client: &Client, server: &FakeServer) {
    let (tick, table) = client.latest().unwrap();
    assert_eq!(Some(table), server.log.lock().unwrap().worlds.get(&tick));
}

/// Waits (up to 2 s) until the server has seen `n` standalone acks and inputs in all.
async fn server_frames(server: &FakeServer, n: u32) -> (u32, u32) {
    let counts = || {
        let log = server.log.lock().unwrap();
        (log.standalone_acks, log.inputs)
    };
    for _ in 0..200 {
        let (alone, inputs) = counts();
        if alone + inputs >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    counts()
}

fn an_input() -> Vec<Value> {
    vec![
        Value::Num(1.0),
        Value::Num(-0.5),
        Value::Num(1.25),
        Value::Int(1),
        Value::Int(2),
        Value::Str("hi".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_servers_world_and_acks_it_on_inputs() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut client = connect(&server).await;
    assert_eq!(client.player(), server.behaviour.player());
    assert_eq!(client.schema(), &server.behaviour.descriptor());
    client.send_ping().unwrap();
    let mut pongs = 0;
    let mut last_seq = 0;
    for _ in 0..90 {
        last_seq = client.send_input(&an_input()).unwrap();
        let others = take_snapshots(&mut client, 1).await;
        pongs += others
            .iter()
            .filter(|m| matches!(m, Received::Pong { .. }))
            .count();
    }
    assert_in_sync(&client, &server);
    let (tick, table) = client.latest().unwrap();
    assert_eq!(client.table_at(tick), Some(table));
    // Fields by name, dequantised; the private one is the client's own.
    let me = client.player();
    // Its private field: the newest input the server had applied (the exact value is checked
    // with the whole table above).
    let secret = client.field(me, "secret").unwrap().as_f64() as u32;
    assert!((1..=last_seq).contains(&secret), "{secret}");
    let values = client.entity_values(me).unwrap();
    assert_eq!(values.len(), fake_server::unit_fields().len());
    assert_eq!(
        Some(values[fake_server::HP].clone()),
        client.field(me, "hp")
    );
    assert!(matches!(client.field(me, "pos.x"), Some(Value::Num(_))));
    assert_eq!(client.field(me, "no.such.field"), None);
    let room = client.room_values().unwrap();
    assert_eq!(room[0], Value::Int(i64::from(tick / 60)));
    assert!(matches!(&room[1], Value::Str(s) if s.is_empty() || s == "welcome"));

    let stats = client.stats();
    assert_eq!(stats.counters.snapshots, 90);
    assert_eq!(stats.counters.stale_dropped, 0);
    assert_eq!(stats.counters.checksum_mismatches, 0);
    assert_eq!(stats.counters.protocol_errors, 0);
    assert_eq!(stats.counters.inputs_sent, 90);
    // Every snapshot was followed by an input, which carried its ack.
    assert_eq!(stats.counters.acks_sent, 0);
    assert!(
        stats.input_latency_us.len() > 60,
        "{}",
        stats.input_latency_us.len()
    );
    assert_eq!(pongs, 1);
    assert_eq!(stats.rtt_us.len(), 1);
    server_frames(&server, 90).await;
    {
        let log = server.log.lock().unwrap();
        // After the first (full) snapshot, deltas are against acked ticks, most with a second
        // baseline for the linear predictor.
        assert_eq!(log.baselines_used[0], None);
        assert!(log.baselines_used[10..].iter().all(Option::is_some));
        assert!(log.second_baselines_used[10..].iter().all(Option::is_some));
        assert_eq!(log.origins, vec![Some(format!("http://{}", server.addr))]);
        assert_eq!(log.hellos[0].version, protocol::PROTOCOL_VERSION);
        assert_eq!(log.hellos[0].game, None);
        // Acks rode on the inputs: one frame per tick, nothing alone.
        assert_eq!(
            (log.inputs, log.standalone_acks, log.bad_inputs),
            (90, 0, 0)
        );
        assert!(log.acks_in_inputs >= 89, "{}", log.acks_in_inputs);
        let frames: u32 = log.frames_per_tick.iter().sum();
        assert!(
            frames as usize <= log.frames_per_tick.len() + 1,
            "{frames} frames in {} ticks",
            log.frames_per_tick.len()
        );
        for (got, want) in log.last_input.iter().zip(&an_input()) {
            match (got, want) {
                (Value::Num(g), Value::Num(w)) => {
                    let d = (g - w).rem_euclid(std::f64::consts::TAU);
                    assert!(d.min(std::f64::consts::TAU - d) < 1e-3, "{g} {w}");
                }
                (g, w) => assert_eq!(g, w),
            }
        }
    }
    client.close().await;
    assert_eq!(server.client_close_codes(1).await, vec![codes::NORMAL]);
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
    assert_in_sync(&client, &server);
    assert_eq!(client.stats().counters.protocol_errors, 0);
    // Every ping so far got its pong, payload echoed.
    let pongs = server.log.lock().unwrap().pongs.clone();
    assert!(pongs.len() >= 5, "{pongs:?}");
    assert_eq!(pongs[0], 5u32.to_be_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_go_alone_only_while_no_input_goes_out() {
    let server = FakeServer::start(Behaviour::default()).await;
    let (mut client, _) = Client::connect(ConnectOptions::new(&server.url(), "arena", "ada"))
        .await
        .unwrap();
    // Not playing: every snapshot but the first is acked alone once the frames already read
    // are handled (snapshots read together get one ack, for the newest).
    take_snapshots(&mut client, 6).await;
    let alone = client.stats().counters.acks_sent;
    assert!((1..=5).contains(&alone), "{alone} standalone acks");
    // Playing: the acks ride on the inputs.
    for _ in 0..30 {
        client
            .send_input(&[Value::Num(0.0), Value::Num(1.0)])
            .unwrap();
        take_snapshots(&mut client, 1).await;
    }
    assert_eq!(client.stats().counters.acks_sent, alone);
    assert_eq!(
        server_frames(&server, alone as u32 + 30).await,
        (alone as u32, 30)
    );
    assert_eq!(client.stats().counters.protocol_errors, 0);
    {
        let log = server.log.lock().unwrap();
        assert_eq!(log.bad_inputs, 0);
        assert!(log.baselines_used[3..].iter().all(Option::is_some));
        let newest = *log.baselines_used.iter().flatten().max().unwrap();
        assert!(newest + 3 >= client.latest().unwrap().0);
    }
    client.close().await;

    // Immediate acks: every snapshot is also acked at once, alone.
    let server = FakeServer::start(Behaviour::default()).await;
    let mut opts = ConnectOptions::new(&server.url(), "arena", "ada");
    opts.coalesce_acks = false;
    let (mut client, _) = Client::connect(opts).await.unwrap();
    for _ in 0..10 {
        client.send_input(&[]).unwrap();
        take_snapshots(&mut client, 1).await;
    }
    assert_eq!(client.stats().counters.acks_sent, 10);
    assert_eq!(server_frames(&server, 20).await, (10, 10));
    client.close().await;

    // No auto-ack: nothing acks, so the server keeps sending full snapshots.
    let server = FakeServer::start(Behaviour::default()).await;
    let mut opts = ConnectOptions::new(&server.url(), "arena", "ada");
    opts.auto_ack = false;
    let (mut client, _) = Client::connect(opts).await.unwrap();
    for _ in 0..5 {
        client.send_input(&[]).unwrap();
        take_snapshots(&mut client, 1).await;
    }
    assert_eq!(server_frames(&server, 5).await, (0, 5));
    let log = server.log.lock().unwrap();
    assert_eq!(log.acks_in_inputs, 0);
    assert!(log.baselines_used.iter().all(Option::is_none));
}

/// `unit` as a client built before the server appended `shield` declares it.
#[derive(Clone, Debug, PartialEq)]
struct Unit {
    pos: (f64, f64),
    vel: (f64, f64),
    heading: f64,
    hp: i64,
    secret: i64,
}

impl Fields for Unit {
    fn fields() -> Vec<FieldDesc> {
        fake_server::unit_fields()
    }
    fn write(&self, out: &mut Writer) {
        out.num(self.pos.0);
        out.num(self.pos.1);
        out.num(self.vel.0);
        out.num(self.vel.1);
        out.num(self.heading);
        out.int(self.hp);
        out.int(self.secret);
    }
    fn read(values: &[Value]) -> Self {
        Unit {
            pos: (read::num(values, 0), read::num(values, 1)),
            vel: (read::num(values, 2), read::num(values, 3)),
            heading: read::num(values, 4),
            hp: read::int(values, 5),
            secret: read::int(values, 6),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_typed_client_reads_a_server_that_appended_a_field() {
    let server = FakeServer::start(Behaviour {
        extra_field: true,
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    let unit = &client.schema().types[usize::from(fake_server::UNIT)];
    assert_eq!(unit.fields.len(), Unit::fields().len() + 1);
    let names = |fields: &[FieldDesc]| fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&unit.fields[..7]), names(&Unit::fields()));
    for _ in 0..40 {
        client.send_input(&an_input()).unwrap();
        take_snapshots(&mut client, 1).await;
    }
    // Every checksum (over all fields, the new one included) matched.
    assert_eq!(client.stats().counters.protocol_errors, 0);
    assert_in_sync(&client, &server);
    let (tick, table) = client.latest().unwrap();
    let world = server.log.lock().unwrap().worlds[&tick].clone();
    let npc = EntityId {
        index: 7,
        version: 1,
    };
    let unit: Unit = client.entity_as(npc).unwrap();
    let cells = world.get(npc).unwrap().values;
    let want = Unit {
        pos: (f64::from(cells[0]) / 16.0, f64::from(cells[1]) / 16.0),
        vel: (f64::from(cells[2]) / 16.0, f64::from(cells[3]) / 16.0),
        heading: f64::from(cells[4]) / 4096.0 * std::f64::consts::TAU,
        hp: i64::from(cells[5]),
        // Another player's private field never reaches this client.
        secret: 0,
    };
    assert_eq!(unit, want);
    // The new field is there for whoever knows it.
    let shield = client.field(npc, "shield").unwrap();
    assert_eq!(shield, Value::Int(i64::from(cells[fake_server::SHIELD])));
    // Its own unit, private field included.
    let me: Unit = client.entity_as(client.player()).unwrap();
    assert!(me.secret > 0);
    assert_eq!(table.get(client.player()).unwrap().values.len(), 8);
    // A typed struct round-trips through the writer as the schema's first fields.
    let mut w = Writer::default();
    me.write(&mut w);
    assert_eq!(Unit::read(&w.values()), me);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_events_and_actions_are_coded_by_the_schema() {
    let server = FakeServer::start(Behaviour {
        events_every: Some(4),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    let others = take_snapshots(&mut client, 12).await;
    let hits: Vec<_> = others
        .iter()
        .filter_map(|m| match m {
            Received::GameEvent { id, name, values } => Some((*id, name.clone(), values.clone())),
            _ => None,
        })
        .collect();
    assert!(hits.len() >= 2, "{others:?}");
    assert_eq!(hits[0].0, 0);
    assert_eq!(hits[0].1, "hit");
    assert_eq!(hits[0].2[1], Value::Num(12.5));
    assert_eq!(client.stats().counters.game_events, hits.len() as u64);

    client
        .send_action(0, &[Value::Str("hello there".into())])
        .unwrap();
    client.send_action(1, &[]).unwrap();
    assert_eq!(
        client.send_action(2, &[]),
        Err(ClientError::UnknownAction(2))
    );
    let mut actions = Vec::new();
    for _ in 0..100 {
        take_snapshots(&mut client, 1).await;
        actions = server.log.lock().unwrap().actions.clone();
        if actions.len() >= 2 {
            break;
        }
    }
    assert_eq!(
        actions,
        vec![(0, vec![Value::Str("hello there".into())]), (1, vec![])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_game_event_is_a_protocol_error() {
    let server = FakeServer::start(Behaviour {
        bad_event_at: Some(5),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    let err = next_error(&mut client).await;
    assert!(
        matches!(&err, ClientError::Protocol(what) if what.contains("game event 99")),
        "{err}"
    );
    assert_eq!(client.stats().counters.protocol_errors, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_snapshots_mid_stream_reset_the_baselines() {
    let server = FakeServer::start(Behaviour {
        full_every: Some(10),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    for _ in 0..35 {
        client.send_input(&[]).unwrap();
        take_snapshots(&mut client, 1).await;
    }
    assert_in_sync(&client, &server);
    assert_eq!(client.stats().counters.protocol_errors, 0);
    let log = server.log.lock().unwrap();
    let fulls = log.baselines_used.iter().filter(|b| b.is_none()).count();
    assert!(fulls >= 4, "{:?}", log.baselines_used);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_the_client_never_had_is_a_protocol_error() {
    let server = FakeServer::start(Behaviour {
        bogus_baseline_at: Some(20),
        ..Behaviour::default()
    })
    .await;
    let mut client = connect(&server).await;
    let err = next_error(&mut client).await;
    let want = RingError::UnknownBaseline {
        tick: 20,
        baseline: 0,
    };
    assert_eq!(err, ClientError::Protocol(want.to_string()));
    assert!(client.table_at(20).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_game_asked_for_must_be_the_rooms() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut opts = ConnectOptions::new(&server.url(), "arena", "ada");
    opts.game = Some("testgame".into());
    let (client, welcome) = Client::connect(opts.clone()).await.unwrap();
    assert_eq!(welcome.game, "testgame");
    client.close().await;
    opts.game = Some("chess".into());
    let err = Client::connect(opts).await.err().unwrap();
    assert!(
        matches!(
            err,
            ClientError::Rejected {
                code: codes::WRONG_GAME,
                ..
            }
        ),
        "{err}"
    );
    let log = server.log.lock().unwrap();
    assert_eq!(log.hellos[0].game.as_deref(), Some("testgame"));
    assert_eq!(log.hellos[1].game.as_deref(), Some("chess"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welcome_whose_schema_does_not_match_its_hash_is_refused() {
    let server = FakeServer::start(Behaviour {
        bad_schema_hash: true,
        ..Behaviour::default()
    })
    .await;
    let err = Client::connect(ConnectOptions::new(&server.url(), "arena", "ada"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ClientError::Protocol(what) if what.contains("hashes")),
        "{err}"
    );
    assert!(err.is_protocol_violation());
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
    assert_eq!(server.client_close_codes(1).await, vec![codes::ROOM_FULL]);
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
    assert_in_sync(&client, &server);
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
    assert_eq!(server.client_close_codes(1).await, vec![codes::TOO_SLOW]);
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

/// A short load run against a fake playing `game`; returns the server.
async fn load_run(game: &str) -> FakeServer {
    let server = FakeServer::start(Behaviour {
        game: game.to_owned(),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = LoadConfig::new(&server.url(), "arena", 5, Duration::from_secs(2));
    cfg.ramp = Duration::from_millis(500);
    // Arena's bots walk (arena registers the random walk); other games get random inputs.
    cfg.behaviours
        .register("arena", bots::behaviour::RandomWalk::new);
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
    {
        let log = server.log.lock().unwrap();
        assert!(log.inputs > 5 * 60, "{}", log.inputs);
        // Every input the bots' behaviour made is valid for the game's schema.
        assert_eq!(log.bad_inputs, 0);
        // Playing bots ack on their inputs: about one frame per tick. An ack goes alone only
        // for a snapshot with no input since the one before (a bot whose timer was late:
        // rare on an idle machine, more often on a loaded one).
        let (ticks, frames) = (
            log.frames_per_tick.len() as u32,
            log.frames_per_tick.iter().sum::<u32>(),
        );
        let counts = format!(
            "{frames} frames in {ticks} ticks: {} inputs ({} with acks), {} acks alone",
            log.inputs, log.acks_in_inputs, log.standalone_acks
        );
        assert!(frames <= ticks + ticks / 5, "{counts}");
        assert!(log.standalone_acks * 4 <= log.acks_in_inputs, "{counts}");
        // Only the inputs before a bot's first snapshot carry none.
        assert!(log.acks_in_inputs + 10 >= log.inputs, "{counts}");
        assert!(report.acks_sent as u32 <= log.standalone_acks);
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_run_reports_what_it_saw() {
    let server = load_run("testgame").await;
    // Random inputs: held about a second, so some but not all inputs change the values.
    let log = server.log.lock().unwrap();
    assert_eq!(log.last_input.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arena_bots_walk() {
    let server = load_run("arena").await;
    let log = server.log.lock().unwrap();
    let (x, y) = (log.last_input[0].as_f64(), log.last_input[1].as_f64());
    let len = (x * x + y * y).sqrt();
    // A unit heading (quantised to hundredths), or standing still.
    assert!(len < 1e-9 || (0.97..=1.03).contains(&len), "{x} {y}");
    // The other inputs keep their defaults.
    assert_eq!(log.last_input[3], Value::Int(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_resumes_its_player_after_a_server_close() {
    let server = FakeServer::start(Behaviour {
        close_at: Some((20, codes::GOING_AWAY)),
        ..Behaviour::default()
    })
    .await;
    let cfg = LoadConfig::new(&server.url(), "arena", 1, Duration::from_millis(1500));
    let report = run_load(&cfg, Arc::new(LiveStats::default()), std::future::pending()).await;
    assert!(report.reconnects >= 1, "{}", report.to_human());
    assert_eq!(report.protocol_errors, 0);
    let log = server.log.lock().unwrap();
    assert!(log.hellos.len() >= 2);
    assert_eq!(log.hellos[0].resume_token, None);
    // Each join presents the token of the connection before it.
    for (i, hello) in log.hellos.iter().enumerate().skip(1) {
        assert_eq!(hello.resume_token, Some(format!("resume-{i}")));
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_counts_game_events_by_name() {
    let server = FakeServer::start(Behaviour {
        events_every: Some(5),
        ..Behaviour::default()
    })
    .await;
    let cfg = LoadConfig::new(&server.url(), "arena", 3, Duration::from_millis(1000));
    let report = run_load(&cfg, Arc::new(LiveStats::default()), std::future::pending()).await;
    assert!(report.passed, "{}", report.to_human());
    // Only `hit` is sent; an event still in flight when a bot closes is not received.
    let hits = report.game_events.get("hit").copied().unwrap_or(0);
    let sent = u64::from(server.log.lock().unwrap().game_events_sent);
    assert!(hits > 0 && hits <= sent, "{hits} of {sent} received");
    assert_eq!(report.game_events.len(), 1, "{:?}", report.game_events);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["game_events"]["hit"], hits);
    assert!(report.to_human().contains(&format!("hit {hits}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_counts_undeclared_game_events_apart() {
    let server = FakeServer::start(Behaviour {
        bad_event_at: Some(5),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = LoadConfig::new(&server.url(), "arena", 2, Duration::from_millis(500));
    cfg.reconnect = false;
    let report = run_load(&cfg, Arc::new(LiveStats::default()), std::future::pending()).await;
    // Each bot got one event 99 (not in the schema): a protocol error that ends its connection.
    assert_eq!(report.protocol_errors, 2, "{}", report.to_human());
    assert!(!report.passed);
    let counts: Vec<_> = report.game_events.iter().collect();
    assert_eq!(counts, [(&"(unknown)".to_owned(), &2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_state_reads_by_its_fixed_id() {
    let server = FakeServer::start(Behaviour::default()).await;
    let mut client = connect(&server).await;
    take_snapshots(&mut client, 3).await;
    assert_eq!(client.field(ROOM, "round"), Some(Value::Int(0)));
}
