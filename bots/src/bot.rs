//! The load-test bot: one bot is one client that joins, plays the room's game (one input per
//! server tick, from the `Behaviour` its game calls for), pings once a second, and measures
//! what a player would feel over a window that leaves out the ramp and its own first second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use protocol::{EntityId, TypeDesc, Welcome, codes};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval, sleep_until};

use crate::behaviour::{Behaviour, Behaviours, GameView};
use crate::client::stats::latency_histogram;
use crate::client::{Client, ConnectOptions, Counters, GameEventCounts, Received};
use crate::cluster::{MatchmakerUrl, SeatRequest, node_url, request_seat};
use crate::error::{ABNORMAL_CLOSURE, ClientError, MatchmakeError};
use crate::predict::{Prediction, PredictionStats};
use crate::url::WsUrl;

/// How a bot behaves and when it measures.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// Seeds the bot's behaviour: the same seed plays the same way.
    pub seed: u64,
    /// Nothing before this instant is measured (the end of the ramp).
    pub measure_from: Instant,
    /// Nor the first this-long after each join (the full snapshot, the server settling).
    pub warmup: Duration,
    /// How often the bot pings, for its round-trip times (`Report::rtt_ms_p50`).
    pub ping_interval: Duration,
    /// After an error or a server close, join again (taking the same player back while the
    /// server holds it) until stopped. `MOVED` is followed either way: it is part of joining.
    pub reconnect: bool,
    /// How long a bot waits before joining again after an error (not after a `MOVED`).
    pub reconnect_delay: Duration,
    /// Ask this matchmaker for a seat before every join that is not following a `MOVED` (the
    /// first, and each after a lost connection), and connect where it says: the bot's
    /// `ConnectOptions::url` is then unused, and an empty `ConnectOptions::room` lets the
    /// matchmaker choose the first room (later joins ask for the room the bot was in).
    pub matchmake: Option<MatchmakerUrl>,
    /// Mint the join token for each `Hello` and seat request with this secret, for the room
    /// of the moment (a token is bound to its room, which the matchmaker or a join may change).
    /// `None`: `ConnectOptions::auth_token` is the join token.
    pub join_secret: Option<String>,
    /// Follow node URLs (from the matchmaker or `MOVED`) only to loopback hosts. (Plain `ws://`
    /// ones are never followed from a secure home: `cluster::node_url`.)
    pub loopback_only: bool,
    /// Redirects (`MOVED` rejects) followed in a row without a `Welcome`; one more fails the
    /// join (nodes pointing at each other would otherwise keep a bot busy forever).
    pub max_redirects: u32,
    /// Each game's behaviour (random valid inputs for games without one).
    pub behaviours: Behaviours,
    /// Inputs a second; `None`: one per server tick, as a browser sends. Fewer make a cheaper
    /// load (each send costs the bot as much as the server's read of it, on loopback), and
    /// the server then reads fewer messages too: compare with a floor that sends as many.
    pub input_rate: Option<f64>,
}

impl BotConfig {
    /// A bot that measures from now (after its warmup), pings once a second, reconnects after
    /// half a second, follows up to 5 redirects in a row and plays the default behaviours.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            measure_from: Instant::now(),
            warmup: Duration::from_secs(1),
            ping_interval: Duration::from_secs(1),
            reconnect: true,
            reconnect_delay: Duration::from_millis(500),
            matchmake: None,
            join_secret: None,
            loopback_only: false,
            max_redirects: 5,
            behaviours: Behaviours::default(),
            input_rate: None,
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
    /// Snapshots applied by every bot so far.
    pub snapshots: AtomicU64,
    /// Connection-ending errors (protocol errors, checksum mismatches, lost connections,
    /// server closes before the end of the run).
    pub errors: AtomicU64,
}

