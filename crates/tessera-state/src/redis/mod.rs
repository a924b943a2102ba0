//! The Redis revocation bus: `PUBLISH {prefix}revocations` on an auto-reconnecting connection,
//! and a background subscription that hands what any instance published to this process.
//! Works with one server or a Redis Cluster; it keeps no data in Redis.

mod message;
mod rate;
mod single_use;
mod subscriber;
mod url;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Pipeline, RedisError, RedisResult};
use tessera_core::StateError;
use tessera_core::ports::RevocationBus;
use tessera_core::session::Revocation;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

pub use self::rate::RedisRateCounter;
pub use self::single_use::RedisSingleUse;
use self::subscriber::Subscriber;
use self::url::Endpoint;
pub use self::url::UrlError;
use crate::CHANNEL_CAPACITY;

/// How long to wait for a TCP connection to a Redis node.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// How long to wait for the answer to one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The most any call waits, reconnection attempts included: a request that publishes a
/// revocation must fail fast with `StateError::Unavailable` when Redis is down, never hang.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

/// Revocations over Redis pub/sub, shared by every instance configured with the same URL and
/// prefix. Cheap to clone; the subscription stops when the last clone is dropped.
#[derive(Clone)]
pub struct RedisBus {
    connection: Connection,
    prefix: Arc<str>,
    channel: Arc<str>,
    sender: broadcast::Sender<Revocation>,
    /// Whether the subscription listens right now: an instance that would miss revocations
    /// published meanwhile is not ready (`/readyz`).
    subscribed: Arc<AtomicBool>,
    _subscription: Arc<SubscriptionTask>,
}

/// The command connection; both kinds reconnect by themselves after an outage.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Aborts the subscription task when the last [`RedisBus`] clone lets go of it.
struct SubscriptionTask(AbortHandle);

impl RedisBus {
    /// Connects to `url` (`redis://host:port[/db]` or `redis+cluster://host:port,host:port,...`)
    /// and subscribes to `{prefix}revocations`: every revocation published after this returns
    /// reaches the receivers of [`RevocationBus::subscribe`].
    ///
    /// # Errors
    ///
    /// [`StateError::Unavailable`] when the URL is invalid (the source is a [`UrlError`]) or
    /// Redis does not answer within about two seconds.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StateError> {
        let endpoint = Endpoint::parse(url).map_err(StateError::unavailable)?;
        let (connection, nodes) = match endpoint {
            Endpoint::Single(client) => {
                let manager = bounded(client.get_connection_manager_with_config(manager_config()))
                    .await
                    .map_err(StateError::unavailable)?;
                (Connection::Single(manager), vec![client])
            }
            Endpoint::Cluster { client, nodes } => {
                let connection = bounded(client.get_async_connection())
                    .await
                    .map_err(StateError::unavailable)?;
                (Connection::Cluster(connection), nodes)
            }
        };
        let channel: Arc<str> = format!("{prefix}revocations").into();
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        // `connect` returns only once subscribed (or fails).
        let subscribed = Arc::new(AtomicBool::new(true));
        let subscriber = Subscriber::new(
            nodes,
            channel.clone(),
            sender.clone(),
            Arc::clone(&subscribed),
        );
        let pubsub = subscriber
            .subscribe_any()
            .await
            .map_err(StateError::unavailable)?;
        let task = tokio::spawn(subscriber.run(pubsub));
        Ok(Self {
            connection,
            prefix: prefix.into(),
            channel,
            sender,
            subscribed,
            _subscription: Arc::new(SubscriptionTask(task.abort_handle())),
        })
    }
}

impl RedisBus {
    /// Single-use values on the same connection, keys under the same prefix.
    pub fn single_use(&self) -> RedisSingleUse {
        RedisSingleUse {
            connection: self.connection.clone(),
            prefix: self.prefix.clone(),
        }
    }

    /// Rate-limit counters on the same connection, keys under the same prefix.
    pub fn rate_counter(&self) -> RedisRateCounter {
        RedisRateCounter {
            connection: self.connection.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

#[async_trait]
impl RevocationBus for RedisBus {
    async fn publish(&self, revocations: &[Revocation]) -> Result<(), StateError> {
        if revocations.is_empty() {
            return Ok(());
        }
        // One message per revocation, all in one round trip.
        let mut pipeline = redis::pipe();
        for revocation in revocations {
            pipeline
                .cmd("PUBLISH")
                .arg(&*self.channel)
                .arg(message::encode(revocation))
                .ignore();
        }
        bounded(self.connection.exec(&pipeline))
            .await
            .map_err(StateError::unavailable)
    }

    fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.sender.subscribe()
    }

    async fn ping(&self) -> Result<(), StateError> {
        if !self.subscribed.load(Ordering::Acquire) {
            return Err(StateError::unavailable(std::io::Error::other(
                "the revocation subscription is down",
            )));
        }
        let mut pipeline = redis::pipe();
        pipeline.cmd("PING").ignore();
        bounded(self.connection.exec(&pipeline))
            .await
            .map_err(StateError::unavailable)
    }
}

impl fmt::Debug for RedisBus {
    // The URL is left out on purpose: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topology = match self.connection {
            Connection::Single(_) => "single",
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisBus")
            .field("topology", &topology)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Connection {
    async fn exec(&self, pipeline: &Pipeline) -> RedisResult<()> {
        match self.clone() {
            Self::Single(mut manager) => pipeline.exec_async(&mut manager).await,
            Self::Cluster(mut cluster) => pipeline.exec_async(&mut cluster).await,
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> RedisResult<T> {
        match self.clone() {
            Self::Single(mut manager) => command.query_async(&mut manager).await,
            Self::Cluster(mut cluster) => command.query_async(&mut cluster).await,
        }
    }

    /// Runs a script by its digest, loading it first where the node does not know it.
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self.clone() {
            Self::Single(mut manager) => script.invoke_async(&mut manager).await,
            Self::Cluster(mut cluster) => script.invoke_async(&mut cluster).await,
        }
    }
}

impl Drop for SubscriptionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reconnection is quick and shallow: the outer [`OPERATION_TIMEOUT`] bounds every call, and the
/// next call starts a new attempt anyway, so long retry chains would only delay recovery.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

/// `operation`, failing with a timed-out I/O error after [`OPERATION_TIMEOUT`].
async fn bounded<T>(operation: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    tokio::time::timeout(OPERATION_TIMEOUT, operation)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Redis did not answer in time",
            )))
        })
}
