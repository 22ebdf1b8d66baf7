//! Handing rooms between nodes: a draining node saves each room's state under
//! `ticksync:state:{room}` and moves the room's directory entry to the next node, which
//! restores the room from that state when its first client arrives.

use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::link::{Cluster, NODE_TTL, keys};
use crate::room::SavedRoom;

/// How long a saved room waits for a node to take it (the players' resume grace is shorter,
/// so by then there is no one left to restore it for).
pub const STATE_TTL: Duration = Duration::from_secs(60);

/// Moves `KEYS[1]` (a room) from node `ARGV[1]` to node `ARGV[2]`; 1 if it did.
const TRANSFER: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or not cur then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

impl Cluster {
    fn state_key(room: &str) -> String {
        format!("{}{room}", keys::STATE)
    }

    /// Saves `room`'s state for the node that takes it next.
    pub(crate) async fn save_state(&self, room: &SavedRoom) -> redis::RedisResult<()> {
        let json = serde_json::to_string(room).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "saved room", e.to_string()))
        })?;
        self.conn()
            .pset_ex::<_, _, ()>(
                Self::state_key(&room.name),
                json,
                STATE_TTL.as_millis() as u64,
            )
            .await
    }

    /// The saved state of `room`, if a draining node left one (and it reads back).
    pub(crate) async fn saved_state(&self, room: &str) -> redis::RedisResult<Option<SavedRoom>> {
        let json: Option<String> = self.conn().get(Self::state_key(room)).await?;
        Ok(json.and_then(|j| match serde_json::from_str(&j) {
            Ok(saved) => Some(saved),
            Err(e) => {
                tracing::error!(room, error = %e, "a saved room does not read back; it is dropped");
                None
            }
        }))
    }

    /// Forgets `room`'s saved state (it was restored).
    pub(crate) async fn drop_state(&self, room: &str) -> redis::RedisResult<()> {
        self.conn().del::<_, ()>(Self::state_key(room)).await
    }

    /// Gives `room` to node `to`, if this node holds it (or nobody does); true if it did.
    pub(crate) async fn transfer(&self, room: &str, to: &str) -> redis::RedisResult<bool> {
        let moved: i64 = Script::new(TRANSFER)
            .key(format!("{}{room}", keys::ROOM))
            .arg(&self.id)
            .arg(to)
            .arg(NODE_TTL.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(moved == 1)
    }
}
