//! The checked-in TypeScript declarations of the reference games (`web/static/types/`) are
//! what `ticksync schema --ts GAME` prints now. Regenerate with
//! `cargo run --release -- schema --ts GAME > web/static/types/GAME.d.ts`.

use std::path::PathBuf;

#[test]
fn checked_in_declarations_are_current() {
    let cfg = server::Config::default();
    let games = server::reference_games(&cfg);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/static/types");
    for game in ["arena", "skirmish"] {
        let d = games
            .descriptor(game, cfg.tick_rate)
            .expect("a reference game")
            .expect("a valid declaration");
        let want = server::typescript::declarations(&d);
        let path = dir.join(format!("{game}.d.ts"));
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `cargo run --release -- schema --ts {game} > web/static/types/{game}.d.ts`",
            path.display()
        );
    }
}
