//! The room registry: rooms by name, created on first join, removed when they close.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::Descriptor;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::game::Games;
use crate::metrics::RoomMetrics;
use crate::rejection::Rejection;
use crate::room::{Host, Listing, Room, RoomInfo, RoomMsg, SaveQueue, SavedRoom};

/// How connections reach a room.
#[derive(Clone)]
pub struct RoomHandle {
    /// Unique for the server's life: a room reopened under the same name has another.
    pub id: u64,
    /// Its name, as clients ask for it.
    pub name: String,
    /// Where joins, inputs and leaves go (bounded: a full inbox drops inputs).
    pub inbox: mpsc::Sender<RoomMsg>,
    /// Its summary for `/rooms`, refreshed by the room.
    pub info: Arc<Mutex<RoomInfo>>,
    /// The room's game, as its clients see it (connections validate inputs with it).
    pub schema: Arc<Descriptor>,
}

/// Every room of this node, by name; rooms start here (with their game) and leave when they
/// close.
pub struct Rooms {
    map: Mutex<HashMap<String, RoomHandle>>,
    next_id: AtomicU64,
    cfg: Arc<Config>,
    /// The games its rooms may play.
    pub(crate) games: Games,
    epoch: Instant,
    /// Cancelled at server shutdown: every room closes its clients (1001) and stops.
    stop: CancellationToken,
    /// What the rooms count for `/metrics`.
    metrics: RoomMetrics,
    /// Draining for a deploy: no new rooms here.
    draining: AtomicBool,
    /// Where rooms put their checkpoints, when checkpoints are kept.
    saves: Option<Arc<SaveQueue>>,
}

/// What to do with a saved state that does not restore.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BadSave {
    /// Start the room afresh (its clients are here and want to play).
    Afresh,
    /// Open nothing: the caller refuses the save.
    Refuse,
}

