//! Rate-limit counters in Redis: one Lua script per attempt computes GCRA on one key with the
//! server's clock, so every instance counts against the same arrival time without a
//! read-then-write race, and the key's single slot makes it work on a Cluster.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use tessera_core::StateError;
use tessera_core::limits::{Outcome, Quota};
use tessera_core::ports::RateCounter;

use super::{Connection, bounded};

/// `tessera_core::limits::gcra`, step for step, on Redis's clock (`TIME`, milliseconds).
/// KEYS[1]: the counter; ARGV[1]: interval (ms); ARGV[2]: window (ms).
/// Returns {allowed (0/1), remaining, retry_after (ms)}.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next = tat + interval
if next - now > window then
  return {0, 0, next - now - window}
end
redis.call('SET', KEYS[1], next, 'PX', next - now)
return {1, math.floor((window - (next - now)) / interval), 0}
",
    )
});

/// A [`RateCounter`] in Redis, keys under the configured prefix.
#[derive(Clone)]
pub struct RedisRateCounter {
    pub(super) connection: Connection,
    pub(super) prefix: Arc<str>,
}

#[async_trait]
impl RateCounter for RedisRateCounter {
    async fn spend(&self, key: &str, quota: Quota) -> Result<Outcome, StateError> {
        let mut invocation = GCRA.key(format!("{}{key}", self.prefix));
        invocation.arg(quota.interval_ms()).arg(quota.window_ms());
        let (allowed, remaining, retry_after): (u8, u32, u64) =
            bounded(self.connection.invoke(&invocation))
                .await
                .map_err(StateError::unavailable)?;
        Ok(Outcome {
            allowed: allowed == 1,
            remaining,
            retry_after: Duration::from_millis(retry_after),
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StateError> {
        let mut command = redis::cmd("DEL");
        command.arg(format!("{}{key}", self.prefix));
        bounded(self.connection.query::<()>(&command))
            .await
            .map_err(StateError::unavailable)
    }
}
