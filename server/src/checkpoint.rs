//! Checkpoints: how a room survives the crash of its process. Each room saves its declared
//! state (world with keys, room state, tick, players and their resume tokens) every
//! `--checkpoint-interval` into the node's `SaveQueue`; the writer here encodes and stores
//! it off the rooms' threads: in Redis in a cluster (written only while this node holds the
//! room), in `--state-dir` on a single node (a file per room, replaced atomically). A node
//! that takes a room over, or a node restarting on its state directory, restores the room
//! from it, and its players resume their own entities with their tokens.
//!
//! A saved room is read back as untrusted input, as the wire is: bounded in bytes, in its
//! format version, its game's declaration (schema hash), its names and player count, and its
//! world (checked entity by entity by the restore).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::limits::{MAX_PLAYER_NAME_BYTES, MAX_TOKEN_BYTES};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::game::Games;
use crate::metrics::{CheckpointMetrics, Metrics};
use crate::registry::Rooms;
use crate::room::saves::PendingSave;
use crate::room::{SaveQueue, SavedRoom};

/// The format this server writes (and the newest it reads).
pub const FORMAT: u32 = 1;

/// A saved room as stored: the format, when it was saved, and the declaration it was saved
/// under, around the room.
#[derive(Serialize, Deserialize)]
struct Envelope<R> {
    format: u32,
    /// Milliseconds since the Unix epoch (the rewind a restore costs is now less this).
    saved_at_ms: u64,
    /// The game's `Descriptor::hash` at the saving node's tick rate.
    schema_hash: u32,
    room: R,
}

/// Only the format, read first: a newer format is refused as such, not as corrupt.
#[derive(Deserialize)]
struct Format {
    format: u32,
}

/// A saved room, read back and checked.
#[derive(Debug)]
pub struct Checkpoint {
    /// When it was saved (ms since the Unix epoch).
    pub saved_at_ms: u64,
    /// The room.
    pub room: SavedRoom,
}

impl Checkpoint {
    /// How much play a restore from it rewinds: its age.
    pub fn age(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.saved_at_ms))
    }
}

/// Why a saved room was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Over `--max-checkpoint-bytes`: not read at all.
    #[error("{0} bytes; at most {1} (--max-checkpoint-bytes)")]
    TooBig(u64, u32),
    /// Not JSON of a saved room (a truncated file is one).
    #[error("corrupt or truncated: {0}")]
    Corrupt(String),
    /// Written by a newer server.
    #[error("format {0} is newer than this server's ({FORMAT})")]
    NewerFormat(u32),
    /// Saved under another room's name.
    #[error("it holds room {0:?}, not {1:?}")]
    OtherRoom(String, String),
    /// Its game is not served here.
    #[error("game {0:?} is not served here")]
    UnknownGame(String),
    /// Its game's declaration is not the one served here (another version of the game).
    #[error("game {game:?} was declared otherwise when saved (schema {saved:08x}, now {now:08x})")]
    OtherDeclaration {
        /// The game.
        game: String,
        /// The schema hash it was saved under.
        saved: u32,
        /// This server's.
        now: u32,
    },
    /// A name, a token or a count beyond the wire's limits.
    #[error("{0}")]
    OutOfBounds(String),
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `saved` as stored, under its game's `schema_hash`.
pub fn encode(saved: &SavedRoom, schema_hash: u32) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&Envelope {
        format: FORMAT,
        saved_at_ms: now_ms(),
        schema_hash,
        room: saved,
    })
    .map_err(|e| format!("a saved room does not encode: {e}"))
}

