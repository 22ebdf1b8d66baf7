//! Generated code reaching protocol through the `ticksync` facade's re-export, as in a game crate
//! that depends only on `ticksync` (the derives then name `::ticksync::protocol`; the unit tests
//! check that choice). This test crate stands in for the facade: it is `::ticksync` to itself
//! and re-exports protocol, and each derive is pointed there with its `crate = ".."` attribute.

extern crate self as ticksync;

pub use protocol;

use glam::Vec2;
use ticksync::protocol::declare::{Fields, Messages, Replicate, WireEnum, Writer};
use ticksync_derive::{Fields, Messages, Replicate, WireEnum};

#[derive(Clone, Copy, Debug, Default, PartialEq, WireEnum)]
#[wire_enum(crate = "::ticksync::protocol")]
enum Team {
    #[default]
    Red,
    Blue,
}

#[derive(Clone, Debug, Default, PartialEq, Replicate)]
#[replicate(name = "tank", crate = "::ticksync::protocol")]
struct Tank {
    #[field(fixed(scale = 16, min = 0, max = 100), predict = velocity(vel))]
    pos: Vec2,
    #[field(fixed(scale = 16, min = -10, max = 10))]
    vel: Vec2,
    #[field(enumeration)]
    team: Team,
    #[field(string(max = 8))]
    name: String,
}

#[derive(Clone, Debug, PartialEq, Replicate)]
#[replicate(crate = "::ticksync::protocol")]
enum World {
    Tank(Tank),
}

#[derive(Clone, Debug, Default, PartialEq, Fields)]
#[fields(crate = "::ticksync::protocol")]
struct Input {
    fire: bool,
}

#[derive(Clone, Debug, PartialEq, Messages)]
#[messages(crate = "::ticksync::protocol")]
enum Action {
    Respawn,
    SetTeam {
        #[field(enumeration)]
        team: Team,
    },
}

#[test]
fn derives_work_through_the_facade() {
    let tank = World::Tank(Tank {
        pos: Vec2::new(10.0, 20.0),
        team: Team::Blue,
        name: "ada".into(),
        ..Tank::default()
    });
    let types = World::types();
    assert_eq!(types[0].0, "tank");
    assert_eq!(types[0].1.len(), 6);
    let mut out = Writer::default();
    tank.write(&mut out);
    assert_eq!(World::read(tank.type_id(), &out.values()), Some(tank));

    assert_eq!(Input::fields().len(), 1);
    let action = Action::SetTeam { team: Team::Blue };
    let mut out = Writer::default();
    action.write(&mut out);
    assert_eq!(Action::read(action.id(), &out.values()), Some(action));
    assert_eq!(Team::from_index(Team::Blue.index()), Some(Team::Blue));
}