/// What one bot measured over its whole run.
#[derive(Clone, Debug)]
pub struct BotOutcome {
    /// The bot's player name (`ConnectOptions::name`).
    pub name: String,
    /// Joins that got a `Welcome`.
    pub connections: u32,
    /// Why the bot never joined, when it did not.
    pub connect_error: Option<ClientError>,
    /// Measured time, summed over connections.
    pub window: Duration,
    /// Counts within the measured window.
    pub window_counters: Counters,
    /// Input-to-snapshot latency samples within the window, µs.
    pub input_latency_us: Histogram<u64>,
    /// Ping round-trip samples within the window, µs.
    pub rtt_us: Histogram<u64>,
    /// Snapshots whose checksum this bot's world did not reproduce, over the whole run
    /// (window or not): any is a failure.
    pub checksum_mismatches: u64,
    /// Server messages that broke the protocol (and `Welcome`s this bot could not use), over
    /// the whole run: any is a failure.
    pub protocol_errors: u64,
    /// Snapshots this bot could not apply because it had fallen too far behind (its own
    /// overload); each ended a connection.
    pub fell_behind: u64,
    /// How each connection (or join attempt) ended: the server's close or reject code,
    /// `ABNORMAL_CLOSURE` when it sent none.
    pub close_codes: Vec<u16>,
    /// Connection-ending errors, in order (the first few).
    pub errors: Vec<String>,
    /// `MOVED` closes after a `Welcome` followed (hand-offs: the room moved to another node).
    pub handoffs: u32,
    /// `MOVED` rejects followed (redirects: the room lives on another node).
    pub redirects: u32,
    /// The player (`Welcome.player`) of the first join.
    pub first_player: Option<EntityId>,
    /// A later join got another player than the first: the server did not take this bot's
    /// player back (a resume refused, or lost in a move).
    pub player_changed: bool,
    /// How long the bot was not playing after each connection ended: from the end to the
    /// first snapshot of the next connection (the first few hundred).
    pub recoveries: Vec<Duration>,
    /// The bot's last connection ended and no snapshot came after it before the run stopped.
    pub unrecovered: bool,
    /// Game events received over the whole run, by name (`client::stats::UNKNOWN_GAME_EVENT`
    /// for ids the schema does not declare): as many names as the games' schemas declare.
    pub game_events: BTreeMap<String, u64>,
    /// What the behaviours counted ([`Behaviour::counters`]), summed over connections.
    pub counters: BTreeMap<String, u64>,
    /// Own-player prediction's errors, for behaviours that predict.
    pub prediction: PredictionStats,
}

const MAX_ERRORS_KEPT: usize = 8;
/// Recovery samples kept per bot: a bot reconnects a few times a run, not thousands.
pub const MAX_RECOVERIES_KEPT: usize = 256;

impl BotOutcome {
    /// A bot named `name` that has not joined yet (nor measured anything).
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
            handoffs: 0,
            redirects: 0,
            first_player: None,
            player_changed: false,
            recoveries: Vec::new(),
            unrecovered: false,
            game_events: BTreeMap::new(),
            counters: BTreeMap::new(),
            prediction: PredictionStats::default(),
        }
    }

    /// Counts a join: its player is compared with the first join's.
    pub fn note_welcome(&mut self, player: EntityId) {
        self.connections += 1;
        match self.first_player {
            None => self.first_player = Some(player),
            Some(first) if first != player => self.player_changed = true,
            Some(_) => {}
        }
    }

    /// Records a gap between a connection's end and the next connection's first snapshot.
    pub fn note_recovery(&mut self, gap: Duration) {
        if self.recoveries.len() < MAX_RECOVERIES_KEPT {
            self.recoveries.push(gap);
        }
    }

    /// Adds a connection's game event counts, named by the schema (`events`) it was sent.
    pub fn note_game_events(&mut self, events: &[TypeDesc], counts: &GameEventCounts) {
        for (name, n) in counts.named(events) {
            match self.game_events.get_mut(name) {
                Some(total) => *total += n,
                None => _ = self.game_events.insert(name.to_owned(), n),
            }
        }
    }

    /// Some join got a `Welcome` (a bot that never joined is a failed bot).
    pub fn connected(&self) -> bool {
        self.connections > 0
    }

    /// Snapshots per second over the measured window, if there was one.
    pub fn snapshots_per_sec(&self) -> Option<f64> {
        let secs = self.window.as_secs_f64();
        (secs > 0.0).then(|| self.window_counters.snapshots as f64 / secs)
    }

    /// Bytes received per second over the measured window, if there was one.
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