/// Reads a saved room, for room `name` if given, and checks it against this server's games
/// and limits (`cfg`). Its world is checked by the restore itself.
pub fn decode(
    bytes: &[u8],
    name: Option<&str>,
    cfg: &Config,
    games: &Games,
) -> Result<Checkpoint, Refused> {
    if bytes.len() as u64 > u64::from(cfg.max_checkpoint_bytes) {
        return Err(Refused::TooBig(
            bytes.len() as u64,
            cfg.max_checkpoint_bytes,
        ));
    }
    let corrupt = |e: serde_json::Error| Refused::Corrupt(e.to_string());
    let Format { format } = serde_json::from_slice(bytes).map_err(corrupt)?;
    if format > FORMAT {
        return Err(Refused::NewerFormat(format));
    }
    let e: Envelope<SavedRoom> = serde_json::from_slice(bytes).map_err(corrupt)?;
    let room = e.room;
    if let Some(name) = name
        && room.name != name
    {
        return Err(Refused::OtherRoom(room.name, name.to_string()));
    }
    let bound = |what: &str, len: usize, max: usize| {
        if len > max {
            Err(Refused::OutOfBounds(format!(
                "{what}: {len}; at most {max}"
            )))
        } else {
            Ok(())
        }
    };
    if !protocol::codec::valid_name(&room.name) {
        return Err(Refused::OutOfBounds(format!("room name {:?}", room.name)));
    }
    bound("players", room.players.len(), cfg.max_players_per_room)?;
    for p in &room.players {
        bound("player name bytes", p.name.len(), MAX_PLAYER_NAME_BYTES)?;
        bound("resume token bytes", p.resume_token.len(), MAX_TOKEN_BYTES)?;
        if p.resume_token.is_empty() {
            return Err(Refused::OutOfBounds(
                "a player without a resume token".into(),
            ));
        }
    }
    let now = match games.descriptor(&room.game, cfg.tick_rate) {
        Some(Ok(d)) => d.hash(),
        _ => return Err(Refused::UnknownGame(room.game)),
    };
    if e.schema_hash != now {
        return Err(Refused::OtherDeclaration {
            game: room.game,
            saved: e.schema_hash,
            now,
        });
    }
    Ok(Checkpoint {
        saved_at_ms: e.saved_at_ms,
        room,
    })
}

// ---- the writer ---------------------------------------------------------------------------

/// Where checkpoints are stored.
#[derive(Clone)]
pub enum Store {
    /// A cluster's Redis.
    Redis(Cluster),
    /// A single node's `--state-dir`.
    Dir(Arc<StateDir>),
}

/// Stores what the rooms queue until `stop`, then stores what is left (a SIGTERM's final
/// states among it) and ends.
pub fn spawn_writer(
    queue: Arc<SaveQueue>,
    store: Store,
    max_bytes: u32,
    metrics: CheckpointMetrics,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Logged when storing starts and stops failing, not at every round of an outage.
        let mut failing = false;
        loop {
            let stopping = tokio::select! {
                _ = queue.queued() => false,
                _ = stop.cancelled() => true,
            };
            match write_all(&queue, &store, max_bytes, &metrics).await {
                Some(e) if !failing => {
                    tracing::warn!(error = %e, "checkpoints are not stored (counted in /metrics) until the store answers; the rooms play on");
                    failing = true;
                }
                None if failing => {
                    tracing::info!("checkpoints are stored again");
                    failing = false;
                }
                _ => {}
            }
            if stopping {
                return;
            }
        }
    })
}

/// Stores what is queued; the last error if any checkpoint was not stored.
async fn write_all(
    queue: &SaveQueue,
    store: &Store,
    max_bytes: u32,
    metrics: &CheckpointMetrics,
) -> Option<String> {
    let mut failed = None;
    for (room, what) in queue.take() {
        let outcome = match what {
            // A big room's encoding takes milliseconds: not on a worker that writes snapshots.
            PendingSave::Save(saved, hash) => {
                match tokio::task::spawn_blocking(move || encode(&saved, hash))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
                {
                    Err(e) => {
                        failed = Some(e);
                        "failed"
                    }
                    Ok(bytes) if bytes.len() > max_bytes as usize => {
                        tracing::warn!(
                            room,
                            bytes = bytes.len(),
                            max_bytes,
                            "a room is too big to checkpoint (--max-checkpoint-bytes)"
                        );
                        "too_big"
                    }
                    Ok(bytes) => {
                        let len = bytes.len() as u64;
                        match put(store, &room, bytes).await {
                            Ok(true) => {
                                metrics.bytes.inc_by(len);
                                "ok"
                            }
                            Ok(false) => "not_holder",
                            Err(e) => {
                                failed = Some(e);
                                "failed"
                            }
                        }
                    }
                }
            }
            PendingSave::Delete => {
                if let Err(e) = delete(store, &room).await {
                    tracing::warn!(room, error = %e, "a closed room's checkpoint was not deleted (it expires)");
                }
                continue;
            }
        };
        Metrics::count(&metrics.written, outcome);
    }
    failed
}

