//! Joining a cluster on Redis (`--redis`). Redis is the cluster's only shared state: the node
//! registry (`nodes`), the room directory and seat reservations (`directory`), rooms handed
//! between nodes (`handoff`), and the notice bus (`notices`); `link` holds the connection and
//! every key. docs/scaling.md lists every key with its time to live.
//!
//! Every `HEARTBEAT` a node writes `ticksync:node:{id}` (JSON: its id, the URL its clients
//! are given, and its load) with a time to live of `NODE_TTL`, so a node that stops, however
//! it stops, leaves the registry within `NODE_TTL`; one that shuts down removes its entry at
//! once. The same beat renews the directory entries of the rooms it holds, with the same time
//! to live, so a dead node's rooms leave the directory with it. Without `--redis` none of
//! this runs.
//!
//! Redis may go away and come back, empty or not. Every call fails fast meanwhile (short
//! timeouts, `link`): the node plays on the rooms it holds, its health says degraded, and
//! what needs Redis (matchmaking, new rooms, seats) is refused at once. The first beat that
//! goes through registers the node again, re-claims its rooms, lists them in their games and
//! puts the seat key back, so nothing needs a restart; a room the directory gave to another
//! node meanwhile is stopped here and its clients sent there.

mod directory;
mod handoff;
mod link;
mod nodes;
pub mod notices;

pub use directory::Place;
pub(crate) use directory::USED_SEAT_COUNTS;
pub use handoff::{CHECKPOINT_TTL, STATE_TTL};
pub(crate) use link::SeatKey;
pub use link::{Cluster, NODE_TTL, Outage, REDIS_CONNECT_TIMEOUT, REDIS_RESPONSE_TIMEOUT};
pub use nodes::NodeInfo;