/// How a bot's next join starts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Next {
    /// Ask the matchmaker for a seat when there is one, else connect to the configured URL:
    /// the first join, and every join after a lost connection.
    Rejoin,
    /// Connect at once to this node with the `Hello` as it stands: a redirect keeps its seat
    /// or resume token, a hand-off brings the resume token.
    Follow(String),
}

/// What a bot's joins need besides its options.
struct Joins<'a> {
    config: &'a BotConfig,
    /// `ConnectOptions::url` as given: where `Next::Rejoin` goes without a matchmaker.
    url: String,
    /// `ConnectOptions::auth_token` as given: the join token (a seat replaces it while used).
    join_token: Option<String>,
    /// The bot's home (its matchmaker, else `url`) is `https://` or `wss://`: node URLs it is
    /// sent to must be `wss://` (`node_url`).
    secure_home: bool,
}

impl Joins<'_> {
    /// The join token for `room` (the one given, or one minted with the join secret).
    fn join_token(&self, room: &str, name: &str) -> Option<String> {
        match &self.config.join_secret {
            Some(secret) => {
                let expires = protocol::join_token::now_unix() + 24 * 3600;
                Some(protocol::join_token::mint(
                    secret.as_bytes(),
                    room,
                    name,
                    expires,
                ))
            }
            None => self.join_token.clone(),
        }
    }

    /// One join attempt: the seat first when `next` calls for one, then connect with `opts`
    /// (which keeps where the bot went and with what).
    async fn join(
        &self,
        opts: &mut ConnectOptions,
        next: &Next,
    ) -> Result<(Client, Welcome), ClientError> {
        match (next, &self.config.matchmake) {
            (Next::Follow(url), _) => opts.url.clone_from(url),
            (Next::Rejoin, None) => {
                opts.url.clone_from(&self.url);
                opts.auth_token = self.join_token(&opts.room, &opts.name);
            }
            (Next::Rejoin, Some(matchmaker)) => {
                let req = SeatRequest {
                    game: opts.game.clone(),
                    room: (!opts.room.is_empty()).then(|| opts.room.clone()),
                    name: Some(opts.name.clone()),
                    // The matchmaker checks a token for room `*` when no room is named.
                    auth_token: self.join_token(
                        if opts.room.is_empty() {
                            "*"
                        } else {
                            &opts.room
                        },
                        &opts.name,
                    ),
                };
                let limit = opts.connect_timeout;
                let loopback_only = self.config.loopback_only;
                let tls = opts.tls.as_ref();
                let seat = request_seat(matchmaker, &req, limit, loopback_only, tls).await?;
                opts.url = seat.url;
                opts.room = seat.room;
                opts.auth_token = Some(seat.seat);
            }
        }
        Client::connect(opts.clone()).await
    }
}

