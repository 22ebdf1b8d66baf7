//! Shared helpers for the end-to-end tests: a real server on an ephemeral loopback port, bot
//! clients, a raw WebSocket for hostile frames, and a tiny HTTP GET.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bots::{Client, ConnectOptions, Received};
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocket, handshake};
use http_body_util::Empty;
use hyper::Request;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use protocol::state::Kind;
use protocol::{ClientMsg, EntityId, Hello, Plan, StateTable, Value, codec};
use server::{Config, Games, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(15);

/// The defaults on 127.0.0.1 with an ephemeral port, adjusted by `tweak`.
pub fn test_config(tweak: impl FnOnce(&mut Config)) -> Config {
    let mut cfg = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    tweak(&mut cfg);
    cfg
}

/// A server's settings and the reference games' own (`--npcs`, `--seed`); derefs to the
/// server's, so a tweak reads `c.tick_rate = 30` or `c.npcs = 50` alike.
pub struct TestConfig {
    pub server: Config,
    pub npcs: usize,
    pub seed: u32,
}

impl std::ops::Deref for TestConfig {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.server
    }
}

impl std::ops::DerefMut for TestConfig {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.server
    }
}

impl TestConfig {
    /// The defaults on 127.0.0.1 with an ephemeral port, adjusted by `tweak`.
    pub fn new(tweak: impl FnOnce(&mut TestConfig)) -> TestConfig {
        let mut c = TestConfig {
            server: test_config(|_| {}),
            npcs: 1000,
            seed: arena::DEFAULT_SEED,
        };
        tweak(&mut c);
        c
    }

    /// The reference games with these settings, as the `ticksync` binary makes them.
    pub fn games(&self) -> Games {
        let (npcs, seed) = (self.npcs.to_string(), self.seed.to_string());
        ticksync_reference::games(&["--npcs", &npcs, "--seed", &seed])
    }

    /// The server's settings and the games.
    pub fn split(self) -> (Config, Games) {
        let games = self.games();
        (self.server, games)
    }
}

/// The reference games with the default settings.
pub fn reference_games() -> Games {
    ticksync_reference::games(&[])
}

/// A server of the reference games (arena by default, arena-large, skirmish) on 127.0.0.1
/// with an ephemeral port; `tweak` adjusts the defaults.
pub async fn start_server(tweak: impl FnOnce(&mut TestConfig)) -> Server {
    let (cfg, games) = TestConfig::new(tweak).split();
    Server::start_with(cfg, games).await.expect("server starts")
}

/// A server of `games` (built from the final config), like `start_server`.
pub async fn start_server_with(
    tweak: impl FnOnce(&mut Config),
    games: impl FnOnce(&Config) -> Games,
) -> Server {
    let cfg = test_config(tweak);
    let games = games(&cfg);
    Server::start_with(cfg, games).await.expect("server starts")
}

pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

pub async fn connect(addr: SocketAddr, room: &str, name: &str) -> (Client, protocol::Welcome) {
    Client::connect(ConnectOptions::new(&ws_url(addr), room, name))
        .await
        .expect("bot connects")
}

/// Options to join `room` as `name`, asking for `game`.
pub fn game_opts(addr: SocketAddr, room: &str, name: &str, game: Option<&str>) -> ConnectOptions {
    let mut o = ConnectOptions::new(&ws_url(addr), room, name);
    o.game = game.map(str::to_owned);
    o
}

/// An arena input: the direction to move, each axis in -1..=1.
pub fn arena_input(dx: f64, dy: f64) -> [Value; 2] {
    [Value::Num(dx), Value::Num(dy)]
}

/// A `Hello` for `room` as `name`: no tokens, no game (adjust the fields as needed).
pub fn hello(room: &str, name: &str) -> Hello {
    Hello {
        version: protocol::PROTOCOL_VERSION,
        room: room.into(),
        name: name.into(),
        auth_token: None,
        resume_token: None,
        game: None,
    }
}

/// `hello` encoded, ready for a frame.
pub fn hello_bytes(h: Hello) -> Vec<u8> {
    codec::encode_client(&ClientMsg::Hello(h))
}

/// A numeric field (`Fixed` units, `Angle` radians, `Int`/`Bool`/`Enum` as numbers) of entity
/// `id` in the client's newest table.
pub fn num(client: &Client, id: EntityId, field: &str) -> Option<f64> {
    match client.field(id, field)? {
        Value::Str(_) => None,
        v => Some(v.as_f64()),
    }
}

/// An entity's position in world units, dequantised through the descriptor.
pub fn pos(client: &Client, id: EntityId) -> Option<(f64, f64)> {
    Some((num(client, id, "pos.x")?, num(client, id, "pos.y")?))
}

