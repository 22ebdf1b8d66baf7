//! The command line: every option also from a `TICKSYNC_BOT_*` environment variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use clap::builder::BoolishValueParser;
use protocol::limits::{MAX_PLAYER_NAME_BYTES, MAX_ROOM_NAME_BYTES};

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::behaviour::Behaviours;
use crate::bot::LiveStats;
use crate::cluster::MatchmakerUrl;
use crate::load::{LoadConfig, run_load};
use crate::tls;
use crate::url::WsUrl;

/// Headless ticksync bots: each joins a room, decodes its game from the schema the server sends,
/// keeps the world from delta snapshots (verifying every checksum), plays it with an input every
/// tick, and the run reports what players would feel.
#[derive(Clone, Debug, Parser)]
#[command(name = "bot-client", version)]
pub struct Args {
    /// Server WebSocket URL: ws://HOST:PORT/PATH, or wss:// for TLS (see --ca-cert). Unused
    /// with --matchmake.
    #[arg(
        long,
        env = "TICKSYNC_BOT_URL",
        default_value = "ws://127.0.0.1:8080/ws"
    )]
    pub url: String,
    /// Number of bots.
    #[arg(long, env = "TICKSYNC_BOT_BOTS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub bots: u32,
    /// Measured time, after the ramp (e.g. 30s, 2m).
    #[arg(long, env = "TICKSYNC_BOT_DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Room to join [default: arena; with --matchmake, the matchmaker chooses].
    #[arg(long, env = "TICKSYNC_BOT_ROOM")]
    pub room: Option<String>,
    /// Game to ask for: creates the room with it, or must be what the room plays. By default
    /// the bots play whatever the room plays (the server's default game for a new room).
    #[arg(long, env = "TICKSYNC_BOT_GAME")]
    pub game: Option<String>,
    /// Bots join spread over this long; it is not measured.
    #[arg(long, env = "TICKSYNC_BOT_RAMP", default_value = "1s", value_parser = parse_duration)]
    pub ramp: Duration,
    /// Print the report as one JSON object (the last stdout line); no progress display.
    #[arg(long, env = "TICKSYNC_BOT_JSON", value_parser = BoolishValueParser::new())]
    pub json: bool,
    /// Bots are named PREFIX0, PREFIX1, ...
    #[arg(long, env = "TICKSYNC_BOT_NAME_PREFIX", default_value = "bot")]
    pub name_prefix: String,
    /// Join token, for a server that requires one.
    #[arg(long, env = "TICKSYNC_BOT_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// The server's join secret (`--join-secret` of the server): each bot mints its own token.
    #[arg(
        long,
        env = "TICKSYNC_BOT_JOIN_SECRET",
        hide_env_values = true,
        conflicts_with = "auth_token"
    )]
    pub join_secret: Option<String>,
    /// Seed of the bots' play (random walks, random inputs).
    #[arg(long, env = "TICKSYNC_BOT_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Limit for TCP connect + WebSocket handshake + Welcome, per bot.
    #[arg(long, env = "TICKSYNC_BOT_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// A bot whose connection ends stays out (by default it joins again).
    #[arg(long, env = "TICKSYNC_BOT_NO_RECONNECT", value_parser = BoolishValueParser::new())]
    pub no_reconnect: bool,
    /// Also ack each snapshot at once, in its own frame (by default a bot's ack rides on its
    /// next input, at most a tick later: one frame per tick).
    #[arg(long, env = "TICKSYNC_BOT_IMMEDIATE_ACKS", value_parser = BoolishValueParser::new())]
    pub immediate_acks: bool,
    /// Each bot's socket receive buffer (SO_RCVBUF), e.g. 64KiB; 0 leaves the OS default.
    /// Small, so a bot that falls behind gets stale snapshots dropped by the server rather than
    /// a growing backlog.
    #[arg(long, env = "TICKSYNC_BOT_RECV_BUFFER", default_value = "64KiB", value_parser = parse_size)]
    pub recv_buffer: usize,
    /// Each bot decodes every snapshot alone. By default bots that receive the same delta
    /// against the same baseline share the decoded table (each still checks its own checksum),
    /// so the bots need a fraction of the CPU the server's clients would on their machines.
    #[arg(long, env = "TICKSYNC_BOT_NO_SHARED_DECODES", value_parser = BoolishValueParser::new())]
    pub no_shared_decodes: bool,
    /// Inputs each bot sends a second (at most 1000); by default one per server tick, as a
    /// browser sends. Acks ride on inputs, so fewer inputs mean fewer messages each way of the
    /// bot's loopback sends, the bulk of its CPU: a cheaper load, but the server also reads
    /// fewer messages (compare it with a floor run at the same rate: `INPUT_RATE` in
    /// scripts/floor-run.sh).
    #[arg(long, env = "TICKSYNC_BOT_INPUT_RATE", value_name = "HZ", value_parser = parse_input_rate)]
    pub input_rate: Option<f64>,
    /// The share of bots (0 to 1, spread evenly) that apply every snapshot to their world and
    /// check its checksum; the others read only each snapshot's header and ack it (no world,
    /// so they play blind: fine for random walkers). The report says how many verified.
    #[arg(long, env = "TICKSYNC_BOT_VERIFY", default_value_t = 1.0, value_name = "FRACTION", value_parser = parse_fraction)]
    pub verify: f64,
    /// A cluster's matchmaker, http://HOST:PORT or https://: each bot asks it for a seat (POST
    /// /matchmake) and joins the node it names (--url is then unused), and asks again after a
    /// lost connection. Bots follow MOVED (redirects and hand-offs) with or without it, to
    /// ws:// or wss:// nodes, but never from https:// or wss:// down to plain ws://.
    #[arg(long, env = "TICKSYNC_BOT_MATCHMAKE", value_name = "URL")]
    pub matchmake: Option<String>,
    /// Trust the CA certificate(s) in this PEM file, and only those, for wss:// servers and an
    /// https:// matchmaker: a test cluster's own CA. By default the public web's CAs are trusted.
    #[arg(long, env = "TICKSYNC_BOT_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Allow a server that is not on this machine (load runs target loopback only by default;
    /// this covers the matchmaker and the nodes it and MOVED send bots to).
    #[arg(long, env = "TICKSYNC_BOT_ALLOW_REMOTE", value_parser = BoolishValueParser::new())]
    pub allow_remote: bool,
    /// DEVELOPMENT ONLY: latency each bot adds to its connection, one way, in each direction
    /// (its sends and its receipt of messages; `75ms` gives a 150 ms round trip). At most 10 s.
    #[arg(long, env = "TICKSYNC_BOT_SIMULATE_LATENCY", default_value = "0s", value_parser = parse_sim_delay)]
    pub simulate_latency: Duration,
    /// DEVELOPMENT ONLY: up to this much more per message, uniform, one way (order is kept).
    /// At most 10 s.
    #[arg(long, env = "TICKSYNC_BOT_SIMULATE_JITTER", default_value = "0s", value_parser = parse_sim_delay)]
    pub simulate_jitter: Duration,
    /// DEVELOPMENT ONLY: freeze each bot's connection (both directions) for FOR once every
    /// EVERY, as a lossy link does: `300ms/5s`.
    #[arg(long, env = "TICKSYNC_BOT_SIMULATE_STALL", value_name = "FOR/EVERY", value_parser = parse_sim_stall)]
    pub simulate_stall: Option<protocol::netsim::Stall>,
}

