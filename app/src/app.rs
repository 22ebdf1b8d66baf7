//! [`App`]: a studio's games in, the whole program out.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use bots::behaviour::{Behaviour, Behaviours};
use clap::{ArgMatches, Command, FromArgMatches};
use protocol::Descriptor;
use server::game::{Ctx, Game, Games};

use crate::launch::{self, Launch};

/// A game server program: the games it hosts, their pages and bots, and any flags of their
/// own. [`App::run`] parses the command line and serves, or runs the `schema` or `bots`
/// subcommand.
///
/// ```no_run
/// # use ticksync::game::{Ctx, EntityKey, Game};
/// # use ticksync::protocol::declare::NoMessages;
/// # #[derive(ticksync::Replicate)] struct Dot { x: u8 }
/// # #[derive(ticksync::Fields, Default)] struct In { go: bool }
/// # struct Dots;
/// # impl Game for Dots {
/// #     type Entity = Dot; type Room = (); type Input = In;
/// #     type Action = NoMessages; type Event = NoMessages;
/// #     fn join(&mut self, ctx: &mut Ctx<'_, Self>, _: &str) -> EntityKey { ctx.world.insert(Dot { x: 0 }) }
/// #     fn input(&mut self, _: &mut Ctx<'_, Self>, _: EntityKey, _: In) {}
/// #     fn step(&mut self, _: &mut Ctx<'_, Self>, _: f32) {}
/// # }
/// use ticksync::bots::behaviour::RandomWalk;
///
/// fn main() -> std::process::ExitCode {
///     ticksync::App::new()
///         .game("dots", |_| Dots)
///         // Its page: `/?game=dots` (or `/` when it is the first game) opens web/index.html.
///         .page("dots", concat!(env!("CARGO_MANIFEST_DIR"), "/web"))
///         // Its bots (`dots bots --bots 100`): without one they send random valid inputs.
///         .bot("dots", RandomWalk::new)
///         .run()
/// }
/// ```
#[derive(Default)]
pub struct App {
    pub(crate) games: Games,
    pub(crate) behaviours: Behaviours,
    settings: Settings,
    /// Mistakes in the calls above, reported by `run` before anything starts.
    pub(crate) errors: Vec<String>,
}

