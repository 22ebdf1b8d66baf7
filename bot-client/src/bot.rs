//! The load-test bot: one bot is one client that joins, plays the room's game (one input per
//! server tick, from the `Behaviour` its game calls for), pings once a second, and measures
//! what a player would feel over a window that leaves out the ramp and its own first second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use protocol::codes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval, sleep_until};

use crate::behaviour::{self, Behaviour};
use crate::client::stats::latency_histogram;
use crate::client::{ABNORMAL_CLOSURE, Client, ClientError, ConnectOptions, Counters, Received};

/// How a bot behaves and when it measures.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// Seeds the bot's behaviour: the same seed plays the same way.
    pub seed: u64,
    /// Nothing before this instant is measured (the end of the ramp).
    pub measure_from: Instant,
    /// Nor the first this-long after each join (the full snapshot, the server settling).
    pub warmup: Duration,
    pub ping_interval: Duration,
    /// After an error or a server close, join again (a fresh player) until stopped.
    pub reconnect: bool,
    pub reconnect_delay: Duration,
}

impl BotConfig {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            measure_from: Instant::now(),
            warmup: Duration::from_secs(1),
            ping_interval: Duration::from_secs(1),
            reconnect: true,
            reconnect_delay: Duration::from_millis(500),
        }
    }
}

/// Totals over every bot while they run, for a live progress line. Relaxed atomics: each is a
/// counter read now and then, never used to order anything.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Bots trying to join now.
    pub connecting: AtomicU64,
    /// Bots connected now.
    pub connected: AtomicU64,
    /// Bots that gave up without ever joining.
    pub failed: AtomicU64,
    pub snapshots: AtomicU64,
    /// Connection-ending errors (protocol errors, checksum mismatches, lost connections,
    /// server closes before the end of the run).
    pub errors: AtomicU64,
}

/// What one bot measured over its whole run.
#[derive(Clone, Debug)]
pub struct BotOutcome {
    pub name: String,
    /// Joins that got a `Welcome`.
    pub connections: u32,
    /// Why the bot never joined, when it did not.
    pub connect_error: Option<ClientError>,
    /// Measured time, summed over connections.
    pub window: Duration,
    /// Counts within the measured window.
    pub window_counters: Counters,
    /// Input-to-snapshot latency and ping RTT samples within the window, µs.
    pub input_latency_us: Histogram<u64>,
    pub rtt_us: Histogram<u64>,
    /// Over the whole run, window or not: any of these is a failure.
    pub checksum_mismatches: u64,
    pub protocol_errors: u64,
    /// Snapshots this bot could not apply because it had fallen too far behind (its own
    /// overload); each ended a connection.
    pub fell_behind: u64,
    /// How each connection (or join attempt) ended: the server's close or reject code,
    /// `ABNORMAL_CLOSURE` when it sent none.
    pub close_codes: Vec<u16>,
    /// Connection-ending errors, in order (the first few).
    pub errors: Vec<String>,
}

const MAX_ERRORS_KEPT: usize = 8;