/// `--input-rate`: a positive rate of at most 1000 a second.
fn parse_input_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1000.0 => Ok(r),
        _ => Err(format!(
            "{s:?}: inputs a second, more than 0 and at most 1000"
        )),
    }
}

/// `--verify`: a fraction from 0 to 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{s:?}: a fraction from 0 to 1")),
    }
}

/// `--simulate-latency`, `--simulate-jitter`: a duration of at most 10 s.
fn parse_sim_delay(s: &str) -> Result<Duration, String> {
    protocol::netsim::check_delay(parse_duration(s)?)
}

/// `--simulate-stall FOR/EVERY`, the stall shorter than its period.
fn parse_sim_stall(s: &str) -> Result<protocol::netsim::Stall, String> {
    protocol::netsim::Stall::parse_with(s, parse_duration)
}

/// A duration like `30s`, `500ms` or `2m`, with a clear error otherwise.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (try 30s, 500ms, 2m)"))
}

/// Bytes, with an optional K/KiB or M/MiB suffix (binary multiples).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a size like 65536 or 64KiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{s:?}: unknown unit (use K/KiB or M/MiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?}: too large"))
}

impl Args {
    /// Checks what clap cannot, and builds the run's configuration.
    pub fn load_config(&self) -> Result<LoadConfig, String> {
        let url = WsUrl::parse(&self.url)?;
        let matchmaker = self
            .matchmake
            .as_deref()
            .map(MatchmakerUrl::parse)
            .transpose()?;
        let (host, loopback) = match &matchmaker {
            Some(m) => (&m.host, m.is_loopback()),
            None => (&url.host, url.is_loopback()),
        };
        if !loopback && !self.allow_remote {
            return Err(format!(
                "{host} is not a loopback address: load runs target this machine only \
                 (127.0.0.0/8, ::1, localhost) unless --allow-remote is given"
            ));
        }
        // With a matchmaker, no room means "the matchmaker chooses".
        let room = match (&self.room, &matchmaker) {
            (Some(room), _) => room.clone(),
            (None, Some(_)) => String::new(),
            (None, None) => "arena".to_owned(),
        };
        let room_ok = (room.is_empty() && matchmaker.is_some())
            || ((1..=MAX_ROOM_NAME_BYTES).contains(&room.len())
                && room
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !room_ok {
            return Err(format!(
                "room {room:?}: 1-{MAX_ROOM_NAME_BYTES} characters of A-Z a-z 0-9 _ -"
            ));
        }
        if let Some(game) = &self.game
            && !protocol::codec::valid_name(game)
        {
            return Err(format!(
                "game {game:?}: 1-{MAX_ROOM_NAME_BYTES} characters of A-Z a-z 0-9 _ -"
            ));
        }
        let longest_name = self.name_prefix.len() + (self.bots - 1).to_string().len();
        if longest_name > MAX_PLAYER_NAME_BYTES || self.name_prefix.chars().any(char::is_control) {
            return Err(format!(
                "name prefix {:?}: names must be at most {MAX_PLAYER_NAME_BYTES} bytes with no control characters",
                self.name_prefix
            ));
        }
        if self.duration.is_zero() {
            return Err("--duration must be more than zero".to_owned());
        }
        // Read once here: a bad file stops the run before any bot starts, and every bot
        // shares the one configuration.
        let tls = match &self.ca_cert {
            Some(path) => Some(tls::client_config(Some(path))?),
            None => None,
        };
        Ok(LoadConfig {
            url: self.url.clone(),
            room,
            game: self.game.clone(),
            bots: self.bots as usize,
            ramp: self.ramp,
            duration: self.duration,
            name_prefix: self.name_prefix.clone(),
            auth_token: self.auth_token.clone(),
            join_secret: self.join_secret.clone(),
            seed: self.seed,
            connect_timeout: self.connect_timeout,
            reconnect: !self.no_reconnect,
            coalesce_acks: !self.immediate_acks,
            recv_buffer: (self.recv_buffer > 0).then_some(self.recv_buffer),
            share_decodes: !self.no_shared_decodes,
            matchmake: self.matchmake.clone(),
            loopback_only: !self.allow_remote,
            tls,
            behaviours: Behaviours::default(),
            simulate: protocol::netsim::NetSim {
                latency: self.simulate_latency,
                jitter: self.simulate_jitter,
                stall: self.simulate_stall,
            }
            .enabled(),
            input_rate: self.input_rate,
            verify: self.verify,
        })
    }
}

// ---- running it ----------------------------------------------------------------------------

/// Runs the load test `args` describe with `behaviours` (each game's bots; random valid inputs
/// for the rest), prints the report (JSON with `--json`) and gives the exit status: 1 on any
/// checksum mismatch or protocol error, or when no bot connected; 2 for bad arguments.
pub fn run(args: &Args, behaviours: Behaviours) -> ExitCode {
    let mut cfg = match args.load_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("bot-client: {e}");
            return ExitCode::from(2);
        }
    };
    cfg.behaviours = behaviours;
    if let Some(sim) = cfg.simulate {
        let link = crate::report::SimulatedLink::of(sim);
        eprintln!(
            "bot-client: network simulation is ON (+{} ms latency, +0-{} ms jitter each way, \
             stalls {}): figures include it",
            link.latency_ms,
            link.jitter_ms,
            link.stall.as_deref().unwrap_or("none")
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let live = Arc::new(LiveStats::default());
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let report = runtime.block_on(async {
        let progress = show_progress.then(|| tokio::spawn(progress(cfg.clone(), live.clone())));
        let interrupt = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let report = run_load(&cfg, live, interrupt).await;
        if let Some(p) = progress {
            p.abort();
            let _ = p.await;
        }
        report
    });
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_human());
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Redraws a progress line on stderr twice a second until aborted.
async fn progress(cfg: LoadConfig, live: Arc<LiveStats>) {
    let total = cfg.ramp + cfg.duration;
    let bar =
        ProgressBar::with_draw_target(Some(total.as_millis() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:24}] {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Cleared when this task is aborted and the bar dropped: the report follows on stdout.
    let _clear = ClearOnDrop(bar.clone());
    let start = Instant::now();
    let mut last = (start, 0u64);
    let mut ticks = tokio::time::interval(Duration::from_millis(500));
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let snapshots = live.snapshots.load(Relaxed);
        let rate = (snapshots - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-3);
        last = (now, snapshots);
        bar.set_position(now.duration_since(start).as_millis() as u64);
        bar.set_message(format!(
            "{}/{} connected, {} connecting, {} failed | {:.0} snapshots/s | {} errors",
            live.connected.load(Relaxed),
            cfg.bots,
            live.connecting.load(Relaxed),
            live.failed.load(Relaxed),
            rate,
            live.errors.load(Relaxed),
        ));
    }
}

struct ClearOnDrop(ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("bot-client").chain(args.iter().copied()))
    }

    #[test]
    fn network_simulation_flags() {
        assert_eq!(parse(&[]).unwrap().load_config().unwrap().simulate, None);
        let a = parse(&[
            "--simulate-latency",
            "40ms",
            "--simulate-jitter",
            "5ms",
            "--simulate-stall",
            "200ms/3s",
        ])
        .unwrap();
        let sim = a.load_config().unwrap().simulate.expect("on");
        assert_eq!(sim.latency, Duration::from_millis(40));
        assert_eq!(sim.jitter, Duration::from_millis(5));
        assert_eq!(sim.stall.unwrap().every, Duration::from_secs(3));
        for bad in [
            &["--simulate-latency=-1ms"][..],
            &["--simulate-latency", "20s"],
            &["--simulate-stall", "3s/200ms"],
            &["--simulate-stall", "3s"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn parses_the_documented_command_line() {
        let a = parse(&[
            "--url",
            "ws://127.0.0.1:9000/ws",
            "--bots",
            "200",
            "--duration",
            "30s",
            "--room",
            "arena",
            "--ramp",
            "5s",
            "--json",
            "--name-prefix",
            "b",
        ])
        .unwrap();
        assert_eq!(a.bots, 200);
        assert_eq!(a.duration, Duration::from_secs(30));
        assert_eq!(a.ramp, Duration::from_secs(5));
        assert!(a.json && !a.allow_remote);
        let cfg = a.load_config().unwrap();
        assert_eq!((cfg.bots, cfg.name_prefix.as_str()), (200, "b"));
        assert!(cfg.reconnect && cfg.coalesce_acks);
        assert_eq!(cfg.game, None);
    }

    #[test]
    fn lean_load_flags() {
        let cfg = parse(&["--bots", "10", "--input-rate", "20", "--verify", "0.25"])
            .unwrap()
            .load_config()
            .unwrap();
        assert_eq!((cfg.input_rate, cfg.verify), (Some(20.0), 0.25));
        // A quarter of 10, spread: bots 0, 4 and 8.
        let verifying: Vec<usize> = (0..10).filter(|&i| cfg.verifies(i)).collect();
        assert_eq!(verifying, [0, 4, 8]);
        assert_eq!(cfg.verifying(), 3);
        let all = parse(&[]).unwrap().load_config().unwrap();
        assert_eq!((all.input_rate, all.verifying()), (None, all.bots));
        for bad in [
            ["--input-rate", "0"],
            ["--input-rate", "2000"],
            ["--verify", "1.5"],
            ["--verify", "-0.1"],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
        let none = parse(&["--verify", "0"]).unwrap().load_config().unwrap();
        assert_eq!(none.verifying(), 0);
    }

    #[test]
    fn takes_a_game() {
        let a = parse(&["--game", "skirmish", "--immediate-acks"]).unwrap();
        let cfg = a.load_config().unwrap();
        assert_eq!(cfg.game.as_deref(), Some("skirmish"));
        assert!(!cfg.coalesce_acks);
        assert!(
            parse(&["--game", "no/slash"])
                .unwrap()
                .load_config()
                .is_err()
        );
    }

    #[test]
    fn durations_take_units() {
        let a = parse(&["--duration", "1m 30s", "--ramp", "500ms"]).unwrap();
        assert_eq!(a.duration, Duration::from_secs(90));
        assert_eq!(a.ramp, Duration::from_millis(500));
        assert!(parse(&["--duration", "30"]).is_err());
        assert!(parse(&["--duration", "soon"]).is_err());
        assert!(parse(&["--bots", "0"]).is_err());
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("2 MiB"), Ok(2 << 20));
        assert!(parse_size("64 parsecs").is_err());
        assert!(parse_size("KiB").is_err());
        let a = parse(&["--recv-buffer", "0"]).unwrap();
        assert_eq!(a.load_config().unwrap().recv_buffer, None);
        let a = parse(&[]).unwrap();
        assert_eq!(a.load_config().unwrap().recv_buffer, Some(64 * 1024));
    }

    #[test]
    fn defaults_target_the_local_server() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.url, "ws://127.0.0.1:8080/ws");
        let cfg = a.load_config().unwrap();
        assert_eq!(cfg.room, "arena");
        assert_eq!(cfg.matchmake, None);
        assert!(cfg.loopback_only);
    }

    #[test]
    fn refuses_remote_hosts_unless_allowed_ws_and_wss_alike() {
        for url in [
            "ws://10.1.2.3:8080/ws",
            "ws://example.com/ws",
            "ws://192.168.0.1/ws",
            "wss://10.1.2.3:8443/ws",
            "wss://example.com/ws",
        ] {
            let err = parse(&["--url", url]).unwrap().load_config().unwrap_err();
            assert!(err.contains("loopback"), "{err}");
            assert!(
                parse(&["--url", url, "--allow-remote"])
                    .unwrap()
                    .load_config()
                    .is_ok()
            );
        }
        for url in [
            "ws://[::1]:8080/ws",
            "ws://localhost:8080/ws",
            "ws://127.0.0.2:1/",
        ] {
            assert!(
                parse(&["--url", url]).unwrap().load_config().is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_names_the_server_would_reject() {
        assert!(
            parse(&["--room", "no spaces"])
                .unwrap()
                .load_config()
                .is_err()
        );
        let long = "x".repeat(22);
        // 22 + 3 digits for bot 999 > 24 bytes.
        assert!(
            parse(&["--name-prefix", &long, "--bots", "1000"])
                .unwrap()
                .load_config()
                .is_err()
        );
        assert!(
            parse(&["--name-prefix", &long, "--bots", "99"])
                .unwrap()
                .load_config()
                .is_ok()
        );
        assert!(
            parse(&["--url", "http://127.0.0.1/"])
                .unwrap()
                .load_config()
                .is_err()
        );
    }

    #[test]
    fn takes_wss_urls() {
        let cfg = parse(&["--url", "wss://127.0.0.1:8443/ws"])
            .unwrap()
            .load_config()
            .unwrap();
        assert_eq!(cfg.url, "wss://127.0.0.1:8443/ws");
        // No --ca-cert: the bots use the public web's CAs. (Remote wss hosts: above.)
        assert!(cfg.tls.is_none());
    }

    #[test]
    fn a_bad_ca_cert_stops_the_run_naming_the_file() {
        let err = parse(&[
            "--url",
            "wss://127.0.0.1/ws",
            "--ca-cert",
            "/no/such/ca.pem",
        ])
        .unwrap()
        .load_config()
        .unwrap_err();
        assert!(err.contains("/no/such/ca.pem"), "{err}");
        let path = std::env::temp_dir().join(format!("bot-client-cli-{}.pem", std::process::id()));
        std::fs::write(&path, "hello\n").unwrap();
        let err = parse(&["--ca-cert", path.to_str().unwrap()])
            .unwrap()
            .load_config()
            .unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains("no certificate"),
            "{err}"
        );
    }

    #[test]
    fn takes_a_matchmaker() {
        let cfg = parse(&["--matchmake", "http://127.0.0.1:9000"])
            .unwrap()
            .load_config()
            .unwrap();
        assert_eq!(cfg.matchmake.as_deref(), Some("http://127.0.0.1:9000"));
        // No --room: the matchmaker chooses.
        assert_eq!(cfg.room, "");
        let cfg = parse(&["--matchmake", "http://localhost:9000", "--room", "duel"])
            .unwrap()
            .load_config()
            .unwrap();
        assert_eq!(cfg.room, "duel");
        let cfg = parse(&["--matchmake", "https://127.0.0.1:9443"])
            .unwrap()
            .load_config()
            .unwrap();
        assert_eq!(cfg.matchmake.as_deref(), Some("https://127.0.0.1:9443"));
        for bad in [
            "ws://127.0.0.1:9000",
            "wss://127.0.0.1:9000",
            "127.0.0.1:9000",
        ] {
            let err = parse(&["--matchmake", bad])
                .unwrap()
                .load_config()
                .unwrap_err();
            assert!(err.contains("http://"), "{err}");
        }
        // The loopback rule holds for the matchmaker (and, through `loopback_only`, for the
        // nodes it and MOVED name).
        let remote = ["--matchmake", "http://10.0.0.1:9000"];
        assert!(parse(&remote).unwrap().load_config().is_err());
        let remote_tls = ["--matchmake", "https://10.0.0.1:9000"];
        assert!(parse(&remote_tls).unwrap().load_config().is_err());
        let mut allowed = remote.to_vec();
        allowed.push("--allow-remote");
        let cfg = parse(&allowed).unwrap().load_config().unwrap();
        assert!(!cfg.loopback_only);
    }
}