impl App {
    /// An app with no games yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts game `G` as `name`: `make` builds each new room's game (spawning its initial
    /// entities into `ctx.world`). The first game added is the default of rooms that name
    /// none. A name is 1-32 characters of `A-Z a-z 0-9 _ -`, and each is added once.
    pub fn game<G: Game>(
        mut self,
        name: &str,
        make: impl Fn(&mut Ctx<'_, G>) -> G + Send + Sync + 'static,
    ) -> Self {
        if let Err(e) = self.games.try_register(name, make) {
            self.errors.push(e.to_string());
        }
        self
    }

    /// As [`App::game`], for a game with settings of its own: `S`'s flags (a `clap::Args`)
    /// join the server's (in `--help`, `TICKSYNC_*` variables and `--config` files alike),
    /// and `make` gets their values. Games that share a settings type share its flags.
    ///
    /// ```
    /// #[derive(clap::Args)]
    /// struct Rules {
    ///     /// Rocks in each new room.
    ///     #[arg(long, env = "TICKSYNC_ROCKS", default_value_t = 10)]
    ///     rocks: usize,
    /// }
    /// # use ticksync::game::{Ctx, EntityKey, Game};
    /// # use ticksync::protocol::declare::NoMessages;
    /// # #[derive(ticksync::Replicate)] struct Dot { x: u8 }
    /// # #[derive(ticksync::Fields, Default)] struct In { go: bool }
    /// # struct Rocks(usize);
    /// # impl Game for Rocks {
    /// #     type Entity = Dot; type Room = (); type Input = In;
    /// #     type Action = NoMessages; type Event = NoMessages;
    /// #     fn join(&mut self, ctx: &mut Ctx<'_, Self>, _: &str) -> EntityKey { ctx.world.insert(Dot { x: 0 }) }
    /// #     fn input(&mut self, _: &mut Ctx<'_, Self>, _: EntityKey, _: In) {}
    /// #     fn step(&mut self, _: &mut Ctx<'_, Self>, _: f32) {}
    /// # }
    /// let app = ticksync::App::new().game_with("rocks", |rules: &Rules, _ctx| Rocks(rules.rocks));
    /// ```
    pub fn game_with<S, G>(
        mut self,
        name: &str,
        make: impl Fn(&S, &mut Ctx<'_, G>) -> G + Send + Sync + 'static,
    ) -> Self
    where
        S: clap::Args + FromArgMatches + Send + Sync + 'static,
        G: Game,
    {
        let settings = self.settings.slot::<S>();
        self.game(name, move |ctx| {
            // `Launch` parses every settings type before any game is made.
            let s = settings.get().expect("settings parsed before a room opens");
            make(s, ctx)
        })
    }

    /// Game `game`'s browser page: the folder served at `/games/NAME/`, whose `index.html`
    /// `/?game=NAME` opens (and `/`, for the default game). `--static [GAME=]DIR` overrides
    /// it. A game without a page is played on the generic page.
    pub fn page(mut self, game: &str, dir: impl Into<PathBuf>) -> Self {
        if let Err(e) = self.games.set_page(game, dir.into()) {
            self.errors.push(e.to_string());
        }
        self
    }

    /// Game `game`'s bot behaviour for the `bots` subcommand: `make` gets the schema the
    /// server sent and a seed, and returns `None` when the schema lacks what it needs (the bot
    /// then sends random valid inputs, as for a game without a behaviour).
    pub fn bot<B: Behaviour + 'static>(
        mut self,
        game: &str,
        make: impl Fn(&Descriptor, u64) -> Option<B> + Send + Sync + 'static,
    ) -> Self {
        if self.games.get(game).is_none() {
            self.errors
                .push(format!("bot for {game:?}: add the game before its bot"));
        }
        self.behaviours.register(game, make);
        self
    }

    /// Applies `plugin`: a game crate's one function that adds its game, page and bot.
    pub fn with(self, plugin: impl FnOnce(Self) -> Self) -> Self {
        plugin(self)
    }

    /// The bot behaviours added so far (for a runner of its own, like `bot-client`).
    pub fn behaviours(&self) -> &Behaviours {
        &self.behaviours
    }

    /// Parses the process's command line and runs what it asks for: the server (until
    /// SIGTERM or Ctrl-C, then a drain), `schema`, `bots`, `--print-config`, `--help`.
    /// Returns the exit status: 2 for a bad command line or setup, 1 for a failed run.
    pub fn run(self) -> ExitCode {
        match self.parse_from(std::env::args_os()) {
            Ok(launch) => launch.run(),
            Err(e) => e.exit(),
        }
    }

    /// Parses `args` (the program's name first) into what to run, without running it: tests
    /// and tools take the server's settings and games from [`Launch::Serve`].
    pub fn parse_from<I, T>(self, args: I) -> Result<Launch, launch::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        launch::parse(self, args.into_iter().map(Into::into).collect())
    }

    /// The command line with every settings type's flags added.
    pub(crate) fn augment(&self, cmd: Command) -> Command {
        self.settings.augment(cmd)
    }

    /// Reads every settings type from `matches` (once, before any game is made).
    pub(crate) fn fill(&self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.settings.fill(matches)
    }
}

/// The games' own settings types, each parsed once from the command line.
#[derive(Default)]
struct Settings {
    by_type: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    slots: Vec<Box<dyn Slot>>,
}

trait Slot: Send + Sync {
    fn augment(&self, cmd: Command) -> Command;
    fn fill(&self, matches: &ArgMatches) -> Result<(), clap::Error>;
}

struct TypedSlot<S>(Arc<OnceLock<S>>);

impl<S: clap::Args + FromArgMatches + Send + Sync + 'static> Slot for TypedSlot<S> {
    fn augment(&self, cmd: Command) -> Command {
        S::augment_args(cmd)
    }

    fn fill(&self, matches: &ArgMatches) -> Result<(), clap::Error> {
        let s = S::from_arg_matches(matches)?;
        // Set once: a second parse of the same App keeps the first values.
        let _ = self.0.set(s);
        Ok(())
    }
}

