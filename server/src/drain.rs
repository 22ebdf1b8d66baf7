//! Draining a node for a deploy (SIGTERM, or `POST /admin/drain`): it takes no new rooms,
//! and hands each of its rooms to another node. Per room: the room stops and answers with its
//! state (the game's declared state, the tick, every player and its resume token); the state
//! goes to Redis; the room's directory entry moves to the least-loaded other node; and its
//! clients are closed with `MOVED` and that node's URL. They reconnect there with their
//! resume tokens, the node restores the room from the saved state on the first `Hello`, and
//! each takes its own player back. With no other node, there is nowhere to go: the rooms
//! stay until the shutdown closes them. A single node with `--state-dir` stops each room,
//! has its state written there, and tells its clients to come back (`GOING_AWAY`): the node
//! restores the rooms when it starts again, and the clients resume their own players.
//!
//! The same hand-off stops a room the directory gave to another node while this one could
//! not renew it (Redis was down or lost its data, or this node stalled): the directory
//! decides who plays a room, so this node lets it go (`give_up_lost_rooms`).

use std::sync::Arc;
use std::time::Duration;

use protocol::codes;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint;
use crate::cluster::{Cluster, NodeInfo};
use crate::ctx::ServerCtx;
use crate::matchmake::least_loaded;
use crate::registry::RoomHandle;
use crate::rejection::Rejection;
use crate::room::{Handoff, RoomMsg, SaveQueue};

/// How long a room has to answer a hand-off (it answers at its next tick).
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Why a room did not stop for a hand-off.
enum NotStopped {
    /// It had closed already.
    Closed,
    /// It did not answer within `ANSWER_WITHIN` (logged): it plays on.
    Silent,
}

/// Stops `room` at its next tick; its state and its clients' outboxes (to close with where
/// the room went).
async fn stop(room: &RoomHandle) -> Result<Handoff, NotStopped> {
    let (reply, answer) = oneshot::channel();
    if room.inbox.send(RoomMsg::Handoff(reply)).await.is_err() {
        return Err(NotStopped::Closed);
    }
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok(handoff)) => Ok(handoff),
        _ => {
            tracing::warn!(room = %room.name, "the room did not answer the hand-off");
            Err(NotStopped::Silent)
        }
    }
}

/// What a drain did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Drained {
    /// Rooms handed to another node.
    pub rooms: usize,
    /// Their players (connected or within their resume grace).
    pub players: usize,
    /// Rooms that stayed here (no other node, or Redis failed).
    pub kept: usize,
}

/// Drains this node (once; a second call finds no rooms left to hand over).
pub(crate) async fn drain(ctx: &Arc<ServerCtx>) -> Drained {
    ctx.rooms.set_draining();
    let mut done = Drained::default();
    let Some(cluster) = &ctx.cluster else {
        // Standalone, rooms have somewhere to save to only with a state directory.
        match ctx.rooms.saves() {
            Some(saves) => save_all(ctx, saves, &mut done).await,
            None => done.kept = ctx.rooms.all().len(),
        }
        return done;
    };
    // The registry is read once: each room handed over is counted on its node
    // (`placed_on`), so the next goes to the node least loaded by then.
    let nodes = match cluster.nodes().await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "drain: the registry did not answer; rooms stay");
            done.kept = ctx.rooms.all().len();
            return done;
        }
    };
    for room in ctx.rooms.all() {
        match hand_over(ctx, cluster, &nodes, &room).await {
            Ok(Some(players)) => {
                done.rooms += 1;
                done.players += players;
            }
            Ok(None) => done.kept += 1,
            Err(e) => {
                tracing::error!(room = %room.name, error = %e, "hand-off failed");
                done.kept += 1;
            }
        }
    }
    tracing::info!(
        rooms = done.rooms,
        players = done.players,
        kept = done.kept,
        "drained"
    );
    done
}

/// Stops every room, queues its state for the state directory (written before the process
/// exits), and closes its clients: they come back when the node has restarted.
async fn save_all(ctx: &ServerCtx, saves: &SaveQueue, done: &mut Drained) {
    for room in ctx.rooms.all() {
        let handoff = match stop(&room).await {
            Ok(h) => h,
            Err(NotStopped::Closed) => continue,
            // Its last checkpoint stays.
            Err(NotStopped::Silent) => {
                done.kept += 1;
                continue;
            }
        };
        done.rooms += 1;
        done.players += handoff.saved.players.len();
        saves.save(handoff.saved, room.schema.hash());
        for o in &handoff.outboxes {
            o.close(codes::GOING_AWAY, "server restarting: resume in a moment");
        }
    }
    tracing::info!(
        rooms = done.rooms,
        players = done.players,
        "rooms stopped; their state goes to the state directory"
    );
}

