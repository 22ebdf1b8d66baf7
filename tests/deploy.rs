//! Keeps `deploy/` true to the code. The alert rules and the Grafana dashboard may only query
//! metrics a real server exposes on `/metrics`, and only `code` label values it emits, so a
//! renamed metric or code fails here rather than as an alert that silently never fires. The
//! dashboard must be valid, importable JSON. The example config may only use keys that are
//! flags of the `ticksync` binary, with values the binary accepts.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use protocol::{ClientMsg, Input, codes};
use support::process::{ServerProcess, metric, metric_code};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn deploy_file(path: &str) -> String {
    let full = format!("{}/deploy/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The PromQL expressions of the Grafana dashboard (every `expr`, nested panels included).
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dashboard];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(e)) = map.get("expr") {
                    out.push(e.clone());
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&deploy_file("grafana/ticksync.json"))
        .expect("deploy/grafana/ticksync.json is valid JSON")
}

/// Every `ticksync_...` metric in `text` (not the `ticksync` job name or Redis keys), with
/// the label matchers in braces that follow it, if any.
fn selectors_in(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("ticksync_") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let rest = &text[at + name.len()..];
        let labels = match rest.strip_prefix('{') {
            Some(r) => r[..r.find('}').expect("a closing brace")].to_string(),
            None => String::new(),
        };
        out.push((name, labels));
    }
    out
}

/// Every value `labels` matches its `code` label against: `code="x"`, and each alternative
/// of `code=~"x|y"` (the files keep those regexes to plain alternatives).
fn code_values_in(labels: &str) -> Vec<String> {
    let mut values = Vec::new();
    for pattern in ["code=\"", "code=~\""] {
        for (at, _) in labels.match_indices(pattern) {
            let rest = &labels[at + pattern.len()..];
            let value = &rest[..rest.find('"').expect("a closing quote")];
            for alt in value.split('|') {
                assert!(
                    !alt.is_empty() && alt.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "code matcher {value:?}: keep it to plain names separated by |"
                );
                values.push(alt.to_string());
            }
        }
    }
    values
}

/// What a `/metrics` exposition offers to PromQL.
struct Exposition {
    /// Names of the sample lines.
    samples: BTreeSet<String>,
    /// The names each `# TYPE` line declares, as a query spells them: a counter as
    /// `NAME_total` (OpenMetrics, which prometheus-client writes), anything else as `NAME`.
    typed: BTreeSet<String>,
    /// Histograms and summaries, whose series are `NAME_bucket`, `NAME_sum`, `NAME_count`.
    histograms: BTreeSet<String>,
    /// Every `(metric, code label value)` of the sample lines.
    codes: BTreeSet<(String, String)>,
}

impl Exposition {
    fn parse(text: &str) -> Exposition {
        let mut e = Exposition {
            samples: BTreeSet::new(),
            typed: BTreeSet::new(),
            histograms: BTreeSet::new(),
            codes: BTreeSet::new(),
        };
        for line in text.lines() {
            if let Some(decl) = line.strip_prefix("# TYPE ") {
                let mut parts = decl.split_whitespace();
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    continue;
                };
                match kind {
                    "counter" => e.typed.insert(format!("{name}_total")),
                    "histogram" | "summary" | "gaugehistogram" => e.histograms.insert(name.into()),
                    _ => e.typed.insert(name.into()),
                };
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let end = line.find(['{', ' ']).unwrap_or(line.len());
                e.samples.insert(line[..end].to_string());
            }
        }
        for (name, labels) in selectors_in(text) {
            for code in code_values_in(&labels) {
                e.codes.insert((name.clone(), code));
            }
        }
        e
    }

    /// Whether a query may use `name`: a sample's or a declared metric's name, or a
    /// histogram's series.
    fn has(&self, name: &str) -> bool {
        if self.samples.contains(name) || self.typed.contains(name) {
            return true;
        }
        ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| self.histograms.contains(base))
        })
    }
}

