//! Shared by the protocol's property, fuzz and allocation tests: random schemas, random worlds
//! over them (a second baseline, a baseline and "now", each derived from the one before by the
//! kinds of change a game makes), the client's view of a table, and random messages.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use protocol::messages::*;
use protocol::schema::{
    Coding, Descriptor, FieldDesc, Interp, Param, Predictor, TypeDesc, Value, Visibility, number,
};
use protocol::state::{EntityId, FieldPlan, Kind, Plan, Span, StateTable, predict};
use protocol::state_delta::{Baseline, Encoder};

// ---- a tiny deterministic generator ------------------------------------------------------------

/// xorshift64*: tables are generated from one seed, so a schema-dependent world needs no nested
/// strategies (and a failure reproduces from its seed).
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }
}

// ---- schemas ----------------------------------------------------------------------------------

pub fn coding() -> impl Strategy<Value = Coding> {
    prop_oneof![
        4 => (1u32..=1000, -100_000i32..=0, 0i32..=100_000, 0u32..4).prop_map(
            |(scale, min, max, tolerance)| Coding::Fixed { scale, min, max, tolerance }
        ),
        2 => (1u8..=24).prop_map(|bits| Coding::Angle { bits }),
        2 => prop_oneof![
            (-1000i32..=0, 0i32..=1000).prop_map(|(min, max)| Coding::Int { min, max }),
            Just(Coding::Int { min: i32::MIN, max: i32::MAX }),
        ],
        1 => Just(Coding::Bool),
        1 => (1usize..5).prop_map(|n| Coding::Enum {
            variants: (0..n).map(|i| format!("v{i}")).collect()
        }),
        1 => (0u16..12).prop_map(|max_bytes| Coding::Str { max_bytes }),
    ]
}

fn set_scale(c: &mut Coding, to: u32) {
    if let Coding::Fixed { scale, .. } = c {
        *scale = to;
    }
}

/// An entity type's fields: random codings, predictors where they are allowed (velocity from
/// another fixed-point field at least as visible), a quarter of them private.
fn entity_fields() -> impl Strategy<Value = Vec<FieldDesc>> {
    vec((coding(), any::<u8>(), any::<bool>(), 0u8..4), 1..9).prop_map(|specs| {
        let mut fields: Vec<FieldDesc> = specs
            .iter()
            .enumerate()
            .map(|(i, (c, _, _, vis))| {
                let mut f = FieldDesc::new(&format!("f{i}"), c.clone());
                if *vis == 0 {
                    f.visibility = Visibility::Owner;
                }
                f
            })
            .collect();
        let fixed: Vec<usize> = (0..fields.len())
            .filter(|&i| matches!(fields[i].coding, Coding::Fixed { .. }))
            .collect();
        for (i, (c, pick, linear_interp, _)) in specs.iter().enumerate() {
            let numeric = matches!(c, Coding::Fixed { .. } | Coding::Angle { .. });
            if !numeric {
                continue;
            }
            fields[i].interp = match (c, linear_interp) {
                (Coding::Angle { .. }, true) => Interp::Angle,
                (_, true) => Interp::Linear,
                _ => Interp::None,
            };
            match pick % 3 {
                1 if matches!(c, Coding::Fixed { .. }) => {
                    let v = fixed[usize::from(*pick / 3) % fixed.len()];
                    let ok = fields[v].visibility == Visibility::Everyone
                        || fields[v].visibility == fields[i].visibility;
                    if ok {
                        fields[i].predictor = Predictor::Velocity {
                            field: v as u16,
                            num: 0,
                            den: 0,
                        };
                        // Half the time the scales games use (1/960 unit positions, 1/16 unit
                        // per second speeds), whose ratio is a whole number at every tick
                        // rate: the exact dead reckoning clients take a fast path for.
                        if *linear_interp && v != i {
                            set_scale(&mut fields[i].coding, 960);
                            set_scale(&mut fields[v].coding, 16);
                        }
                    }
                }
                2 => fields[i].predictor = Predictor::Linear,
                _ => {}
            }
        }
        number(fields)
    })
}

/// Plain fields (inputs, messages): no predictors, everyone sees them.
fn plain_fields(max: usize) -> impl Strategy<Value = Vec<FieldDesc>> {
    vec(coding(), 0..max).prop_map(|cs| {
        number(
            cs.into_iter()
                .enumerate()
                .map(|(i, c)| FieldDesc::new(&format!("p{i}"), c))
                .collect(),
        )
    })
}

fn messages() -> impl Strategy<Value = Vec<TypeDesc>> {
    vec(plain_fields(4), 0..3).prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(|(i, fields)| TypeDesc {
                id: i as u16,
                name: format!("m{i}"),
                fields,
            })
            .collect()
    })
}