/// Runs one bot until `stop` turns true: join, play, measure; join again after an error when
/// `config.reconnect`. Follows `MOVED` at once (redirects and hand-offs), and with a
/// matchmaker asks it where to go after a lost connection. A bot whose first join fails gives
/// up (it is a failed bot). Updates `live` as it goes.
pub async fn run_bot(
    opts: ConnectOptions,
    config: BotConfig,
    mut stop: watch::Receiver<bool>,
    live: Arc<LiveStats>,
) -> BotOutcome {
    let mut out = BotOutcome::new(opts.name.clone());
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let joins = Joins {
        config: &config,
        url: opts.url.clone(),
        join_token: opts.auth_token.clone(),
        secure_home: match &config.matchmake {
            Some(matchmaker) => matchmaker.secure,
            None => WsUrl::parse(&opts.url).is_ok_and(|url| url.secure),
        },
    };
    let mut opts = opts;
    // The client's acks wait for inputs at the bot's own pace.
    opts.input_interval = config
        .input_rate
        .map(|rate| Duration::from_secs_f64(1.0 / rate));
    let mut next = Next::Rejoin;
    let mut redirects_in_a_row = 0;
    // When the last connection ended, until the next one's first snapshot.
    let mut lost_at: Option<Instant> = None;
    while !*stop.borrow() {
        live.connecting.fetch_add(1, Relaxed);
        let connected = tokio::select! {
            r = joins.join(&mut opts, &next) => Some(r),
            _ = stopped(&mut stop) => None,
        };
        live.connecting.fetch_sub(1, Relaxed);
        let Some(connected) = connected else { break };
        let (mut client, welcome) = match connected {
            Ok(c) => c,
            Err(e) => {
                let e = match e {
                    ClientError::Rejected {
                        code: codes::MOVED,
                        reason,
                    } => {
                        out.close_codes.push(codes::MOVED);
                        redirects_in_a_row += 1;
                        match node_url(&reason, config.loopback_only, joins.secure_home) {
                            Ok(_) if redirects_in_a_row <= config.max_redirects => {
                                out.redirects += 1;
                                next = Next::Follow(reason);
                                continue;
                            }
                            Ok(_) => ClientError::Connect(format!(
                                "{redirects_in_a_row} redirects (moved) in a row without a \
                                 Welcome, the last to {reason}"
                            )),
                            Err(why) => ClientError::Connect(format!(
                                "redirect (moved) not followed: {why}"
                            )),
                        }
                    }
                    // Too late to resume (the server let the player go): join afresh at once,
                    // with a new seat when seats are in use (the last one may be spent).
                    e if e.close_code() == Some(codes::BAD_RESUME)
                        && opts.resume_token.is_some() =>
                    {
                        opts.resume_token = None;
                        next = match config.matchmake {
                            Some(_) => Next::Rejoin,
                            None => Next::Follow(opts.url.clone()),
                        };
                        continue;
                    }
                    e => e,
                };
                redirects_in_a_row = 0;
                out.close_codes.extend(e.close_code());
                out.note_error(&e);
                // A Welcome this client cannot use (a bad schema) is the server's fault.
                if e.is_protocol_violation() {
                    out.protocol_errors += 1;
                }
                if !out.connected() {
                    // A matchmaker's 503 says "ask again shortly" (Redis unreachable, no room
                    // free): the first join waits for it like any later one, and the bot only
                    // fails if the run ends first.
                    let retry = config.reconnect && is_unavailable(&e);
                    out.connect_error = Some(e);
                    if !retry || !pause(&config, &mut stop).await {
                        live.failed.fetch_add(1, Relaxed);
                        break;
                    }
                    next = Next::Rejoin;
                    continue;
                }
                live.errors.fetch_add(1, Relaxed);
                if !pause(&config, &mut stop).await {
                    break;
                }
                next = Next::Rejoin;
                continue;
            }
        };
        redirects_in_a_row = 0;
        out.note_welcome(welcome.player);
        live.connected.fetch_add(1, Relaxed);
        // A reconnect takes the same player back while the server still holds it, in the room
        // the bot is in (which the matchmaker may have chosen).
        opts.resume_token = Some(welcome.resume_token.clone());
        opts.room.clone_from(&welcome.room);
        let tick = match config.input_rate {
            Some(rate) => Duration::from_secs_f64(1.0 / rate),
            None => Duration::from_secs(1) / u32::from(welcome.tick_rate.max(1)),
        };
        // Chosen per connection: the room's game decides (and may change on a reconnect).
        let mut play = config
            .behaviours
            .for_game(&welcome.game, &welcome.schema, rng.random());
        let session = Session {
            tick,
            phase: tick.mul_f64(rng.random()),
            config: &config,
            live: &live,
        };
        let ended = session
            .play(
                &mut client,
                play.as_mut(),
                &mut stop,
                &mut out,
                &mut lost_at,
            )
            .await;
        live.connected.fetch_sub(1, Relaxed);
        out.checksum_mismatches += client.stats().counters.checksum_mismatches;
        out.protocol_errors += client.stats().counters.protocol_errors;
        out.fell_behind += client.stats().counters.fell_behind;
        out.note_game_events(&client.schema().events, &client.stats().game_events);
        for (name, n) in play.counters() {
            *out.counters.entry(name.to_owned()).or_insert(0) += n;
        }
        let Some(e) = ended else {
            out.close_codes
                .push(client.close_with(codes::NORMAL, "").await);
            break;
        };
        // Not playing from here until the next connection's first snapshot (or, when this
        // connection never got one, since the connection before it ended).
        lost_at.get_or_insert_with(Instant::now);
        let mut not_followed = None;
        if let ClientError::Closed {
            code: codes::MOVED,
            reason,
        } = &e
        {
            match node_url(reason, config.loopback_only, joins.secure_home) {
                // A hand-off: the room goes on at `reason`, which holds this player for the
                // resume grace. Go at once, with the resume token and no seat (it was spent).
                Ok(_) => {
                    out.close_codes.push(codes::MOVED);
                    out.handoffs += 1;
                    opts.auth_token = joins.join_token(&opts.room, &opts.name);
                    next = Next::Follow(reason.clone());
                    continue;
                }
                Err(bad) => {
                    let bad = format!("hand-off (moved) not followed: {bad}");
                    not_followed = Some(ClientError::Connect(bad));
                }
            }
        }
        live.errors.fetch_add(1, Relaxed);
        out.note_error(not_followed.as_ref().unwrap_or(&e));
        let code = match e.close_code() {
            Some(code) => code,
            // Our world is wrong or the server broke the protocol: say so on the way out.
            None if e.is_protocol_violation() => client.close_with(codes::PROTOCOL_ERROR, "").await,
            None => ABNORMAL_CLOSURE,
        };
        out.close_codes.push(code);
        // Replaced: another connection plays this player now; coming back would fight it.
        if !config.reconnect || code == codes::REPLACED || !pause(&config, &mut stop).await {
            break;
        }
        next = Next::Rejoin;
    }
    out.unrecovered = lost_at.is_some();
    out
}

