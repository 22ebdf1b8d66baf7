//! The command line of an App's program, and running what it asks for.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use bots::behaviour::Behaviours;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use server::game::Games;
use server::{Config, Server};
use tracing_subscriber::EnvFilter;

use crate::App;
use crate::config_file;

/// The program's command line: the server's settings, then a subcommand.
#[derive(Parser)]
#[command(
    version,
    about = "Authoritative multiplayer game-state server (ticksync)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Subcommand>,

    #[command(flatten)]
    config: Config,

    /// TOML file of settings: the long flags without their dashes (`tick-rate = 30`). A flag
    /// or `TICKSYNC_*` variable overrides the file; an unknown key or a bad value is an error.
    #[arg(long = "config", id = config_file::CONFIG_ARG, env = "TICKSYNC_CONFIG", value_name = "FILE")]
    config_file: Option<PathBuf>,

    /// Print the settings in effect (as TOML, each with its source: flag, env, file or
    /// default) and exit.
    #[arg(long)]
    print_config: bool,

    /// Log filter (tracing-subscriber syntax, e.g. `info`, `server=debug`).
    #[arg(long, env = "TICKSYNC_LOG", default_value = "info")]
    log: String,

    /// Log lines as text, or as JSON objects (one per line, with the room and connection
    /// spans they happened in).
    #[arg(long, env = "TICKSYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with its spans.
    Json,
}

#[derive(clap::Subcommand)]
enum Subcommand {
    /// Print a game's schema: TypeScript declarations (`--ts`) or its descriptor as JSON.
    Schema {
        /// The game, as this program registers it.
        game: String,
        /// TypeScript declarations for the browser client.
        #[arg(long, conflicts_with = "json")]
        ts: bool,
        /// The descriptor `Welcome` carries, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load-test a server with headless bots that play this program's games (each with its
    /// own behaviour, random valid inputs otherwise) and report what players would feel.
    Bots(Box<bots::cli::Args>),
}

/// What a parsed command line asks for.
pub enum Launch {
    /// Serve the games until SIGTERM or Ctrl-C.
    Serve {
        /// The server's settings, every default, variable and file applied.
        config: Box<Config>,
        /// The games, their pages and settings resolved.
        games: Games,
        /// `--log`.
        log: String,
        /// `--log-format`.
        log_format: LogFormat,
    },
    /// Print this (a schema, the settings) and exit.
    Print(String),
    /// Run bots against a server.
    Bots {
        /// The `bots` subcommand's flags.
        args: Box<bots::cli::Args>,
        /// This program's games' behaviours.
        behaviours: Behaviours,
    },
}

/// Why the command line cannot run.
#[derive(Debug)]
pub enum Error {
    /// clap's own (it also carries `--help` and `--version`).
    Cli(clap::Error),
    /// A config file, a game's setup or a subcommand's argument: the message says which.
    Setup(String),
}

impl Error {
    /// Prints the error (or the help) and gives the exit status.
    pub fn exit(self) -> ExitCode {
        match self {
            Error::Cli(e) => {
                let _ = e.print();
                ExitCode::from(if e.use_stderr() { 2 } else { 0 })
            }
            Error::Setup(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Cli(e) => write!(f, "{e}"),
            Error::Setup(e) => f.write_str(e),
        }
    }
}

pub(crate) fn parse(app: App, args: Vec<OsString>) -> Result<Launch, Error> {
    if !app.errors.is_empty() {
        return Err(Error::Setup(app.errors.join("; ")));
    }
    let name = args
        .first()
        .map(PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "ticksync".to_owned());
    let cmd = app.augment(Cli::command().name(name.clone()).bin_name(name));
    let (matches, effective) = config_file::parse_command(cmd, args).map_err(|e| match e {
        config_file::Error::Cli(e) => Error::Cli(e),
        config_file::Error::File(e) => Error::Setup(e),
    })?;
    let cli = Cli::from_arg_matches(&matches).map_err(Error::Cli)?;
    app.fill(&matches).map_err(Error::Cli)?;
    if cli.print_config {
        return Ok(Launch::Print(effective.to_toml()));
    }
    let App {
        games, behaviours, ..
    } = app;
    match cli.command {
        Some(Subcommand::Schema { game, ts, json }) => {
            let d = games
                .descriptor(&game, cli.config.tick_rate)
                .ok_or_else(|| {
                    let known: Vec<&str> = games.names().collect();
                    Error::Setup(format!(
                        "no game named {game} (known: {})",
                        known.join(", ")
                    ))
                })?
                .map_err(|e| Error::Setup(format!("game {game}: {e}")))?;
            let text = if json || !ts {
                serde_json::to_string_pretty(&d).expect("descriptors serialise") + "\n"
            } else {
                server::typescript::declarations(&d)
            };
            Ok(Launch::Print(text))
        }
        Some(Subcommand::Bots(args)) => Ok(Launch::Bots { args, behaviours }),
        None => Ok(Launch::Serve {
            config: Box::new(cli.config),
            games,
            log: cli.log,
            log_format: cli.log_format,
        }),
    }
}

impl Launch {
    /// Runs it; returns the exit status.
    pub fn run(self) -> ExitCode {
        match self {
            Launch::Print(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Launch::Bots { args, behaviours } => bots::cli::run(&args, behaviours),
            Launch::Serve {
                config,
                games,
                log,
                log_format,
            } => {
                if let Err(e) = init_logs(&log, log_format) {
                    eprintln!("error: --log {log}: {e}");
                    return ExitCode::from(2);
                }
                let served = tokio::runtime::Runtime::new()
                    .map_err(|e| e.to_string())
                    .and_then(|rt| rt.block_on(serve(*config, games)));
                match served {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }
}

fn init_logs(filter: &str, format: LogFormat) -> Result<(), String> {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).map_err(|e| e.to_string())?)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().with_span_list(true).try_init(),
    }
    .map_err(|e| e.to_string())
}

async fn serve(config: Config, games: Games) -> Result<(), String> {
    let server = Server::start_with(config, games)
        .await
        .map_err(|e| e.to_string())?;
    // The first stdout line is the address: tests and scripts read it (port 0 picks one).
    let scheme = if server.is_tls() { "https" } else { "http" };
    println!("ticksync listening on {scheme}://{}", server.local_addr());
    tracing::info!(addr = %server.local_addr(), "open the URL above in a browser to play");

    shutdown_signal(&server).await;
    // In a cluster the rooms go on on other nodes (a deploy loses no match); standalone
    // there is nowhere to hand them, and this does nothing.
    server.drain().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM; meanwhile each SIGHUP reloads the TLS certificate.
async fn shutdown_signal(server: &Server) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler installs");
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => return,
                _ = term.recv() => return,
                _ = hup.recv() => match server.reload_tls() {
                    Ok(()) => tracing::info!("reloaded the TLS certificate"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: the TLS certificate was not reloaded"),
                },
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