/// `/metrics`, retried while a tight handshake limit closes the scrape's socket on accept.
async fn scrape(addr: SocketAddr) -> String {
    bounded("/metrics answers", async {
        loop {
            if let Ok((200, body)) = try_http_get(addr, "/metrics").await {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

async fn wait_for_connections(addr: SocketAddr, n: f64) {
    poll_until(
        "connections counted",
        Duration::from_millis(50),
        || async move { metric(&scrape(addr).await, "ticksync_connections_open") == n },
    )
    .await;
}

/// Makes the server emit one series of each labelled family (and of each label value the
/// deploy files match that is not a close code): an origin refused, a version refused, an
/// invalid input, an upgrade over `--max-connections 1`. Returns `/metrics` with one client
/// still playing.
async fn provoke_every_series(addr: SocketAddr) -> String {
    let refused = raw_upgrade(addr, Some("https://elsewhere.example"), None).await;
    assert_eq!(refused.err(), Some(403), "a foreign origin is refused");

    let mut ws = raw_ws(addr, None).await.expect("upgrade");
    let mut old = hello("deploy", "oldclient");
    old.version = protocol::PROTOCOL_VERSION + 100;
    ws.write_frame(binary(hello_bytes(old))).await.unwrap();
    let (code, _, _) = read_until_close(&mut ws).await;
    assert_eq!(code, codes::VERSION_MISMATCH);
    drop(ws);
    wait_for_connections(addr, 0.0).await;

    let (mut mallory, _) = connect(addr, "deploy", "mallory").await;
    // zig-zag 1000 = 500 steps: move_x 3.94, outside arena's -1..1.
    let bad = ClientMsg::Input(Input {
        seq: 1,
        ack: None,
        view: None,
        values: vec![0xe8, 0x07, 0x00],
    });
    mallory.send(bad).unwrap();
    let end = ended(&mut mallory, "close after an invalid input").await;
    assert_eq!(end.close_code(), Some(codes::INVALID_VALUE));
    drop(mallory);
    wait_for_connections(addr, 0.0).await;

    let (mut ann, _) = connect(addr, "deploy", "ann").await;
    recv_tick(&mut ann, 1).await;
    let over = raw_upgrade(addr, None, None).await;
    assert_eq!(
        over.err(),
        Some(503),
        "the connection over --max-connections"
    );

    let text = scrape(addr).await;
    assert_eq!(metric(&text, "ticksync_connections_open"), 1.0, "{text}");
    for (name, code) in [
        ("ticksync_upgrades_refused_total", "origin"),
        ("ticksync_upgrades_refused_total", "connection_limit"),
        ("ticksync_rejects_total", "version_mismatch"),
        ("ticksync_closes_total", "invalid_value"),
        ("ticksync_invalid_messages_total", "input"),
    ] {
        assert_eq!(
            metric_code(&text, name, code),
            1.0,
            "{name}{{code={code:?}}}"
        );
    }
    drop(ann);
    text
}

/// A server with `--max-handshaking 1` refuses a second socket while the first has sent no
/// request: `upgrades_refused{code="handshake_limit"}`. Returns its `/metrics`.
async fn provoke_handshake_limit() -> String {
    let server = ServerProcess::start(&["--npcs", "10", "--max-handshaking", "1"]).await;
    let idle = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    // Closed on accept: EOF, or a reset if the close raced the connect.
    let n = bounded("the second socket is closed", second.read(&mut buf)).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    drop(idle);
    // The scrape may itself be refused (and counted) until the server sees `idle` go.
    let text = scrape(server.addr).await;
    let refused = metric_code(&text, "ticksync_upgrades_refused_total", "handshake_limit");
    assert!(refused >= 1.0, "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_dashboard_query_only_what_the_server_exposes() {
    let server = ServerProcess::start(&["--npcs", "50", "--max-connections", "1"]).await;
    let main = provoke_every_series(server.addr).await;
    let tight = provoke_handshake_limit().await;
    let exposed = Exposition::parse(&format!("{main}\n{tight}"));
    // Rejects and closes may also match a close code this run did not provoke.
    let mut known = exposed.codes.clone();
    for family in ["ticksync_rejects_total", "ticksync_closes_total"] {
        known.extend(
            codes::ALL
                .iter()
                .map(|&c| (family.to_string(), codes::name(c).to_string())),
        );
    }

    let alerts = deploy_file("prometheus/alerts.yml");
    let dashboard = dashboard_exprs(&dashboard()).join("\n");
    for (file, text) in [
        ("deploy/prometheus/alerts.yml", &alerts),
        ("deploy/grafana/ticksync.json", &dashboard),
    ] {
        let selectors = selectors_in(text);
        let names: BTreeSet<_> = selectors.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.len() >= 5, "{file} queries only {names:?}");
        let missing: Vec<_> = names.iter().filter(|n| !exposed.has(n)).collect();
        assert!(
            missing.is_empty(),
            "{file} names metrics that /metrics does not expose: {missing:?}\n\
             exposed: {:?}",
            exposed.samples
        );
        let unknown: Vec<_> = selectors
            .iter()
            .flat_map(|(name, labels)| {
                code_values_in(labels)
                    .into_iter()
                    .map(|c| (name.clone(), c))
            })
            .filter(|pair| !known.contains(pair))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} matches code labels the server never emits: {unknown:?}"
        );
    }
}

#[test]
fn grafana_dashboard_is_importable() {
    let d = dashboard();
    assert!(d["schemaVersion"].is_u64(), "schemaVersion");
    assert!(d["title"].is_string() && d["uid"].is_string());
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    assert!(
        vars.iter().any(|v| v["name"] == "node"),
        "a $node variable to pick instances"
    );
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "unique ids"
        );
        for key in ["x", "y", "w", "h"] {
            assert!(
                p["gridPos"][key].is_u64(),
                "gridPos.{key} of {}",
                p["title"]
            );
        }
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{} has a query", p["title"]);
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            // Each query follows the node picker, or the variable does nothing.
            assert!(expr.contains("$node"), "{}: {expr}", p["title"]);
        }
    }
}

