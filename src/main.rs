//! `ticksync`: runs the game server. `cargo run --release` serves the browser games on
//! http://127.0.0.1:8080; `--help` lists every option, `--config FILE` reads them from TOML.
//! `ticksync schema --ts GAME` prints a game's TypeScript declarations (`--json`: its
//! descriptor).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ticksync",
    version,
    about = "Authoritative multiplayer game-state server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    config: server::Config,

    /// TOML file of settings: the long flags without their dashes (`tick-rate = 30`). A flag
    /// or `TICKSYNC_*` variable overrides the file; an unknown key or a bad value is an error.
    #[arg(long = "config", id = server::config_file::CONFIG_ARG, env = "TICKSYNC_CONFIG", value_name = "FILE")]
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

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print a game's schema: TypeScript declarations (`--ts`) or its descriptor as JSON.
    Schema {
        /// The game, as registered (`arena`, `skirmish`).
        game: String,
        /// TypeScript declarations for the browser client.
        #[arg(long, conflicts_with = "json")]
        ts: bool,
        /// The descriptor `Welcome` carries, as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let parsed = match server::config_file::parse::<Cli>(std::env::args_os().collect()) {
        Ok(p) => p,
        Err(server::config_file::Error::Cli(e)) => e.exit(),
        Err(server::config_file::Error::File(e)) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let cli = parsed.cli;
    if cli.print_config {
        print!("{}", parsed.effective.to_toml());
        return Ok(());
    }
    if let Some(Command::Schema { game, ts, json }) = &cli.command {
        let games = server::reference_games(&cli.config);
        let d = games
            .descriptor(game, cli.config.tick_rate)
            .ok_or_else(|| anyhow::anyhow!("no game named {game}"))??;
        if *json || !*ts {
            println!("{}", serde_json::to_string_pretty(&d)?);
        } else {
            print!("{}", server::typescript::declarations(&d));
        }
        return Ok(());
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log)?)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_span_list(true).init(),
    }
    tokio::runtime::Runtime::new()?.block_on(serve(cli.config))
}

async fn serve(config: server::Config) -> anyhow::Result<()> {
    let server = server::Server::start(config).await?;
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
async fn shutdown_signal(server: &server::Server) {
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