/// A valid descriptor, resolved for a tick rate of 20, 30 or 60.
pub fn descriptor() -> impl Strategy<Value = Descriptor> {
    (
        vec(entity_fields(), 1..5),
        any::<bool>(),
        plain_fields(6),
        messages(),
        messages(),
        vec(-1e6f64..1e6, 0..3),
        prop::sample::select(vec![20u16, 30, 60]),
    )
        .prop_filter_map(
            "schema must validate",
            |(types, room, input, actions, events, params, rate)| {
                let ntypes = types.len();
                Descriptor {
                    game: "g".into(),
                    types: types
                        .into_iter()
                        .enumerate()
                        .map(|(i, fields)| TypeDesc {
                            id: i as u16,
                            name: format!("t{i}"),
                            fields,
                        })
                        .collect(),
                    room_type: room.then_some(ntypes as u16 - 1),
                    input,
                    actions,
                    events,
                    params: params
                        .into_iter()
                        .enumerate()
                        .map(|(i, value)| Param {
                            name: format!("k{i}"),
                            value,
                        })
                        .collect(),
                }
                .resolve(rate)
                .ok()
            },
        )
}

// ---- values and tables ----------------------------------------------------------------------

const ALPHABET: [&str; 6] = ["a", "b", "Z", " ", "é", "☃"];

/// A random string of at most `max` bytes.
pub fn text(rng: &mut Gen, max: u16) -> String {
    let mut s = String::new();
    let len = rng.below(u64::from(max) + 1);
    for _ in 0..len {
        let c = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
        if s.len() + c.len() > usize::from(max) {
            break;
        }
        s.push_str(c);
    }
    s
}

/// A value in the field's range (strings: a random string, whose cell is its byte length).
fn random_cell(rng: &mut Gen, c: &Coding) -> Result<i32, String> {
    if let Coding::Str { max_bytes } = c {
        return Err(text(rng, *max_bytes));
    }
    let (lo, hi) = c.range();
    Ok(rng.range(lo, hi) as i32)
}

fn set_field(t: &mut StateTable, index: u32, f: usize, v: Result<i32, String>) {
    match v {
        Ok(v) => t.values_mut(index).unwrap()[f] = v,
        Err(s) => t.set_string(index, f as u16, &s).unwrap(),
    }
}

/// A random entity of a random (non-room) type in `index`.
fn spawn(rng: &mut Gen, d: &Descriptor, t: &mut StateTable, index: u32, version: u32) {
    let entity_types: Vec<u16> = (0..d.types.len() as u16)
        .filter(|&i| Some(i) != d.room_type)
        .collect();
    let ty = if entity_types.is_empty() {
        0
    } else {
        entity_types[rng.below(entity_types.len() as u64) as usize]
    };
    spawn_typed(rng, d, t, index, version, ty);
}

fn spawn_typed(
    rng: &mut Gen,
    d: &Descriptor,
    t: &mut StateTable,
    index: u32,
    version: u32,
    ty: u16,
) {
    t.insert(EntityId { index, version }, ty).unwrap();
    for (f, fd) in d.types[usize::from(ty)].fields.iter().enumerate() {
        let v = random_cell(rng, &fd.coding);
        set_field(t, index, f, v);
    }
}

/// A random table: the room state in slot 0 (if the game has one), entities in up to 40 slots
/// and sometimes one far out.
pub fn random_table(rng: &mut Gen, d: &Descriptor, plan: &Plan) -> StateTable {
    let mut t = plan.new_table();
    let first = match d.room_type {
        Some(r) => {
            spawn_typed(rng, d, &mut t, 0, 1, r);
            1
        }
        None => 0,
    };
    let slots = rng.range(0, 40) as u32;
    for i in first..slots {
        if rng.chance(70) {
            let version = 2 * rng.range(0, 4) as u32 + 1;
            spawn(rng, d, &mut t, i, version);
        }
    }
    if rng.chance(10) {
        let index = rng.range(100, 5000) as u32;
        spawn(rng, d, &mut t, index, 1);
    }
    t
}

