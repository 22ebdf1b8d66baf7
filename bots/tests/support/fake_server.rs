//! A minimal ticksync server for testing the client on its own: it speaks the real v2 wire
//! (fastwebsockets, `protocol::codec`, `state_delta::Encoder` deltas against the client's acked
//! ticks, checksums over what the client sees) for a small test game, with knobs to misbehave.
//! The real server's end-to-end tests live in the root `tests/`.
#![allow(dead_code)]

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
use protocol::schema::{
    Coding, Descriptor, FieldDesc, Interp, Predictor, ROOM_INDEX, ROOM_VERSION, TypeDesc, Value,
    Visibility, number,
};
use protocol::state_delta::{Baseline, Encoder};
use protocol::{
    Action, ClientMsg, EntityId, PROTOCOL_VERSION, Plan, PlayerInfo, ServerMsg, SnapshotHeader,
    StateTable, Welcome, codec, codes, schema,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

// ---- the test game ---------------------------------------------------------------------------

/// Entity type ids of the test game.
pub const UNIT: u16 = 0;
pub const ROOM: u16 = 1;

/// Fields of `unit`, by id.
pub const POS_X: usize = 0;
pub const POS_Y: usize = 1;
pub const VEL_X: usize = 2;
pub const VEL_Y: usize = 3;
pub const HEADING: usize = 4;
pub const HP: usize = 5;
/// Owner-only.
pub const SECRET: usize = 6;
/// Only with `Behaviour::extra_field`: appended after the fields every client knows.
pub const SHIELD: usize = 7;

fn fixed(scale: u32, min: i32, max: i32) -> Coding {
    Coding::Fixed {
        scale,
        min,
        max,
        tolerance: 0,
    }
}

fn field(name: &str, coding: Coding, predictor: Predictor) -> FieldDesc {
    let mut f = FieldDesc::new(name, coding);
    f.predictor = predictor;
    f
}

/// The fields of `unit` every client of the test game knows (the typed `Unit` declares these).
pub fn unit_fields() -> Vec<FieldDesc> {
    let velocity = |field| Predictor::Velocity {
        field,
        num: 0,
        den: 0,
    };
    let mut pos_x = field("pos.x", fixed(16, -64_000, 64_000), velocity(VEL_X as u16));
    pos_x.interp = Interp::Linear;
    let mut pos_y = field("pos.y", fixed(16, -64_000, 64_000), velocity(VEL_Y as u16));
    pos_y.interp = Interp::Linear;
    let mut heading = field("heading", Coding::Angle { bits: 12 }, Predictor::Linear);
    heading.interp = Interp::Angle;
    let mut secret = FieldDesc::new(
        "secret",
        Coding::Int {
            min: 0,
            max: 1 << 24,
        },
    );
    secret.visibility = Visibility::Owner;
    number(vec![
        pos_x,
        pos_y,
        FieldDesc::new("vel.x", fixed(16, -4800, 4800)),
        FieldDesc::new("vel.y", fixed(16, -4800, 4800)),
        heading,
        FieldDesc::new("hp", Coding::Int { min: 0, max: 100 }),
        secret,
    ])
}

/// The test game: `unit`s (velocity-predicted fixed-point position, a linearly predicted
/// angle, an int, an owner-only int) and a room state (an int and a string); inputs of every
/// coding; two actions and two events. `extra_field` appends `shield` to `unit`.
pub fn descriptor(game: &str, extra_field: bool, tick_rate: u16) -> Descriptor {
    let mut unit = unit_fields();
    if extra_field {
        unit.push(FieldDesc::new("shield", Coding::Int { min: 0, max: 255 }));
    }
    let message = |id: u16, name: &str, fields: Vec<FieldDesc>| TypeDesc {
        id,
        name: name.into(),
        fields: number(fields),
    };
    Descriptor {
        game: game.into(),
        types: vec![
            message(UNIT, "unit", unit),
            message(
                ROOM,
                "room",
                vec![
                    FieldDesc::new(
                        "round",
                        Coding::Int {
                            min: 0,
                            max: 1 << 20,
                        },
                    ),
                    FieldDesc::new("motd", Coding::Str { max_bytes: 32 }),
                ],
            ),
        ],
        room_type: Some(ROOM),
        input: number(vec![
            FieldDesc::new("move_x", fixed(100, -100, 100)),
            FieldDesc::new("move_y", fixed(100, -100, 100)),
            FieldDesc::new("aim", Coding::Angle { bits: 16 }),
            FieldDesc::new("fire", Coding::Bool),
            FieldDesc::new(
                "emote",
                Coding::Enum {
                    variants: vec!["none".into(), "wave".into(), "dance".into()],
                },
            ),
            FieldDesc::new("note", Coding::Str { max_bytes: 8 }),
        ]),
        actions: vec![
            message(
                0,
                "shout",
                vec![FieldDesc::new("text", Coding::Str { max_bytes: 32 })],
            ),
            message(1, "respawn", vec![]),
        ],
        events: vec![
            message(
                0,
                "hit",
                vec![
                    FieldDesc::new(
                        "by",
                        Coding::Int {
                            min: 0,
                            max: 1 << 20,
                        },
                    ),
                    FieldDesc::new("damage", fixed(10, 0, 1000)),
                ],
            ),
            message(
                1,
                "announce",
                vec![FieldDesc::new("text", Coding::Str { max_bytes: 64 })],
            ),
        ],
        params: vec![],
    }
    .resolve(tick_rate)
    .expect("the test game's schema is valid")
}

/// A `unit`'s cells at `tick` (`i`: its slot): moving on straight lines that turn now and then,
/// so velocity prediction mostly hits and sometimes misses.
fn unit_cells(i: u32, tick: u32, prev: Option<&[i32]>, extra: bool, secret: i32) -> Vec<i32> {
    let i32i = i as i32;
    let flip = if (tick / 100 + i) % 2 == 0 { 1 } else { -1 };
    let vx = (i32i % 5 - 2) * 16 * 20 * flip;
    let vy = (i32i % 3 - 1) * 16 * 15;
    let (x, y, heading) = match prev {
        Some(p) => (
            (p[POS_X] + vx / 60).clamp(-64_000, 64_000),
            (p[POS_Y] + vy / 60).clamp(-64_000, 64_000),
            (p[HEADING] + 7 * (i32i % 4)).rem_euclid(4096),
        ),
        None => (i32i * 160, -i32i * 80, i32i * 37 % 4096),
    };
    let mut cells = vec![
        x,
        y,
        vx,
        vy,
        heading,
        (100 - ((tick / 50 + i) % 100)) as i32,
        secret,
    ];
    if extra {
        cells.push(((tick / 10 + i) % 256) as i32);
    }
    cells
}

/// Advances `world` to `tick`: the room state in slot 0, units in slots 1..=npcs (slot 1's unit
/// replaced every 30 ticks, so deltas despawn and spawn too), the player's unit after them.
fn step(world: &mut StateTable, b: &Behaviour, tick: u32, player: EntityId, input_seq: u32) {
    let room = EntityId {
        index: ROOM_INDEX,
        version: ROOM_VERSION,
    };
    if world.get(room).is_none() {
        world.insert(room, ROOM).unwrap();
    }
    world.values_mut(ROOM_INDEX).unwrap()[0] = (tick / 60) as i32;
    let motd = if (tick / 45) % 2 == 0 { "welcome" } else { "" };
    world.set_string(ROOM_INDEX, 1, motd).unwrap();
    let mut put = |id: EntityId, secret: i32| {
        let prev = world.get(id).map(|e| e.values.to_vec());
        if prev.is_none() {
            if world.at(id.index).is_some() {
                world.remove(id.index).unwrap();
            }
            world.insert(id, UNIT).unwrap();
        }
        let cells = unit_cells(id.index, tick, prev.as_deref(), b.extra_field, secret);
        world.values_mut(id.index).unwrap()[..cells.len()].copy_from_slice(&cells);
    };
    for i in 1..=b.npcs {
        let version = if i == 1 { 1 + 2 * (tick / 30) } else { 1 };
        put(EntityId { index: i, version }, (tick * 3 + i) as i32);
    }
    // The player's secret is the newest input seq the server applied.
    put(player, input_seq as i32);
}

/// What the client whose player is `own` holds of `world`: other entities' owner-only fields
/// never reach it.
pub fn client_view(plan: &Plan, world: &StateTable, own: EntityId) -> StateTable {
    let mut view = world.clone();
    for e in world.iter() {
        if e.id == own {
            continue;
        }
        let tp = plan.ty(e.ty).unwrap();
        let cells = view.values_mut(e.id.index).unwrap();
        for &f in &tp.owner {
            cells[usize::from(f)] = 0;
        }
    }
    view
}

// ---- the server ------------------------------------------------------------------------------

/// How the fake server behaves.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub tick: Duration,
    /// The game (`schema.game`) its rooms play.
    pub game: String,
    /// Append a field to `unit` that the typed `Unit` of the tests does not know.
    pub extra_field: bool,
    /// Answer `Hello` with `Reject { code, reason }` and a close with the same code.
    pub reject: Option<(u16, String)>,
    /// Send only every n-th tick's snapshot (the others are "stale").
    pub send_every: u32,
    /// Send a full snapshot every n-th tick even when the client acked.
    pub full_every: Option<u32>,
    /// Name the acked tick before the baseline as a second baseline (for linear predictors).
    pub second_baseline: bool,
    /// At this tick, name a baseline the client was never sent.
    pub bogus_baseline_at: Option<u32>,
    /// Send a wrong checksum in this tick's snapshot.
    pub corrupt_checksum_at: Option<u32>,
    /// Close with this code once this tick is reached.
    pub close_at: Option<(u32, u16)>,
    /// The reason of that close ("bye" by default): a node URL for `MOVED`.
    pub close_reason: Option<String>,
    pub npcs: u32,
    /// Send snapshots in this many fragments (1: whole).
    pub fragments: usize,
    /// Ping the client every this many ticks.
    pub ping_every: Option<u32>,
    /// Send a `hit` game event every this many ticks.
    pub events_every: Option<u32>,
    /// At this tick, send a game event the schema does not declare.
    pub bad_event_at: Option<u32>,
    /// Break `Welcome.schema_hash`.
    pub bad_schema_hash: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(1000 / 60),
            game: "testgame".to_owned(),
            extra_field: false,
            reject: None,
            send_every: 1,
            full_every: None,
            second_baseline: true,
            bogus_baseline_at: None,
            corrupt_checksum_at: None,
            close_at: None,
            close_reason: None,
            npcs: 50,
            fragments: 1,
            ping_every: None,
            events_every: None,
            bad_event_at: None,
            bad_schema_hash: false,
        }
    }
}