/// Runs `f` with the test-wide timeout.
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A bounded load run of `cfg`'s bots (its ramp and duration, and the test-wide timeout
/// more), and its report.
pub async fn load_run(cfg: &bots::load::LoadConfig) -> bots::report::Report {
    let live = std::sync::Arc::new(bots::bot::LiveStats::default());
    let run = bots::load::run_load(cfg, live, std::future::pending());
    tokio::time::timeout(cfg.ramp + cfg.duration + WAIT, run)
        .await
        .unwrap_or_else(|_| panic!("timed out: load run"))
}

/// A load run's report shows every one of `bots` connected, every snapshot verified, and a
/// median of at least 40 snapshots/s.
pub fn assert_clean_run(report: &bots::report::Report, bots: usize) {
    assert_eq!((report.bots_connected, report.bots_failed), (bots, 0));
    assert_eq!((report.checksum_mismatches, report.protocol_errors), (0, 0));
    let rate = report.snapshots_per_sec_p50.expect("measured");
    assert!(rate >= 40.0, "median {rate:.1} snapshots/s");
}

/// Receives until `pred` holds for a message; panics on error or timeout.
pub async fn recv_until(
    client: &mut Client,
    what: &str,
    mut pred: impl FnMut(&Client, &Received) -> bool,
) {
    bounded(what, async {
        loop {
            let msg = client
                .recv()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            if pred(client, &msg) {
                return;
            }
        }
    })
    .await
}

/// Receives until the client has applied a snapshot of at least `tick`.
pub async fn recv_tick(client: &mut Client, tick: u32) {
    recv_until(client, "snapshot tick", |c, _| {
        c.latest().is_some_and(|(t, _)| t >= tick)
    })
    .await
}

/// Receives for `d` (sending an arena input each snapshot if `input` is set) and returns how
/// many snapshots arrived.
pub async fn snapshots_during(client: &mut Client, d: Duration, input: Option<(f64, f64)>) -> u64 {
    let end = tokio::time::Instant::now() + d;
    let mut n = 0;
    loop {
        let msg = tokio::select! {
            m = client.recv() => m.expect("connection stays up"),
            _ = tokio::time::sleep_until(end) => return n,
        };
        if let Received::Snapshot { .. } = msg {
            n += 1;
            if let Some((dx, dy)) = input {
                client.send_input(&arena_input(dx, dy)).expect("input sent");
            }
        }
    }
}

/// A WebSocket opened by hand, for frames a well-behaved client never sends.
pub async fn raw_ws(
    addr: SocketAddr,
    origin: Option<&str>,
) -> Result<WebSocket<TokioIo<Upgraded>>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut req = Request::builder()
        .method("GET")
        .uri(format!("http://{addr}/ws"))
        .header("Host", addr.to_string())
        .header("Upgrade", "websocket")
        .header("Connection", "upgrade")
        .header("Sec-WebSocket-Key", handshake::generate_key())
        .header("Sec-WebSocket-Version", "13");
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    let req = req.body(Empty::<Bytes>::new()).unwrap();
    let (ws, _) = handshake::client(&TokioExecutor::new(), req, tcp)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

pub fn binary(bytes: Vec<u8>) -> Frame<'static> {
    Frame::binary(Payload::Owned(bytes))
}

/// Reads frames until a close; returns its code and reason. Binary messages are decoded and
/// collected on the way.
pub async fn read_until_close(
    ws: &mut WebSocket<TokioIo<Upgraded>>,
) -> (u16, String, Vec<protocol::ServerMsg>) {
    bounded("close frame", async {
        let mut msgs = Vec::new();
        loop {
            let frame = ws
                .read_frame()
                .await
                .expect("a close frame, not a broken socket");
            match frame.opcode {
                OpCode::Close => {
                    let p = &frame.payload[..];
                    let code = if p.len() >= 2 {
                        u16::from_be_bytes([p[0], p[1]])
                    } else {
                        1005
                    };
                    let reason =
                        String::from_utf8_lossy(p.get(2..).unwrap_or_default()).into_owned();
                    return (code, reason, msgs);
                }
                OpCode::Binary => {
                    msgs.push(protocol::codec::decode_server(&frame.payload).expect("valid"))
                }
                _ => {}
            }
        }
    })
    .await
}

/// `GET path` over plain HTTP/1.1; returns the status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    try_http_get(addr, path).await.unwrap()
}

/// `http_get` for a server that may refuse the connection (its cap reached): the I/O error
/// instead of a panic.
pub async fn try_http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    bounded("http get", http_exchange(addr, req)).await
}

/// Sends one HTTP/1.1 request (which closes the connection) and reads the status and body.
async fn http_exchange(addr: SocketAddr, req: String) -> std::io::Result<(u16, String)> {
    Ok(status_and_body(&http_response(addr, req).await?))
}

/// Sends one HTTP/1.1 request (which closes the connection) and reads the whole response.
async fn http_response(addr: SocketAddr, req: String) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    Ok(buf)
}

