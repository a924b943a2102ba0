//! Single-use values in Redis: `SET … PX` and `GETDEL`, atomic on one key, so a ticket taken on
//! one instance is gone for every other (single node or Cluster).

use std::time::Duration;

use async_trait::async_trait;
use tessera_core::StateError;
use tessera_core::ports::SingleUseStore;

use super::{Connection, bounded};

/// A [`SingleUseStore`] in Redis, keys under the configured prefix.
#[derive(Clone)]
pub struct RedisSingleUse {
    pub(super) connection: Connection,
    pub(super) prefix: std::sync::Arc<str>,
}

#[async_trait]
impl SingleUseStore for RedisSingleUse {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StateError> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}{key}", self.prefix))
            .arg(value)
            .arg("PX")
            .arg(millis);
        bounded(self.connection.query::<()>(&command))
            .await
            .map_err(StateError::unavailable)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StateError> {
        let mut command = redis::cmd("GETDEL");
        command.arg(format!("{}{key}", self.prefix));
        bounded(self.connection.query::<Option<String>>(&command))
            .await
            .map_err(StateError::unavailable)
    }
}
