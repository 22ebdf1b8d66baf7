//! Hostile clients. Each attack runs against the real server binary (or, for a game only a
//! library user can register, a server in this process) while 20 honest bots play in
//! `arena`; at the end the honest bots must have kept at least 90% of their snapshot rate with
//! no checksum mismatch, the server's connection count must be back to the honest bots only,
//! and its RSS within `RSS_BOUND_KIB` of what it was before the attack. Attacks run one at a
//! time (they share the machine's two cores).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bots::{Client, ClientError, ConnectOptions, Received};
use protocol::{Action, ClientMsg, Input, ServerMsg, Value, codec, codes};
use support::process::{ServerProcess, metric, metric_code};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const HONEST: usize = 20;
const SECRET: &str = "hostile-suite-secret";
/// The server's RSS after an attack may exceed its RSS before by at most this much.
const RSS_BOUND_KIB: u64 = 24 * 1024;
/// Short timeouts so the attacks end quickly.
const SERVER_ARGS: &[&str] = &[
    "--join-secret",
    SECRET,
    "--handshake-timeout",
    "2s",
    "--idle-timeout",
    "3s",
    "--ping-interval",
    "1s",
    "--write-timeout",
    "2s",
    "--resume-grace",
    "2s",
];

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn token(room: &str, name: &str, ttl_secs: i64) -> String {
    let expires = (protocol::join_token::now_unix() as i64 + ttl_secs).max(0) as u64;
    protocol::join_token::mint(SECRET.as_bytes(), room, name, expires)
}

fn opts(addr: SocketAddr, name: &str) -> ConnectOptions {
    room_opts(addr, "arena", name, None)
}

/// Options to join `room` as `name` (with a valid join token), asking for `game`.
fn room_opts(addr: SocketAddr, room: &str, name: &str, game: Option<&str>) -> ConnectOptions {
    let mut o = game_opts(addr, room, name, game);
    o.auth_token = Some(token(room, name, 3600));
    o
}

/// The binary's `SERVER_ARGS`, for a server in this process.
fn hostile_config(c: &mut server::Config) {
    c.join_secret = Some(SECRET.into());
    c.handshake_timeout = Duration::from_secs(2);
    c.idle_timeout = Duration::from_secs(3);
    c.ping_interval = Duration::from_secs(1);
    c.write_timeout = Duration::from_secs(2);
    c.resume_grace = Duration::from_secs(2);
}