/// An HTTP/1.1 response's status (0 if unreadable) and body.
pub fn status_and_body(response: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `POST path` with a JSON `body` (and an `Authorization: Bearer` token if given); returns
/// the status and body.
pub async fn http_post(
    addr: SocketAddr,
    path: &str,
    body: &str,
    bearer: Option<&str>,
) -> (u16, String) {
    let (status, _, body) = http_post_head(addr, path, body, bearer).await;
    (status, body)
}

/// `http_post`, with the response head too (lowercase, for its headers).
pub async fn http_post_head(
    addr: SocketAddr,
    path: &str,
    body: &str,
    bearer: Option<&str>,
) -> (u16, String, String) {
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = bounded("http post", http_response(addr, req))
        .await
        .unwrap();
    let (status, body) = status_and_body(&response);
    let text = String::from_utf8_lossy(&response);
    let head = text.split_once("\r\n\r\n").map_or(&*text, |(h, _)| h);
    (status, head.to_ascii_lowercase(), body)
}

pub mod nginx;
/// A loopback port the OS just handed out and took back: free unless something races for it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub mod process;
pub mod redis;
pub mod tls;

/// Opens a TCP connection and performs the WebSocket upgrade by hand; returns the socket ready
/// for raw frame bytes. `Err(status)` if the server answered something other than 101.
pub async fn raw_upgrade(
    addr: SocketAddr,
    origin: Option<&str>,
    recv_buffer: Option<u32>,
) -> Result<TcpStream, u16> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(b) = recv_buffer {
        socket.set_recv_buffer_size(b).unwrap();
    }
    let mut s = socket.connect(addr).await.unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // Read the response head byte by byte so no frame bytes are consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if s.read(&mut b).await.unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if status == 101 { Ok(s) } else { Err(status) }
}

/// A masked client frame with an explicit header (fin bit, opcode) and payload.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads server frames from a raw socket until a close frame; returns its code (1006 if the
/// socket ended without one).
pub async fn raw_close_code(s: &mut TcpStream) -> u16 {
    bounded("raw close", async {
        loop {
            let mut h = [0u8; 2];
            if s.read_exact(&mut h).await.is_err() {
                return 1006;
            }
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    if s.read_exact(&mut b).await.is_err() {
                        return 1006;
                    }
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    if s.read_exact(&mut b).await.is_err() {
                        return 1006;
                    }
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            if s.read_exact(&mut payload).await.is_err() {
                return 1006;
            }
            if h[0] & 0x0f == 0x8 {
                return if len >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                };
            }
        }
    })
    .await
}

/// Receives until the connection ends and returns why (panics on timeout).
pub async fn ended(client: &mut Client, what: &str) -> bots::ClientError {
    bounded(what, async {
        loop {
            if let Err(e) = client.recv().await {
                return e;
            }
        }
    })
    .await
}

/// The close or reject code a connect attempt failed with.
pub async fn refused_with(opts: ConnectOptions) -> Option<u16> {
    match Client::connect(opts).await {
        Ok(_) => None,
        Err(e) => e.close_code(),
    }
}

/// Checks `check` every `period` until it holds; panics after `WAIT`. For state another
/// process or task changes (room lists, metrics), where there is no event to wait on.
pub async fn poll_until<F, Fut>(what: &str, period: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    bounded(what, async {
        while !check().await {
            tokio::time::sleep(period).await;
        }
    })
    .await
}

/// The server's `table` as the client playing `own` holds it: other entities' owner-only
/// fields are 0 (strings empty); everything else, its own private fields included, as is.
pub fn client_view(plan: &Plan, table: &StateTable, own: EntityId) -> StateTable {
    let mut view = table.clone();
    for e in table.iter().filter(|e| e.id != own) {
        let Some(tp) = plan.types.get(usize::from(e.ty)) else {
            continue;
        };
        for &f in &tp.owner {
            if tp.fields[usize::from(f)].kind == Kind::Str {
                view.set_string(e.id.index, f, "").unwrap();
            } else {
                view.values_mut(e.id.index).unwrap()[usize::from(f)] = 0;
            }
        }
    }
    view
}

/// Asserts, bit for bit, that `client`'s table for one of the server's ticks equals the
/// server's own (read through the inspect hook) as this client may see it (`client_view`);
/// returns the server's table. Retries while the client no longer holds the tick the server
/// reported.
pub async fn assert_world_matches(server: &Server, room: &str, client: &mut Client) -> StateTable {
    for _ in 0..30 {
        let inspect = server.inspect(room).await.expect("room exists");
        recv_tick(client, inspect.tick).await;
        if let Some(table) = client.table_at(inspect.tick) {
            let expected = client_view(client.plan(), &inspect.table, client.player());
            assert!(
                *table == expected,
                "client's world at tick {} differs from the server's",
                inspect.tick
            );
            return inspect.table;
        }
    }
    panic!("the client never kept a table for one of the server's ticks");
}
