//! `floor`: the least server CPU that serving C clients at a tick rate can cost on this machine,
//! to compare ticksync's CPU per client per tick against (`scripts/floor-run.sh`).
//!
//! Whatever else a game server does, every tick it must hand the kernel each client's snapshot
//! (a write) and take in what that client sent (a read). `floor serve` does only that: a tick
//! task publishes one fixed N-byte buffer, and each connection's task writes it once and reads
//! once, with no framing, parsing, game state or allocation per tick. Same kernel, same tokio
//! runtime, same socket settings as ticksync (TCP_NODELAY, a 64 KiB send buffer), so any server
//! of this shape spends at least this much; what ticksync spends beyond it is its own work.
//!
//! `floor clients` plays the bots' part: C loopback connections that count whole N-byte
//! messages and send a 16-byte input once per tick, and it reports the rate each received.

use std::io::{self, ErrorKind, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use bots::cli::parse_duration;
use bots::load::collect_within;
use bots::process;
use bots::report::{percentile, round3};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use rand::Rng;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at, sleep, sleep_until};

const MAX_CLIENTS: u32 = 20_000;
const MAX_BYTES: u32 = 1 << 20;
const MAX_TICK_RATE: u32 = 1000;
const MAX_DURATION: Duration = Duration::from_secs(600);
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// ticksync's default `--send-buffer` and bot-client's default `--recv-buffer`: the same socket
/// buffers, so the kernel does the same work per byte and backlogs stay as shallow.
const SOCKET_BUFFER: u32 = 64 * 1024;
/// A client that has not taken a tick's message in this long has stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// What a game client sends per tick (its input).
const INPUT: [u8; 16] = [0; 16];
/// Time for the client tasks to finish once the run is over, before they are dropped.
const STOP_GRACE: Duration = Duration::from_secs(5);
const MAX_ERRORS_REPORTED: usize = 10;

/// The floor of a ticksync-shaped workload: a server that only writes one message and reads
/// once per client per tick, and clients to load it.
#[derive(Debug, Parser)]
#[command(name = "floor", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve N bytes to every connection every tick; prints `listening on ADDR` once bound and
    /// runs until interrupted.
    Serve(ServeArgs),
    /// Load a `floor serve` with clients and print one JSON line of what they received.
    Clients(ClientsArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on: loopback only; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_listen_addr)]
    addr: SocketAddr,
    /// Size of the message every client gets every tick.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BYTES)))]
    bytes: u32,
    /// Ticks per second.
    #[arg(long, default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_TICK_RATE)))]
    tick_rate: u32,
}

#[derive(Clone, Debug, Args)]
struct ClientsArgs {
    /// The `floor serve` address, HOST:PORT with a loopback IP or localhost.
    #[arg(long, value_parser = parse_server_addr)]
    addr: SocketAddr,
    /// Number of connections.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CLIENTS)))]
    clients: u32,
    /// Measured time, after the ramp (e.g. 20s, 2m; at most 10m).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Clients connect spread over this long; it is not measured (at most 10m).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    ramp: Duration,
    /// The server's tick rate: clients send one input per tick.
    #[arg(long, default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_TICK_RATE)))]
    tick_rate: u32,
    /// The server's message size (`floor serve --bytes`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BYTES)))]
    bytes: u32,
    /// Inputs each client sends a second (`bot-client --input-rate`); by default one per tick.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_TICK_RATE)))]
    input_rate: Option<u32>,
    /// The share of clients (0 to 1, spread evenly as `bot-client --verify` spreads its
    /// verifying bots) that read each message as it arrives; the others read whatever waits
    /// once per input, just before sending it, as bot-client's bots that do not verify do.
    #[arg(long, default_value_t = 1.0, value_parser = parse_fraction)]
    eager_readers: f64,
    /// Limit for each TCP connect (at most 60s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
}

impl ClientsArgs {
    /// Checks what clap cannot.
    fn check(&self) -> Result<(), String> {
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err("--duration must be more than zero and at most 10m".to_owned());
        }
        if self.ramp > MAX_DURATION {
            return Err("--ramp must be at most 10m".to_owned());
        }
        if self.connect_timeout.is_zero() || self.connect_timeout > MAX_CONNECT_TIMEOUT {
            return Err("--connect-timeout must be more than zero and at most 60s".to_owned());
        }
        Ok(())
    }
}

/// `--eager-readers`: a fraction from 0 to 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{s:?}: a fraction from 0 to 1")),
    }
}

/// Whether client `i` of a run with `fraction` eager readers is one (bot-client's spread).
fn eager(i: u32, fraction: f64) -> bool {
    bots::load::spread(i as usize, fraction)
}

