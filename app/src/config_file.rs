//! `--config FILE`: a TOML file whose keys are the long flags without their dashes
//! (`tick-rate = 30`; `tick_rate` reads the same). The file's values become the flags' defaults
//! before clap parses the command line, so clap's own order gives the precedence: flag >
//! `TICKSYNC_*` environment variable > file > built-in default. Every key and value is checked
//! by the flag's own parser, and an unknown key or a bad value is an error naming it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::builder::ValueParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, Parser};

/// The id of the flag that names the file (`--config`, `TICKSYNC_CONFIG`).
pub const CONFIG_ARG: &str = "config";

/// Largest config file read: it is a page of settings.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Flags that are not settings, so not keys of the file.
const NOT_KEYS: [&str; 4] = [CONFIG_ARG, "help", "version", "print-config"];

/// What went wrong reading the command line or the file.
#[derive(Debug)]
pub enum Error {
    /// clap's own (it also carries `--help` and `--version`): `exit()` prints it.
    Cli(clap::Error),
    /// The config file: unreadable, not TOML, an unknown key or a bad value.
    File(String),
}

/// A parsed command line and where each setting came from.
pub struct Parsed<P> {
    /// The parsed command line.
    pub cli: P,
    /// Every setting with its source.
    pub effective: Effective,
}

/// The settings as parsed, for `--print-config`.
pub struct Effective {
    cmd: Command,
    matches: ArgMatches,
    file: Option<PathBuf>,
    from_file: Vec<String>,
}

/// Parses `args` (the program name first) with `--config`'s file layered under the flags and
/// environment.
pub fn parse<P: Parser>(args: Vec<OsString>) -> Result<Parsed<P>, Error> {
    let (matches, mut effective) = parse_command(P::command(), args)?;
    let cli =
        P::from_arg_matches(&matches).map_err(|e| Error::Cli(e.format(&mut effective.cmd)))?;
    Ok(Parsed { cli, effective })
}

/// As [`parse`], for a command built at run time (the App adds its games' flags): the matches,
/// and the settings with their sources.
pub fn parse_command(
    mut cmd: Command,
    args: Vec<OsString>,
) -> Result<(ArgMatches, Effective), Error> {
    let file = config_path(&cmd, &args);
    let mut from_file = Vec::new();
    if let Some(path) = &file {
        for (id, values) in read(path, &cmd)? {
            cmd = cmd.mut_arg(&id, |a| a.default_values(values));
            from_file.push(id);
        }
    }
    let matches = cmd.try_get_matches_from_mut(args).map_err(Error::Cli)?;
    let effective = Effective {
        cmd,
        matches: matches.clone(),
        file,
        from_file,
    };
    Ok((matches, effective))
}

/// `--config` from the arguments or the environment, if given. The real parse reports any
/// other error in the arguments.
fn config_path(cmd: &Command, args: &[OsString]) -> Option<PathBuf> {
    let m = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()?;
    m.try_get_one::<PathBuf>(CONFIG_ARG).ok().flatten().cloned()
}