impl Rooms {
    /// An empty registry whose rooms run with `cfg`, from `games`, count into `metrics`, put
    /// their checkpoints in `saves` (if kept) and stop with `stop`; `epoch` is the server's
    /// clock.
    pub fn new(
        cfg: Arc<Config>,
        games: Games,
        epoch: Instant,
        stop: CancellationToken,
        metrics: RoomMetrics,
        saves: Option<Arc<SaveQueue>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::default(),
            next_id: AtomicU64::new(1),
            cfg,
            games,
            epoch,
            stop,
            metrics,
            draining: AtomicBool::new(false),
            saves,
        })
    }

    /// Whether this node is draining (it takes no new rooms).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Where rooms put their checkpoints, when checkpoints are kept.
    pub(crate) fn saves(&self) -> Option<&Arc<SaveQueue>> {
        self.saves.as_ref()
    }

    /// From now on this node takes no new rooms (it is draining).
    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Hands an operator's notice to every room (a room whose inbox is full misses it).
    pub fn notice(&self, text: &str) {
        for room in self.all() {
            if room
                .inbox
                .try_send(RoomMsg::Notice(text.to_string()))
                .is_err()
            {
                tracing::warn!(room = %room.name, "a room missed a notice: its inbox is full");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RoomHandle>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room called `name`, starting it with `game` (default: the configured one) if there
    /// is none. An existing room of another game than the one asked for is a reject.
    pub fn get_or_create(
        self: &Arc<Self>,
        name: &str,
        game: Option<&str>,
    ) -> Result<RoomHandle, Rejection> {
        self.get_or_restore(name, game, None)
    }

    /// `get_or_create`, where a room that is not here starts from `saved` (a room handed over
    /// by a draining node, or checkpointed by a node that died) if given: its game's world,
    /// tick and players. A save that does not restore is logged, and the room starts afresh.
    pub(crate) fn get_or_restore(
        self: &Arc<Self>,
        name: &str,
        game: Option<&str>,
        saved: Option<SavedRoom>,
    ) -> Result<RoomHandle, Rejection> {
        self.open(name, game, saved, BadSave::Afresh)
    }

    /// Opens room `saved.name` from `saved` (a room of `--state-dir`, at start); an error, and
    /// no room, if it is open already or the save does not restore.
    pub(crate) fn restore(self: &Arc<Self>, saved: SavedRoom) -> Result<RoomHandle, String> {
        let name = saved.name.clone();
        if self.get(&name).is_some() {
            return Err(format!("room {name:?} is open already"));
        }
        let game = saved.game.clone();
        self.open(&name, Some(&game), Some(saved), BadSave::Refuse)
            .map_err(|r| r.reason)
    }

    fn open(
        self: &Arc<Self>,
        name: &str,
        game: Option<&str>,
        saved: Option<SavedRoom>,
        bad_save: BadSave,
    ) -> Result<RoomHandle, Rejection> {
        let mut map = self.lock();
        if let Some(h) = map.get(name) {
            return match game {
                Some(g) if g != h.schema.game => Err(wrong_game(name, &h.schema.game, g)),
                _ => Ok(h.clone()),
            };
        }
        if self.draining() {
            // Its rooms are being saved or handed over (a cluster node sends its clients on
            // before this): a room opened now would be lost.
            return Err(Rejection {
                code: protocol::codes::GOING_AWAY,
                reason: "this node is draining: come back in a moment".into(),
            });
        }
        if let (Some(saved), Some(g)) = (&saved, game)
            && saved.game != g
        {
            return Err(wrong_game(name, &saved.game, g));
        }
        let game_name = saved
            .as_ref()
            .map_or(game.unwrap_or(self.cfg.default_game()), |s| s.game.as_str())
            .to_string();
        let game_name = game_name.as_str();
        let Some(factory) = self.games.get(game_name) else {
            let known: Vec<&str> = self.games.names().collect();
            return Err(Rejection {
                code: protocol::codes::WRONG_GAME,
                reason: format!(
                    "no game named {game_name} (this server has {})",
                    known.join(", ")
                ),
            });
        };
        if map.len() >= self.cfg.max_rooms {
            return Err(Rejection {
                code: protocol::codes::SERVER_FULL,
                reason: format!(
                    "the server holds its maximum of {} rooms",
                    self.cfg.max_rooms
                ),
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.cfg.inbox);
        let mut game = factory.create(self.cfg.tick_rate).map_err(|e| {
            tracing::error!(game = game_name, error = %e, "game declaration refused");
            Rejection {
                code: protocol::codes::SERVER_ERROR,
                reason: format!("game {game_name} cannot start"),
            }
        })?;
        let saved = match saved.map(|saved| game.restore(&saved.world).map(|()| saved)) {
            None => None,
            Some(Ok(saved)) => Some(saved),
            Some(Err(e)) if bad_save == BadSave::Refuse => {
                return Err(Rejection {
                    code: protocol::codes::SERVER_ERROR,
                    reason: format!("its world does not restore: {e}"),
                });
            }
            Some(Err(e)) => {
                tracing::error!(room = name, error = %e, "a saved room could not be restored; it starts afresh");
                None
            }
        };
        let info = Arc::new(Mutex::new(RoomInfo {
            name: name.to_string(),
            game: game_name.to_string(),
            tick_rate: self.cfg.tick_rate,
            simulated: self
                .cfg
                .network_simulation()
                .map(crate::room::Simulated::of),
            ..RoomInfo::default()
        }));
        let handle = RoomHandle {
            id,
            name: name.to_string(),
            inbox: tx,
            info: info.clone(),
            schema: game.descriptor().clone(),
        };
        let host = Host {
            cfg: self.cfg.clone(),
            epoch: self.epoch,
            stop: self.stop.clone(),
            metrics: self.metrics.clone(),
            listing: self.clone(),
            saves: self.saves.clone(),
        };
        let mut room = Room::new(name.to_string(), id, host, rx, info, game);
        let restored = saved.is_some();
        if let Some(saved) = saved {
            room.adopt(saved.world.tick, saved.players);
        }
        spawn_room(name, id, room)?;
        tracing::info!(room = name, game = game_name, restored, "room opened");
        map.insert(name.to_string(), handle.clone());
        Ok(handle)
    }

    /// The open room called `name`.
    pub fn get(&self, name: &str) -> Option<RoomHandle> {
        self.lock().get(name).cloned()
    }

    /// Open rooms.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Every open room.
    pub fn all(&self) -> Vec<RoomHandle> {
        self.lock().values().cloned().collect()
    }

    /// Every room's summary, by name.
    pub fn infos(&self) -> Vec<RoomInfo> {
        let mut v: Vec<RoomInfo> = self
            .all()
            .iter()
            .map(|h| h.info.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

impl Listing for Rooms {
    /// Removes room `id` if it is still registered under `name` and nothing waits in its
    /// inbox. Under the registry lock, so no join can find the room after this returns true.
    fn remove_if_idle(&self, name: &str, id: u64, inbox: &mpsc::Receiver<RoomMsg>) -> bool {
        let mut map = self.lock();
        let ours = map.get(name).is_some_and(|h| h.id == id);
        if ours && inbox.is_empty() {
            map.remove(name);
            return true;
        }
        !ours
    }

    /// Unregisters room `id` (it failed).
    fn remove(&self, name: &str, id: u64) {
        let mut map = self.lock();
        if map.get(name).is_some_and(|h| h.id == id) {
            map.remove(name);
        }
    }
}

/// The refusal of a join that asked for game `asked` in room `name`, which plays `plays`.
fn wrong_game(name: &str, plays: &str, asked: &str) -> Rejection {
    Rejection {
        code: protocol::codes::WRONG_GAME,
        reason: format!("room '{name}' plays {plays}, not {asked}"),
    }
}

/// Runs a room on a thread of its own: the tick then never waits behind the connections'
/// tasks (which build and send the snapshots) for a worker of the runtime, and the OS
/// scheduler wakes it on time even when the runtime's workers are busy.
fn spawn_room(name: &str, id: u64, room: Room) -> Result<(), Rejection> {
    let failed = |e: std::io::Error| {
        tracing::error!(room = name, error = %e, "room thread did not start");
        Rejection {
            code: protocol::codes::SERVER_ERROR,
            reason: "the room cannot start".into(),
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(failed)?;
    // Everything the room logs carries its name; it outlives the connection that opened it,
    // so it is nobody's child.
    let span = tracing::info_span!(parent: None, "room", room = name, id);
    std::thread::Builder::new()
        // By id: a room's name comes from clients.
        .name(format!("room-{id}"))
        .spawn(move || rt.block_on(tracing::Instrument::instrument(room.run(), span)))
        .map_err(failed)?;
    Ok(())
}