/// `IP:PORT` or `localhost:PORT`, on this machine only: the floor is a local measurement and
/// must not send load anywhere else.
fn parse_loopback(s: &str) -> Result<SocketAddr, String> {
    let addr = match s.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => match s.rsplit_once(':') {
            Some(("localhost", port)) => {
                let port = port
                    .parse()
                    .map_err(|_| format!("{s:?}: bad port {port:?}"))?;
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
            }
            _ => return Err(format!("{s:?}: expected IP:PORT, e.g. 127.0.0.1:9000")),
        },
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{}: not a loopback address (the floor runs on this machine only: 127.0.0.0/8, ::1)",
            addr.ip()
        ));
    }
    Ok(addr)
}

fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    parse_loopback(s)
}

fn parse_server_addr(s: &str) -> Result<SocketAddr, String> {
    let addr = parse_loopback(s)?;
    if addr.port() == 0 {
        return Err(format!("{s:?}: port 0 is not a server's port"));
    }
    Ok(addr)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Clients(args) = &cli.command
        && let Err(e) = args.check()
    {
        eprintln!("floor clients: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("floor: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(args) => match runtime.block_on(serve(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("floor serve: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Clients(args) => {
            let report = runtime.block_on(clients(args));
            println!("{report}");
            if report["clients_connected"].as_u64().unwrap_or(0) > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

// ---- serve ----

async fn serve(args: ServeArgs) -> io::Result<()> {
    let socket = if args.addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Accepted sockets inherit the listener's send buffer (Linux).
    socket.set_send_buffer_size(SOCKET_BUFFER)?;
    socket.bind(args.addr)?;
    let listener = socket.listen(1024)?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        // stdout is a pipe under the script, so block-buffered: the line must get out now.
        out.flush()?;
    }

    let (ticks, rx) = watch::channel(Bytes::from(vec![0u8; args.bytes as usize]));
    let period = Duration::from_secs(1) / args.tick_rate;
    tokio::spawn(tick(ticks, period));

    // Bounded like the clients, so a stray flood cannot take every socket.
    let open = Arc::new(AtomicUsize::new(0));
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let accepted = tokio::select! {
            _ = &mut interrupted => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Usually EMFILE: back off instead of spinning on it.
                eprintln!("floor serve: accept: {e}");
                sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(Relaxed) >= MAX_CLIENTS as usize {
            continue;
        }
        open.fetch_add(1, Relaxed);
        let (rx, open) = (rx.clone(), open.clone());
        tokio::spawn(async move {
            // A client that goes away just ends its task; the floor has nothing to report.
            let _ = connection(stream, rx).await;
            open.fetch_sub(1, Relaxed);
        });
    }
}

/// Publishes the tick's message every `period`: one shared buffer, only its refcount changes.
async fn tick(ticks: watch::Sender<Bytes>, period: Duration) {
    let message = ticks.borrow().clone();
    let mut clock = interval(period);
    // A late tick is dropped, not made up in a burst, as a game server's would be.
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        clock.tick().await;
        ticks.send_replace(message.clone());
    }
}

/// Per tick: one write of the message, one read of whatever the client sent. Ends on EOF or
/// any socket error.
async fn connection(mut stream: TcpStream, mut ticks: watch::Receiver<Bytes>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut inputs = [0u8; 1024];
    ticks.mark_unchanged();
    while ticks.changed().await.is_ok() {
        let message = ticks.borrow_and_update().clone();
        write_message(&mut stream, &message).await?;
        // Only a syscall when epoll said there is something to read.
        match stream.try_read(&mut inputs) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `write_all` with a time limit that costs nothing in the usual case: a timer is armed only
/// for a write the socket does not take at once (as ticksync's writer does).
async fn write_message(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let written = match stream.try_write(message) {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    if written < message.len() {
        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&message[written..]))
            .await
            .map_err(|_| io::Error::new(ErrorKind::TimedOut, "client stopped reading"))??;
    }
    Ok(())
}

// ---- clients ----

/// What one client saw.
#[derive(Debug, Default)]
struct Outcome {
    connected: bool,
    /// The connection ended before the run did.
    ended_early: bool,
    /// Whole messages completed in the measured window, and that window's length.
    messages: u64,
    window: Duration,
    error: Option<String>,
}

/// The run's fixed instants: clients join over [start, measure_from), and all stop at `end`.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    start: Instant,
    measure_from: Instant,
    end: Instant,
}

async fn clients(args: ClientsArgs) -> serde_json::Value {
    let start = Instant::now();
    let measure_from = start + args.ramp;
    let schedule = Schedule {
        start,
        measure_from,
        end: measure_from + args.duration,
    };
    let args = Arc::new(args);
    let mut tasks = JoinSet::new();
    for i in 0..args.clients {
        tasks.spawn(client(i, args.clone(), schedule));
    }

    sleep_until(schedule.measure_from).await;
    let cpu_at_start = process::cpu_seconds();
    sleep_until(schedule.end).await;
    let measured = Instant::now().saturating_duration_since(schedule.measure_from);
    let cpu_cores = cpu_at_start
        .zip(process::cpu_seconds())
        .map(|(a, b)| round3((b - a) / measured.as_secs_f64().max(1e-3)));

    // A panicked client leaves no outcome and so counts as not connected.
    let (outcomes, stopped_in_time) = collect_within(&mut tasks, STOP_GRACE).await;

    let connected = outcomes.iter().filter(|o| o.connected).count();
    let ended_early = outcomes.iter().filter(|o| o.ended_early).count();
    // Clients that stayed to the end: a dropped connection is reported, not averaged in.
    let mut rates: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.connected && !o.ended_early && !o.window.is_zero())
        .map(|o| o.messages as f64 / o.window.as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    let mut errors: Vec<String> = Vec::new();
    for e in outcomes.iter().filter_map(|o| o.error.as_ref()) {
        if errors.len() < MAX_ERRORS_REPORTED && !errors.contains(e) {
            errors.push(e.clone());
        }
    }
    if !stopped_in_time {
        errors.push(format!(
            "{} clients did not stop within {}s and were not counted",
            args.clients as usize - outcomes.len(),
            STOP_GRACE.as_secs()
        ));
    }
    json!({
        "clients": args.clients,
        "clients_connected": connected,
        "clients_failed": args.clients as usize - connected,
        "ended_early": ended_early,
        "ramp_s": round3(args.ramp.as_secs_f64()),
        "duration_s": round3(measured.as_secs_f64()),
        "tick_rate": args.tick_rate,
        "bytes_per_message": args.bytes,
        "messages_per_sec_p50": percentile(&rates, 0.5).map(round3),
        "messages_per_sec_min": rates.first().copied().map(round3),
        "client_cpu_cores": cpu_cores,
        "errors": errors,
    })
}

/// Client `i`: connects at its turn in the ramp, then until the end counts the messages it
/// receives and sends an input every tick (or at `--input-rate`), at a random phase as a
/// player's would be.
async fn client(i: u32, args: Arc<ClientsArgs>, schedule: Schedule) -> Outcome {
    let mut outcome = Outcome::default();
    let joins_at = schedule.start + args.ramp.mul_f64(f64::from(i) / f64::from(args.clients));
    sleep_until(joins_at).await;
    let give_up = (Instant::now() + args.connect_timeout).min(schedule.end);
    let mut stream = match tokio::time::timeout_at(give_up, connect(args.addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            outcome.error = Some(format!("connect {}: {e}", args.addr));
            return outcome;
        }
        Err(_) => {
            outcome.error = Some(format!("connect {}: timed out", args.addr));
            return outcome;
        }
    };
    outcome.connected = true;
    let connected_at = Instant::now();

    let period = Duration::from_secs(1) / args.input_rate.unwrap_or(args.tick_rate);
    let phase = period.mul_f64(rand::rng().random::<f64>());
    let mut inputs = interval_at(connected_at + phase, period);
    inputs.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let message_len = args.bytes as usize;
    // Only counted, never kept: a buffer of about a message is enough for one read per tick.
    let mut buf = vec![0u8; message_len.clamp(2048, 16 * 1024)];
    // Bytes of the message being received so far.
    let mut partial = 0usize;
    // Counts the whole messages among `n` more bytes (in the measured window).
    let mut count = |n: usize, outcome: &mut Outcome| {
        let received = partial + n;
        if Instant::now() >= schedule.measure_from {
            outcome.messages += (received / message_len) as u64;
        }
        partial = received % message_len;
    };
    let deadline = sleep_until(schedule.end);
    tokio::pin!(deadline);
    if !eager(i, args.eager_readers) {
        let error = loop {
            tokio::select! {
                _ = &mut deadline => break None,
                _ = inputs.tick() => {}
            }
            // What waits, then the input: one read (and the one that finds nothing) and one
            // write per input.
            let read_error = loop {
                match stream.try_read(&mut buf) {
                    Ok(0) => break Some("the server closed the connection".to_owned()),
                    Ok(n) => count(n, &mut outcome),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break None,
                    Err(e) => break Some(format!("read: {e}")),
                }
            };
            if read_error.is_some() {
                break read_error;
            }
            if let Err(e) = stream.write_all(&INPUT).await {
                break Some(format!("write: {e}"));
            }
        };
        return finish(outcome, error, connected_at, &schedule);
    }
    let error = loop {
        tokio::select! {
            _ = &mut deadline => break None,
            read = stream.read(&mut buf) => match read {
                Ok(0) => break Some("the server closed the connection".to_owned()),
                Ok(n) => count(n, &mut outcome),
                Err(e) => break Some(format!("read: {e}")),
            },
            _ = inputs.tick() => {
                if let Err(e) = stream.write_all(&INPUT).await {
                    break Some(format!("write: {e}"));
                }
            }
        }
    };
    finish(outcome, error, connected_at, &schedule)
}

/// A client's outcome once it has stopped, `error` saying why when it stopped early.
fn finish(
    mut outcome: Outcome,
    error: Option<String>,
    connected_at: Instant,
    schedule: &Schedule,
) -> Outcome {
    let stopped_at = Instant::now().min(schedule.end);
    outcome.window = stopped_at.saturating_duration_since(schedule.measure_from.max(connected_at));
    outcome.ended_early = error.is_some();
    outcome.error = error;
    outcome
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Before connect, so the TCP window is negotiated with it.
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    let stream = socket.connect(addr).await?;
    // Inputs are tiny and go out at once, as the bots' do.
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("floor").chain(args.iter().copied()))
    }

    #[test]
    fn eager_readers_are_spread_as_bot_client_spreads_its_verifying_bots() {
        let mut load =
            bots::load::LoadConfig::new("ws://127.0.0.1:1/ws", "arena", 40, Duration::ZERO);
        for fraction in [0.0, 0.05, 0.25, 1.0 / 3.0, 1.0] {
            load.verify = fraction;
            for i in 0..40 {
                assert_eq!(
                    eager(i, fraction),
                    load.verifies(i as usize),
                    "{fraction} {i}"
                );
            }
            // As many as the fraction says, client 0 among them when any.
            let n = (0..40).filter(|&i| eager(i, fraction)).count();
            assert_eq!(n, (40.0 * fraction).ceil() as usize, "{fraction}");
            assert_eq!(eager(0, fraction), fraction > 0.0);
        }
        assert!(
            parse(&[
                "clients",
                "--addr",
                "127.0.0.1:9",
                "--clients",
                "1",
                "--bytes",
                "1",
                "--eager-readers",
                "2"
            ])
            .is_err()
        );
    }

    #[test]
    fn takes_loopback_addresses_only() {
        assert!(parse_loopback("127.0.0.1:9000").is_ok());
        assert!(parse_loopback("[::1]:9000").is_ok());
        assert_eq!(
            parse_loopback("localhost:9000"),
            Ok("127.0.0.1:9000".parse().unwrap())
        );
        for bad in [
            "10.0.0.1:9000",
            "example.com:80",
            "127.0.0.1",
            "localhost:x",
            "",
        ] {
            assert!(parse_loopback(bad).is_err(), "{bad}");
        }
        assert!(parse_server_addr("127.0.0.1:0").is_err());
        assert!(parse_listen_addr("127.0.0.1:0").is_ok());
    }

    #[test]
    fn bounds_the_run() {
        let ok = [
            "clients",
            "--addr",
            "127.0.0.1:9",
            "--bytes",
            "100",
            "--clients",
            "10",
        ];
        let Command::Clients(args) = parse(&ok).unwrap().command else {
            panic!("clients");
        };
        assert!(args.check().is_ok());
        assert!(parse(&[&ok[..], &["--clients", "20001"]].concat()).is_err());
        assert!(parse(&[&ok[..], &["--clients", "0"]].concat()).is_err());
        assert!(parse(&["clients", "--addr", "127.0.0.1:9", "--bytes", "0"]).is_err());
        for (flag, value) in [
            ("--duration", "11m"),
            ("--duration", "0s"),
            ("--ramp", "1h"),
            ("--connect-timeout", "0s"),
        ] {
            let Command::Clients(args) =
                parse(&[&ok[..], &[flag, value]].concat()).unwrap().command
            else {
                panic!("clients");
            };
            assert!(args.check().is_err(), "{flag} {value}");
        }
        assert!(parse(&["serve", "--bytes", "100", "--addr", "0.0.0.0:0"]).is_err());
        assert!(parse(&["serve", "--bytes", "100", "--tick-rate", "0"]).is_err());
    }
}