impl Behaviour {
    /// A node that hands its rooms over to `to` once tick 20 is reached.
    pub fn draining(to: &FakeServer) -> Behaviour {
        Behaviour {
            close_at: Some((20, protocol::codes::MOVED)),
            close_reason: Some(to.url()),
            ..Behaviour::default()
        }
    }

    pub fn tick_rate(&self) -> u16 {
        (1000 / self.tick.as_millis().max(1)) as u16
    }

    pub fn descriptor(&self) -> Descriptor {
        descriptor(&self.game, self.extra_field, self.tick_rate())
    }

    /// The player entity of every connection.
    pub fn player(&self) -> EntityId {
        EntityId {
            index: self.npcs + 1,
            version: 1,
        }
    }
}

/// What the fake server saw, shared with the test.
#[derive(Debug, Default)]
pub struct Log {
    pub hellos: Vec<protocol::Hello>,
    /// The close code each client closed with (or replied with), per connection.
    pub client_close_codes: Vec<u16>,
    /// What the client should hold, per tick sent (one connection's view; tests that read it
    /// run one client).
    pub worlds: HashMap<u32, StateTable>,
    pub baselines_used: Vec<Option<u32>>,
    pub second_baselines_used: Vec<Option<u32>>,
    pub inputs: u32,
    /// Inputs that carried an ack, and acks that came alone.
    pub acks_in_inputs: u32,
    pub standalone_acks: u32,
    /// Inputs whose values did not decode with the game's input schema.
    pub bad_inputs: u32,
    /// The newest decoded input values.
    pub last_input: Vec<Value>,
    /// Actions, decoded: (id, values).
    pub actions: Vec<(u16, Vec<Value>)>,
    /// Client frames (inputs and acks) that arrived between consecutive ticks, per tick, and
    /// ticks run, over all connections.
    pub frames_per_tick: Vec<u32>,
    /// Pongs the clients sent, with their payloads.
    pub pongs: Vec<Vec<u8>>,
    pub origins: Vec<Option<String>>,
    /// Game events sent (`events_every`, `bad_event_at`), over all connections.
    pub game_events_sent: u32,
}

