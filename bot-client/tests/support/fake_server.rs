//! A minimal ticksync server for testing the client on its own: it speaks the real wire
//! (fastwebsockets, `protocol::codec`, deltas against the client's acked tick) over a tiny
//! deterministic world, with knobs to misbehave. The real server's end-to-end tests live in the
//! root `tests/`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocket, upgrade};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use protocol::table::{KIND_NPC, KIND_PLAYER};
use protocol::{
    ClientMsg, Delta, EntityId, EntityState, EntityTable, PROTOCOL_VERSION, PlayerInfo, ServerMsg,
    Snapshot, Welcome, codec,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How the fake server behaves.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub tick: Duration,
    /// Answer `Hello` with `Reject { code, reason }` and a close with the same code.
    pub reject: Option<(u16, String)>,
    /// Send only every n-th tick's snapshot (the others are "stale").
    pub send_every: u32,
    /// Send a wrong checksum in this tick's snapshot.
    pub corrupt_checksum_at: Option<u32>,
    /// Close with this code once this tick is reached.
    pub close_at: Option<(u32, u16)>,
    pub npcs: u32,
    /// Send snapshots in this many fragments (1: whole).
    pub fragments: usize,
    /// Ping the client every this many ticks.
    pub ping_every: Option<u32>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(1000 / 60),
            reject: None,
            send_every: 1,
            corrupt_checksum_at: None,
            close_at: None,
            npcs: 50,
            fragments: 1,
            ping_every: None,
        }
    }
}

/// What the fake server saw, shared with the test.
#[derive(Debug, Default)]
pub struct Log {
    pub hellos: Vec<protocol::Hello>,
    /// The close code each client closed with (or replied with), per connection.
    pub client_close_codes: Vec<u16>,
    /// The world as sent, per tick (one connection's view; all see the same world).
    pub worlds: HashMap<u32, EntityTable>,
    pub baselines_used: Vec<Option<u32>>,
    pub inputs: u32,
    /// Pongs the clients sent, with their payloads.
    pub pongs: Vec<Vec<u8>>,
    pub origins: Vec<Option<String>>,
}

pub struct FakeServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Log>>,
}

impl FakeServer {
    pub async fn start(behaviour: Behaviour) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let behaviour = Arc::new(behaviour);
        let shared = log.clone();
        tokio::spawn(async move {
            let mut next_player = 0u32;
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (behaviour, log) = (behaviour.clone(), shared.clone());
                next_player += 1;
                let player = next_player;
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        upgrade_request(req, behaviour.clone(), log.clone(), player)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        FakeServer { addr, log }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

async fn upgrade_request(
    mut req: Request<Incoming>,
    behaviour: Arc<Behaviour>,
    log: Arc<Mutex<Log>>,
    player: u32,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    log.lock().unwrap().origins.push(origin);
    let (response, fut) = upgrade::upgrade(&mut req).unwrap();
    tokio::spawn(async move {
        if let Ok(ws) = fut.await {
            session(ws, &behaviour, &log, player).await;
        }
    });
    Ok(response)
}

enum FromClient {
    Msg(ClientMsg),
    Pong(Vec<u8>),
    Closed(u16),
}

/// The world at `tick`: NPCs on fixed tracks, the player in slot `npcs` (spawned at tick 1),
/// and one NPC that is replaced every 30 ticks so deltas despawn and spawn too.
fn world(b: &Behaviour, tick: u32, player: u32) -> EntityTable {
    let mut t = EntityTable::new();
    for i in 0..b.npcs {
        let version = if i == 0 { 1 + 2 * (tick / 30) } else { 1 };
        let id = EntityId { index: i, version };
        let state = EntityState {
            kind: KIND_NPC,
            x: (i as i32) * 100 + (tick as i32 % 200) * (i as i32 % 5 - 2),
            y: (tick as i32) * 3,
        };
        t.insert(id, state).unwrap();
    }
    let id = EntityId {
        index: b.npcs,
        version: 1,
    };
    let state = EntityState {
        kind: KIND_PLAYER,
        x: player as i32,
        y: -(tick as i32),
    };
    t.insert(id, state).unwrap();
    t
}

async fn session(ws: WebSocket<TokioIo<Upgraded>>, b: &Behaviour, log: &Mutex<Log>, player: u32) {
    let (mut read, mut write) = ws.split(tokio::io::split);
    let (control_tx, mut control) = mpsc::channel::<Frame<'static>>(8);
    let (from_tx, mut from_client) = mpsc::channel::<FromClient>(256);
    tokio::spawn(async move {
        let mut reply = move |f: Frame<'static>| {
            let c = control_tx.clone();
            async move {
                let _ = c.send(f).await;
                Ok::<(), Infallible>(())
            }
        };
        while let Ok(frame) = read.read_frame(&mut reply).await {
            let item = match frame.opcode {
                OpCode::Binary => FromClient::Msg(codec::decode_client(&frame.payload).unwrap()),
                OpCode::Pong => FromClient::Pong(frame.payload.to_vec()),
                OpCode::Close => {
                    let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                    let _ = from_tx.send(FromClient::Closed(code)).await;
                    return;
                }
                _ => continue,
            };
            if from_tx.send(item).await.is_err() {
                return;
            }
        }
    });
    let send = |msg: &ServerMsg| Frame::binary(Payload::Owned(codec::encode_server(msg)));

    let Some(FromClient::Msg(ClientMsg::Hello(hello))) = from_client.recv().await else {
        return;
    };
    log.lock().unwrap().hellos.push(hello.clone());
    if let Some((code, reason)) = &b.reject {
        let reject = ServerMsg::Reject {
            code: *code,
            reason: reason.clone(),
        };
        write.write_frame(send(&reject)).await.unwrap();
        write
            .write_frame(Frame::close(*code, reason.as_bytes()))
            .await
            .unwrap();
        if let Some(FromClient::Closed(code)) = from_client.recv().await {
            log.lock().unwrap().client_close_codes.push(code);
        }
        return;
    }
    let welcome = ServerMsg::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        player: EntityId {
            index: b.npcs,
            version: 1,
        },
        room: hello.room,
        tick_rate: (1000 / b.tick.as_millis().max(1)) as u16,
        tick: 0,
        resume_token: format!("resume-{player}"),
        world_width: 1000.0,
        world_height: 1000.0,
        player_speed: 200.0,
        players: vec![PlayerInfo {
            entity: EntityId {
                index: b.npcs,
                version: 1,
            },
            name: hello.name,
        }],
    });
    write.write_frame(send(&welcome)).await.unwrap();

