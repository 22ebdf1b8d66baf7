//! The derives against the runtime: exact field lists, written values, round trips, defaults
//! for missing values, and descriptors that `resolve`.

use glam::Vec2;
use protocol::declare::{Fields, Messages, Raw, Replicate, WireEnum, Writer};
use protocol::schema::{
    Coding, Descriptor, FieldDesc, Interp, Predictor, TypeDesc, Value, Visibility,
};
use ticksync_derive::{Fields, Messages, Replicate, WireEnum};

#[derive(Clone, Copy, Debug, Default, PartialEq, WireEnum)]
enum Team {
    #[default]
    Red,
    Blue,
    DarkGreen,
}

/// Every coding, predictor, interpolation, visibility and skip.
#[derive(Clone, Debug, Default, PartialEq, Replicate)]
#[replicate(name = "tank")]
struct Tank {
    #[field(
        fixed(scale = 64, min = 0.0, max = 2000.0, tolerance = 0.03125),
        predict = velocity(vel),
        interp = linear
    )]
    pos: Vec2,
    #[field(fixed(scale = 16, min = -300, max = 300.5))]
    vel: Vec2,
    #[field(angle(bits = 10), predict = linear, interp = angle)]
    heading: f32,
    /// Its velocity field comes after it.
    #[field(fixed(scale = 100, min = -1, max = 1), predict = velocity(spin))]
    turret: f64,
    #[field(fixed(scale = 10, min = -5, max = 5), interp = none)]
    spin: f32,
    #[field(int(min = 0, max = 100))]
    health: u8,
    #[field(owner)]
    ammo: u16,
    kills: u32,
    score: i64,
    #[field(int(max = 9))]
    delta: i8,
    firing: bool,
    #[field(enumeration)]
    team: Team,
    #[field(string(max = 24))]
    name: String,
    #[field(skip)]
    respawn_tick: u64,
    #[field(
        fixed(scale = 60, min = 0, max = 5, tolerance = 0.02),
        predict = linear,
        owner
    )]
    reload: f32,
}

/// Default name: snake_case of the struct's.
#[derive(Clone, Debug, Default, PartialEq, Replicate)]
struct TankShell {
    #[field(fixed(scale = 16, min = 0, max = 2000), predict = velocity(vel))]
    pos: Vec2,
    #[field(fixed(scale = 16, min = -600, max = 600))]
    vel: Vec2,
}

#[derive(Clone, Debug, PartialEq, Replicate)]
enum Entity {
    Tank(Tank),
    Shell(TankShell),
}

#[derive(Clone, Debug, Default, PartialEq, Fields)]
struct Input {
    #[field(fixed(scale = 127, min = -1, max = 1))]
    throttle: f32,
    #[field(angle(bits = 8))]
    aim: f32,
    fire: bool,
    #[field(string(max = 8))]
    emote: String,
}

#[derive(Clone, Debug, PartialEq, Messages)]
enum Action {
    Respawn,
    #[message(name = "say")]
    Chat {
        #[field(string(max = 140))]
        text: String,
        #[field(skip)]
        local: bool,
    },
    SetTeam {
        #[field(enumeration)]
        team: Team,
        #[field(fixed(scale = 2, min = -10, max = 10), interp = linear)]
        at: Vec2,
    },
    Nothing {},
}

#[derive(Clone, Debug, PartialEq, Messages)]
enum NoEvents {}

/// No entity types: the generated `write`/`read` must not warn either.
#[derive(Clone, Debug, PartialEq, Replicate)]
enum NoEntities {}

/// Nothing replicated: the generated `write`/`read` must not warn about unused parameters.
#[derive(Clone, Debug, Default, PartialEq, Replicate)]
struct Lobby {
    #[field(skip)]
    _note: String,
}

fn fd(
    id: u16,
    name: &str,
    coding: Coding,
    predictor: Predictor,
    interp: Interp,
    visibility: Visibility,
) -> FieldDesc {
    FieldDesc {
        id,
        name: name.into(),
        coding,
        predictor,
        interp,
        visibility,
    }
}