impl Settings {
    fn slot<S: clap::Args + FromArgMatches + Send + Sync + 'static>(&mut self) -> Arc<OnceLock<S>> {
        if let Some(cell) = self
            .by_type
            .get(&TypeId::of::<S>())
            .and_then(|c| c.downcast_ref::<Arc<OnceLock<S>>>())
        {
            return cell.clone();
        }
        let cell = Arc::new(OnceLock::new());
        self.by_type
            .insert(TypeId::of::<S>(), Box::new(cell.clone()));
        self.slots.push(Box::new(TypedSlot(cell.clone())));
        cell
    }

    fn augment(&self, cmd: Command) -> Command {
        self.slots.iter().fold(cmd, |cmd, s| s.augment(cmd))
    }

    fn fill(&self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.slots.iter().try_for_each(|s| s.fill(matches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Launch;
    use server::game::EntityKey;
    use ticksync_derive::{Fields, Replicate};

    #[derive(Replicate)]
    struct Dot {
        #[field(int(min = 0, max = 9))]
        n: u8,
    }

    #[derive(Fields, Default)]
    struct Push {
        up: bool,
    }

    struct Dots(u8);

    impl Game for Dots {
        type Entity = Dot;
        type Room = ();
        type Input = Push;
        type Action = protocol::declare::NoMessages;
        type Event = protocol::declare::NoMessages;

        fn join(&mut self, ctx: &mut Ctx<'_, Self>, _: &str) -> EntityKey {
            ctx.world.insert(Dot { n: self.0 })
        }
        fn input(&mut self, _: &mut Ctx<'_, Self>, _: EntityKey, _: Push) {}
        fn step(&mut self, _: &mut Ctx<'_, Self>, _: f32) {}
    }

    #[derive(clap::Args)]
    struct Start {
        /// The dots' first number.
        #[arg(long, default_value_t = 3)]
        first: u8,
    }

    fn setup_error(app: App) -> String {
        match app.parse_from(["prog"]) {
            Err(crate::launch::Error::Setup(e)) => e,
            Err(e) => panic!("not a setup error: {e}"),
            Ok(_) => panic!("started"),
        }
    }

    #[test]
    fn mistakes_in_the_setup_are_named_before_anything_starts() {
        let twice = App::new()
            .game("dots", |_| Dots(0))
            .game("dots", |_| Dots(1));
        assert!(setup_error(twice).contains("\"dots\" is registered twice"));
        let bad = App::new().game("no spaces", |_| Dots(0));
        assert!(setup_error(bad).contains("1-32 characters"));
        let page = App::new().game("dots", |_| Dots(0)).page("dot", "/tmp");
        assert!(setup_error(page).contains("no game of that name"));
        let bot = App::new().bot("dots", bots::behaviour::RandomWalk::new);
        assert!(setup_error(bot).contains("add the game before its bot"));
    }

    #[test]
    fn games_get_their_own_flags_and_the_first_game_is_the_default() {
        let app = App::new()
            .game_with("dots", |s: &Start, _| Dots(s.first))
            .game_with("more", |s: &Start, _| Dots(s.first + 1));
        let Ok(Launch::Serve { config, games, .. }) = app.parse_from(["prog", "--first", "7"])
        else {
            panic!("a server command line")
        };
        assert_eq!(
            config.game, None,
            "the server resolves the default at start"
        );
        assert_eq!(games.first(), Some("dots"));
        let mut room = games.get("more").unwrap().create(60).unwrap();
        let player = room.join("ann");
        let saved = room.save();
        let dot = saved.entities.iter().find(|e| e.id == player).unwrap();
        assert_eq!(dot.values, [protocol::schema::Value::Int(8)]);
    }

    #[test]
    fn schema_prints_a_registered_game_and_names_the_others() {
        let app = || App::new().game("dots", |_| Dots(0));
        let Ok(Launch::Print(ts)) = app().parse_from(["prog", "schema", "--ts", "dots"]) else {
            panic!("schema prints")
        };
        assert!(ts.contains("export type GameName = \"dots\""), "{ts}");
        match app().parse_from(["prog", "schema", "--ts", "tag"]) {
            Err(crate::launch::Error::Setup(e)) => {
                assert!(e.contains("no game named tag (known: dots)"), "{e}")
            }
            _ => panic!("an unknown game is an error"),
        }
    }

    #[test]
    fn bots_get_the_apps_behaviours() {
        let app = App::new()
            .game("dots", |_| Dots(0))
            .bot("dots", bots::behaviour::RandomWalk::new);
        let Ok(Launch::Bots { args, behaviours }) =
            app.parse_from(["prog", "bots", "--bots", "3", "--duration", "1s"])
        else {
            panic!("the bots subcommand")
        };
        assert_eq!(args.bots, 3);
        assert_eq!(behaviours.games().collect::<Vec<_>>(), ["dots"]);
    }
}
