//! `bot-client`: runs many bots against a ticksync server playing the reference games (arena's
//! bots wander, skirmish's hunt the other team; other games get random valid inputs) and
//! reports what players would feel. Exit status 1 on any checksum mismatch or protocol error,
//! or when no bot connected.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = bots::cli::Args::parse();
    bots::cli::run(&args, ticksync_reference::app().behaviours().clone())
}
