//! The reference program: ticksync's [`App`] with the reference games, arena (and
//! arena-large) and skirmish, each with its page and bots. The `ticksync` binary runs
//! [`app`]; `bot-client` plays these games' bots; tests and benchmarks take the same games
//! from [`games`].

use arena::Arena;
use skirmish::Skirmish;
use ticksync::game::Games;
use ticksync::{App, Launch};

/// The reference games' own flags.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// NPCs in each arena room.
    #[arg(long, env = "TICKSYNC_NPCS", default_value_t = 1000)]
    pub npcs: usize,

    /// Seed of the reference games' PRNGs.
    #[arg(long, env = "TICKSYNC_SEED", default_value_t = arena::DEFAULT_SEED)]
    pub seed: u32,
}

/// The program: arena (the default game), arena-large and skirmish.
pub fn app() -> App {
    App::new()
        .game_with(arena::NAME, |s: &Settings, ctx| {
            Arena::new(ctx, s.npcs, s.seed)
        })
        .page(arena::NAME, arena::page())
        .bot(arena::NAME, arena::Bot::new)
        .game_with(arena::LARGE_NAME, |s: &Settings, ctx| {
            Arena::large(ctx, s.seed)
        })
        .page(arena::LARGE_NAME, arena::page())
        .bot(arena::LARGE_NAME, arena::Bot::new)
        .game_with(skirmish::NAME, |s: &Settings, _| Skirmish::new(s.seed))
        .page(skirmish::NAME, skirmish::page())
        .bot(skirmish::NAME, skirmish::bot::Hunter::new)
}

/// The reference games as `ticksync` would serve them given `args` (flags after the program
/// name, e.g. `["--npcs", "50"]`): for tests and benchmarks that run a server in-process.
///
/// # Panics
///
/// On flags that do not parse.
pub fn games(args: &[&str]) -> Games {
    let argv = std::iter::once("ticksync").chain(args.iter().copied());
    match app().parse_from(argv) {
        Ok(Launch::Serve { games, .. }) => games,
        Ok(_) => panic!("{args:?} is not a server command line"),
        Err(e) => panic!("{args:?}: {e}"),
    }
}
