//! Bots in a cluster, against fake nodes and a stand-in matchmaker: following `MOVED`
//! (redirects and hand-offs), seats, and asking the matchmaker again after a lost connection.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bots::bot::LiveStats;
use bots::load::{LoadConfig, run_load};
use bots::report::Report;
use protocol::codes;
use support::fake_server::{Behaviour, FakeServer};
use support::matchmaker::{Matchmaker, PICKED_ROOM};

async fn run(cfg: &LoadConfig) -> Report {
    run_load(cfg, Arc::new(LiveStats::default()), std::future::pending()).await
}

fn hellos(server: &FakeServer) -> Vec<protocol::Hello> {
    server.log.lock().unwrap().hellos.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_follow_a_redirect_then_a_handoff_keeping_their_player() {
    let last = FakeServer::start(Behaviour::default()).await;
    let draining = FakeServer::start(Behaviour::draining(&last)).await;
    let front = FakeServer::start(Behaviour {
        reject: Some((codes::MOVED, draining.url())),
        ..Behaviour::default()
    })
    .await;
    let cfg = LoadConfig::new(&front.url(), "arena", 2, Duration::from_millis(1500));
    let r = run(&cfg).await;
    assert!(r.passed, "{}", r.to_human());
    assert_eq!((r.redirects, r.handoffs, r.player_changes), (2, 2, 0));
    assert_eq!(r.close_codes.get("moved"), Some(&4), "{:?}", r.close_codes);
    // Moves are not errors.
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    // Each bot joined twice (the draining node, then the last), and was back playing after
    // the hand-off.
    assert_eq!(r.reconnects, 2);
    assert_eq!((r.recoveries, r.unrecovered), (2, 0));
    assert!(
        r.recovery_ms_max.unwrap() < 1000.0,
        "{:?}",
        r.recovery_ms_max
    );
    // The redirect sent the same Hello on; the hand-off brought the player's resume token
    // from the node that handed over, and no seat.
    assert_eq!(hellos(&front).len(), 2);
    for hello in hellos(&draining) {
        assert_eq!((hello.resume_token, hello.auth_token), (None, None));
    }
    let mut tokens: Vec<_> = hellos(&last)
        .into_iter()
        .map(|h| {
            assert_eq!(h.auth_token, None);
            h.resume_token.unwrap()
        })
        .collect();
    tokens.sort();
    assert_eq!(tokens, ["resume-1", "resume-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_fails_the_join() {
    let looping = FakeServer::start_with(|me| Behaviour {
        reject: Some((codes::MOVED, me)),
        ..Behaviour::default()
    })
    .await;
    let cfg = LoadConfig::new(&looping.url(), "arena", 1, Duration::from_millis(500));
    let r = run(&cfg).await;
    assert!(!r.passed);
    assert_eq!((r.bots_connected, r.bots_failed), (0, 1));
    // Five followed; the sixth was one too many.
    assert_eq!(r.redirects, 5);
    assert_eq!(r.close_codes.get("moved"), Some(&6));
    assert_eq!(hellos(&looping).len(), 6);
    assert!(
        r.errors[0].contains("6 redirects (moved) in a row"),
        "{:?}",
        r.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_off_this_machine_is_not_followed_when_loopback_only() {
    let front = FakeServer::start(Behaviour {
        reject: Some((codes::MOVED, "ws://10.9.9.9:9001/ws".to_owned())),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = LoadConfig::new(&front.url(), "arena", 1, Duration::from_millis(500));
    cfg.loopback_only = true;
    let r = run(&cfg).await;
    assert_eq!((r.bots_failed, r.redirects), (1, 0));
    assert!(r.errors[0].contains("loopback"), "{:?}", r.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matchmade_bot_asks_again_for_its_room_after_a_lost_connection() {
    let last = FakeServer::start(Behaviour::default()).await;
    let dying = FakeServer::start(Behaviour {
        close_at: Some((20, codes::GOING_AWAY)),
        ..Behaviour::default()
    })
    .await;
    let matchmaker = Matchmaker::start(vec![dying.url(), last.url()]).await;
    // Nothing listens at `url`: with a matchmaker it is not used.
    let mut cfg = LoadConfig::new("ws://127.0.0.1:1/ws", "", 1, Duration::from_millis(1500));
    cfg.matchmake = Some(matchmaker.url());
    cfg.game = Some("testgame".to_owned());
    cfg.loopback_only = true;
    let r = run(&cfg).await;
    assert!(r.passed, "{}", r.to_human());
    assert_eq!((r.reconnects, r.handoffs, r.redirects), (1, 0, 0));
    assert_eq!(r.player_changes, 0);
    // Not playing from the close through the reconnect delay (500 ms) to the first snapshot.
    assert_eq!(r.recoveries, 1);
    assert!(
        r.recovery_ms_p50.unwrap() >= 500.0,
        "{:?}",
        r.recovery_ms_p50
    );

    let requests = matchmaker.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // The first lets the matchmaker pick the room; the second asks for the room the bot was in.
    assert_eq!(
        requests[0],
        serde_json::json!({"game": "testgame", "name": "bot0"})
    );
    assert_eq!(
        requests[1],
        serde_json::json!({"game": "testgame", "room": PICKED_ROOM, "name": "bot0"})
    );
    let first = &hellos(&dying)[0];
    assert_eq!(first.room, PICKED_ROOM);
    assert_eq!(first.auth_token.as_deref(), Some("seat1.1"));
    assert_eq!(first.resume_token, None);
    // The second seat, with the resume token, to take the same player back.
    let second = &hellos(&last)[0];
    assert_eq!(second.room, PICKED_ROOM);
    assert_eq!(second.auth_token.as_deref(), Some("seat1.2"));
    assert_eq!(second.resume_token.as_deref(), Some("resume-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matchmaker_without_capacity_fails_the_bots_clearly() {
    let matchmaker = Matchmaker::start(vec![]).await;
    let mut cfg = LoadConfig::new("ws://127.0.0.1:1/ws", "duel", 2, Duration::from_millis(300));
    cfg.matchmake = Some(matchmaker.url());
    let r = run(&cfg).await;
    assert!(!r.passed);
    assert_eq!(r.bots_failed, 2);
    assert_eq!(
        r.errors,
        ["matchmaker: refused with HTTP 503: no capacity"],
        "{}",
        r.to_human()
    );
    assert_eq!(matchmaker.requests()[0]["room"], "duel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_matchmaker_url_is_a_clear_error() {
    let mut cfg = LoadConfig::new("ws://127.0.0.1:1/ws", "", 1, Duration::from_millis(300));
    cfg.matchmake = Some("wss://127.0.0.1:1".to_owned());
    let r = run(&cfg).await;
    assert!(!r.passed);
    assert!(
        r.errors[0].contains("http:// or https://"),
        "{:?}",
        r.errors
    );
}