/// The settings of a TOML file as `(key, value, commented_out)`: `key = value` lines, and
/// `# key = value` lines (examples left commented out, which must stay valid too). Tables and
/// prose comments are skipped; the example keeps every value on one line.
fn toml_settings(text: &str) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (body, commented) = match line.strip_prefix('#') {
            Some(rest) => (rest.trim(), true),
            None => (line, false),
        };
        if body.is_empty() || body.starts_with('[') {
            continue;
        }
        let Some((key, value)) = body.split_once('=') else {
            assert!(commented, "not a `key = value` line: {line}");
            continue;
        };
        let key = key.trim();
        let is_key = key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !is_key {
            assert!(commented, "not a key: {key:?} in {line}");
            continue;
        }
        out.push((key.to_string(), value.trim().to_string(), commented));
    }
    out
}

#[test]
fn example_config_uses_only_real_flags() {
    let help = Command::new(env!("CARGO_BIN_EXE_ticksync"))
        .arg("--help")
        .output()
        .expect("ticksync --help runs");
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    let flags: BTreeSet<String> = help
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| {
            w.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        })
        .filter(|w: &String| !w.is_empty())
        .collect();
    assert!(flags.contains("max-connections"), "{help}");

    let settings = toml_settings(&deploy_file("ticksync.toml"));
    assert!(settings.len() >= 10, "{settings:?}");
    for (key, _, _) in &settings {
        assert!(
            flags.contains(key),
            "deploy/ticksync.toml: `{key}` is not a flag of ticksync"
        );
    }
    // The binary reads the file itself: every key set passes its flag's own parser, and
    // `--print-config` shows it came from the file.
    let path = format!("{}/deploy/ticksync.toml", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_ticksync"))
        .args(["--config", &path, "--print-config"])
        .output()
        .expect("ticksync runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ticksync refuses deploy/ticksync.toml:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (key, _, commented) in &settings {
        if !commented {
            let line = printed
                .lines()
                .find(|l| l.starts_with(&format!("{key} = ")))
                .unwrap_or_else(|| panic!("{key} not in\n{printed}"));
            assert!(line.ends_with("# file"), "{line}");
        }
    }
}