fn plain(id: u16, name: &str, coding: Coding) -> FieldDesc {
    fd(
        id,
        name,
        coding,
        Predictor::None,
        Interp::None,
        Visibility::Everyone,
    )
}

fn fixed(scale: u32, min: i32, max: i32, tolerance: u32) -> Coding {
    Coding::Fixed {
        scale,
        min,
        max,
        tolerance,
    }
}

fn velocity(field: u16) -> Predictor {
    Predictor::Velocity {
        field,
        num: 0,
        den: 0,
    }
}

fn team_coding() -> Coding {
    Coding::Enum {
        variants: vec!["red".into(), "blue".into(), "dark_green".into()],
    }
}

fn tank_fields() -> Vec<FieldDesc> {
    use Interp as I;
    use Visibility::Everyone as E;
    let pos = fixed(64, 0, 128_000, 2);
    let vel = fixed(16, -4800, 4808, 0);
    vec![
        fd(0, "pos.x", pos.clone(), velocity(2), I::Linear, E),
        fd(1, "pos.y", pos, velocity(3), I::Linear, E),
        plain(2, "vel.x", vel.clone()),
        plain(3, "vel.y", vel),
        fd(
            4,
            "heading",
            Coding::Angle { bits: 10 },
            Predictor::Linear,
            I::Angle,
            E,
        ),
        fd(
            5,
            "turret",
            fixed(100, -100, 100, 0),
            velocity(6),
            I::None,
            E,
        ),
        plain(6, "spin", fixed(10, -50, 50, 0)),
        plain(7, "health", Coding::Int { min: 0, max: 100 }),
        fd(
            8,
            "ammo",
            Coding::Int { min: 0, max: 65535 },
            Predictor::None,
            I::None,
            Visibility::Owner,
        ),
        plain(
            9,
            "kills",
            Coding::Int {
                min: 0,
                max: i32::MAX,
            },
        ),
        plain(
            10,
            "score",
            Coding::Int {
                min: i32::MIN,
                max: i32::MAX,
            },
        ),
        plain(11, "delta", Coding::Int { min: -128, max: 9 }),
        plain(12, "firing", Coding::Bool),
        plain(13, "team", team_coding()),
        plain(14, "name", Coding::Str { max_bytes: 24 }),
        fd(
            15,
            "reload",
            fixed(60, 0, 300, 1),
            Predictor::Linear,
            I::None,
            Visibility::Owner,
        ),
    ]
}

fn sample_tank() -> Tank {
    Tank {
        pos: Vec2::new(100.5, 1999.25),
        vel: Vec2::new(-3.0, 250.0),
        heading: 1.25,
        turret: -0.5,
        spin: 2.5,
        health: 77,
        ammo: 40_000,
        kills: 12,
        score: -99,
        delta: -3,
        firing: true,
        team: Team::DarkGreen,
        name: "ada".into(),
        respawn_tick: 0,
        reload: 0.75,
    }
}

#[test]
fn tank_fields_are_exact() {
    assert_eq!(Tank::fields(), tank_fields());
    assert_eq!(
        <Tank as Replicate>::types(),
        vec![("tank".to_owned(), tank_fields())]
    );
}

#[test]
fn tank_writes_in_id_order() {
    let mut out = Writer::default();
    Fields::write(&sample_tank(), &mut out);
    assert_eq!(
        out.raws,
        vec![
            Raw::Num(100.5),
            Raw::Num(1999.25),
            Raw::Num(-3.0),
            Raw::Num(250.0),
            Raw::Num(1.25),
            Raw::Num(-0.5),
            Raw::Num(2.5),
            Raw::Int(77),
            Raw::Int(40_000),
            Raw::Int(12),
            Raw::Int(-99),
            Raw::Int(-3),
            Raw::Int(1),
            Raw::Int(2),
            Raw::Str(0, 3),
            Raw::Num(0.75),
        ]
    );
    assert_eq!(out.text, "ada");
    let mut again = Writer::default();
    Replicate::write(&sample_tank(), &mut again);
    assert_eq!(again.raws, out.raws, "Replicate::write is Fields::write");
    assert_eq!(sample_tank().type_id(), 0);
}

