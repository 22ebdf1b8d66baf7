//! How to reach a server and who to be there.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::decode_cache::DecodeCache;

/// Everything `Client::connect` needs.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `ws://HOST[:PORT]/PATH`, or `wss://` for WebSocket over TLS.
    pub url: String,
    /// The room to join (`Hello.room`), created on first join.
    pub room: String,
    /// The player's name, shown to the other players.
    pub name: String,
    /// The join token (or matchmaker seat) for a server that requires one.
    pub auth_token: Option<String>,
    /// A previous `Welcome.resume_token`: takes that player back while the server holds it.
    pub resume_token: Option<String>,
    /// The game the client wants (`Hello.game`): creates the room with it, or must match the
    /// game of an existing room. `None`: whatever the room plays (or the server's default).
    pub game: Option<String>,
    /// The `Origin` header. `None` sends `http://HOST:PORT` (`https://` for `wss://`), what a
    /// browser on the server's own page sends; `Some("")` sends none.
    pub origin: Option<String>,
    /// `SO_RCVBUF` before connecting. A small one makes a slow reader's backlog reach the
    /// server quickly (slow-client tests).
    pub recv_buffer: Option<usize>,
    /// Ack applied snapshots (what a real client does): every `Input` carries the newest
    /// applied tick, and a standalone `Ack` goes out for a snapshot that comes when no input
    /// went out within `ack_delay` (see `input_interval`; once the frames already read are handled: one for a
    /// backlog). Off, inputs carry no ack and none is sent: the server keeps
    /// sending deltas against the last acked tick, or full snapshots.
    pub auto_ack: bool,
    /// With `auto_ack` (on by default): acks ride on inputs, so a playing client sends one
    /// frame per tick. Off: every snapshot is also acked at once in its own `Ack` frame (two
    /// frames per tick for a playing client; the server's baseline is up to a tick fresher).
    pub coalesce_acks: bool,
    /// How often this client sends inputs; `None`: every tick, as a browser does. With
    /// `coalesce_acks` a client still counts as playing for one and a half of these after
    /// its last input, so a snapshot's ack waits for the next input instead of going out
    /// alone (`ack_delay`).
    pub input_interval: Option<Duration>,
    /// Apply every snapshot to this client's world and check its checksum, as a real client
    /// does (on by default). Off, only a snapshot's header is read (its tick, for the ack, and
    /// its input seq) and its delta is skipped: a load generator's cheap bot, with no world
    /// (`Client::latest` stays `None`) and so nothing to predict or aim from; nor does it
    /// measure input latency (a bot that does not verify reads in batches, at its own pace).
    pub verify: bool,
    /// Bounds TCP connect, the TLS and WebSocket handshakes and the wait for `Welcome` together.
    pub connect_timeout: Duration,
    /// Share decoded snapshots with the other clients given the same cache (bots of one
    /// process in one room): see `DecodeCache`. `None`: this client decodes everything alone.
    pub decode_cache: Option<Arc<DecodeCache>>,
    /// Whom a `wss://` server (and an `https://` matchmaker) must prove to be: the CAs to
    /// trust, e.g. `crate::tls::client_config(Some(ca_pem_path))` for a test CA. Build it once
    /// and share it: every clone is the same `Arc`. `None`: the public web's CAs
    /// (`crate::tls::default_config`). Unused for `ws://`.
    pub tls: Option<Arc<ClientConfig>>,
    /// A simulated network link on this client's side (development and tests): its writes
    /// and its reads are each delayed by the latency, jitter and stalls given, in order.
    /// `None` (the default): no delay, no extra work.
    pub simulate: Option<protocol::netsim::NetSim>,
    /// How far behind its newest snapshot this client draws other entities, in ticks
    /// (`Client::drawn`), as a browser's interpolation does: 2.5 by default, what a browser
    /// on a calm network settles at. Its inputs carry that moment (`Input.view`).
    pub draw_behind_ticks: f64,
}

impl ConnectOptions {
    /// Joins `room` at `url` as `name`, acking as a browser does (acks riding on inputs),
    /// within 10 s, without a token; the other options at their defaults.
    pub fn new(url: &str, room: &str, name: &str) -> Self {
        Self {
            url: url.to_owned(),
            room: room.to_owned(),
            name: name.to_owned(),
            auth_token: None,
            resume_token: None,
            game: None,
            origin: None,
            recv_buffer: None,
            auto_ack: true,
            coalesce_acks: true,
            input_interval: None,
            verify: true,
            connect_timeout: Duration::from_secs(10),
            decode_cache: None,
            tls: None,
            simulate: None,
            draw_behind_ticks: 2.5,
        }
    }
}