async fn put(store: &Store, room: &str, bytes: Vec<u8>) -> Result<bool, String> {
    match store {
        Store::Redis(c) => c
            .put_checkpoint(room, &bytes)
            .await
            .map_err(|e| e.to_string()),
        Store::Dir(d) => {
            let (d, room) = (d.clone(), room.to_string());
            tokio::task::spawn_blocking(move || d.write(&room, &bytes).map(|()| true))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    }
}

async fn delete(store: &Store, room: &str) -> Result<(), String> {
    match store {
        Store::Redis(c) => c.drop_checkpoint(room).await.map_err(|e| e.to_string()),
        Store::Dir(d) => {
            let (d, room) = (d.clone(), room.to_string());
            tokio::task::spawn_blocking(move || d.remove(&room))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    }
}

// ---- restoring ----------------------------------------------------------------------------

/// In a cluster, what room `name`, just claimed by this node, is restored from: the state a
/// draining node handed over, or the checkpoint of a node that died, whichever is newer
/// (`None`: a new room). A saved room that does not read back is logged and skipped.
pub async fn restorable(
    cluster: &Cluster,
    name: &str,
    rooms: &Rooms,
    cfg: &Config,
    metrics: &CheckpointMetrics,
) -> redis::RedisResult<Option<SavedRoom>> {
    let (state, checkpoint) = cluster.saved(name).await?;
    let read = |bytes: Option<Vec<u8>>, what: &str| {
        let bytes = bytes?;
        match decode(&bytes, Some(name), cfg, &rooms.games) {
            Ok(c) => Some(c),
            Err(e) => {
                metrics.refused.inc();
                tracing::error!(room = name, error = %e, "a saved room ({what}) was refused");
                None
            }
        }
    };
    let state = read(state, "handed over");
    let checkpoint = read(checkpoint, "checkpoint");
    let (from, c) = match (state, checkpoint) {
        (None, None) => return Ok(None),
        (Some(s), Some(c)) if c.saved_at_ms > s.saved_at_ms => ("checkpoint", c),
        (Some(s), _) => ("handoff", s),
        (None, Some(c)) => ("checkpoint", c),
    };
    Metrics::count(&metrics.restored, from);
    if from == "checkpoint" {
        let age = c.age();
        metrics.rewind_seconds.observe(age.as_secs_f64());
        tracing::warn!(
            room = name,
            tick = c.room.world.tick,
            rewound_ms = age.as_millis() as u64,
            players = c.room.players.len(),
            "restoring a room from its last checkpoint (its node is gone): this much play is rewound"
        );
    }
    Ok(Some(c.room))
}

/// Opens every room saved in `dir` (at start): each waits `--resume-grace` for its players.
/// A file that is refused (too big, corrupt, truncated, another game's, a newer format, a
/// world that does not restore) is logged and moved aside to `refused/`; the node starts
/// anyway. Returns the rooms opened.
pub fn restore_dir(
    dir: &StateDir,
    rooms: &Arc<Rooms>,
    cfg: &Config,
    metrics: &CheckpointMetrics,
) -> usize {
    let mut opened = 0;
    for (path, name, bytes) in dir.saved(cfg.max_checkpoint_bytes) {
        let restored = bytes
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b, Some(&name), cfg, &rooms.games).map_err(|e| e.to_string()))
            .and_then(|c| {
                let (age, tick, players) = (c.age(), c.room.world.tick, c.room.players.len());
                rooms.restore(c.room).map(|_| (age, tick, players))
            });
        match restored {
            Ok((age, tick, players)) => {
                opened += 1;
                Metrics::count(&metrics.restored, "disk");
                metrics.rewind_seconds.observe(age.as_secs_f64());
                tracing::info!(
                    room = name,
                    tick,
                    players,
                    saved_ms_ago = age.as_millis() as u64,
                    "room restored from the state directory; its players have --resume-grace to come back"
                );
            }
            Err(e) => {
                metrics.refused.inc();
                let aside = dir.refuse(&path);
                tracing::error!(room = name, file = %path.display(), moved_to = ?aside, error = %e, "a saved room was refused");
            }
        }
    }
    opened
}