/// Bots that play fairly in the background and count what they receive.
struct Honest {
    stop: watch::Sender<bool>,
    snapshots: Arc<Vec<AtomicU64>>,
    mismatches: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    resume_tokens: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Honest {
    async fn start(addr: SocketAddr) -> Honest {
        let (stop, stop_rx) = watch::channel(false);
        let snapshots: Arc<Vec<AtomicU64>> =
            Arc::new((0..HONEST).map(|_| AtomicU64::new(0)).collect());
        let mismatches = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let mut resume_tokens = Vec::new();
        for i in 0..HONEST {
            let (mut c, welcome) = Client::connect(opts(addr, &format!("honest{i}")))
                .await
                .expect("honest bot joins");
            resume_tokens.push(welcome.resume_token);
            let (snapshots, mismatches, errors) =
                (snapshots.clone(), mismatches.clone(), errors.clone());
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        m = c.recv() => match m {
                            Ok(Received::Snapshot { .. }) => {
                                snapshots[i].fetch_add(1, Ordering::Relaxed);
                                let t = snapshots[i].load(Ordering::Relaxed) as f32 * 0.05 + i as f32;
                                let _ = c.send_input(&arena_input(f64::from(t.cos()), f64::from(t.sin())));
                            }
                            Ok(_) => {}
                            Err(e) => {
                                if matches!(e, ClientError::ChecksumMismatch { .. }) {
                                    mismatches.fetch_add(1, Ordering::Relaxed);
                                }
                                errors.lock().unwrap().push(format!("honest{i}: {e}"));
                                return;
                            }
                        },
                    }
                }
                c.close().await;
            }));
        }
        let honest = Honest {
            stop,
            snapshots,
            mismatches,
            errors,
            resume_tokens,
            tasks,
        };
        // Everyone is receiving before the measurement starts.
        poll_until("honest bots receive", Duration::from_millis(20), || async {
            honest.counts().iter().all(|&n| n >= 30)
        })
        .await;
        honest
    }

    fn counts(&self) -> Vec<u64> {
        self.snapshots
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect()
    }

    /// The slowest bot's snapshot rate over `d`.
    async fn min_rate_over(&self, d: Duration) -> f64 {
        let before = self.counts();
        let t0 = Instant::now();
        tokio::time::sleep(d).await; // the measurement window itself
        self.min_rate_since(&before, t0)
    }

    fn min_rate_since(&self, before: &[u64], t0: Instant) -> f64 {
        let secs = t0.elapsed().as_secs_f64();
        self.counts()
            .iter()
            .zip(before)
            .map(|(a, b)| (a - b) as f64 / secs)
            .fold(f64::INFINITY, f64::min)
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn metrics(addr: SocketAddr) -> String {
    http_get(addr, "/metrics").await.1
}

/// The server under attack.
enum Target {
    /// The real binary (reference games only).
    Process(ServerProcess),
    /// A server in this test's process, for games registered through the library.
    InProcess(server::Server),
}

impl Target {
    fn addr(&self) -> SocketAddr {
        match self {
            Target::Process(p) => p.addr,
            Target::InProcess(s) => s.local_addr(),
        }
    }

    /// Resident set size in KiB: the server's, or this whole process's when it is in here.
    fn rss_kib(&self) -> u64 {
        match self {
            Target::Process(p) => p.rss_kib(),
            Target::InProcess(_) => {
                let status = std::fs::read_to_string("/proc/self/status").unwrap();
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                    .expect("VmRSS in /proc/self/status")
            }
        }
    }

    async fn stop(self) {
        match self {
            Target::Process(p) => drop(p), // killed on drop
            Target::InProcess(s) => s.shutdown().await,
        }
    }
}

/// Runs `attack` against a fresh server binary while the honest bots play, then checks the bar.
async fn under_attack<F, Fut>(name: &str, attack: F)
where
    F: FnOnce(SocketAddr, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _serial = SERIAL.lock().await;
    let target = Target::Process(ServerProcess::start(SERVER_ARGS).await);
    attack_target(name, target, attack).await;
}

/// `under_attack` on a server in this process hosting the reference games (arena by default)
/// and the games `add` registers.
async fn under_attack_in_process<F, Fut>(
    name: &str,
    add: impl FnOnce(&mut server::Games),
    attack: F,
) where
    F: FnOnce(SocketAddr, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _serial = SERIAL.lock().await;
    let server = start_server_with(hostile_config, |_| {
        let mut games = support::reference_games();
        add(&mut games);
        games
    })
    .await;
    attack_target(name, Target::InProcess(server), attack).await;
}

async fn attack_target<F, Fut>(name: &str, server: Target, attack: F)
where
    F: FnOnce(SocketAddr, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let addr = server.addr();
    let honest = Honest::start(addr).await;
    let baseline = honest.min_rate_over(Duration::from_secs(1)).await;
    let rss_before = server.rss_kib();

    let before = honest.counts();
    let t0 = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(30),
        attack(addr, honest.resume_tokens.clone()),
    )
    .await
    .unwrap_or_else(|_| panic!("{name}: the attack did not finish in 30 s"));
    // Measure over at least two seconds, so a short attack is not judged on a blip.
    if let Some(rest) = Duration::from_secs(2).checked_sub(t0.elapsed()) {
        tokio::time::sleep(rest).await; // completes the measurement window
    }
    let during = honest.min_rate_since(&before, t0);

    // Only the honest bots stay connected.
    poll_until(
        "connections return to the honest bots",
        Duration::from_millis(100),
        || async {
            let m = metrics(addr).await;
            let ws = metric(&m, "ticksync_connections_open");
            ws == HONEST as f64 && metric(&m, "ticksync_http_sockets_open") <= 1.0
        },
    )
    .await;
    let rss_after = server.rss_kib();
    let errors = honest.errors.lock().unwrap().clone();
    let mismatches = honest.mismatches.load(Ordering::Relaxed);
    honest.stop().await;
    server.stop().await;

    eprintln!(
        "{name}: honest min rate {baseline:.1}/s before, {during:.1}/s during; RSS {rss_before} -> {rss_after} KiB"
    );
    assert!(errors.is_empty(), "{name}: honest bots failed: {errors:?}");
    assert_eq!(mismatches, 0, "{name}: checksum mismatches");
    assert!(
        during >= 0.9 * baseline,
        "{name}: honest rate fell from {baseline:.1}/s to {during:.1}/s"
    );
    assert!(
        rss_after <= rss_before + RSS_BOUND_KIB,
        "{name}: RSS grew from {rss_before} to {rss_after} KiB"
    );
}

