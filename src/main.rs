//! `ticksync`: runs the game server. `cargo run --release` serves the browser games on
//! http://127.0.0.1:8080; `--help` lists every option. `ticksync schema --ts GAME` prints a
//! game's TypeScript declarations (`--json`: its descriptor).

use clap::Parser;
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

    /// Log filter (tracing-subscriber syntax, e.g. `info`, `server=debug`).
    #[arg(long, env = "TICKSYNC_LOG", default_value = "info")]
    log: String,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log)?)
        .with_writer(std::io::stderr)
        .init();

    let server = server::Server::start(cli.config).await?;
    // The first stdout line is the address: tests and scripts read it (port 0 picks one).
    println!("ticksync listening on http://{}", server.local_addr());
    tracing::info!(addr = %server.local_addr(), "open the URL above in a browser to play");

    shutdown_signal().await;
    // In a cluster the rooms go on on other nodes (a deploy loses no match); standalone
    // there is nowhere to hand them, and this does nothing.
    server.drain().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
