//! Tessera's ephemeral state behind the core's ports: in-process for one instance, Redis
//! (single node or Cluster) when several instances share it. Nothing here is the record of
//! anything: the database is, and every instance can rebuild this state from it.

mod memory;
mod rate;
mod redis;
mod single_use;

use std::sync::Arc;

use tessera_core::ports::{RateCounter, RevocationBus, SingleUseStore};
use tessera_core::{Clock, StateError};

pub use crate::memory::MemoryBus;
pub use crate::rate::MemoryRateCounter;
pub use crate::redis::{RedisBus, RedisRateCounter, RedisSingleUse, UrlError};
pub use crate::single_use::MemorySingleUse;

/// The ephemeral state of one instance: where revocations travel, where single-use values
/// live and where rate limits count.
#[derive(Clone)]
pub struct State {
    /// The revocation bus.
    pub bus: Arc<dyn RevocationBus>,
    /// Single-use values (WebSocket tickets).
    pub single_use: Arc<dyn SingleUseStore>,
    /// Rate-limit counters.
    pub rates: Arc<dyn RateCounter>,
}

/// Revocations a subscriber may fall behind by before it misses some. A burst (every session of
/// a user at once) must fit; a subscriber that still lags gets `RecvError::Lagged`, and the
/// periodic catch-up read from the database heals what it missed.
const CHANNEL_CAPACITY: usize = 4096;

/// The state `redis_url` asks for (API.md §6): in-process when it is empty, otherwise
/// Redis at `redis://host:port[/db]` or a Redis Cluster at `redis+cluster://host:port,...`, with
/// every channel name starting with `prefix`.
///
/// # Errors
///
/// [`StateError::Unavailable`] when the URL is invalid (the source is a [`UrlError`]) or Redis
/// does not answer within about two seconds.
/// In-process counters read `clock`; Redis counters read Redis's.
pub async fn open(
    redis_url: &str,
    prefix: &str,
    clock: Arc<dyn Clock>,
) -> Result<State, StateError> {
    if redis_url.trim().is_empty() {
        return Ok(State {
            bus: Arc::new(MemoryBus::new()),
            single_use: Arc::new(MemorySingleUse::new()),
            rates: Arc::new(MemoryRateCounter::new(clock)),
        });
    }
    let bus = RedisBus::connect(redis_url, prefix).await?;
    Ok(State {
        single_use: Arc::new(bus.single_use()),
        rates: Arc::new(bus.rate_counter()),
        bus: Arc::new(bus),
    })
}