pub struct FakeServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Log>>,
    pub behaviour: Arc<Behaviour>,
    /// Over TLS: `wss://` URLs.
    pub secure: bool,
}

impl FakeServer {
    /// The close codes this server got from its clients, once it has `n` of them (or after
    /// 2 s: the caller's assertion then says what came).
    pub async fn client_close_codes(&self, n: usize) -> Vec<u16> {
        for _ in 0..200 {
            let codes = self.log.lock().unwrap().client_close_codes.clone();
            if codes.len() >= n {
                return codes;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.log.lock().unwrap().client_close_codes.clone()
    }

    pub async fn start(behaviour: Behaviour) -> FakeServer {
        Self::start_with(|_| behaviour).await
    }

    /// Starts a server whose behaviour may name its own URL (a `MOVED` to itself).
    pub async fn start_with(behaviour: impl FnOnce(String) -> Behaviour) -> FakeServer {
        Self::listen(None, behaviour).await
    }

    /// The same over TLS (`wss://`), with the certificate of `tls`.
    pub async fn start_tls(behaviour: Behaviour, tls: TlsAcceptor) -> FakeServer {
        Self::listen(Some(tls), |_| behaviour).await
    }

    async fn listen(
        tls: Option<TlsAcceptor>,
        behaviour: impl FnOnce(String) -> Behaviour,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let secure = tls.is_some();
        let behaviour = behaviour(url(secure, addr));
        let log = Arc::new(Mutex::new(Log::default()));
        let behaviour = Arc::new(behaviour);
        let (shared, b) = (log.clone(), behaviour.clone());
        tokio::spawn(async move {
            let mut next_conn = 0u32;
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (behaviour, log) = (b.clone(), shared.clone());
                next_conn += 1;
                let conn = next_conn;
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, behaviour, log, conn).await,
                        // A client that refuses the certificate ends here.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                serve(stream, behaviour, log, conn).await;
                            }
                        }
                    }
                });
            }
        });
        FakeServer {
            addr,
            log,
            behaviour,
            secure,
        }
    }

    pub fn url(&self) -> String {
        url(self.secure, self.addr)
    }
}