#[test]
fn tank_round_trips_and_skips() {
    let tank = Tank {
        respawn_tick: 999,
        ..sample_tank()
    };
    let mut out = Writer::default();
    Fields::write(&tank, &mut out);
    let back = <Tank as Fields>::read(&out.values());
    assert_eq!(
        back,
        Tank {
            respawn_tick: 0,
            ..tank.clone()
        }
    );
    // A newer sender's extra values are ignored.
    let mut more = out.values();
    more.push(Value::Int(5));
    assert_eq!(<Tank as Fields>::read(&more), back);
}

#[test]
fn missing_trailing_values_take_defaults() {
    let mut out = Writer::default();
    Fields::write(&sample_tank(), &mut out);
    let values = out.values();
    assert_eq!(<Tank as Fields>::read(&[]), Tank::default());
    let t = sample_tank();
    assert_eq!(
        <Tank as Fields>::read(&values[..5]),
        Tank {
            pos: t.pos,
            vel: t.vel,
            heading: t.heading,
            ..Tank::default()
        }
    );
    // Half a Vec2.
    assert_eq!(
        <Tank as Fields>::read(&values[..1]).pos,
        Vec2::new(t.pos.x, 0.0)
    );
    // Up to the name.
    let upto_name = <Tank as Fields>::read(&values[..15]);
    assert_eq!(upto_name.name, "ada");
    assert_eq!(upto_name.reload, 0.0);
}

#[test]
fn enums_read_unknown_indices_as_the_first_variant() {
    let mut values = vec![Value::Int(0); 16];
    values[13] = Value::Int(7);
    values[14] = Value::Str(String::new());
    assert_eq!(<Tank as Fields>::read(&values).team, Team::Red);
    values[13] = Value::Int(1);
    assert_eq!(<Tank as Fields>::read(&values).team, Team::Blue);
}

#[test]
fn wire_enum() {
    assert_eq!(Team::variants(), ["red", "blue", "dark_green"]);
    assert_eq!(Team::DarkGreen.index(), 2);
    assert_eq!(Team::from_index(1), Some(Team::Blue));
    assert_eq!(Team::from_index(3), None);
}

#[test]
fn entity_enum_concatenates_types() {
    let shell_pos = fixed(16, 0, 32_000, 0);
    let shell_vel = fixed(16, -9600, 9600, 0);
    let shell = vec![
        fd(
            0,
            "pos.x",
            shell_pos.clone(),
            velocity(2),
            Interp::None,
            Visibility::Everyone,
        ),
        fd(
            1,
            "pos.y",
            shell_pos,
            velocity(3),
            Interp::None,
            Visibility::Everyone,
        ),
        plain(2, "vel.x", shell_vel.clone()),
        plain(3, "vel.y", shell_vel),
    ];
    assert_eq!(
        Entity::types(),
        vec![
            ("tank".to_owned(), tank_fields()),
            ("tank_shell".to_owned(), shell)
        ]
    );
    let tank = Entity::Tank(sample_tank());
    let shell = Entity::Shell(TankShell {
        pos: Vec2::new(1.0, 2.0),
        vel: Vec2::new(-3.0, 4.0),
    });
    assert_eq!((tank.type_id(), shell.type_id()), (0, 1));
    let mut out = Writer::default();
    shell.write(&mut out);
    assert_eq!(
        out.raws,
        [1.0, 2.0, -3.0, 4.0].map(Raw::Num).to_vec(),
        "delegates to the struct"
    );
    out.clear();
    tank.write(&mut out);
    assert_eq!(out.raws.len(), 16);
}

/// `Replicate::read` is the inverse of `type_id` + `write`, values unquantised.
fn written(e: &impl Replicate) -> (u16, Vec<Value>) {
    let mut out = Writer::default();
    e.write(&mut out);
    (e.type_id(), out.values())
}