/// What one connection's play needs besides the client.
struct Session<'a> {
    /// Between two inputs: a server tick, or `BotConfig::input_rate`'s interval.
    tick: Duration,
    /// When in the tick this bot sends its inputs.
    phase: Duration,
    config: &'a BotConfig,
    live: &'a LiveStats,
}

impl Session<'_> {
    /// A cheap bot's session, for load (`ConnectOptions::verify` off): once per input
    /// interval, at its phase, it takes every snapshot waiting in its socket (headers only)
    /// and sends its input, which acks the newest. One wake-up, one read and one write per
    /// input, where `play` wakes for every snapshot and every input, and the kernel's
    /// loopback work under those calls is most of a bot's CPU. No pings, and no latency
    /// samples: reading in batches, it would measure its own pace.
    async fn load(
        &self,
        client: &mut Client,
        play: &mut dyn Behaviour,
        stop: &mut watch::Receiver<bool>,
        out: &mut BotOutcome,
        lost_at: &mut Option<Instant>,
    ) -> Option<ClientError> {
        let mut next_input = Instant::now() + self.phase;
        let opens_at = (self.config.measure_from).max(Instant::now() + self.config.warmup);
        let mut window: Option<(Instant, Counters)> = None;
        let mut prediction = Prediction::new(client.tick_rate());
        let stop = stopped(stop);
        tokio::pin!(stop);
        let ended = 'session: loop {
            tokio::select! {
                _ = &mut stop => break None,
                _ = sleep_until(next_input.into()) => {}
            }
            if window.is_none() && Instant::now() >= opens_at {
                window = Some((Instant::now(), client.stats().counters));
            }
            while let Some(received) = client.try_recv() {
                if let Err(e) =
                    self.on_received(client, play, &mut prediction, out, lost_at, received)
                {
                    break 'session Some(e);
                }
            }
            self.send_input(client, play, &mut prediction, &mut next_input);
        };
        close_window(client, window, out);
        ended
    }

    /// What a session does with each message: counts a snapshot (and, at the first since a
    /// connection was lost, the recovery), reconciles the prediction with it, and hands game
    /// events to the behaviour. `Err`: the connection ended.
    fn on_received(
        &self,
        client: &Client,
        play: &mut dyn Behaviour,
        prediction: &mut Prediction,
        out: &mut BotOutcome,
        lost_at: &mut Option<Instant>,
        received: Result<Received, ClientError>,
    ) -> Result<(), ClientError> {
        match received? {
            Received::Snapshot { input_seq, .. } => {
                self.live.snapshots.fetch_add(1, Relaxed);
                if let Some(since) = lost_at.take() {
                    out.note_recovery(since.elapsed());
                }
                reconcile(client, play, prediction, input_seq);
            }
            Received::GameEvent { id, values, .. } => {
                play.event(&GameView::of(client), id, &values);
            }
            _ => {}
        }
        Ok(())
    }

    /// Plays until `stop` (None) or an error that ends the connection; adds what was measured
    /// in the window to `out`, and the recovery from `lost_at` at the first snapshot. A
    /// client that does not verify is load, not a player: `load` runs its session.
    async fn play(
        &self,
        client: &mut Client,
        play: &mut dyn Behaviour,
        stop: &mut watch::Receiver<bool>,
        out: &mut BotOutcome,
        lost_at: &mut Option<Instant>,
    ) -> Option<ClientError> {
        if !client.verifies() {
            return self.load(client, play, stop, out, lost_at).await;
        }
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
        let mut prediction = Prediction::new(client.tick_rate());
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
                    self.send_input(client, play, &mut prediction, &mut next_input);
                    input_timer.as_mut().reset(next_input.into());
                }
                _ = pings.tick() => {
                    let _ = client.send_ping();
                }
                received = client.recv() => {
                    if let Err(e) = self.on_received(client, play, &mut prediction, out, lost_at, received) {
                        break Some(e);
                    }
                    // While frames are buffered `recv` returns at once (yielding only when the
                    // runtime's budget runs out), so the timer may fire late: a bot draining a
                    // backlog checks the clock.
                    if Instant::now() >= next_input {
                        self.send_input(client, play, &mut prediction, &mut next_input);
                        input_timer.as_mut().reset(next_input.into());
                    }
                }
            }
        };
        close_window(client, window, out);
        out.prediction.add(&prediction.stats);
        ended
    }
}

