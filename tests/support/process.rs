//! The real server binary as a child process: for RSS readings, signals, and attacks that
//! must not share a process with the test.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Its log lines, when started with `start_logged`.
    pub stderr: Option<Box<Lines<BufReader<ChildStderr>>>>,
}

impl ServerProcess {
    /// Starts `ticksync --addr 127.0.0.1:0 ARGS...` and reads its address from stdout.
    pub async fn start(args: &[&str]) -> ServerProcess {
        Self::start_at("127.0.0.1:0", args).await
    }

    /// Starts `ticksync --addr ADDR ARGS...` (a restart on the port it had, say).
    pub async fn start_at(addr: &str, args: &[&str]) -> ServerProcess {
        Self::spawn(addr, args, false).await
    }

    /// Starts `ticksync --addr 127.0.0.1:0 ARGS...` with its log lines in `stderr` (give
    /// `--log` in ARGS: the default here is `warn`).
    pub async fn start_logged(args: &[&str]) -> ServerProcess {
        Self::spawn("127.0.0.1:0", args, true).await
    }

    async fn spawn(addr: &str, args: &[&str], logged: bool) -> ServerProcess {
        // Quiet unless the test asks for logs.
        let log: &[&str] = if args.contains(&"--log") {
            &[]
        } else {
            &["--log", "warn"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_ticksync"))
            .args(["--addr", addr])
            .args(log)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(if logged {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("server binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("server prints its address in time")
            .unwrap()
            .expect("a first line");
        let addr = first
            .rsplit("://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        let stderr = child
            .stderr
            .take()
            .map(|e| Box::new(BufReader::new(e).lines()));
        ServerProcess {
            child,
            addr,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// Sends a signal (e.g. libc's SIGTERM = 15) with `kill`.
    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

/// A metric's value from the server's `/metrics` text (summing all label sets).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A metric's value for one `code` label (e.g. `ticksync_closes_total`, `"invalid_value"`).
pub fn metric_code(text: &str, name: &str, code: &str) -> f64 {
    metric_label(text, name, "code", code)
}

/// A metric's value for one label value (e.g. `ticksync_tls_reloads_total`, `result`, `"ok"`).
pub fn metric_label(text: &str, name: &str, label: &str, value: &str) -> f64 {
    let key = format!("{name}{{{label}=\"{value}\"}} ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&key))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum()
}
