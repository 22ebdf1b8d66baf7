//! Server-wide notices over Redis pub/sub: a notice published on any node reaches every room
//! of every node, the publisher's own included (it hears its own message like the others).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::link::{Cluster, keys};
use crate::registry::Rooms;

/// Waits between attempts to (re)subscribe while Redis is unreachable.
const RESUBSCRIBE: Duration = Duration::from_secs(1);
/// Longest wait to connect and subscribe (an unreachable host would hold the attempt for the
/// system's TCP timeout, minutes).
const SUBSCRIBE_WITHIN: Duration = Duration::from_secs(2);

impl Cluster {
    /// Sends `text` to every room of every node.
    pub async fn publish_notice(&self, text: &str) -> redis::RedisResult<()> {
        self.conn().publish::<_, _, ()>(keys::NOTICES, text).await
    }
}

/// Listens on the notice channel until `stop`, and hands each notice to this node's rooms.
/// The subscription survives Redis outages: a lost one is taken again once Redis answers
/// (tried every `RESUBSCRIBE`), and it is taken afresh whenever the heartbeat finds Redis back
/// after an outage (`recovered`), since a connection can die without a word (a network
/// partition) and then hear nothing.
pub fn spawn_listener(
    redis_url: String,
    rooms: Arc<Rooms>,
    mut recovered: watch::Receiver<u64>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Logged once per outage, not at every attempt.
        let mut lost = false;
        loop {
            let failed = tokio::select! {
                r = listen(&redis_url, &rooms, &mut lost) => match r {
                    Err(e) => e,
                    Ok(never) => match never {},
                },
                Ok(()) = recovered.changed() => {
                    tracing::debug!("Redis is back: subscribing to the notice channel afresh");
                    continue;
                }
                _ = stop.cancelled() => return,
            };
            if !lost {
                tracing::warn!(error = %failed, "notice channel lost; subscribing again");
                lost = true;
            } else {
                tracing::debug!(error = %failed, "notice channel: not subscribed yet");
            }
            tokio::select! {
                _ = tokio::time::sleep(RESUBSCRIBE) => {}
                _ = stop.cancelled() => return,
            }
        }
    })
}

/// Subscribes (bounded by `SUBSCRIBE_WITHIN`) and hands on notices until the subscription
/// ends, which is always an error.
async fn listen(
    redis_url: &str,
    rooms: &Rooms,
    lost: &mut bool,
) -> redis::RedisResult<std::convert::Infallible> {
    let client = redis::Client::open(redis_url)?;
    let subscribe = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(keys::NOTICES).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    let mut pubsub = tokio::time::timeout(SUBSCRIBE_WITHIN, subscribe)
        .await
        .map_err(|_| {
            redis::RedisError::from((
                redis::ErrorKind::Io,
                "notice channel",
                format!("no subscription within {SUBSCRIBE_WITHIN:?}"),
            ))
        })??;
    if std::mem::take(lost) {
        tracing::info!("notice channel subscribed again");
    }
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