/// The file's settings, each checked: (arg id, values as text).
fn read(path: &Path, cmd: &Command) -> Result<Vec<(String, Vec<String>)>, Error> {
    let at = |what: String| Error::File(format!("config {}: {what}", path.display()));
    let size = std::fs::metadata(path)
        .map_err(|e| at(e.to_string()))?
        .len();
    if size > MAX_CONFIG_BYTES {
        return Err(at(format!(
            "{size} bytes; a config file is at most {MAX_CONFIG_BYTES}"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| at(e.to_string()))?;
    let mut settings = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let arg = cmd
            .get_arguments()
            .filter(|a| !NOT_KEYS.contains(&a.get_id().as_str()))
            .find(|a| a.get_long() == Some(long.as_str()))
            .ok_or_else(|| {
                at(format!(
                    "unknown key `{key}` (keys are the long flags of --help without their dashes)"
                ))
            })?;
        let many =
            matches!(arg.get_action(), ArgAction::Append) || arg.get_value_delimiter().is_some();
        let values = match value {
            toml::Value::Array(items) if many => {
                items.into_iter().map(scalar).collect::<Option<Vec<_>>>()
            }
            toml::Value::String(s) => Some(match arg.get_value_delimiter() {
                Some(d) => s.split(d).map(str::to_string).collect(),
                None => vec![s],
            }),
            other => scalar(other).map(|s| vec![s]),
        }
        .ok_or_else(|| {
            at(format!(
                "key `{key}`: expected {}",
                if many {
                    "a value or a list of values"
                } else {
                    "one value (a string, number or boolean)"
                }
            ))
        })?;
        for v in &values {
            check(&long, arg.get_value_parser(), v)
                .map_err(|e| at(format!("key `{key}`: {}", clap_message(&e))))?;
        }
        settings.push((arg.get_id().to_string(), values));
    }
    Ok(settings)
}

/// Runs the flag's own parser on one value (through a command with just that flag: clap keeps
/// the parser's entry point to itself).
fn check(long: &str, parser: &ValueParser, value: &str) -> Result<(), clap::Error> {
    let probe = Arg::new("value")
        .long(long.to_string())
        .value_name("VALUE")
        .value_parser(parser.clone())
        .action(ArgAction::Set)
        .allow_hyphen_values(true);
    Command::new("ticksync")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([OsString::from(format!("--{long}")), OsString::from(value)])
        .map(drop)
}

/// A TOML scalar as the text a flag would be given.
fn scalar(v: toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// clap's message without its `error: ` prefix and usage lines.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").to_string()
}

impl Effective {
    /// Every setting as TOML (usable as a config file), each with where it came from: `flag`,
    /// `env`, `file` or `default`. Secrets are hidden.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if let Some(f) = &self.file {
            let _ = writeln!(out, "# config file: {}", f.display());
        }
        let mut lines = BTreeMap::new();
        for arg in self.cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            if NOT_KEYS.contains(&id) {
                continue;
            }
            let source = match self.matches.value_source(id) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "env",
                Some(ValueSource::DefaultValue) if self.from_file.iter().any(|f| f == id) => "file",
                Some(_) => "default",
                None => continue,
            };
            let values: Vec<String> = match self.matches.get_raw(id) {
                Some(raw) => raw.map(|v| v.to_string_lossy().into_owned()).collect(),
                None => continue,
            };
            let shown = if arg.is_hide_env_values_set() {
                toml::Value::String("(hidden)".into()).to_string()
            } else if values.len() == 1 && arg.get_value_delimiter().is_none() {
                toml::Value::String(values[0].clone()).to_string()
            } else {
                toml::Value::Array(values.into_iter().map(toml::Value::String).collect())
                    .to_string()
            };
            lines.insert(long.to_string(), format!("{long} = {shown}  # {source}"));
        }
        for line in lines.values() {
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(long = "config", id = "config")]
        config_file: Option<PathBuf>,
        #[command(flatten)]
        server: server::Config,
    }

    fn file(text: &str) -> tempfile_path::TempFile {
        tempfile_path::TempFile::new(text)
    }

    /// A config file in the temp directory, removed when dropped.
    mod tempfile_path {
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub struct TempFile(pub PathBuf);

        impl TempFile {
            pub fn new(text: &str) -> Self {
                static N: AtomicUsize = AtomicUsize::new(0);
                let n = N.fetch_add(1, Ordering::Relaxed);
                let p = std::env::temp_dir()
                    .join(format!("ticksync-config-{}-{n}.toml", std::process::id()));
                std::fs::write(&p, text).unwrap();
                TempFile(p)
            }
        }

        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn parse_with(f: &tempfile_path::TempFile, flags: &[&str]) -> Result<Parsed<Cli>, Error> {
        let mut args: Vec<OsString> =
            vec!["ticksync".into(), "--config".into(), f.0.clone().into()];
        args.extend(flags.iter().map(OsString::from));
        parse(args)
    }

    fn file_error(r: Result<Parsed<Cli>, Error>) -> String {
        match r {
            Err(Error::File(e)) => e,
            Err(Error::Cli(e)) => panic!("expected a file error, got {e}"),
            Ok(_) => panic!("expected a file error"),
        }
    }

    #[test]
    fn the_file_sets_what_flags_do_not() {
        let f = file(
            "tick-rate = 30\nroom_grace = \"2s\"\ntrusted-proxy = [\"10.0.0.0/8\", \"::1\"]\nchecksum = false\nview-radius = 12.5\n",
        );
        let p = parse_with(&f, &["--tick-rate", "20"]).unwrap();
        let c = &p.cli.server;
        assert_eq!(c.tick_rate, 20, "a flag beats the file");
        assert_eq!(c.room_grace, std::time::Duration::from_secs(2));
        assert_eq!(c.trusted_proxy.len(), 2);
        assert!(!c.checksum);
        assert_eq!(c.view_radius, Some(12.5));
        assert_eq!(c.max_rooms, 256, "defaults stand where the file is silent");
        let toml = p.effective.to_toml();
        assert!(toml.contains("tick-rate = \"20\"  # flag"), "{toml}");
        assert!(toml.contains("room-grace = \"2s\"  # file"), "{toml}");
        assert!(toml.contains("max-rooms = \"256\"  # default"), "{toml}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = file_error(parse_with(&file("tick-rat = 30\n"), &[]));
        assert!(e.contains("unknown key `tick-rat`"), "{e}");
        let e = file_error(parse_with(&file("tick-rate = 0\n"), &[]));
        assert!(e.contains("key `tick-rate`"), "{e}");
        let e = file_error(parse_with(&file("room-grace = \"soon\"\n"), &[]));
        assert!(e.contains("key `room-grace`"), "{e}");
        let e = file_error(parse_with(&file("tick-rate = [1, 2]\n"), &[]));
        assert!(e.contains("key `tick-rate`: expected one value"), "{e}");
        let e = file_error(parse_with(&file("[server]\ntick-rate = 1\n"), &[]));
        assert!(e.contains("unknown key `server`"), "{e}");
        let e = file_error(parse_with(&file("config = \"x.toml\"\n"), &[]));
        assert!(e.contains("unknown key `config`"), "{e}");
        let e = file_error(parse_with(&file("tick-rate = \n"), &[]));
        assert!(e.contains("config "), "{e}");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_unread() {
        let comment = format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES as usize));
        let e = file_error(parse_with(&file(&comment), &[]));
        assert!(e.contains("a config file is at most 1048576"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let args = vec![
            "ticksync".into(),
            "--config".into(),
            "/nonexistent/ticksync.toml".into(),
        ];
        let e = file_error(parse::<Cli>(args));
        assert!(e.contains("/nonexistent/ticksync.toml"), "{e}");
    }

    #[test]
    fn secrets_are_hidden_when_printed() {
        let f = file("admin-token = \"hunter2\"\n");
        let p = parse_with(&f, &[]).unwrap();
        assert_eq!(p.cli.server.admin_token.as_deref(), Some("hunter2"));
        let toml = p.effective.to_toml();
        assert!(!toml.contains("hunter2"), "{toml}");
        assert!(
            toml.contains("admin-token = \"(hidden)\"  # file"),
            "{toml}"
        );
    }
}
