//! Handing rooms between nodes: a draining node saves each room's state under
//! `ticksync:state:{room}` and moves the room's directory entry to the next node, which
//! restores the room from that state when its first client arrives. And checkpoints: the
//! node that holds a room keeps its latest under `ticksync:checkpoint:{room}`, for the node
//! that takes the room over if this one dies. Both are stored as the checkpoint module
//! encodes them; this module only moves bytes.

use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::link::{Cluster, NODE_TTL, keys};
/// How long a saved room waits for a node to take it (the players' resume grace is shorter,
/// so by then there is no one left to restore it for).
pub const STATE_TTL: Duration = Duration::from_secs(60);

/// How long a checkpoint outlives its last write: a node that dies is replaced within
/// seconds, and a checkpoint older than the players' resume grace has no one to resume.
pub const CHECKPOINT_TTL: Duration = Duration::from_secs(30);

/// Writes checkpoint `KEYS[2]` (`ARGV[2]`, time to live `ARGV[3]` ms) if node `ARGV[1]`
/// holds room `KEYS[1]`: a node that lost its room never overwrites its new holder's.
/// 1 if written.
const PUT_CHECKPOINT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Deletes checkpoint `KEYS[2]` unless another node than `ARGV[1]` holds room `KEYS[1]`.
const DROP_CHECKPOINT: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] then
  return redis.call('DEL', KEYS[2])
end
return 0
";

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

    fn checkpoint_key(room: &str) -> String {
        format!("{}{room}", keys::CHECKPOINT)
    }

    /// Saves `room`'s state (encoded) for the node that takes it next.
    pub(crate) async fn save_state(&self, room: &str, state: &[u8]) -> redis::RedisResult<()> {
        self.conn()
            .pset_ex::<_, _, ()>(Self::state_key(room), state, STATE_TTL.as_millis() as u64)
            .await
    }

    /// What `room` may be restored from: the state a draining node handed over, and the
    /// last checkpoint of the node that held it (either may be missing).
    pub(crate) async fn saved(
        &self,
        room: &str,
    ) -> redis::RedisResult<(Option<Vec<u8>>, Option<Vec<u8>>)> {
        self.conn()
            .mget(&[Self::state_key(room), Self::checkpoint_key(room)])
            .await
            .map(|v: Vec<Option<Vec<u8>>>| {
                let mut v = v.into_iter();
                (v.next().flatten(), v.next().flatten())
            })
    }

    /// Forgets `room`'s handed-over state (it was restored).
    pub(crate) async fn drop_state(&self, room: &str) -> redis::RedisResult<()> {
        self.conn().del::<_, ()>(Self::state_key(room)).await
    }

    /// Stores `room`'s checkpoint if this node holds the room; false if another does.
    pub(crate) async fn put_checkpoint(
        &self,
        room: &str,
        bytes: &[u8],
    ) -> redis::RedisResult<bool> {
        let written: i64 = Script::new(PUT_CHECKPOINT)
            .key(format!("{}{room}", keys::ROOM))
            .key(Self::checkpoint_key(room))
            .arg(&self.id)
            .arg(bytes)
            .arg(CHECKPOINT_TTL.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(written == 1)
    }

    /// Deletes `room`'s checkpoint (it closed here), unless another node holds it now.
    pub(crate) async fn drop_checkpoint(&self, room: &str) -> redis::RedisResult<()> {
        Script::new(DROP_CHECKPOINT)
            .key(format!("{}{room}", keys::ROOM))
            .key(Self::checkpoint_key(room))
            .arg(&self.id)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(drop)
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