    let started = Instant::now();
    let mut history: HashMap<u32, EntityTable> = HashMap::new();
    let (mut tick, mut acked, mut input_seq) = (0u32, None::<u32>, 0u32);
    let mut ticks = tokio::time::interval(b.tick);
    let mut closing = false; // sent our close: no more snapshots
    loop {
        tokio::select! {
            biased;
            Some(f) = control.recv() => {
                let _ = write.write_frame(f).await;
            }
            m = from_client.recv() => match m {
                None => return,
                Some(FromClient::Closed(code)) => {
                    log.lock().unwrap().client_close_codes.push(code);
                    // The reader queued its close reply before reporting the close.
                    while let Ok(f) = control.try_recv() {
                        let _ = write.write_frame(f).await;
                    }
                    return;
                }
                Some(FromClient::Msg(ClientMsg::Ack { tick })) => acked = Some(tick),
                Some(FromClient::Msg(ClientMsg::Input(i))) => {
                    input_seq = input_seq.max(i.seq);
                    log.lock().unwrap().inputs += 1;
                }
                Some(FromClient::Msg(ClientMsg::Ping { client_time_us })) => {
                    let pong = ServerMsg::Pong {
                        client_time_us,
                        server_time_us: started.elapsed().as_micros() as u64,
                    };
                    let _ = write.write_frame(send(&pong)).await;
                }
                Some(FromClient::Pong(p)) => log.lock().unwrap().pongs.push(p),
                Some(FromClient::Msg(_)) => {}
            },
            _ = ticks.tick(), if !closing => {
                tick += 1;
                let now = world(b, tick, player);
                if let Some((at, code)) = b.close_at
                    && tick >= at
                {
                    let _ = write.write_frame(Frame::close(code, b"bye")).await;
                    closing = true;
                    continue;
                }
                if tick % b.send_every == 0 {
                    let baseline = acked.filter(|a| history.contains_key(a));
                    let delta = match baseline {
                        Some(a) => Delta::between(&history[&a], &now),
                        None => Delta::full(&now),
                    };
                    let mut checksum = now.checksum();
                    if b.corrupt_checksum_at == Some(tick) {
                        checksum ^= 1;
                    }
                    let snapshot = ServerMsg::Snapshot(Snapshot {
                        tick,
                        baseline,
                        input_seq,
                        server_time_us: started.elapsed().as_micros() as u64,
                        checksum: Some(checksum),
                        delta,
                    });
                    let bytes = codec::encode_server(&snapshot);
                    let n = b.fragments.max(1);
                    let size = bytes.len().div_ceil(n);
                    for (i, part) in bytes.chunks(size).enumerate() {
                        let last = (i + 1) * size >= bytes.len();
                        let opcode = if i == 0 { OpCode::Binary } else { OpCode::Continuation };
                        let frame = Frame::new(last, opcode, None, Payload::Owned(part.to_vec()));
                        if write.write_frame(frame).await.is_err() {
                            return;
                        }
                    }
                    let mut log = log.lock().unwrap();
                    log.baselines_used.push(baseline);
                    log.worlds.insert(tick, now.clone());
                }
                if b.ping_every.is_some_and(|n| tick % n == 0) {
                    let ping = Frame::new(true, OpCode::Ping, None, Payload::Owned(tick.to_be_bytes().to_vec()));
                    let _ = write.write_frame(ping).await;
                }
                history.insert(tick, now);
                history.retain(|&t, _| t + 64 > tick);
            }
        }
    }
}
