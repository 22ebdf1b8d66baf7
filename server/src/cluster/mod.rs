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

mod directory;
mod handoff;
mod link;
mod nodes;
pub mod notices;

pub use directory::Place;
pub(crate) use directory::USED_SEAT_COUNTS;
pub use handoff::{CHECKPOINT_TTL, STATE_TTL};
pub use link::{Cluster, NODE_TTL};
pub use nodes::NodeInfo;