#[test]
fn replicate_reads_back_structs_and_enums() {
    let tank = Tank {
        respawn_tick: 999,
        ..sample_tank()
    };
    let (ty, values) = written(&tank);
    let back = <Tank as Replicate>::read(ty, &values).unwrap();
    // Everything but the skipped field, exactly (no quantisation).
    assert_eq!(
        back,
        Tank {
            respawn_tick: 0,
            ..tank.clone()
        }
    );
    assert_eq!(
        <Tank as Replicate>::read(1, &values),
        None,
        "one type: id 0"
    );

    let shell = Entity::Shell(TankShell {
        pos: Vec2::new(1.0 / 3.0, 1999.9),
        vel: Vec2::new(-600.0, 0.1),
    });
    for e in [Entity::Tank(tank.clone()), shell.clone()] {
        let (ty, values) = written(&e);
        let back = Entity::read(ty, &values).unwrap();
        assert_eq!(written(&back), (ty, values));
    }
    let (_, values) = written(&shell);
    assert_eq!(Entity::read(2, &values), None, "unknown type id");
    // A shell's values are not a tank's (a float where an integer goes, too few strings...).
    assert_eq!(
        Entity::read(0, &values),
        Some(Entity::Tank(Tank {
            pos: Vec2::new(1.0 / 3.0, 1999.9),
            vel: Vec2::new(-600.0, 0.1),
            ..Tank::default()
        })),
        "fewer values: the rest take defaults"
    );
    let (_, tank_values) = written(&Entity::Tank(tank));
    assert_eq!(Entity::read(1, &tank_values), None, "too many values");
    assert_eq!(<Lobby as Replicate>::read(0, &[]), Some(Lobby::default()));
    assert_eq!(<Lobby as Replicate>::read(0, &[Value::Int(1)]), None);
    assert_eq!(<() as Replicate>::read(0, &[]), None, "no room state");
    assert_eq!(NoEntities::read(0, &[]), None);
}

#[test]
fn replicate_read_rejects_values_that_do_not_fit() {
    let (_, good) = written(&sample_tank());
    assert!(<Tank as Replicate>::read(0, &good).is_some());
    let with = |i: usize, v: Value| {
        let mut values = good.clone();
        values[i] = v;
        <Tank as Replicate>::read(0, &values)
    };
    // pos.x, heading, turret: floats.
    assert_eq!(with(0, Value::Int(3)), None);
    assert_eq!(with(4, Value::Str("x".into())), None);
    // health: u8.
    assert!(with(7, Value::Int(255)).is_some());
    assert_eq!(with(7, Value::Int(256)), None);
    assert_eq!(with(7, Value::Int(-1)), None);
    assert_eq!(with(7, Value::Num(7.0)), None);
    // score: i64, any.
    assert!(with(10, Value::Int(i64::MIN)).is_some());
    // delta: i8.
    assert_eq!(with(11, Value::Int(-129)), None);
    // firing: 0 or 1.
    assert!(with(12, Value::Int(0)).is_some());
    assert_eq!(with(12, Value::Int(2)), None);
    // team: three variants.
    assert!(with(13, Value::Int(2)).is_some());
    assert_eq!(with(13, Value::Int(3)), None);
    assert_eq!(with(13, Value::Int(-1)), None);
    // name: a string.
    assert_eq!(with(14, Value::Int(0)), None);
    assert!(with(14, Value::Str("a much longer name than declared".into())).is_some());
}

#[test]
fn input_fields() {
    assert_eq!(
        Input::fields(),
        vec![
            plain(0, "throttle", fixed(127, -127, 127, 0)),
            plain(1, "aim", Coding::Angle { bits: 8 }),
            plain(2, "fire", Coding::Bool),
            plain(3, "emote", Coding::Str { max_bytes: 8 }),
        ]
    );
    let input = Input {
        throttle: -0.5,
        aim: 3.0,
        fire: true,
        emote: "wave".into(),
    };
    let mut out = Writer::default();
    input.write(&mut out);
    assert_eq!(Input::read(&out.values()), input);
    assert_eq!(
        Input::read(&out.values()[..2]),
        Input {
            fire: false,
            emote: String::new(),
            ..input
        }
    );
}