/// The state `ticks` later: each entity despawns, stays on its prediction (from `base` and
/// `second`, the table `gap` ticks before `base`), changes a few fields, changes type under the
/// same id, or is replaced by a new version; new entities appear in empty slots.
pub fn evolve(
    rng: &mut Gen,
    d: &Descriptor,
    plan: &Plan,
    base: &StateTable,
    second: Option<(&StateTable, i64)>,
    ticks: i64,
) -> StateTable {
    let mut now = plan.new_table();
    for e in base.iter() {
        let index = e.id.index;
        let is_room = d.room_type.is_some() && index == 0;
        let op = if is_room {
            1 + rng.below(2)
        } else {
            rng.below(6)
        };
        match op {
            0 => continue,
            1 | 2 => {
                now.insert(e.id, e.ty).unwrap();
                let tp = &plan.types[usize::from(e.ty)];
                let span = Span {
                    ticks,
                    second: second.and_then(|(t2, gap)| {
                        Some((t2.get(e.id).filter(|b| b.ty == e.ty)?.values, gap))
                    }),
                };
                for (f, fp) in tp.fields.iter().enumerate() {
                    let coding = &d.types[usize::from(e.ty)].fields[f].coding;
                    let v = if fp.kind == Kind::Str {
                        Err(base.string(index, f as u16).to_owned())
                    } else {
                        Ok(on_prediction(fp, f, e.values, &span, coding))
                    };
                    let v = if op == 2 && rng.chance(30) {
                        random_cell(rng, coding)
                    } else {
                        v
                    };
                    set_field(&mut now, index, f, v);
                }
            }
            3 => {
                // Same id, maybe another type: a delta must respawn it.
                let ty = rng.below(d.types.len() as u64) as u16;
                spawn_typed(rng, d, &mut now, index, e.id.version, ty);
            }
            4 => spawn(rng, d, &mut now, index, e.id.version + 2),
            _ => {
                now.insert(e.id, e.ty).unwrap();
                for (f, fd) in d.types[usize::from(e.ty)].fields.iter().enumerate() {
                    let v = random_cell(rng, &fd.coding);
                    set_field(&mut now, index, f, v);
                }
            }
        }
    }
    for _ in 0..rng.below(6) {
        let i = rng.range(1, 60) as u32;
        if base.at(i).is_none() && now.at(i).is_none() {
            let version = 2 * rng.range(0, 4) as u32 + 1;
            spawn(rng, d, &mut now, i, version);
        }
    }
    now
}

/// The field's prediction, clamped into its coding's range as a game's state would be.
fn on_prediction(fp: &FieldPlan, f: usize, base: &[i32], span: &Span<'_>, c: &Coding) -> i32 {
    let p = predict(fp, f, base, span);
    let (lo, hi) = c.range();
    i64::from(p).clamp(lo, hi) as i32
}

/// A client's player: one of the entities of `now` (or of `base`), or none.
pub fn pick_own(rng: &mut Gen, base: &StateTable, now: &StateTable) -> Option<EntityId> {
    let ids: Vec<EntityId> = now.iter().chain(base.iter()).map(|e| e.id).collect();
    if ids.is_empty() || rng.chance(10) {
        return None;
    }
    Some(ids[rng.below(ids.len() as u64) as usize])
}

/// One world to build deltas over: a descriptor, the server's tables at `tick2`, `tick1` and
/// `tick` (tick2 < tick1 < tick, wrapping), and the client's player.
#[derive(Debug)]
pub struct World {
    pub d: Descriptor,
    pub plan: Plan,
    pub base2: StateTable,
    pub base: StateTable,
    pub now: StateTable,
    pub tick2: u32,
    pub tick1: u32,
    pub tick: u32,
    pub own: Option<EntityId>,
}

impl World {
    pub fn generate(d: Descriptor, seed: u64) -> World {
        let mut rng = Gen::new(seed);
        let plan = Plan::new(&d);
        // Ticks anywhere in u32, so the wrapping tick arithmetic is exercised too.
        let tick2 = rng.next() as u32;
        let gap = if rng.chance(90) {
            rng.range(1, 8)
        } else {
            rng.range(1, 1024)
        };
        let ticks = if rng.chance(90) {
            rng.range(1, 8)
        } else {
            rng.range(1, 1024)
        };
        let tick1 = tick2.wrapping_add(gap as u32);
        let tick = tick1.wrapping_add(ticks as u32);
        let base2 = random_table(&mut rng, &d, &plan);
        let base = evolve(&mut rng, &d, &plan, &base2, None, gap);
        let now = evolve(&mut rng, &d, &plan, &base, Some((&base2, gap)), ticks);
        let own = pick_own(&mut rng, &base, &now);
        World {
            d,
            plan,
            base2,
            base,
            now,
            tick2,
            tick1,
            tick,
            own,
        }
    }

    /// The server's baseline (`second`: with the second baseline).
    pub fn baseline(&self, second: bool) -> Baseline<'_> {
        Baseline {
            table: &self.base,
            tick: self.tick1,
            second: second.then_some((&self.base2, self.tick2)),
        }
    }

    /// The delta bytes a server sends this client: shared part, then private part.
    pub fn delta(&self, base: Option<&Baseline<'_>>) -> Vec<u8> {
        let mut enc = Encoder::default();
        let mut out = Vec::new();
        enc.shared(&self.plan, base, &self.now, self.tick, &mut out);
        if let Some(own) = self.own {
            enc.private(&self.plan, own, base, &self.now, self.tick, &mut out);
        }
        out
    }
}

pub fn world() -> impl Strategy<Value = World> {
    (descriptor(), any::<u64>()).prop_map(|(d, seed)| World::generate(d, seed))
}

