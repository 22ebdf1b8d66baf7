//! The game's server: `cargo run --release`, then open http://127.0.0.1:8080 in two tabs.
//! `--help` lists every option; `coins schema --ts coins` prints the page's TypeScript types;
//! `coins bots --bots 100 --duration 30s` load-tests a running server.

fn main() -> std::process::ExitCode {
    ticksync::App::new()
        .game(coins::NAME, coins::Coins::new)
        .page(coins::NAME, concat!(env!("CARGO_MANIFEST_DIR"), "/web"))
        .bot(coins::NAME, coins::bot::Collector::new)
        .run()
}
