//! `bot-client`: runs many bots against a ticksync server and reports what players would feel.
//! Exit status 1 on any checksum mismatch or protocol error, or when no bot connected.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bot_client::bot::LiveStats;
use bot_client::cli::Args;
use bot_client::load::{LoadConfig, run_load};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match args.load_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("bot-client: {e}");
            return ExitCode::from(2);
        }
    };
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
