//! `POST /matchmake`: a seat in a room of the game asked for, and the URL of the node that
//! plays it. A named room is placed (on the least-loaded node if no live node holds it);
//! otherwise the fullest room of the game with space is filled first, and a new room is made
//! on the least-loaded node when none has space. Reservations count against a room's size
//! until their seat expires (or a little after it is used), so a burst of requests does not
//! overfill a room. Standalone, the same rules run on this node's own rooms.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, NodeInfo};
use crate::ctx::ServerCtx;
use crate::seats::now_ms;

/// Largest `/matchmake` request body.
pub const MAX_BODY: usize = 4096;

/// What a client asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// The game (default: the server's `--game`).
    pub game: Option<String>,
    /// A room to join by name; none: any room of the game with space.
    pub room: Option<String>,
    /// The player's name (needed with `--join-secret`, for its join token).
    pub name: Option<String>,
    /// With `--join-secret`: a join token for `name` in `room` (or in room `*` when no room
    /// is named).
    pub auth_token: Option<String>,
}

/// The answer: connect to `url` and send `Hello { room, auth_token: seat, .. }`.
#[derive(Debug, Serialize, Deserialize)]
pub struct MatchAnswer {
    /// The WebSocket URL of the node that plays the room.
    pub url: String,
    /// The room placed in.
    pub room: String,
    /// The signed seat, shown as the `Hello`'s `auth_token` (single-use, expires).
    pub seat: String,
    /// The id of the node that plays the room.
    pub node: String,
}

/// Why a request got no seat, as an HTTP status and a message.
#[derive(Debug)]
pub enum MatchError {
    /// The request is malformed or names what is not there (400).
    Bad(String),
    /// A join token is needed and missing or bad (401).
    Unauthorized(String),
    /// No seat now: rooms full, no node (503).
    Unavailable(String),
    /// Redis did not answer (or failed): no seat until it does (503, `Retry-After`).
    Unreachable,
}

/// What a client is told while Redis does not answer.
pub const UNREACHABLE: &str = "the cluster directory (Redis) is unreachable; retry shortly";

/// The `Retry-After` (seconds) of an answer given while Redis does not answer: a node finds
/// Redis back within a heartbeat or two of its return.
pub const RETRY_AFTER_SECS: u32 = 1;

impl MatchError {
    /// The HTTP status it answers with.
    pub fn status(&self) -> u16 {
        match self {
            MatchError::Bad(_) => 400,
            MatchError::Unauthorized(_) => 401,
            MatchError::Unavailable(_) | MatchError::Unreachable => 503,
        }
    }

    /// Seconds the client should wait before asking again, when that is known.
    pub fn retry_after(&self) -> Option<u32> {
        matches!(self, MatchError::Unreachable).then_some(RETRY_AFTER_SECS)
    }

    /// What the client is told.
    pub fn message(&self) -> &str {
        match self {
            MatchError::Bad(m) | MatchError::Unauthorized(m) | MatchError::Unavailable(m) => m,
            MatchError::Unreachable => UNREACHABLE,
        }
    }
}

fn redis_down(e: redis::RedisError) -> MatchError {
    // An outage fails every request: the heartbeat logs it, once and loudly.
    if e.is_io_error() {
        tracing::debug!(error = %e, "matchmaking: Redis unreachable");
    } else {
        tracing::warn!(error = %e, "matchmaking: Redis failed");
    }
    MatchError::Unreachable
}