impl Session<'_> {
    /// Sends this tick's input (its ack riding on it) and moves `next` to the next tick
    /// boundary after now: ticks missed while busy are skipped, not sent in a burst.
    fn send_input(
        &self,
        client: &mut Client,
        play: &mut dyn Behaviour,
        prediction: &mut Prediction,
        next: &mut Instant,
    ) {
        let mut view = GameView::of(client);
        view.predicted = prediction.now();
        let values = play.input(&view);
        // Send errors are counted by the client; a dead connection shows up in `recv`.
        if let Ok(seq) = client.send_input(&values) {
            // Off (most behaviours), this costs a branch.
            if prediction.on() {
                let own = prediction
                    .needs_start()
                    .then(|| client.entity_values(client.player()))
                    .flatten();
                prediction.sent(play, seq, values, own);
            }
        }
        let now = Instant::now();
        *next += self.tick;
        if *next <= now {
            let behind = (now - *next).as_nanos() / self.tick.as_nanos().max(1);
            *next += self.tick * (behind as u32 + 1);
        }
    }
}

/// Adds what a session measured in its window (opened at `window`, if it was) to `out`.
fn close_window(client: &Client, window: Option<(Instant, Counters)>, out: &mut BotOutcome) {
    if let Some((opened, at_open)) = window {
        let stats = client.stats();
        out.window += opened.elapsed();
        out.window_counters += stats.counters - at_open;
        // Every histogram has the same bounds, so adding cannot fail.
        let _ = out.input_latency_us.add(&stats.input_latency_us);
        let _ = out.rtt_us.add(&stats.rtt_us);
    }
}

/// A snapshot applied inputs through `input_seq`: the prediction checks and restarts from it.
fn reconcile(client: &Client, play: &dyn Behaviour, prediction: &mut Prediction, input_seq: u32) {
    if !prediction.on() {
        return;
    }
    let Some((_, table)) = client.latest() else {
        return;
    };
    let Some(own) = table.get(client.player()) else {
        return;
    };
    if let Some(values) = client.entity_values(client.player()) {
        prediction.reconcile(play, client.schema(), own.ty, input_seq, values);
    }
}

/// Resolves once `stop` is true, or its sender is gone. Returns nothing, so no borrow of the
/// watch value lives on across later awaits (that would make the future `!Send`).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A matchmaker's "no seat now, ask again" (HTTP 503).
fn is_unavailable(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Matchmake(MatchmakeError::Refused { status: 503, .. })
    )
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
