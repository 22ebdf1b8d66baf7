//! The checked-in TypeScript declarations of the reference games (`games/GAME/web/GAME.d.ts`)
//! are what `ticksync schema --ts GAME` prints now. Regenerate with
//! `cargo run --release -- schema --ts GAME > games/GAME/web/GAME.d.ts`.

use std::path::PathBuf;

#[test]
fn checked_in_declarations_are_current() {
    let cfg = server::Config::default();
    let games = ticksync_reference::games(&[]);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for game in ["arena", "skirmish"] {
        let d = games
            .descriptor(game, cfg.tick_rate)
            .expect("a reference game")
            .expect("a valid declaration");
        let want = server::typescript::declarations(&d);
        let path = root.join(format!("games/{game}/web/{game}.d.ts"));
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `cargo run --release -- schema --ts {game} > games/{game}/web/{game}.d.ts`",
            path.display()
        );
    }
}
