//! Prints what one client sees, snapshot by snapshot: a debugging aid for the server and the
//! client. `cargo run -p bot-client --example trace -- ws://127.0.0.1:8080/ws [seconds] [game]`
//! The bot plays as the load test's bots do (random valid inputs: `behaviour::RandomInputs`). A `wss://` URL trusts the
//! public web's CAs, or those in the PEM file `TICKSYNC_BOT_CA_CERT` names (as `--ca-cert`).

use std::time::{Duration, Instant};

use bots::behaviour;
use bots::{Client, ConnectOptions, Received};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:8080/ws".to_owned());
    let secs: u64 = args.next().map_or(Ok(3), |s| s.parse())?;
    let mut opts = ConnectOptions::new(&url, "arena", "trace");
    opts.game = args.next();
    if let Some(path) = std::env::var_os("TICKSYNC_BOT_CA_CERT") {
        opts.tls = Some(bots::tls::client_config(Some(path.as_ref())).map_err(anyhow::Error::msg)?);
    }
    let (mut client, welcome) = Client::connect(opts).await?;
    let mut play = behaviour::Behaviours::default().for_game(&welcome.game, &welcome.schema, 1);
    println!(
        "welcome: game {} (schema {:#010x}: {} types, {} input fields), player {:?}, tick {}, \
         {} Hz; playing with {}",
        welcome.game,
        welcome.schema_hash,
        welcome.schema.types.len(),
        welcome.schema.input.len(),
        welcome.player,
        welcome.tick,
        welcome.tick_rate,
        play.name()
    );
    let end = Instant::now() + Duration::from_secs(secs);
    let mut inputs = tokio::time::interval(Duration::from_secs(1) / u32::from(welcome.tick_rate));
    let mut last = Instant::now();
    let mut sent_seq = 0;
    while Instant::now() < end {
        tokio::select! {
            _ = inputs.tick() => {
                let values = play.input(&behaviour::GameView::of(&client));
                sent_seq = client.send_input(&values)?;
            }
            r = client.recv() => {
                let now = Instant::now();
                match r? {
                    Received::Snapshot { tick, baseline, baseline2, input_seq, bytes, .. } => println!(
                        "tick {tick:>6} baseline {:>6} {:>6} input_seq {input_seq:>5} (sent {sent_seq:>5}) \
                         {bytes:>6} B  +{:>5.1} ms",
                        baseline.map_or("full".to_owned(), |b| b.to_string()),
                        baseline2.map_or("-".to_owned(), |b| b.to_string()),
                        now.duration_since(last).as_secs_f64() * 1000.0
                    ),
                    other => println!("{other:?}"),
                }
                last = now;
            }
        }
    }
    let s = client.stats();
    println!(
        "snapshots {}, stale {}, input latency p50 {} us p99 {} us",
        s.counters.snapshots,
        s.counters.stale_dropped,
        s.input_latency_us.value_at_quantile(0.5),
        s.input_latency_us.value_at_quantile(0.99)
    );
    client.close().await;
    Ok(())
}