/// Answers one request body.
pub async fn matchmake(ctx: &Arc<ServerCtx>, body: &[u8]) -> Result<MatchAnswer, MatchError> {
    let req: MatchRequest = serde_json::from_slice(body)
        .map_err(|e| MatchError::Bad(format!("bad matchmaking request: {e}")))?;
    let game = req
        .game
        .clone()
        .unwrap_or_else(|| ctx.cfg.default_game().to_owned());
    if ctx.rooms.games.get(&game).is_none() {
        let known: Vec<&str> = ctx.rooms.games.names().collect();
        return Err(MatchError::Bad(format!(
            "no game named {game} (known: {})",
            known.join(", ")
        )));
    }
    if let Some(room) = &req.room
        && !protocol::codec::valid_name(room)
    {
        return Err(MatchError::Bad(
            "room name must be 1-32 characters of A-Z a-z 0-9 _ -".into(),
        ));
    }
    authorize(ctx, &req)?;
    match &ctx.cluster {
        Some(cluster) => in_cluster(ctx, cluster, &game, req.room.as_deref()).await,
        None => standalone(ctx, &game, req.room.as_deref()),
    }
}

/// With a join secret, a seat is only for a player with a join token.
fn authorize(ctx: &ServerCtx, req: &MatchRequest) -> Result<(), MatchError> {
    let Some(secret) = &ctx.cfg.join_secret else {
        return Ok(());
    };
    let name = req.name.as_deref().ok_or_else(|| {
        MatchError::Unauthorized("this server requires a name and its join token".into())
    })?;
    let room = req.room.as_deref().unwrap_or("*");
    protocol::join_token::verify(
        secret.as_bytes(),
        req.auth_token.as_deref(),
        room,
        name,
        protocol::join_token::now_unix(),
    )
    .map_err(|e| MatchError::Unauthorized(e.to_string()))
}

/// A fresh room name for `game`.
fn new_room_name(game: &str) -> String {
    let tag = &crate::tokens::random_token()[..8];
    // Room names are at most 32 bytes: keep the tag whole, cut the game's name.
    let keep = game.len().min(32 - 1 - tag.len());
    format!("{}-{tag}", &game[..keep])
}

fn standalone(ctx: &ServerCtx, game: &str, room: Option<&str>) -> Result<MatchAnswer, MatchError> {
    let size = ctx.cfg.room_size.min(ctx.cfg.max_players_per_room);
    let (nonce, expires) = ctx.seats.fresh();
    let now = now_ms();
    let reservations = &ctx.seats.reservations;
    let reserve =
        |room: &str, players| reservations.reserve(room, &nonce, now, expires, players, size);
    let room = match room {
        Some(r) => r.to_string(),
        None => {
            let mut rooms: Vec<_> = ctx
                .rooms
                .infos()
                .into_iter()
                .filter(|r| r.game == game && r.players < size)
                .collect();
            rooms.sort_by(|a, b| b.players.cmp(&a.players).then(a.name.cmp(&b.name)));
            match rooms.into_iter().find(|r| reserve(&r.name, r.players)) {
                Some(r) => r.name,
                None => {
                    let name = new_room_name(game);
                    ctx.rooms
                        .get_or_create(&name, Some(game))
                        .map_err(|r| MatchError::Unavailable(r.reason))?;
                    reserve(&name, 0);
                    name
                }
            }
        }
    };
    Ok(MatchAnswer {
        url: ctx.public_url.clone(),
        seat: ctx.seats.sign(&room, &nonce, expires),
        room,
        node: ctx.node_id.clone(),
    })
}