/// Hands one room over; its players, or `None` if there is no node to take it.
async fn hand_over(
    ctx: &ServerCtx,
    cluster: &Cluster,
    nodes: &[NodeInfo],
    room: &RoomHandle,
) -> redis::RedisResult<Option<usize>> {
    let Some(target) = least_loaded(cluster, nodes, Some(&ctx.node_id))
        .await?
        .cloned()
    else {
        return Ok(None);
    };
    let Ok(handoff) = stop(room).await else {
        return Ok(Some(0));
    };
    let players = handoff.saved.players.len();
    // From here on, every way out closes the room's clients: it no longer plays here.
    let moved = async {
        let state = checkpoint::encode(&handoff.saved, room.schema.hash())
            .map_err(|e| redis::RedisError::from((redis::ErrorKind::Client, "saved room", e)))?;
        cluster.save_state(&room.name, &state).await?;
        let moved = cluster.transfer(&room.name, &target.id).await?;
        if moved {
            cluster.placed_on(&target.id).await?;
        }
        Ok(moved)
    }
    .await;
    let (code, reason) = match moved {
        Ok(true) => (codes::MOVED, target.url.clone()),
        // Another node holds the room now (this node lost it while it stalled): send the
        // clients there; the state stays for whichever node restores it.
        Ok(false) => match where_is(cluster, &room.name).await {
            Some(n) => (codes::MOVED, n.url),
            None => (codes::GOING_AWAY, "server shutting down".into()),
        },
        Err(e) => {
            for o in &handoff.outboxes {
                o.close(codes::GOING_AWAY, "server shutting down");
            }
            return Err(e);
        }
    };
    for o in &handoff.outboxes {
        o.close(code, reason.clone());
    }
    tracing::info!(room = %room.name, to = %target.id, players, "room handed over");
    Ok(Some(players))
}

/// Stops each room the heartbeat reports held by another node (`lost`, until the heartbeat
/// ends), one at a time, so a room reported twice is only handed over once.
pub(crate) async fn give_up_lost_rooms(ctx: Arc<ServerCtx>, mut lost: mpsc::Receiver<String>) {
    let Some(cluster) = &ctx.cluster else {
        return;
    };
    while let Some(room) = lost.recv().await {
        if let Err(e) = give_up(&ctx, cluster, &room).await {
            // It plays on here; the next beat reports it again.
            tracing::warn!(room, error = %e, "could not look up the node that holds a lost room");
        }
    }
}

/// Stops room `room`, which the directory says another node holds, and sends its clients
/// there with `MOVED` (they resume there with their tokens). Its state is saved for that
/// node unless that node already plays the room. Nothing happens if the holder is gone or
/// is this node again (the next beat re-claims the room): then it plays on here.
async fn give_up(ctx: &ServerCtx, cluster: &Cluster, room: &str) -> redis::RedisResult<()> {
    let Some(handle) = ctx.rooms.get(room) else {
        return Ok(()); // closed meanwhile, or already given up
    };
    let Some(holder) = cluster.holder(room).await?.filter(|h| *h != ctx.node_id) else {
        return Ok(());
    };
    let Some(node) = cluster.node(&holder).await? else {
        return Ok(()); // dead: its entry expires, and this node's next beat takes the room
    };
    let Ok(handoff) = stop(&handle).await else {
        return Ok(());
    };
    // A node that has not opened the room yet restores it from this state at its players'
    // first `Hello`, each with its own entity; one that already plays it keeps its own.
    let plays = node.room_list.iter().any(|r| r.name == room);
    let saved = !plays && {
        let stored = match checkpoint::encode(&handoff.saved, handle.schema.hash()) {
            Ok(state) => cluster
                .save_state(room, &state)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = &stored {
            tracing::warn!(room, error = %e, "could not save a lost room's state for its holder");
        }
        stored.is_ok()
    };
    for o in &handoff.outboxes {
        o.close(codes::MOVED, node.url.clone());
    }
    tracing::warn!(
        room,
        holder = %holder,
        clients = handoff.outboxes.len(),
        state_saved = saved,
        "another node holds this room in the directory: stopped here, its clients sent there"
    );
    Ok(())
}

async fn where_is(cluster: &Cluster, room: &str) -> Option<NodeInfo> {
    let holder = cluster.holder(room).await.ok()??;
    cluster.node(&holder).await.ok()?
}

/// Where a client of a room that is not here goes while this node drains: to the node that
/// holds the room, or, if this node does (a matchmaker placed it before it saw the drain),
/// to another node the room is given to.
pub(crate) async fn redirect(ctx: &ServerCtx, cluster: &Cluster, room: &str) -> Rejection {
    let going_away = || Rejection {
        code: codes::GOING_AWAY,
        reason: "this node is draining".into(),
    };
    let moved = |url: String| Rejection {
        code: codes::MOVED,
        reason: url,
    };
    match cluster.holder(room).await {
        Ok(Some(h)) if h != ctx.node_id => match cluster.node(&h).await {
            Ok(Some(n)) => return moved(n.url),
            _ => return going_away(),
        },
        Err(_) => return going_away(),
        _ => {}
    }
    let Ok(nodes) = cluster.nodes().await else {
        return going_away();
    };
    let target = least_loaded(cluster, &nodes, Some(&ctx.node_id)).await;
    match target {
        Ok(Some(t)) if cluster.transfer(room, &t.id).await.unwrap_or(false) => moved(t.url.clone()),
        _ => going_away(),
    }
}
