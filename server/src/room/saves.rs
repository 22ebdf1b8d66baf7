//! A room's saved state (what a drain hands over and a checkpoint keeps), and rooms'
//! checkpoints on their way to storage. A room puts its newest saved state here, which
//! is a map insert (the tick never waits on I/O); the node's checkpoint writer takes what is
//! waiting and stores it. Latest wins: a room saved again before the writer came replaces
//! its older save, so a slow store skips checkpoints instead of queueing them, and the queue
//! never holds more than one entry per room.

use std::collections::HashMap;
use std::sync::Mutex;

use protocol::EntityId;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::game::SavedWorld;

/// A room's state, saved to go on elsewhere (another node, or this one after a restart): the
/// game's declared state, and every player with its resume token (which takes the same
/// player back there).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedRoom {
    /// The room's name.
    pub name: String,
    /// The game it plays.
    pub game: String,
    /// The game's declared state and the tick.
    pub world: SavedWorld,
    /// Its players, connected or within their resume grace.
    pub players: Vec<SavedPlayer>,
}

/// A player of a saved room, waiting for its client to resume it on the next node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedPlayer {
    /// Its name (a resume must give the same).
    pub name: String,
    /// Its entity.
    pub player: EntityId,
    /// The token its client resumes with.
    pub resume_token: String,
}

/// What waits to be stored for one room.
#[derive(Debug)]
pub enum PendingSave {
    /// Its newest state, and its game's schema hash (a checkpoint is refused by another game).
    Save(Box<SavedRoom>, u32),
    /// It closed for good (idle, or failed): its checkpoint goes.
    Delete,
}

/// The rooms' checkpoints not yet stored, by room name.
#[derive(Default)]
pub struct SaveQueue {
    pending: Mutex<HashMap<String, PendingSave>>,
    wake: Notify,
}

impl SaveQueue {
    /// Queues room `saved.name`'s newest state, replacing any older one not yet stored.
    pub fn save(&self, saved: SavedRoom, schema_hash: u32) {
        let name = saved.name.clone();
        self.put(name, PendingSave::Save(Box::new(saved), schema_hash));
    }

    /// Queues the removal of room `name`'s checkpoint.
    pub fn delete(&self, name: &str) {
        self.put(name.to_string(), PendingSave::Delete);
    }

    fn put(&self, name: String, what: PendingSave) {
        self.lock().insert(name, what);
        self.wake.notify_one();
    }

    /// Everything waiting (one entry per room), leaving the queue empty.
    pub fn take(&self) -> Vec<(String, PendingSave)> {
        self.lock().drain().collect()
    }

    /// Waits until something is queued (returns at once if something was queued since the
    /// last wait).
    pub async fn queued(&self) {
        self.wake.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingSave>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(name: &str, tick: u32) -> SavedRoom {
        SavedRoom {
            name: name.into(),
            game: "g".into(),
            world: SavedWorld {
                tick,
                entities: Vec::new(),
                room: None,
            },
            players: Vec::new(),
        }
    }

    #[test]
    fn the_newest_save_of_a_room_wins_and_a_delete_replaces_it() {
        let q = SaveQueue::default();
        q.save(saved("a", 1), 7);
        q.save(saved("a", 2), 7);
        q.save(saved("b", 5), 7);
        let mut got = q.take();
        got.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(got.len(), 2);
        match &got[0].1 {
            PendingSave::Save(s, 7) => assert_eq!(s.world.tick, 2),
            other => panic!("{other:?}"),
        }
        assert!(q.take().is_empty());
        q.save(saved("a", 3), 7);
        q.delete("a");
        let got = q.take();
        assert!(matches!(got[..], [(_, PendingSave::Delete)]), "{got:?}");
    }
}