fn url(secure: bool, addr: SocketAddr) -> String {
    let scheme = if secure { "wss" } else { "ws" };
    format!("{scheme}://{addr}/ws")
}

async fn serve(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    behaviour: Arc<Behaviour>,
    log: Arc<Mutex<Log>>,
    conn: u32,
) {
    let service = service_fn(move |req| upgrade_request(req, behaviour.clone(), log.clone(), conn));
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn upgrade_request(
    mut req: Request<Incoming>,
    behaviour: Arc<Behaviour>,
    log: Arc<Mutex<Log>>,
    conn: u32,
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
            session(ws, &behaviour, &log, conn).await;
        }
    });
    Ok(response)
}

enum FromClient {
    Msg(ClientMsg),
    Pong(Vec<u8>),
    Closed(u16),
}

async fn session(ws: WebSocket<TokioIo<Upgraded>>, b: &Behaviour, log: &Mutex<Log>, conn: u32) {
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
    let refusal = match (&b.reject, &hello.game) {
        (Some((code, reason)), _) => Some((*code, reason.clone())),
        (None, Some(game)) if *game != b.game => Some((
            codes::WRONG_GAME,
            format!("room {} plays {}, not {game}", hello.room, b.game),
        )),
        _ => None,
    };
    if let Some((code, reason)) = refusal {
        let msg = ServerMsg::Reject {
            code,
            reason: reason.clone(),
        };
        write.write_frame(send(&msg)).await.unwrap();
        write
            .write_frame(Frame::close(code, reason.as_bytes()))
            .await
            .unwrap();
        if let Some(FromClient::Closed(code)) = from_client.recv().await {
            log.lock().unwrap().client_close_codes.push(code);
        }
        return;
    }
    let desc = b.descriptor();
    let plan = Plan::new(&desc);
    let own = b.player();
    let welcome = ServerMsg::Welcome(Box::new(Welcome {
        version: PROTOCOL_VERSION,
        player: own,
        room: hello.room,
        game: desc.game.clone(),
        tick_rate: b.tick_rate(),
        tick: 0,
        resume_token: format!("resume-{conn}"),
        players: vec![PlayerInfo {
            entity: own,
            name: hello.name,
        }],
        schema_hash: desc.hash() ^ u32::from(b.bad_schema_hash),
        schema: desc.clone(),
    }));
    write.write_frame(send(&welcome)).await.unwrap();

    let started = Instant::now();
    let mut history: HashMap<u32, StateTable> = HashMap::new();
    let mut world = plan.new_table();
    let (mut tick, mut input_seq) = (0u32, 0u32);
    // The newest ack and the one before it.
    let (mut acked, mut acked_before) = (None::<u32>, None::<u32>);
    let mut frames = 0u32;
    let mut encoder = Encoder::default();
    let (mut delta, mut bytes) = (Vec::new(), Vec::new());
    let mut ticks = tokio::time::interval(b.tick);
    let mut closing = false; // sent our close: no more snapshots
    let ack = |tick: u32, acked: &mut Option<u32>, before: &mut Option<u32>| {
        if acked.is_none_or(|a| tick > a) {
            *before = *acked;
            *acked = Some(tick);
        }
    };
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
                Some(FromClient::Msg(ClientMsg::Ack { tick })) => {
                    frames += 1;
                    log.lock().unwrap().standalone_acks += 1;
                    ack(tick, &mut acked, &mut acked_before);
                }
                Some(FromClient::Msg(ClientMsg::Input(i))) => {
                    frames += 1;
                    input_seq = input_seq.max(i.seq);
                    let mut log = log.lock().unwrap();
                    log.inputs += 1;
                    match schema::decode_values(&desc.input, &i.values) {
                        Ok(values) => log.last_input = values,
                        Err(_) => log.bad_inputs += 1,
                    }
                    if let Some(t) = i.ack {
                        log.acks_in_inputs += 1;
                        ack(t, &mut acked, &mut acked_before);
                    }
                }
                Some(FromClient::Msg(ClientMsg::Action(Action { id, values }))) => {
                    let fields = &desc.actions[usize::from(id)].fields;
                    let values = schema::decode_values(fields, &values).unwrap();
                    log.lock().unwrap().actions.push((id, values));
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
                log.lock().unwrap().frames_per_tick.push(std::mem::take(&mut frames));
                step(&mut world, b, tick, own, input_seq);
                if let Some((at, code)) = b.close_at
                    && tick >= at
                {
                    let reason = b.close_reason.as_deref().unwrap_or("bye");
                    let _ = write.write_frame(Frame::close(code, reason.as_bytes())).await;
                    closing = true;
                    continue;
                }
                if b.bad_event_at == Some(tick) {
                    let bad = ServerMsg::GameEvent(Action { id: 99, values: vec![] });
                    if write.write_frame(send(&bad)).await.is_ok() {
                        log.lock().unwrap().game_events_sent += 1;
                    }
                }
                if b.events_every.is_some_and(|n| tick % n == 0) {
                    let mut values = Vec::new();
                    let hit = [Value::Int(i64::from(tick)), Value::Num(12.5)];
                    schema::encode_values(&desc.events[0].fields, &hit, &mut values);
                    let event = ServerMsg::GameEvent(Action { id: 0, values });
                    if write.write_frame(send(&event)).await.is_ok() {
                        log.lock().unwrap().game_events_sent += 1;
                    }
                }
                if tick % b.send_every == 0 {
                    let full = b.full_every.is_some_and(|n| tick % n == 0);
                    let baseline = acked.filter(|a| !full && history.contains_key(a));
                    let baseline2 = acked_before
                        .filter(|a| b.second_baseline && baseline.is_some() && history.contains_key(a));
                    let base = baseline.map(|t| Baseline {
                        table: &history[&t],
                        tick: t,
                        second: baseline2.map(|t2| (&history[&t2], t2)),
                    });
                    delta.clear();
                    encoder.shared(&plan, base.as_ref(), &world, tick, &mut delta);
                    encoder.private(&plan, own, base.as_ref(), &world, tick, &mut delta);
                    let mut checksum = plan.checksum(&world, Some(own));
                    if b.corrupt_checksum_at == Some(tick) {
                        checksum ^= 1;
                    }
                    let header = SnapshotHeader {
                        tick,
                        baseline: match b.bogus_baseline_at == Some(tick) {
                            true => Some(tick.saturating_sub(1000)),
                            false => baseline,
                        },
                        baseline2,
                        input_seq,
                        server_time_us: started.elapsed().as_micros() as u64,
                        checksum: Some(checksum),
                    };
                    bytes.clear();
                    codec::encode_snapshot(&header, &delta, &mut bytes);
                    // Logged before it leaves: a client may look it up as soon as it arrives.
                    {
                        let view = client_view(&plan, &world, own);
                        let mut log = log.lock().unwrap();
                        log.baselines_used.push(baseline);
                        log.second_baselines_used.push(baseline2);
                        log.worlds.insert(tick, view);
                    }
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
                }
                if b.ping_every.is_some_and(|n| tick % n == 0) {
                    let ping = Frame::new(true, OpCode::Ping, None, Payload::Owned(tick.to_be_bytes().to_vec()));
                    let _ = write.write_frame(ping).await;
                }
                history.insert(tick, world.clone());
                history.retain(|&t, _| t + 64 > tick);
            }
        }
    }
}
