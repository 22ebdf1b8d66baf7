//! Lag compensation end to end: a real server, a real client that says which moment it drew
//! (`Input.view`), and a game that asks `ctx.as_seen_by`. A runner moves exactly one unit a
//! tick, so where the player saw it says how far back the server rewound.

mod support;

use std::time::Duration;

use bots::{Client, Received};
use protocol::{ClientMsg, Input, Value, ViewTime, schema};
use server::Server;
use support::*;

mod track {
    use protocol::declare::NoMessages;
    use server::game::{Ctx, EntityKey, Game};
    use ticksync_derive::{Fields, Messages, Replicate};

    pub const NAME: &str = "track";

    #[derive(Replicate)]
    pub struct Dot {
        #[field(fixed(scale = 16, min = 0, max = 100000), interp = linear)]
        pub x: f32,
        /// Not replicated: a rewound dot reads it as its default.
        #[field(skip)]
        pub secret: u32,
    }

    #[derive(Fields, Default)]
    pub struct Shoot {
        pub shoot: bool,
    }

    #[derive(Messages)]
    pub enum Seen {
        /// Where the shooter saw the runner, where it is, and how far back that was (ticks).
        Shot {
            #[field(fixed(scale = 16, min = 0, max = 100000))]
            seen: f32,
            #[field(fixed(scale = 16, min = 0, max = 100000))]
            present: f32,
            #[field(fixed(scale = 256, min = 0, max = 10000))]
            ticks_back: f32,
            secret: u32,
        },
    }

    pub struct Track {
        runner: EntityKey,
    }

    impl Track {
        pub fn new(ctx: &mut Ctx<'_, Track>) -> Track {
            let runner = ctx.world.insert(Dot { x: 0.0, secret: 7 });
            Track { runner }
        }
    }

    impl Game for Track {
        type Entity = Dot;
        type Room = ();
        type Input = Shoot;
        type Action = NoMessages;
        type Event = Seen;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, _name: &str) -> EntityKey {
            ctx.world.insert(Dot { x: 0.0, secret: 0 })
        }

        fn input(&mut self, ctx: &mut Ctx<'_, Self>, player: EntityKey, input: Shoot) {
            if !input.shoot {
                return;
            }
            let seen = ctx.as_seen_by(player);
            let then = seen.get(self.runner).expect("the runner was there");
            let event = Seen::Shot {
                seen: then.x,
                present: ctx.world[self.runner].x,
                ticks_back: seen.ticks_back() as f32,
                secret: then.secret,
            };
            ctx.emit_to(player, event);
        }

        fn step(&mut self, ctx: &mut Ctx<'_, Self>, _dt: f32) {
            ctx.world[self.runner].x += 1.0;
        }
    }
}

async fn start(max_rewind: Duration) -> Server {
    start_server_with(
        |c| {
            c.game = Some(track::NAME.into());
            c.max_rewind = max_rewind;
        },
        |_| {
            let mut games = server::Games::default();
            games.register(track::NAME, track::Track::new);
            games
        },
    )
    .await
}

/// What the game said about one shot.
#[derive(Debug)]
struct Shot {
    seen: f64,
    present: f64,
    ticks_back: f64,
    secret: i64,
}

/// Fires once with view time `view` (relative to the newest applied tick, or absolute), acking
/// the newest tick, and waits for the game's answer.
async fn shoot(client: &mut Client, seq: u32, view: impl FnOnce(u32) -> Option<ViewTime>) -> Shot {
    let (newest, _) = client.latest().expect("a snapshot");
    let mut values = Vec::new();
    schema::encode_values(&client.schema().input, &[Value::Int(1)], &mut values);
    client
        .send(ClientMsg::Input(Input {
            seq,
            ack: Some(newest),
            view: view(newest),
            values,
        }))
        .expect("input sent");
    let mut shot = None;
    recv_until(client, "the shot's event", |_, m| match m {
        Received::GameEvent { values, .. } => {
            shot = Some(Shot {
                seen: values[0].as_f64(),
                present: values[1].as_f64(),
                ticks_back: values[2].as_f64(),
                secret: match values[3] {
                    Value::Int(i) => i,
                    _ => -1,
                },
            });
            true
        }
        _ => false,
    })
    .await;
    shot.expect("an event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_is_judged_where_the_player_drew_the_world_within_the_cap() {
    let server = start(Duration::from_millis(200)).await;
    let addr = server.local_addr();
    let (mut c, _) = connect(addr, "t", "ann").await;
    recv_tick(&mut c, 30).await;

    // Drawn 4.5 ticks behind the newest snapshot: the runner where that moment showed it,
    // interpolated; the present is ahead by exactly as many ticks as the rewind went back.
    let s = shoot(&mut c, 1, |n| {
        Some(ViewTime {
            tick: n - 5,
            frac: 128,
        })
    })
    .await;
    assert!(s.ticks_back >= 4.5 && s.ticks_back < 4.5 + 15.0, "{s:?}");
    assert!((s.present - s.seen - s.ticks_back).abs() < 0.07, "{s:?}");
    assert_eq!(s.seen.fract(), 0.5, "between two ticks: {s:?}");
    // Only the declared state is rewound: a skipped field reads as its default.
    assert_eq!(s.secret, 0);

    // A view in the future is the present.
    let s = shoot(&mut c, 2, |n| {
        Some(ViewTime {
            tick: n + 100,
            frac: 0,
        })
    })
    .await;
    assert_eq!((s.ticks_back, s.seen), (0.0, s.present), "{s:?}");
    assert_eq!(
        s.secret, 0,
        "the present reads the same way: declared state only"
    );

    // Beyond the cap (the input's round trip plus 200 ms = 12 ticks): clamped to it.
    let s = shoot(&mut c, 3, |_| Some(ViewTime { tick: 0, frac: 0 })).await;
    assert!(s.ticks_back >= 12.0 && s.ticks_back < 12.0 + 15.0, "{s:?}");
    assert!((s.present - s.seen - s.ticks_back).abs() < 0.07, "{s:?}");

    // No view time: the present.
    let s = shoot(&mut c, 4, |_| None).await;
    assert_eq!(s.ticks_back, 0.0, "{s:?}");

    let (_, metrics) = http_get(addr, "/metrics").await;
    for (how, at_least) in [("kept", 1), ("future", 1), ("cap", 1)] {
        let line = format!("ticksync_rewinds_total{{code=\"{how}\"}} ");
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} in /metrics"));
        assert!(n >= at_least, "{line}{n}");
    }
    c.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rewind_zero_judges_every_hit_on_the_present() {
    let server = start(Duration::ZERO).await;
    let (mut c, _) = connect(server.local_addr(), "t", "ann").await;
    recv_tick(&mut c, 30).await;
    let s = shoot(&mut c, 1, |n| {
        Some(ViewTime {
            tick: n - 5,
            frac: 128,
        })
    })
    .await;
    assert_eq!((s.ticks_back, s.seen), (0.0, s.present), "{s:?}");
    c.close().await;
    server.shutdown().await;
}
