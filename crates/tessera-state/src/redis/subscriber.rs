//! The background subscription to `{prefix}revocations`: decodes messages into revocations for
//! this process, and resubscribes with backoff after Redis goes away, for as long as the bus lives.
//! Messages published while it is away are lost; the catch-up read from the database heals that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::PubSub;
use redis::{RedisError, RedisResult};
use tessera_core::session::Revocation;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{bounded, message};

/// First pause before resubscribing; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
/// How often an idle subscription is checked with a PING: a connection that died without a
/// TCP reset (a network partition) would otherwise go unnoticed until TCP keep-alive.
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(10);
/// A subscription that lasted this long was an outage's end, not a flap: backoff starts over.
const STABLE_SUBSCRIPTION: Duration = Duration::from_secs(10);

/// Subscribes to one node of the list; in a Redis Cluster, PUBLISH reaches every node over the
/// cluster bus, so any single node hears every revocation.
pub(super) struct Subscriber {
    nodes: Vec<redis::Client>,
    channel: Arc<str>,
    sender: broadcast::Sender<Revocation>,
    subscribed: Arc<AtomicBool>,
}

impl Subscriber {
    /// A subscriber that keeps `subscribed` true exactly while it listens.
    pub(super) fn new(
        nodes: Vec<redis::Client>,
        channel: Arc<str>,
        sender: broadcast::Sender<Revocation>,
        subscribed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            nodes,
            channel,
            sender,
            subscribed,
        }
    }

    /// A subscription on the first node, in the listed order, that accepts one.
    pub(super) async fn subscribe_any(&self) -> RedisResult<PubSub> {
        let mut last_error =
            RedisError::from(std::io::Error::other("no Redis node to subscribe to"));
        for node in &self.nodes {
            match bounded(self.subscribe_to(node)).await {
                Ok(pubsub) => return Ok(pubsub),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// Forwards revocations from `pubsub`, and from its successors after each outage, forever;
    /// the bus aborts this task when it is dropped.
    pub(super) async fn run(self, mut pubsub: PubSub) {
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let subscribed_at = Instant::now();
            self.subscribed.store(true, Ordering::Release);
            let error = self.forward(pubsub).await;
            self.subscribed.store(false, Ordering::Release);
            tracing::warn!(
                event = "revocation_subscription_lost",
                error = %error,
                "lost the Redis revocation subscription; resubscribing in the background"
            );
            if subscribed_at.elapsed() >= STABLE_SUBSCRIPTION {
                delay = FIRST_RETRY_DELAY;
            }
            pubsub = self.resubscribe(&mut delay).await;
            tracing::info!(
                event = "revocation_subscription_restored",
                "resubscribed to Redis revocations"
            );
        }
    }

    async fn subscribe_to(&self, node: &redis::Client) -> RedisResult<PubSub> {
        let mut pubsub = node.get_async_pubsub().await?;
        pubsub.subscribe(&*self.channel).await?;
        Ok(pubsub)
    }

    /// Hands on messages until the connection is lost, and says why it was.
    async fn forward(&self, pubsub: PubSub) -> RedisError {
        let (mut sink, mut messages) = pubsub.split();
        let mut health =
            tokio::time::interval_at(Instant::now() + HEALTH_CHECK_EVERY, HEALTH_CHECK_EVERY);
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => self.deliver(message.get_payload_bytes()),
                    None => {
                        return RedisError::from(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "the subscription connection closed",
                        ));
                    }
                },
                _ = health.tick() => {
                    if let Err(error) = bounded(sink.ping::<redis::Value>()).await {
                        return error;
                    }
                }
            }
        }
    }

    /// Waits `delay`, doubling it after every failed attempt; Debug-logs each failure, since the
    /// outage itself was reported once already.
    async fn resubscribe(&self, delay: &mut Duration) -> PubSub {
        loop {
            tokio::time::sleep(*delay).await;
            *delay = (*delay * 2).min(MAX_RETRY_DELAY);
            match self.subscribe_any().await {
                Ok(pubsub) => return pubsub,
                Err(error) => tracing::debug!(
                    error = %error,
                    retry_in_ms = delay.as_millis(),
                    "Redis is still unreachable for the revocation subscription"
                ),
            }
        }
    }

    fn deliver(&self, payload: &[u8]) {
        match message::decode(payload) {
            // Sending fails only when nobody subscribes yet, and then nobody needs to hear it.
            Ok(revocation) => {
                let _ = self.sender.send(revocation);
            }
            Err(error) => tracing::debug!(
                error = %error,
                "ignored a malformed message on the revocation channel"
            ),
        }
    }
}