#[test]
fn messages() {
    let at = fixed(2, -20, 20, 0);
    assert_eq!(
        Action::messages(),
        vec![
            ("respawn".to_owned(), vec![]),
            (
                "say".to_owned(),
                vec![plain(0, "text", Coding::Str { max_bytes: 140 })]
            ),
            (
                "set_team".to_owned(),
                vec![
                    plain(0, "team", team_coding()),
                    fd(
                        1,
                        "at.x",
                        at.clone(),
                        Predictor::None,
                        Interp::Linear,
                        Visibility::Everyone
                    ),
                    fd(
                        2,
                        "at.y",
                        at,
                        Predictor::None,
                        Interp::Linear,
                        Visibility::Everyone
                    ),
                ]
            ),
            ("nothing".to_owned(), vec![]),
        ]
    );
    assert!(NoEvents::messages().is_empty());
    assert_eq!(NoEvents::read(0, &[]), None);

    let all = [
        Action::Respawn,
        Action::Chat {
            text: "gg".into(),
            local: false,
        },
        Action::SetTeam {
            team: Team::Blue,
            at: Vec2::new(-4.5, 9.0),
        },
        Action::Nothing {},
    ];
    let mut out = Writer::default();
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m.id() as usize, i);
        out.clear();
        m.write(&mut out);
        assert_eq!(Action::read(m.id(), &out.values()).as_ref(), Some(m));
    }
    out.clear();
    all[2].write(&mut out);
    assert_eq!(out.raws, vec![Raw::Int(1), Raw::Num(-4.5), Raw::Num(9.0)]);

    // Skipped fields are not written and read as their default.
    out.clear();
    Action::Chat {
        text: "hi".into(),
        local: true,
    }
    .write(&mut out);
    assert_eq!(out.values(), vec![Value::Str("hi".into())]);
    assert_eq!(
        Action::read(1, &out.values()),
        Some(Action::Chat {
            text: "hi".into(),
            local: false
        })
    );
    // Missing values: defaults; unknown ids: none.
    assert_eq!(
        Action::read(2, &[Value::Int(2)]),
        Some(Action::SetTeam {
            team: Team::DarkGreen,
            at: Vec2::ZERO
        })
    );
    assert_eq!(Action::read(4, &[]), None);
}

#[test]
fn nothing_replicated() {
    assert!(Lobby::fields().is_empty());
    let mut out = Writer::default();
    Fields::write(&Lobby { _note: "x".into() }, &mut out);
    assert!(out.raws.is_empty());
    assert_eq!(<Lobby as Fields>::read(&[Value::Int(1)]), Lobby::default());
}

fn type_descs(list: Vec<(String, Vec<FieldDesc>)>) -> Vec<TypeDesc> {
    list.into_iter()
        .enumerate()
        .map(|(id, (name, fields))| TypeDesc {
            id: id as u16,
            name,
            fields,
        })
        .collect()
}

#[test]
fn descriptor_resolves() {
    let mut types = Entity::types();
    types.extend(Lobby::types());
    let room_type = Some(types.len() as u16 - 1);
    let d = Descriptor {
        game: "derive-test".into(),
        types: type_descs(types),
        room_type,
        input: Input::fields(),
        actions: type_descs(Action::messages()),
        events: type_descs(NoEvents::messages()),
        params: vec![],
    }
    .resolve(60)
    .expect("a derived descriptor resolves");
    let tank = &d.types[0].fields;
    // pos: 64 steps/unit from vel at 16 steps/unit per second, 60 ticks/s: 64 / 960 = 1/15.
    assert_eq!(
        tank[0].predictor,
        Predictor::Velocity {
            field: 2,
            num: 1,
            den: 15
        }
    );
    assert_eq!(
        tank[1].predictor,
        Predictor::Velocity {
            field: 3,
            num: 1,
            den: 15
        }
    );
    // turret: 100 / (10 x 60) = 1/6.
    assert_eq!(
        tank[5].predictor,
        Predictor::Velocity {
            field: 6,
            num: 1,
            den: 6
        }
    );
    // shell: 16 / (16 x 60) = 1/60.
    assert_eq!(
        d.types[1].fields[0].predictor,
        Predictor::Velocity {
            field: 2,
            num: 1,
            den: 60
        }
    );
}