/// A `Hello` for `arena` as `name` with these tokens, encoded.
fn arena_hello(name: &str, auth: Option<String>, resume: Option<String>) -> Vec<u8> {
    hello_bytes(protocol::Hello {
        auth_token: auth,
        resume_token: resume,
        ..hello("arena", name)
    })
}

/// A raw socket that has joined `arena` (Hello sent with a valid token).
async fn joined_raw(
    addr: SocketAddr,
    name: &str,
    recv_buffer: Option<u32>,
) -> tokio::net::TcpStream {
    let mut s = raw_upgrade(addr, None, recv_buffer).await.expect("upgrade");
    let hello = arena_hello(name, Some(token("arena", name, 600)), None);
    s.write_all(&client_frame(true, 0x2, &hello)).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_upgrade() {
    under_attack("garbage", |addr, _| async move {
        for i in 0..50u8 {
            let mut s = raw_upgrade(addr, None, None).await.unwrap();
            if i % 2 == 0 {
                // Not even a WebSocket frame: reserved bits set.
                s.write_all(&[0xff, 0xff, 0x00, 0x13, 0x37, 0x42])
                    .await
                    .unwrap();
                assert_eq!(raw_close_code(&mut s).await, codes::PROTOCOL_ERROR);
            } else {
                // A frame, but not a protocol message.
                s.write_all(&client_frame(true, 0x2, &[0xde, 0xad, 0xbe, 0xef, i]))
                    .await
                    .unwrap();
                assert_eq!(raw_close_code(&mut s).await, codes::BAD_HELLO);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_frames() {
    under_attack("text frames", |addr, _| async move {
        for _ in 0..30 {
            let mut s = joined_raw(addr, "texter", None).await;
            s.write_all(&client_frame(true, 0x1, b"{\"hello\": true}"))
                .await
                .unwrap();
            assert_eq!(raw_close_code(&mut s).await, codes::UNSUPPORTED_DATA);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_header_claiming_2_pow_62_bytes() {
    under_attack("huge frame header", |addr, _| async move {
        for _ in 0..30 {
            let mut s = raw_upgrade(addr, None, None).await.unwrap();
            let mut header = vec![0x82, 0x80 | 127];
            header.extend_from_slice(&(1u64 << 62).to_be_bytes());
            header.extend_from_slice(&[1, 2, 3, 4]);
            header.extend_from_slice(&[0u8; 64]);
            s.write_all(&header).await.unwrap();
            assert_eq!(raw_close_code(&mut s).await, codes::TOO_BIG);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_message_that_never_ends() {
    under_attack("endless fragments", |addr, _| async move {
        for _ in 0..20 {
            let mut s = joined_raw(addr, "fragger", None).await;
            s.write_all(&client_frame(false, 0x2, &[1; 100]))
                .await
                .unwrap();
            // Keep sending continuations; the server must close instead of collecting them.
            for _ in 0..50 {
                if s.write_all(&client_frame(false, 0x0, &[2; 100]))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            assert_eq!(raw_close_code(&mut s).await, codes::PROTOCOL_ERROR);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_flood() {
    under_attack("input flood", |addr, _| async move {
        let mut s = joined_raw(addr, "flooder", None).await;
        let mut burst = Vec::new();
        for seq in 1..=2000u32 {
            // move_x 1.0, move_y 0: a valid arena input.
            let input = ClientMsg::Input(Input {
                seq,
                ack: None,
                view: None,
                values: vec![0xfe, 0x01, 0x00],
            });
            burst.extend(client_frame(true, 0x2, &codec::encode_client(&input)));
        }
        // The writes may fail once the server has closed: that is the point.
        let _ = s.write_all(&burst).await;
        assert_eq!(raw_close_code(&mut s).await, codes::POLICY_VIOLATION);
        let m = metrics(addr).await;
        assert!(
            metric(&m, "ticksync_messages_rate_limited_total") > 0.0,
            "excess was dropped and counted"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood() {
    under_attack("ping flood", |addr, _| async move {
        let mut s = joined_raw(addr, "pinger", None).await;
        let burst: Vec<u8> = (0..2000)
            .flat_map(|_| client_frame(true, 0x9, b"ping"))
            .collect();
        let _ = s.write_all(&burst).await;
        assert_eq!(raw_close_code(&mut s).await, codes::POLICY_VIOLATION);
        // Pings count against the message rate like any other frame.
        let m = metrics(addr).await;
        assert!(metric(&m, "ticksync_messages_rate_limited_total") > 0.0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_never_finish_the_handshake() {
    under_attack("slowloris", |addr, _| async move {
        let mut socks = Vec::new();
        for i in 0..200 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            if i % 2 == 0 {
                // Half an HTTP request, never finished.
                s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: web")
                    .await
                    .unwrap();
            }
            socks.push(s);
        }
        // And upgraded sockets that never send Hello.
        let mut silent = Vec::new();
        for _ in 0..20 {
            silent.push(raw_upgrade(addr, None, None).await.unwrap());
        }
        // The server hangs up on every one of them within its handshake timeout (2 s here).
        for mut s in socks {
            let mut buf = [0u8; 256];
            let r = bounded("slowloris socket closed", async {
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
            r.await;
        }
        for mut s in silent {
            assert_eq!(raw_close_code(&mut s).await, codes::TIMEOUT);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_join_and_never_read() {
    under_attack("never read", |addr, _| async move {
        let mut socks = Vec::new();
        for i in 0..100 {
            socks.push(joined_raw(addr, &format!("deaf{i}"), Some(4096)).await);
        }
        // They never read (and send nothing more): the server must drop them, not buffer for
        // them (write timeout, idle timeout). Wait for the server side to let go.
        poll_until(
            "deaf clients dropped",
            Duration::from_millis(100),
            || async { metric(&metrics(addr).await, "ticksync_connections_open") <= HONEST as f64 },
        )
        .await;
        drop(socks);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connect_disconnect_cycles() {
    under_attack("connect/disconnect burst", |addr, _| async move {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                tokio::spawn(async move {
                    let name = format!("churn{i}");
                    match Client::connect(opts(addr, &name)).await {
                        Ok((c, _)) if i % 2 == 0 => c.close().await,
                        Ok((c, _)) => drop(c), // abrupt: no close frame
                        Err(e) => panic!("churn bot {i} could not connect: {e}"),
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_origin() {
    under_attack("wrong origin", |addr, _| async move {
        for _ in 0..50 {
            assert_eq!(
                raw_upgrade(addr, Some("https://evil.example"), None)
                    .await
                    .err(),
                Some(403)
            );
        }
        // The server's own origin is fine.
        let own = format!("http://{addr}");
        assert!(raw_upgrade(addr, Some(&own), None).await.is_ok());
    })
    .await;
}

async fn rejected_with(
    addr: SocketAddr,
    name: &str,
    auth: Option<String>,
    resume: Option<String>,
) -> (u16, String) {
    let mut ws = raw_ws(addr, None).await.unwrap();
    ws.write_frame(binary(arena_hello(name, auth, resume)))
        .await
        .unwrap();
    let (code, _, msgs) = read_until_close(&mut ws).await;
    match &msgs[..] {
        [ServerMsg::Reject { code: c, reason }] => {
            assert_eq!(*c, code, "Reject and close carry the same code");
            (code, reason.clone())
        }
        other => panic!("expected a Reject, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_expired_and_other_room_tokens() {
    under_attack("bad tokens", |addr, _| async move {
        let cases = [
            ("no token", None),
            ("garbage", Some("not-a-token".to_string())),
            (
                "forged",
                Some(format!("{}.AAAA", protocol::join_token::now_unix() + 600)),
            ),
            ("expired", Some(token("arena", "mallory", -5))),
            ("other room", Some(token("lobby", "mallory", 600))),
            ("other name", Some(token("arena", "alice", 600))),
        ];
        for (what, t) in cases {
            let (code, reason) = rejected_with(addr, "mallory", t, None).await;
            assert_eq!(code, codes::UNAUTHORIZED, "{what}: {reason}");
            eprintln!("{what}: {reason}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_with_someone_elses_token() {
    under_attack("stolen resume token", |addr, resume_tokens| async move {
        let stolen = resume_tokens[0].clone();
        // As the victim (its name) while it is connected, and under another name.
        for name in ["honest0", "mallory"] {
            let auth = Some(token("arena", name, 600));
            let (code, reason) = rejected_with(addr, name, auth, Some(stolen.clone())).await;
            assert_eq!(code, codes::BAD_RESUME, "{name}: {reason}");
        }
    })
    .await;
}

// ---- game values outside the declaration ----------------------------------------------------

/// Joins `room` (asking for `game`) with a bot, sends `msg`, and returns the code the server
/// closed with.
async fn closed_after(addr: SocketAddr, room: &str, game: Option<&str>, msg: ClientMsg) -> u16 {
    let (mut c, _) = Client::connect(room_opts(addr, room, "mallory", game))
        .await
        .expect("the attacker joins");
    c.send(msg).unwrap();
    let e = ended(&mut c, "close after an invalid message").await;
    e.close_code()
        .unwrap_or_else(|| panic!("no close code: {e}"))
}

fn input(values: &[u8]) -> ClientMsg {
    ClientMsg::Input(Input {
        seq: 1,
        ack: None,
        view: None,
        values: values.to_vec(),
    })
}

fn action(id: u16, values: &[u8]) -> ClientMsg {
    ClientMsg::Action(Action {
        id,
        values: values.to_vec(),
    })
}

/// Arena inputs (`move_x`, `move_y`: Fixed scale 127 in -127..=127, zig-zag LEB128 each) that
/// do not fit the declaration: 4009, counted as invalid inputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_outside_the_declaration() {
    under_attack("invalid inputs", |addr, _| async move {
        let cases: [(&str, &[u8]); 7] = [
            // zig-zag 1000 = 500 steps: move_x 3.94, outside -1..1 (never clamped on receipt).
            ("move_x 500 steps", &[0xe8, 0x07, 0x00]),
            ("move_y -128 steps", &[0x00, 0xff, 0x01]),
            ("one value of two", &[0xfe, 0x01]),
            ("no values", &[]),
            ("a byte after the last value", &[0x00, 0x00, 0x00]),
            ("a varint that never ends", &[0x00, 0x80]),
            ("a varint over 64 bits", &[0xff; 11]),
        ];
        let rounds = 4;
        for _ in 0..rounds {
            for (what, values) in cases {
                let code = closed_after(addr, "arena", None, input(values)).await;
                assert_eq!(code, codes::INVALID_VALUE, "{what}");
            }
        }
        let m = metrics(addr).await;
        let n = (rounds * cases.len()) as f64;
        assert_eq!(
            metric_code(&m, "ticksync_invalid_messages_total", "input"),
            n
        );
        assert_eq!(metric_code(&m, "ticksync_closes_total", "invalid_value"), n);
    })
    .await;
}

/// Actions the game did not declare (arena declares none; skirmish only `switch_team`): 4010;
/// values for a field-less action: 4009. Both counted as invalid actions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_and_malformed_actions() {
    under_attack("invalid actions", |addr, _| async move {
        // A valid action does no harm: skirmish's switch_team (warmup) changes sides.
        let (mut c, _) = Client::connect(room_opts(addr, "tanks", "switcher", Some("skirmish")))
            .await
            .unwrap();
        recv_tick(&mut c, 1).await;
        let me = c.player();
        let team = c.field(me, "team").unwrap();
        c.send_action(0, &[]).unwrap();
        recv_until(&mut c, "switched team", |c, _| {
            c.field(me, "team").is_some_and(|t| t != team)
        })
        .await;
        let rounds = 5;
        for _ in 0..rounds {
            for id in [0, 1, 7, u16::MAX] {
                let code = closed_after(addr, "arena", None, action(id, &[])).await;
                assert_eq!(code, codes::UNKNOWN_MESSAGE, "arena action {id}");
            }
            let code = closed_after(addr, "tanks", Some("skirmish"), action(1, &[])).await;
            assert_eq!(code, codes::UNKNOWN_MESSAGE, "skirmish action 1");
            let code = closed_after(addr, "tanks", Some("skirmish"), action(0, &[0])).await;
            assert_eq!(code, codes::INVALID_VALUE, "switch_team with a value");
        }
        c.close().await;
        let m = metrics(addr).await;
        assert_eq!(
            metric_code(&m, "ticksync_invalid_messages_total", "action"),
            f64::from(rounds * 6)
        );
        assert_eq!(
            metric_code(&m, "ticksync_closes_total", "unknown_message"),
            f64::from(rounds * 5)
        );
        assert_eq!(
            metric_code(&m, "ticksync_closes_total", "invalid_value"),
            f64::from(rounds)
        );
        assert_eq!(
            metric_code(&m, "ticksync_invalid_messages_total", "input"),
            0.0
        );
    })
    .await;
}

/// A game with an enum field and a short string in an action (a studio's own game).
mod signs {
    use protocol::declare::NoMessages;
    use server::game::{Ctx, EntityKey, Game};
    use ticksync_derive::{Fields, Messages, Replicate, WireEnum};

    pub const NAME: &str = "signs";

    #[derive(WireEnum, Clone, Copy, Debug, Default, PartialEq)]
    pub enum Colour {
        #[default]
        Red,
        Green,
        Blue,
    }

    /// Each player's sign.
    #[derive(Replicate, Clone, Debug)]
    #[replicate(name = "sign")]
    pub struct Sign {
        #[field(enumeration)]
        pub colour: Colour,
        #[field(string(max = 8))]
        pub text: String,
    }

    #[derive(Fields, Clone, Copy, Debug, Default)]
    pub struct Idle {
        pub wave: bool,
    }

    #[derive(Messages, Clone, Debug)]
    pub enum Action {
        Paint {
            #[field(enumeration)]
            colour: Colour,
            #[field(string(max = 8))]
            text: String,
        },
    }

    pub struct Signs;

    impl Game for Signs {
        type Entity = Sign;
        type Room = ();
        type Input = Idle;
        type Action = Action;
        type Event = NoMessages;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
            ctx.world.insert(Sign {
                colour: Colour::Red,
                text: String::new(),
            })
        }

        fn input(&mut self, _ctx: &mut Ctx<'_, Self>, _player: EntityKey, _input: Idle) {}

        fn action(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, action: Action) {
            let Action::Paint { colour, text } = action;
            assert!(text.len() <= 8, "the server let an oversize string through");
            if let Some(s) = ctx.world.get_mut(player) {
                (s.colour, s.text) = (colour, text);
            }
        }

        fn step(&mut self, _ctx: &mut Ctx<'_, Self>, _dt: f32) {}
    }
}

/// A game's action with an enum field (red, green, blue) and a string of at most 8 bytes:
/// unknown enum tags and bad strings close with 4009 and are counted; valid ones are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enum_tags_and_strings_outside_the_declaration() {
    let add = |games: &mut server::Games| {
        games.register(signs::NAME, |_| signs::Signs);
    };
    under_attack_in_process("invalid enums and strings", add, |addr, _| async move {
        // A valid paint is applied: the sign turns blue and says "hi".
        let (mut c, w) = Client::connect(room_opts(addr, "signs", "painter", Some("signs")))
            .await
            .unwrap();
        assert_eq!(w.schema.actions[0].name, "paint");
        recv_tick(&mut c, 1).await;
        c.send_action(0, &[Value::Int(2), Value::Str("hi".into())])
            .unwrap();
        let me = c.player();
        recv_until(&mut c, "the sign is painted", |c, _| {
            c.field(me, "text") == Some(Value::Str("hi".into()))
        })
        .await;
        assert_eq!(c.field(me, "colour"), Some(Value::Int(2)));

        // Paint's values: colour (zig-zag LEB128), then text (LEB128 length, bytes).
        let cases: [(&str, &[u8]); 6] = [
            ("colour 3 of 3", &[0x06, 0x00]),
            ("colour -1", &[0x01, 0x00]),
            ("9-byte text", b"\x00\x09abcdefghi"),
            ("a control character", b"\x00\x02a\x07"),
            ("text that is not UTF-8", &[0x00, 0x02, 0xc3, 0x28]),
            ("text longer than the message", &[0x00, 0x05, b'a']),
        ];
        let rounds = 5;
        for _ in 0..rounds {
            for (what, values) in cases {
                let code = closed_after(addr, "signs", Some("signs"), action(0, values)).await;
                assert_eq!(code, codes::INVALID_VALUE, "{what}");
            }
        }
        // The painter is still there, its sign as it was.
        let n = snapshots_during(&mut c, Duration::from_millis(200), None).await;
        assert!(n > 0);
        assert_eq!(c.field(me, "text"), Some(Value::Str("hi".into())));
        c.close().await;
        let m = metrics(addr).await;
        let n = f64::from(rounds * cases.len() as u32);
        assert_eq!(
            metric_code(&m, "ticksync_invalid_messages_total", "action"),
            n
        );
        assert_eq!(metric_code(&m, "ticksync_closes_total", "invalid_value"), n);
    })
    .await;
}

// ---- frames and sizes at the edge of the rules ----------------------------------------------

/// An unmasked client frame (FIN set): RFC 6455 section 5.1 has the server close on it.
fn unmasked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = client_frame(true, opcode, payload);
    // Drop the MASK bit and the key, and put the payload back as it was.
    let key_at = match payload.len() {
        n if n < 126 => 2,
        n if n <= 0xffff => 4,
        _ => 10,
    };
    f[1] &= 0x7f;
    f.splice(key_at.., payload.iter().copied());
    f
}

/// Unmasked frames close with 1002, whatever they carry: a valid `Hello`, a valid input after
/// joining, a ping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmasked_frames() {
    under_attack("unmasked frames", |addr, _| async move {
        for i in 0..10 {
            let name = format!("bare{i}");
            let hello = arena_hello(&name, Some(token("arena", &name, 600)), None);
            let mut s = raw_upgrade(addr, None, None).await.unwrap();
            s.write_all(&unmasked_frame(0x2, &hello)).await.unwrap();
            assert_eq!(raw_close_code(&mut s).await, codes::PROTOCOL_ERROR, "Hello");

            let mut s = joined_raw(addr, &name, None).await;
            let input = ClientMsg::Input(Input {
                seq: 1,
                ack: None,
                view: None,
                values: vec![0x00, 0x00],
            });
            s.write_all(&unmasked_frame(0x2, &codec::encode_client(&input)))
                .await
                .unwrap();
            assert_eq!(raw_close_code(&mut s).await, codes::PROTOCOL_ERROR, "input");

            let mut s = joined_raw(addr, &name, None).await;
            s.write_all(&unmasked_frame(0x9, b"ping")).await.unwrap();
            assert_eq!(raw_close_code(&mut s).await, codes::PROTOCOL_ERROR, "ping");
        }
        let m = metrics(addr).await;
        assert_eq!(
            metric_code(&m, "ticksync_closes_total", "protocol_error"),
            30.0
        );
    })
    .await;
}

/// A game whose one action carries a note of up to 1024 bytes: one note fills a client
/// message to its limit.
mod notes {
    use protocol::declare::NoMessages;
    use server::game::{Ctx, EntityKey, Game};
    use ticksync_derive::{Fields, Messages, Replicate};

    pub const NAME: &str = "notes";

    /// Each player: how long its last note was.
    #[derive(Replicate, Clone, Debug)]
    #[replicate(name = "writer")]
    pub struct Writer {
        #[field(int(min = 0, max = 1024))]
        pub last: u16,
    }

    #[derive(Fields, Clone, Copy, Debug, Default)]
    pub struct Idle {
        pub wave: bool,
    }

    #[derive(Messages, Clone, Debug)]
    pub enum Action {
        Note {
            #[field(string(max = 1024))]
            text: String,
        },
    }

    pub struct Notes;

    impl Game for Notes {
        type Entity = Writer;
        type Room = ();
        type Input = Idle;
        type Action = Action;
        type Event = NoMessages;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
            ctx.world.insert(Writer { last: 0 })
        }

        fn input(&mut self, _ctx: &mut Ctx<'_, Self>, _player: EntityKey, _input: Idle) {}

        fn action(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, action: Action) {
            let Action::Note { text } = action;
            if let Some(w) = ctx.world.get_mut(player) {
                w.last = text.len() as u16;
            }
        }

        fn step(&mut self, _ctx: &mut Ctx<'_, Self>, _dt: f32) {}
    }
}

/// `Action` 0 of `notes` with a note of `len` bytes (LEB128 length, then the bytes).
fn note(len: usize) -> ClientMsg {
    let mut values = Vec::new();
    let mut n = len;
    while n >= 0x80 {
        values.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    values.push(n as u8);
    values.extend(std::iter::repeat_n(b'n', len));
    action(0, &values)
}

/// The note whose message is exactly `bytes` long.
fn note_of_size(bytes: usize) -> (ClientMsg, usize) {
    let len = (0..bytes)
        .rev()
        .find(|&n| codec::encode_client(&note(n)).len() <= bytes)
        .unwrap();
    let msg = note(len);
    assert_eq!(codec::encode_client(&msg).len(), bytes);
    (msg, len)
}

/// The client message limit is 1024 bytes on the wire: a valid message of exactly 1024 bytes
/// is applied, one of 1025 closes with 1009 (the frame limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_exactly_the_size_limit() {
    let add = |games: &mut server::Games| {
        games.register(notes::NAME, |_| notes::Notes);
    };
    under_attack_in_process("the size limit", add, |addr, _| async move {
        let limit = protocol::limits::MAX_CLIENT_MSG_BYTES;
        for _ in 0..5 {
            let (mut c, _) = Client::connect(room_opts(addr, "notes", "writer", Some("notes")))
                .await
                .unwrap();
            recv_tick(&mut c, 1).await;
            let me = c.player();
            let (msg, len) = note_of_size(limit);
            c.send(msg).unwrap();
            recv_until(&mut c, "the 1024-byte note applied", |c, _| {
                c.field(me, "last") == Some(Value::Int(len as i64))
            })
            .await;
            c.send(note_of_size(limit + 1).0).unwrap();
            let e = ended(&mut c, "close after 1025 bytes").await;
            assert_eq!(e.close_code(), Some(codes::TOO_BIG), "{e}");
        }
        let m = metrics(addr).await;
        assert_eq!(metric_code(&m, "ticksync_closes_total", "too_big"), 5.0);
        assert_eq!(
            metric_code(&m, "ticksync_closes_total", "protocol_error"),
            0.0
        );
    })
    .await;
}
