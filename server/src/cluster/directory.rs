//! The room directory: which node holds each room, claimed atomically (one Lua script per
//! decision, so two nodes racing for a room end with one owner), and the seat reservations
//! the matchmaker counts against a room's size.

use std::collections::HashMap;
use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::link::{Cluster, NODE_TTL, SeatKey, keys};

/// Where a room is to be played.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// On this node (it holds the room, or has just claimed it).
    Here,
    /// On another live node.
    Elsewhere {
        /// The WebSocket URL its clients are given.
        url: String,
    },
}

/// Claims `KEYS[1]` (a room) for node `ARGV[1]` unless a live node holds it; returns the
/// holder after. A holder whose registry entry has expired is dead: its room is taken over.
/// `ARGV[2]`: the time to live (ms); `ARGV[3]`: the node key prefix.
const CLAIM: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return cur
end
if cur and redis.call('EXISTS', ARGV[3] .. cur) == 1 then
  return cur
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
";

/// Renews each room of `KEYS` that node `ARGV[1]` holds (or that nobody holds: its entry
/// expired while Redis or the node stalled); returns the rooms another node holds now.
const RENEW: &str = r"
local lost = {}
for _, k in ipairs(KEYS) do
  local cur = redis.call('GET', k)
  if cur == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
  elseif not cur then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, k)
  end
end
return lost
";

