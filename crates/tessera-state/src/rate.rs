//! Rate-limit counters in this process: for one instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tessera_core::limits::{Outcome, Quota, gcra};
use tessera_core::ports::RateCounter;
use tessera_core::{Clock, StateError};

/// Keys kept before those whose debt has run out are swept.
const SWEEP_ABOVE: usize = 50_000;

/// An in-process [`RateCounter`]: GCRA arrival times in a map, each spend under one lock.
/// Time is the server's clock, so tests can move it; a clock stepped back only makes the
/// limits stricter for the length of the step.
pub struct MemoryRateCounter {
    clock: Arc<dyn Clock>,
    /// Key → theoretical arrival time, in Unix milliseconds.
    arrivals: Mutex<HashMap<String, u64>>,
}

impl MemoryRateCounter {
    /// No counts yet.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            arrivals: Mutex::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }
}

#[async_trait]
impl RateCounter for MemoryRateCounter {
    async fn spend(&self, key: &str, quota: Quota) -> Result<Outcome, StateError> {
        let now = self.now_ms();
        let mut arrivals = self
            .arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if arrivals.len() > SWEEP_ABOVE {
            // A key whose arrival time has passed is a fresh key: forgetting it changes nothing.
            arrivals.retain(|_, tat| *tat > now);
        }
        let (outcome, next) = gcra(arrivals.get(key).copied(), now, quota);
        if let Some(next) = next {
            arrivals.insert(key.to_owned(), next);
        }
        Ok(outcome)
    }

    async fn clear(&self, key: &str) -> Result<(), StateError> {
        self.arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
        Ok(())
    }
}