// ---- the state directory ------------------------------------------------------------------

/// A single node's state directory: one file per room, `NAME.room` (room names are
/// `[A-Za-z0-9_-]`, checked again here), each replaced atomically (a temporary file, fsync, rename, and
/// the directory's fsync), so a crash leaves the old file or the new one, never half of one.
pub struct StateDir {
    dir: PathBuf,
}

const EXT: &str = "room";
const REFUSED: &str = "refused";

impl StateDir {
    /// Opens `dir` (creating it), and clears temporary files a crash left.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(&path);
            }
        }
        // Fail now, not at the first checkpoint, if it cannot be written.
        let probe = dir.join(".probe.tmp");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(probe)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Room `room`'s file; an error for a name that is not a room's (it could leave the
    /// directory).
    fn path(&self, room: &str) -> std::io::Result<PathBuf> {
        if !protocol::codec::valid_name(room) {
            return Err(std::io::Error::other(format!(
                "{room:?} is not a room name"
            )));
        }
        Ok(self.dir.join(format!("{room}.{EXT}")))
    }

    /// Replaces room `room`'s file with `bytes`, atomically and durably.
    pub fn write(&self, room: &str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.path(room)?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        // The rename is durable once the directory is.
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// Removes room `room`'s file, if there is one.
    pub fn remove(&self, room: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(room)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every saved room: its file, the room's name, and its bytes (or why they were not
    /// read: too big, unreadable, a file name that is not a room's).
    #[allow(clippy::type_complexity)]
    fn saved(&self, max_bytes: u32) -> Vec<(PathBuf, String, Result<Vec<u8>, String>)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() || path.extension().is_none_or(|e| e != EXT) {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            if !protocol::codec::valid_name(&stem) {
                out.push((path, stem, Err("not a room's file name".into())));
                continue;
            }
            let bytes = read_bounded(&path, max_bytes);
            out.push((path, stem, bytes));
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Moves a refused file to `refused/` (kept for a look, never read again); where it went.
    fn refuse(&self, path: &Path) -> Option<PathBuf> {
        let aside = self.dir.join(REFUSED);
        std::fs::create_dir_all(&aside).ok()?;
        let to = aside.join(path.file_name()?);
        std::fs::rename(path, &to).ok()?;
        Some(to)
    }
}

/// Reads at most `max` bytes of `path`; a bigger file is an error, unread.
fn read_bounded(path: &Path, max: u32) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    f.take(u64::from(max) + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > u64::from(max) {
        return Err(Refused::TooBig(bytes.len() as u64, max).to_string());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::SavedWorld;
    use crate::room::SavedPlayer;

    fn room(players: usize) -> SavedRoom {
        SavedRoom {
            name: "r".into(),
            game: "drift".into(),
            world: SavedWorld {
                tick: 42,
                entities: Vec::new(),
                room: None,
            },
            players: (0..players)
                .map(|i| SavedPlayer {
                    name: format!("p{i}"),
                    player: protocol::EntityId {
                        index: i as u32 + 1,
                        version: 1,
                    },
                    resume_token: crate::tokens::random_token(),
                })
                .collect(),
        }
    }

    fn hash(cfg: &Config, games: &Games) -> u32 {
        games
            .descriptor("drift", cfg.tick_rate)
            .unwrap()
            .unwrap()
            .hash()
    }

    #[test]
    fn a_saved_room_reads_back_and_every_bound_is_checked() {
        let cfg = Config::default();
        let games = crate::testing::games();
        let h = hash(&cfg, &games);
        let ok = encode(&room(2), h).unwrap();
        let c = decode(&ok, Some("r"), &cfg, &games).unwrap();
        assert_eq!((c.room.world.tick, c.room.players.len()), (42, 2));
        assert!(c.age() < Duration::from_secs(5));

        let refused =
            |bytes: &[u8], name: &str| decode(bytes, Some(name), &cfg, &games).unwrap_err();
        assert!(matches!(refused(&ok, "other"), Refused::OtherRoom(..)));
        assert!(matches!(
            refused(&ok[..ok.len() - 1], "r"),
            Refused::Corrupt(_)
        ));
        assert!(matches!(refused(b"", "r"), Refused::Corrupt(_)));
        assert!(matches!(
            refused(&encode(&room(2), h ^ 1).unwrap(), "r"),
            Refused::OtherDeclaration { .. }
        ));
        let mut other = room(0);
        other.game = "chess".into();
        assert!(matches!(
            refused(&encode(&other, h).unwrap(), "r"),
            Refused::UnknownGame(_)
        ));
        let crowd = encode(&room(cfg.max_players_per_room + 1), h).unwrap();
        assert!(matches!(refused(&crowd, "r"), Refused::OutOfBounds(_)));
        let mut token = room(1);
        token.players[0].resume_token = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            refused(&encode(&token, h).unwrap(), "r"),
            Refused::OutOfBounds(_)
        ));
        token.players[0].resume_token.clear();
        assert!(matches!(
            refused(&encode(&token, h).unwrap(), "r"),
            Refused::OutOfBounds(_)
        ));
        let newer = String::from_utf8(ok.clone()).unwrap().replacen(
            &format!("\"format\":{FORMAT}"),
            "\"format\":2",
            1,
        );
        assert!(matches!(
            refused(newer.as_bytes(), "r"),
            Refused::NewerFormat(2)
        ));
        let small = Config {
            max_checkpoint_bytes: 16,
            ..Config::default()
        };
        assert!(matches!(
            decode(&ok, Some("r"), &small, &games).unwrap_err(),
            Refused::TooBig(..)
        ));
    }

    #[tokio::test]
    async fn a_checkpoint_over_the_limit_is_counted_and_not_stored() {
        let d = tempdir();
        let dir = Arc::new(StateDir::open(&d).unwrap());
        let (q, m) = (SaveQueue::default(), CheckpointMetrics::default());
        let count = |code: &str| {
            m.written
                .get_or_create(&crate::metrics::CodeLabel { code: code.into() })
                .get()
        };
        q.save(room(1), 7);
        let limit = 64;
        assert!(
            write_all(&q, &Store::Dir(dir.clone()), limit, &m)
                .await
                .is_none()
        );
        assert_eq!(count("too_big"), 1);
        assert!(dir.saved(1 << 20).is_empty(), "nothing written");
        q.save(room(1), 7);
        assert!(
            write_all(&q, &Store::Dir(dir.clone()), 1 << 20, &m)
                .await
                .is_none()
        );
        assert_eq!((count("ok"), dir.saved(1 << 20).len()), (1, 1));
        assert!(m.bytes.get() > limit as u64);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn only_room_names_make_file_names() {
        let d = tempdir();
        let dir = StateDir::open(&d).unwrap();
        assert_eq!(dir.path("lobby-2_b").unwrap(), d.join("lobby-2_b.room"));
        for bad in ["", "../x", "a/b", "a.b", &"r".repeat(33)] {
            assert!(dir.path(bad).is_err(), "{bad:?}");
            assert!(dir.write(bad, b"x").is_err(), "{bad:?}");
        }
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let d = tempdir();
        let dir = StateDir::open(&d).unwrap();
        dir.write("r", b"one").unwrap();
        dir.write("r", b"two").unwrap();
        let files: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let saved = dir.saved(1024);
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0].1, "r");
        assert_eq!(saved[0].2.as_deref(), Ok(&b"two"[..]));
        assert!(dir.saved(2)[0].2.is_err(), "over the bound: not read");
        dir.remove("r").unwrap();
        dir.remove("r").unwrap();
        assert!(dir.saved(1024).is_empty());
        let _ = std::fs::remove_dir_all(d);
    }

    fn tempdir() -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ticksync-state-{}", crate::tokens::random_token()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
