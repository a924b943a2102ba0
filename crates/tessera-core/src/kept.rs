//! Values kept once in the single-use store (shared by every instance): each under a prefix and
//! the digest of the bearer token that names it, until its own expiry. Taking one removes it,
//! so whoever asks second, on any instance, gets nothing. The pending logins (the MFA step, the
//! login codes) and the provider login flows are kept this way.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::SingleUseStore;
use crate::secret::token_digest;
use crate::{Clock, StateError};

/// A kept value that knows when it expires.
pub(crate) trait Expiring {
    /// Unix seconds.
    fn expires_at(&self) -> i64;
}

/// Values of one kind, by the digests of their tokens.
pub(crate) struct Kept<T> {
    store: Arc<dyn SingleUseStore>,
    clock: Arc<dyn Clock>,
    prefix: &'static str,
    ttl: Duration,
    kind: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned + Expiring> Kept<T> {
    /// Values under `prefix:`, each living `ttl` from its issue.
    pub(crate) fn new(
        store: Arc<dyn SingleUseStore>,
        clock: Arc<dyn Clock>,
        prefix: &'static str,
        ttl: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            prefix,
            ttl,
            kind: PhantomData,
        }
    }

    /// How long a value lives.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// When a value issued now expires (Unix seconds).
    pub(crate) fn expiry(&self) -> i64 {
        self.clock.now().unix_timestamp() + self.ttl.as_secs() as i64
    }

    /// Keeps `value` under `token` for the time it has left; a value with none left is not
    /// kept.
    pub(crate) async fn put(&self, token: &str, value: &T) -> Result<(), StateError> {
        let left = value.expires_at() - self.clock.now().unix_timestamp();
        let Ok(left @ 1..) = u64::try_from(left) else {
            return Ok(());
        };
        let text = serde_json::to_string(value).unwrap_or_default();
        self.store
            .put(&self.key(token), &text, Duration::from_secs(left))
            .await
    }

    /// Takes the value of `token`, once; `None` when it is unknown, spent or expired.
    pub(crate) async fn take(&self, token: &str) -> Result<Option<T>, StateError> {
        let Some(text) = self.store.take(&self.key(token)).await? else {
            return Ok(None);
        };
        let now = self.clock.now().unix_timestamp();
        Ok(serde_json::from_str::<T>(&text)
            .ok()
            .filter(|value| value.expires_at() > now))
    }

    fn key(&self, token: &str) -> String {
        format!("{}:{}", self.prefix, token_digest(token))
    }
}
