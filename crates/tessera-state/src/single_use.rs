//! Single-use values (WebSocket tickets) kept in this process: for one instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tessera_core::StateError;
use tessera_core::ports::SingleUseStore;

/// Entries kept before expired ones are swept on insert.
const SWEEP_ABOVE: usize = 10_000;

/// An in-process [`SingleUseStore`].
#[derive(Debug, Default)]
pub struct MemorySingleUse {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemorySingleUse {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SingleUseStore for MemorySingleUse {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StateError> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        entries.insert(key.to_owned(), (value.to_owned(), now + ttl));
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StateError> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(entries
            .remove(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(value, _)| value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_taken_once() {
        let store = MemorySingleUse::new();
        store.put("k", "v", Duration::from_secs(30)).await.unwrap();
        assert_eq!(store.take("k").await.unwrap().as_deref(), Some("v"));
        assert_eq!(store.take("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_expired_value_is_gone() {
        let store = MemorySingleUse::new();
        store.put("k", "v", Duration::ZERO).await.unwrap();
        assert_eq!(store.take("k").await.unwrap(), None);
    }
}