impl BotOutcome {
    pub fn new(name: String) -> Self {
        Self {
            name,
            connections: 0,
            connect_error: None,
            window: Duration::ZERO,
            window_counters: Counters::default(),
            input_latency_us: latency_histogram(),
            rtt_us: latency_histogram(),
            checksum_mismatches: 0,
            protocol_errors: 0,
            fell_behind: 0,
            close_codes: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn connected(&self) -> bool {
        self.connections > 0
    }

    /// Snapshots per second over the measured window, if there was one.
    pub fn snapshots_per_sec(&self) -> Option<f64> {
        let secs = self.window.as_secs_f64();
        (secs > 0.0).then(|| self.window_counters.snapshots as f64 / secs)
    }

    pub fn bytes_per_sec(&self) -> Option<f64> {
        let secs = self.window.as_secs_f64();
        (secs > 0.0).then(|| self.window_counters.bytes_in as f64 / secs)
    }

    fn note_error(&mut self, e: &ClientError) {
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(e.to_string());
        }
    }
}

/// Runs one bot until `stop` turns true: join, play, measure; join again after an error when
/// `config.reconnect`. A bot whose first join fails gives up (it is a failed bot). Updates
/// `live` as it goes.
pub async fn run_bot(
    opts: ConnectOptions,
    config: BotConfig,
    mut stop: watch::Receiver<bool>,
    live: Arc<LiveStats>,
) -> BotOutcome {
    let mut out = BotOutcome::new(opts.name.clone());
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut opts = opts;
    while !*stop.borrow() {
        live.connecting.fetch_add(1, Relaxed);
        let connected = tokio::select! {
            r = Client::connect(opts.clone()) => Some(r),
            _ = stopped(&mut stop) => None,
        };
        live.connecting.fetch_sub(1, Relaxed);
        let Some(connected) = connected else { break };
        let (mut client, welcome) = match connected {
            Ok(c) => c,
            // Too late to resume (the server let the player go): join afresh at once.
            Err(e) if e.close_code() == Some(codes::BAD_RESUME) && opts.resume_token.is_some() => {
                opts.resume_token = None;
                continue;
            }
            Err(e) => {
                out.close_codes.extend(e.close_code());
                out.note_error(&e);
                // A Welcome this client cannot use (a bad schema) is the server's fault.
                if e.is_protocol_violation() {
                    out.protocol_errors += 1;
                }
                if !out.connected() {
                    out.connect_error = Some(e);
                    live.failed.fetch_add(1, Relaxed);
                    break;
                }
                live.errors.fetch_add(1, Relaxed);
                if !pause(&config, &mut stop).await {
                    break;
                }
                continue;
            }
        };
        out.connections += 1;
        live.connected.fetch_add(1, Relaxed);
        // A reconnect takes the same player back while the server still holds it.
        opts.resume_token = Some(welcome.resume_token.clone());
        let tick = Duration::from_secs(1) / u32::from(welcome.tick_rate.max(1));
        // Chosen per connection: the room's game decides (and may change on a reconnect).
        let mut play = behaviour::for_game(&welcome.game, &welcome.schema, rng.random());
        let session = Session {
            tick,
            phase: tick.mul_f64(rng.random()),
            config: &config,
            live: &live,
        };
        let ended = session
            .play(&mut client, play.as_mut(), &mut stop, &mut out)
            .await;
        live.connected.fetch_sub(1, Relaxed);
        out.checksum_mismatches += client.stats().counters.checksum_mismatches;
        out.protocol_errors += client.stats().counters.protocol_errors;
        out.fell_behind += client.stats().counters.fell_behind;
        let code = match ended {
            None => client.close_with(codes::NORMAL, "").await,
            Some(e) => {
                live.errors.fetch_add(1, Relaxed);
                out.note_error(&e);
                match e.close_code() {
                    Some(code) => code,
                    // Our world is wrong or the server broke the protocol: say so on the way out.
                    None if e.is_protocol_violation() => {
                        client.close_with(codes::PROTOCOL_ERROR, "").await
                    }
                    None => ABNORMAL_CLOSURE,
                }
            }
        };
        out.close_codes.push(code);
        // Replaced: another connection plays this player now; coming back would fight it.
        if !config.reconnect || code == codes::REPLACED || !pause(&config, &mut stop).await {
            break;
        }
    }
    out
}

/// What one connection's play needs besides the client.
struct Session<'a> {
    tick: Duration,
    /// When in the tick this bot sends its inputs.
    phase: Duration,
    config: &'a BotConfig,
    live: &'a LiveStats,
}

