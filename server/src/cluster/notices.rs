//! Server-wide notices over Redis pub/sub: a notice published on any node reaches every room
//! of every node, the publisher's own included (it hears its own message like the others).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio_util::sync::CancellationToken;

use super::link::{Cluster, keys};
use crate::registry::Rooms;

/// Waits between attempts to (re)subscribe while Redis is unreachable.
const RESUBSCRIBE: Duration = Duration::from_secs(1);

impl Cluster {
    /// Sends `text` to every room of every node.
    pub async fn publish_notice(&self, text: &str) -> redis::RedisResult<()> {
        self.conn().publish::<_, _, ()>(keys::NOTICES, text).await
    }
}

/// Listens on the notice channel until `stop`, and hands each notice to this node's rooms.
pub fn spawn_listener(
    redis_url: String,
    rooms: Arc<Rooms>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let listened = tokio::select! {
                r = listen(&redis_url, &rooms) => r,
                _ = stop.cancelled() => return,
            };
            if let Err(e) = listened {
                tracing::warn!(error = %e, "notice channel lost; subscribing again");
            }
            tokio::select! {
                _ = tokio::time::sleep(RESUBSCRIBE) => {}
                _ = stop.cancelled() => return,
            }
        }
    })
}

async fn listen(redis_url: &str, rooms: &Rooms) -> redis::RedisResult<()> {
    let client = redis::Client::open(redis_url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(keys::NOTICES).await?;
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        match msg.get_payload::<String>() {
            Ok(text) => rooms.notice(&text),
            Err(e) => tracing::warn!(error = %e, "a notice that is not text"),
        }
    }
    Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "notice channel",
        "the subscription ended".to_string(),
    )))
}
