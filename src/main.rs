//! `ticksync`: the reference games' server. `cargo run --release` serves them on
//! http://127.0.0.1:8080; `--help` lists every option, `--config FILE` reads them from TOML;
//! `ticksync schema --ts GAME` prints a game's TypeScript declarations, `ticksync bots`
//! load-tests a server.

fn main() -> std::process::ExitCode {
    ticksync_reference::app().run()
}