/// Deletes `KEYS[1]` if node `ARGV[1]` holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Sets the seat key `KEYS[1]` to `ARGV[1]` unless it is set; returns the key in effect.
const SEAT_KEY: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  return cur
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// Reserves a seat (`ARGV[3]`, expiring at `ARGV[2]` ms) in the room whose reservations are
/// `KEYS[1]` if its players (`ARGV[4]`, from its node's last beat) and live reservations
/// (expired ones are dropped at `ARGV[1]`) leave space in `ARGV[5]`; 1 if reserved.
const RESERVE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) + tonumber(ARGV[4]) >= tonumber(ARGV[5]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
";

/// How long a used seat still counts in its room after use: until the room's node has
/// reported the player in a heartbeat (a beat, plus the room's half-second info refresh).
pub(crate) const USED_SEAT_COUNTS: Duration = Duration::from_secs(3);

impl Cluster {
    fn room_key(room: &str) -> String {
        format!("{}{room}", keys::ROOM)
    }

    /// The room's holder after claiming it for `node` unless a live node holds it.
    pub(crate) async fn claim_for(&self, room: &str, node: &str) -> redis::RedisResult<String> {
        Script::new(CLAIM)
            .key(Self::room_key(room))
            .arg(node)
            .arg(NODE_TTL.as_millis() as u64)
            .arg(keys::NODE)
            .invoke_async(&mut self.conn())
            .await
    }

    /// Where `room` is played: here if this node holds it or could claim it, else the live
    /// node that holds it.
    pub async fn place(&self, room: &str) -> redis::RedisResult<Place> {
        // Twice: the holder may die between the claim and the lookup of its URL.
        for _ in 0..2 {
            let holder = self.claim_for(room, &self.id).await?;
            if holder == self.id {
                return Ok(Place::Here);
            }
            if let Some(node) = self.node(&holder).await? {
                return Ok(Place::Elsewhere { url: node.url });
            }
        }
        Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "room directory",
            format!("room {room} is held by a node that is gone"),
        )))
    }

    /// The node holding `room`, if any.
    pub async fn holder(&self, room: &str) -> redis::RedisResult<Option<String>> {
        self.conn().get(Self::room_key(room)).await
    }

    /// Renews the directory entries of `rooms` (this node's), re-claiming any that are gone
    /// (Redis lost them, or they expired while Redis or this node stalled), and lists them in
    /// their games' index. Returns the rooms another node holds now: the directory gave them
    /// away, so this node must stop playing them.
    pub(crate) async fn renew(
        &self,
        rooms: &[crate::room::RoomInfo],
    ) -> redis::RedisResult<Vec<String>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let script = Script::new(RENEW);
        let mut call = script.prepare_invoke();
        for r in rooms {
            call.key(Self::room_key(&r.name));
        }
        call.arg(&self.id).arg(NODE_TTL.as_millis() as u64);
        let lost: Vec<String> = call.invoke_async(&mut self.conn()).await?;
        let lost: Vec<String> = lost
            .into_iter()
            .map(|k| k.trim_start_matches(keys::ROOM).to_owned())
            .collect();
        let mut by_game: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in rooms.iter().filter(|r| !lost.contains(&r.name)) {
            by_game.entry(&r.game).or_default().push(&r.name);
        }
        if !by_game.is_empty() {
            let mut pipe = redis::pipe();
            for (game, names) in by_game {
                pipe.sadd(format!("{}{game}", keys::GAME), names).ignore();
            }
            pipe.query_async::<()>(&mut self.conn()).await?;
        }
        Ok(lost)
    }

    /// Leaves `room`'s directory entry, if this node still holds it.
    pub(crate) async fn release(&self, room: &str) -> redis::RedisResult<()> {
        Script::new(RELEASE)
            .key(Self::room_key(room))
            .arg(&self.id)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(drop)
    }

    /// Rooms of `game` in the directory, whether or not a node has reported them yet; rooms
    /// whose entry is gone are pruned from the game's index.
    pub(crate) async fn rooms_of(&self, game: &str) -> redis::RedisResult<Vec<String>> {
        let index = format!("{}{game}", keys::GAME);
        let names: Vec<String> = self.conn().smembers(&index).await?;
        if names.is_empty() {
            return Ok(names);
        }
        let mut pipe = redis::pipe();
        for n in &names {
            pipe.exists(Self::room_key(n));
        }
        let live: Vec<bool> = pipe.query_async(&mut self.conn()).await?;
        let (live, dead): (Vec<_>, Vec<_>) = names.into_iter().zip(live).partition(|(_, l)| *l);
        if !dead.is_empty() {
            let dead: Vec<String> = dead.into_iter().map(|(n, _)| n).collect();
            let _: i64 = self.conn().srem(&index, dead).await?;
        }
        Ok(live.into_iter().map(|(n, _)| n).collect())
    }

    /// Adds `room` to `game`'s index.
    pub(crate) async fn index_room(&self, game: &str, room: &str) -> redis::RedisResult<()> {
        self.conn()
            .sadd::<_, _, ()>(format!("{}{game}", keys::GAME), room)
            .await
    }

    /// Reserves seat `nonce` in `room` until `expires_ms` if `players` and the room's live
    /// reservations leave space in `size`.
    pub(crate) async fn reserve(
        &self,
        room: &str,
        nonce: &str,
        now_ms: u64,
        expires_ms: u64,
        players: usize,
        size: usize,
    ) -> redis::RedisResult<bool> {
        let reserved: i64 = Script::new(RESERVE)
            .key(format!("{}{room}", keys::SEATS))
            .arg(now_ms)
            .arg(expires_ms)
            .arg(nonce)
            .arg(players)
            .arg(size)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(reserved == 1)
    }

    /// A seat of `room` was used: it counts a little longer (until the room's node reports
    /// the player), then leaves the reservations.
    pub(crate) async fn seat_used(
        &self,
        room: &str,
        nonce: &str,
        now_ms: u64,
    ) -> redis::RedisResult<()> {
        let until = now_ms + USED_SEAT_COUNTS.as_millis() as u64;
        redis::cmd("ZADD")
            .arg(format!("{}{room}", keys::SEATS))
            .arg("XX")
            .arg(until)
            .arg(nonce)
            .query_async::<()>(&mut self.conn())
            .await
    }

    /// Rooms the matchmaker placed on each node in the last few seconds (they may not be in
    /// the node's heartbeat yet).
    pub(crate) async fn recently_placed(&self, nodes: &[&str]) -> redis::RedisResult<Vec<u64>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = nodes
            .iter()
            .map(|n| format!("{}{n}", keys::PLACED))
            .collect();
        let v: Vec<Option<u64>> = self.conn().mget(keys).await?;
        Ok(v.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Counts a room placed on `node` for the next few seconds.
    pub(crate) async fn placed_on(&self, node: &str) -> redis::RedisResult<()> {
        let key = format!("{}{node}", keys::PLACED);
        redis::pipe()
            .incr(&key, 1)
            .ignore()
            .pexpire(&key, (2 * NODE_TTL.as_millis()) as i64)
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
    }

    /// Marks seat `nonce` used until `expires_ms`; false if it already was.
    pub(crate) async fn use_seat(
        &self,
        nonce: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> redis::RedisResult<bool> {
        let ttl = expires_ms.saturating_sub(now_ms).max(1);
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}{nonce}", keys::USED))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl)
            .query_async(&mut self.conn())
            .await?;
        Ok(set.is_some())
    }

    /// The key that signs seats: shared by every node (the first to join makes it). From
    /// here on the heartbeat keeps it in step with Redis (`keep_seat_key`).
    pub(crate) async fn seat_secret(&self) -> redis::RedisResult<SeatKey> {
        let fresh = crate::tokens::random_token() + &crate::tokens::random_token();
        let key: String = Script::new(SEAT_KEY)
            .key(keys::SECRET)
            .arg(fresh)
            .invoke_async(&mut self.conn())
            .await?;
        let shared = self.seat_key.get_or_init(|| SeatKey::new(key.clone()));
        shared.set(key);
        Ok(shared.clone())
    }

    /// Puts this node's seat key back if Redis lost it (a restart without persistence), so a
    /// node that joins later signs with the same one; if Redis holds another (a node joined
    /// an emptied Redis before this one put its key back), this node takes that one: every
    /// node then agrees again, and the seats this node signed before are refused.
    pub(crate) async fn keep_seat_key(&self) -> redis::RedisResult<()> {
        let Some(shared) = self.seat_key.get() else {
            return Ok(()); // seats are signed with --join-secret
        };
        let held = shared.get();
        let key: String = Script::new(SEAT_KEY)
            .key(keys::SECRET)
            .arg(&held)
            .invoke_async(&mut self.conn())
            .await?;
        if key != held {
            tracing::warn!(
                "the cluster's seat key in Redis is not the one this node held (Redis lost it \
                 and another node made a new one): this node takes it; seats this node handed \
                 out before are refused"
            );
            shared.set(key);
        }
        Ok(())
    }
}