impl Session<'_> {
    /// Plays until `stop` (None) or an error that ends the connection; adds what was measured
    /// in the window to `out`.
    async fn play(
        &self,
        client: &mut Client,
        play: &mut dyn Behaviour,
        stop: &mut watch::Receiver<bool>,
        out: &mut BotOutcome,
    ) -> Option<ClientError> {
        // A random phase against the server's tick, as a player's frame loop has. Started on
        // `Welcome` (which leaves right after a tick), every bot would send just after the
        // room drains its inbox and wait a whole tick: a worst case, not what players feel.
        let mut next_input = Instant::now() + self.phase;
        let input_timer = sleep_until(next_input.into());
        tokio::pin!(input_timer);
        let mut pings = interval(self.config.ping_interval);
        pings.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let opens_at = (self.config.measure_from).max(Instant::now() + self.config.warmup);
        let window_opens = sleep_until(opens_at.into());
        tokio::pin!(window_opens);
        let mut window: Option<(Instant, Counters)> = None;
        // One stop future for the whole session: a fresh one per loop turn would register with
        // (and leave) the watch channel's waiter list, a mutex every bot shares, several
        // times a tick.
        let stop = stopped(stop);
        tokio::pin!(stop);
        let ended = loop {
            tokio::select! {
                _ = &mut stop => break None,
                _ = &mut window_opens, if window.is_none() => {
                    client.clear_samples();
                    window = Some((Instant::now(), client.stats().counters));
                }
                _ = &mut input_timer => {
                    self.send_input(client, play, &mut next_input);
                    input_timer.as_mut().reset(next_input.into());
                }
                _ = pings.tick() => {
                    let _ = client.send_ping();
                }
                received = client.recv() => {
                    match received {
                        Ok(Received::Snapshot { .. }) => {
                            self.live.snapshots.fetch_add(1, Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => break Some(e),
                    }
                    // While frames are buffered `recv` returns at once (yielding only when the
                    // runtime's budget runs out), so the timer may fire late: a bot draining a
                    // backlog checks the clock.
                    if Instant::now() >= next_input {
                        self.send_input(client, play, &mut next_input);
                        input_timer.as_mut().reset(next_input.into());
                    }
                }
            }
        };
        if let Some((opened, at_open)) = window {
            let stats = client.stats();
            out.window += opened.elapsed();
            out.window_counters += stats.counters - at_open;
            // Every histogram has the same bounds, so adding cannot fail.
            let _ = out.input_latency_us.add(&stats.input_latency_us);
            let _ = out.rtt_us.add(&stats.rtt_us);
        }
        ended
    }
}

impl Session<'_> {
    /// Sends this tick's input (its ack riding on it) and moves `next` to the next tick
    /// boundary after now: ticks missed while busy are skipped, not sent in a burst.
    fn send_input(&self, client: &mut Client, play: &mut dyn Behaviour, next: &mut Instant) {
        let values = play.input(&client.view());
        // Send errors are counted by the client; a dead connection shows up in `recv`.
        let _ = client.send_input(&values);
        let now = Instant::now();
        *next += self.tick;
        if *next <= now {
            let behind = (now - *next).as_nanos() / self.tick.as_nanos().max(1);
            *next += self.tick * (behind as u32 + 1);
        }
    }
}

/// Resolves once `stop` is true, or its sender is gone. Returns nothing, so no borrow of the
/// watch value lives on across later awaits (that would make the future `!Send`).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Waits before joining again; false when stopped meanwhile (or the stop sender is gone).
async fn pause(config: &BotConfig, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(config.reconnect_delay) => true,
        _ = stopped(stop) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_need_a_window() {
        let mut o = BotOutcome::new("b".to_owned());
        assert_eq!(o.snapshots_per_sec(), None);
        o.window = Duration::from_secs(2);
        o.window_counters.snapshots = 120;
        o.window_counters.bytes_in = 1000;
        assert_eq!(o.snapshots_per_sec(), Some(60.0));
        assert_eq!(o.bytes_per_sec(), Some(500.0));
    }
}