async fn in_cluster(
    ctx: &ServerCtx,
    cluster: &Cluster,
    game: &str,
    room: Option<&str>,
) -> Result<MatchAnswer, MatchError> {
    let nodes = cluster.nodes().await.map_err(redis_down)?;
    let players: HashMap<&str, usize> = nodes
        .iter()
        .flat_map(|n| n.room_list.iter().map(|r| (r.name.as_str(), r.players)))
        .collect();
    let now = now_ms();
    let (nonce, expires) = ctx.seats.fresh();
    let reserve = |room: String, size: usize| {
        let players = players.get(room.as_str()).copied().unwrap_or(0);
        let nonce = nonce.clone();
        async move {
            cluster
                .reserve(&room, &nonce, now, expires, players, size)
                .await
                .map(|ok| ok.then_some(room))
        }
    };
    let size = ctx.cfg.room_size.min(ctx.cfg.max_players_per_room);
    let placed = match room {
        Some(room) => {
            let holder = claim(cluster, &nodes, room).await?;
            reserve(room.to_string(), ctx.cfg.max_players_per_room)
                .await
                .map_err(redis_down)?
                .ok_or_else(|| MatchError::Unavailable(format!("room '{room}' is full")))?;
            (room.to_string(), holder)
        }
        None => {
            let mut rooms = cluster.rooms_of(game).await.map_err(redis_down)?;
            let draining: Vec<&str> = nodes
                .iter()
                .filter(|n| n.draining)
                .flat_map(|n| n.room_list.iter().map(|r| r.name.as_str()))
                .collect();
            rooms.retain(|r| !draining.contains(&r.as_str()));
            let fill = |r: &String| players.get(r.as_str()).copied().unwrap_or(0);
            rooms.sort_by(|a, b| fill(b).cmp(&fill(a)).then(a.cmp(b)));
            let mut found = None;
            for r in rooms.into_iter().filter(|r| fill(r) < size) {
                if let Some(r) = reserve(r, size).await.map_err(redis_down)? {
                    found = Some(r);
                    break;
                }
            }
            match found {
                Some(r) => {
                    let holder = cluster.holder(&r).await.map_err(redis_down)?;
                    let holder = holder.ok_or_else(|| {
                        MatchError::Unavailable(format!("room '{r}' closed; ask again"))
                    })?;
                    (r, holder)
                }
                None => {
                    let name = new_room_name(game);
                    let holder = claim(cluster, &nodes, &name).await?;
                    cluster.index_room(game, &name).await.map_err(redis_down)?;
                    reserve(name.clone(), size).await.map_err(redis_down)?;
                    (name, holder)
                }
            }
        }
    };
    let (room, holder) = placed;
    let url = match nodes.iter().find(|n| n.id == holder) {
        Some(n) => n.url.clone(),
        None => {
            cluster
                .node(&holder)
                .await
                .map_err(redis_down)?
                .ok_or_else(|| MatchError::Unavailable("the room's node is gone".into()))?
                .url
        }
    };
    let seat = ctx.seats.sign(&room, &nonce, expires);
    Ok(MatchAnswer {
        url,
        room,
        seat,
        node: holder,
    })
}

/// Places `room` on the least-loaded live node unless a live node holds it; its holder.
async fn claim(cluster: &Cluster, nodes: &[NodeInfo], room: &str) -> Result<String, MatchError> {
    let target = least_loaded(cluster, nodes, None)
        .await
        .map_err(redis_down)?
        .ok_or_else(|| MatchError::Unavailable("no node takes rooms now".into()))?;
    let holder = cluster
        .claim_for(room, &target.id)
        .await
        .map_err(redis_down)?;
    if holder == target.id {
        cluster.placed_on(&target.id).await.map_err(redis_down)?;
    }
    Ok(holder)
}

/// The node (not draining, not `except`) with the least load: its players, and its rooms,
/// counting those placed on it in the last seconds, which its heartbeat may not show yet.
pub(crate) async fn least_loaded<'a>(
    cluster: &Cluster,
    nodes: &'a [NodeInfo],
    except: Option<&str>,
) -> redis::RedisResult<Option<&'a NodeInfo>> {
    let open: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|n| !n.draining && Some(n.id.as_str()) != except)
        .collect();
    let ids: Vec<&str> = open.iter().map(|n| n.id.as_str()).collect();
    let placed = cluster.recently_placed(&ids).await?;
    // A room weighs as much as a few players, so empty new rooms spread over the nodes too.
    let load =
        |n: &NodeInfo, placed: u64| n.players as f64 + 8.0 * (n.rooms as f64 + placed as f64);
    Ok(open
        .into_iter()
        .zip(placed)
        .min_by(|(a, pa), (b, pb)| load(a, *pa).total_cmp(&load(b, *pb)).then(a.id.cmp(&b.id)))
        .map(|(n, _)| n))
}