/// Random values for `fields`, as a game would write them.
pub fn values_for(rng: &mut Gen, fields: &[FieldDesc]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| match &f.coding {
            Coding::Str { max_bytes } => Value::Str(text(rng, *max_bytes)),
            Coding::Fixed {
                scale, min, max, ..
            } => Value::Num(rng.range(i64::from(*min), i64::from(*max)) as f64 / f64::from(*scale)),
            Coding::Angle { .. } => Value::Num(rng.range(-10_000, 10_000) as f64 / 1000.0),
            c => {
                let (lo, hi) = c.range();
                Value::Int(rng.range(lo, hi))
            }
        })
        .collect()
}

// ---- messages -------------------------------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ]{0,23}".prop_map(|s| format!("p{s}"))
}

fn text_strategy() -> impl Strategy<Value = String> {
    "[ -~é☃]{0,60}"
}

fn entity_id() -> impl Strategy<Value = EntityId> {
    (0u32..1 << 20, any::<u32>()).prop_map(|(index, version)| EntityId { index, version })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

pub fn client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (
            any::<u16>(),
            "[a-zA-Z0-9_-]{1,32}",
            name(),
            proptest::option::of("[ -~]{0,256}"),
            proptest::option::of("[ -~]{0,256}"),
            proptest::option::of("[a-z0-9_-]{1,32}"),
        )
            .prop_map(|(version, room, name, auth_token, resume_token, game)| {
                ClientMsg::Hello(Hello {
                    version,
                    room,
                    name,
                    auth_token,
                    resume_token,
                    game,
                })
            }),
        (
            any::<u32>(),
            any::<Option<u32>>(),
            any::<Option<(u32, u8)>>(),
            bytes(32)
        )
            .prop_map(|(seq, ack, view, values)| ClientMsg::Input(Input {
                seq,
                ack,
                view: view.map(|(tick, frac)| ViewTime { tick, frac }),
                values
            })),
        any::<u32>().prop_map(|tick| ClientMsg::Ack { tick }),
        any::<u64>().prop_map(|client_time_us| ClientMsg::Ping { client_time_us }),
        text_strategy().prop_map(|text| ClientMsg::Chat { text }),
        (any::<u16>(), bytes(64)).prop_map(|(id, values)| ClientMsg::Action(Action { id, values })),
    ]
}

fn player() -> impl Strategy<Value = PlayerInfo> {
    (entity_id(), name()).prop_map(|(entity, name)| PlayerInfo { entity, name })
}

fn header() -> impl Strategy<Value = SnapshotHeader> {
    any::<(u32, Option<u32>, Option<u32>, u32, u64, Option<u32>)>().prop_map(
        |(tick, baseline, baseline2, input_seq, server_time_us, checksum)| SnapshotHeader {
            tick,
            baseline,
            baseline2,
            input_seq,
            server_time_us,
            checksum,
        },
    )
}

pub fn server_msg() -> impl Strategy<Value = ServerMsg> {
    prop_oneof![
        (
            entity_id(),
            any::<u32>(),
            vec(player(), 0..5),
            any::<(u16, u16)>(),
            descriptor(),
        )
            .prop_map(|(player, tick, players, (version, tick_rate), schema)| {
                ServerMsg::Welcome(Box::new(Welcome {
                    version,
                    player,
                    room: "arena".into(),
                    game: schema.game.clone(),
                    tick_rate,
                    tick,
                    resume_token: "r".repeat(tick as usize % 40),
                    players,
                    schema_hash: schema.hash(),
                    schema,
                }))
            }),
        (any::<u16>(), text_strategy())
            .prop_map(|(code, reason)| ServerMsg::Reject { code, reason }),
        (header(), bytes(300))
            .prop_map(|(header, delta)| ServerMsg::Snapshot(Snapshot { header, delta })),
        (world(), header()).prop_map(|(w, header)| {
            let b = w.baseline(true);
            ServerMsg::Snapshot(Snapshot {
                header,
                delta: w.delta(Some(&b)),
            })
        }),
        any::<(u64, u64)>().prop_map(|(client_time_us, server_time_us)| ServerMsg::Pong {
            client_time_us,
            server_time_us
        }),
        player().prop_map(|p| ServerMsg::Event(Event::PlayerJoined(p))),
        entity_id().prop_map(|entity| ServerMsg::Event(Event::PlayerLeft { entity })),
        (entity_id(), text_strategy())
            .prop_map(|(from, text)| ServerMsg::Event(Event::Chat { from, text })),
        text_strategy().prop_map(|text| ServerMsg::Event(Event::Notice { text })),
        (any::<u16>(), bytes(64))
            .prop_map(|(id, values)| ServerMsg::GameEvent(Action { id, values })),
    ]
}
