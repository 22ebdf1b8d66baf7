//! Hostile clients (issue 5). Each attack runs against the real server binary while 20 honest
//! bots play in `arena`; at the end the honest bots must have kept at least 90% of their
//! snapshot rate with no checksum mismatch, the server's connection count must be back to the
//! honest bots only, and its RSS within `RSS_BOUND_KIB` of what it was before the attack.
//! Attacks run one at a time (they share the machine's two cores).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bot_client::{Client, ClientError, ConnectOptions, Received};
use protocol::{ClientMsg, Hello, Input, ServerMsg, codec, codes};
use support::process::{ServerProcess, metric};
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
    let mut o = ConnectOptions::new(&ws_url(addr), "arena", name);
    o.auth_token = Some(token("arena", name, 3600));
    o
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
                                let _ = c.send_input(t.cos(), t.sin(), 0);
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

/// Runs `attack` against a fresh server while the honest bots play, then checks the bar.
async fn under_attack<F, Fut>(name: &str, attack: F)
where
    F: FnOnce(SocketAddr, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _serial = SERIAL.lock().await;
    let server = ServerProcess::start(SERVER_ARGS).await;
    let addr = server.addr;
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

fn hello_bytes(name: &str, auth: Option<String>, resume: Option<String>) -> Vec<u8> {
    codec::encode_client(&ClientMsg::Hello(Hello {
        version: protocol::PROTOCOL_VERSION,
        room: "arena".into(),
        name: name.into(),
        auth_token: auth,
        resume_token: resume,
    }))
}

/// A raw socket that has joined `arena` (Hello sent with a valid token).
async fn joined_raw(
    addr: SocketAddr,
    name: &str,
    recv_buffer: Option<u32>,
) -> tokio::net::TcpStream {
    let mut s = raw_upgrade(addr, None, recv_buffer).await.expect("upgrade");
    let hello = hello_bytes(name, Some(token("arena", name, 600)), None);
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
            let input = ClientMsg::Input(Input {
                seq,
                dx: 127,
                dy: 0,
                buttons: 0,
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
    ws.write_frame(binary(hello_bytes(name, auth, resume)))
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
