//! Rate-limit counters in this process: for one instance.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tessera_core::limits::{Outcome, Quota, gcra};
use tessera_core::ports::RateCounter;
use tessera_core::{Clock, StateError};

/// Keys kept, at the least, before those whose debt has run out are swept. A sweep that
/// leaves many keys lets the map grow to twice their number before the next one, so a spend
/// costs the same on average however many keys are live.
const SWEEP_ABOVE: usize = 16_384;

/// An in-process [`RateCounter`]: GCRA arrival times in a map, each spend under one lock.
/// Time is the server's clock, so tests can move it; a clock stepped back only makes the
/// limits stricter for the length of the step.
pub struct MemoryRateCounter {
    clock: Arc<dyn Clock>,
    arrivals: Mutex<Arrivals>,
}

/// Theoretical arrival times, in Unix milliseconds, by the hash of their key under the map's
/// own hasher, keyed at random per process: two distinct keys share an arrival time with a
/// chance of one in 2^64 (a pair), and no client can pick keys that do. Hashes rather than the
/// keys: 16 bytes an entry instead of a string each, which made most of an idle server's
/// growth after a burst of logins from many addresses.
struct Arrivals {
    by_key: HashMap<u64, u64>,
    sweep_above: usize,
}

impl MemoryRateCounter {
    /// No counts yet.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            arrivals: Mutex::new(Arrivals {
                by_key: HashMap::new(),
                sweep_above: SWEEP_ABOVE,
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    fn arrivals(&self) -> MutexGuard<'_, Arrivals> {
        self.arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl RateCounter for MemoryRateCounter {
    async fn spend(&self, key: &str, quota: Quota) -> Result<Outcome, StateError> {
        let now = self.now_ms();
        let mut arrivals = self.arrivals();
        let key = arrivals.by_key.hasher().hash_one(key);
        if arrivals.by_key.len() > arrivals.sweep_above {
            // A key whose arrival time has passed is a fresh key: forgetting it changes nothing.
            arrivals.by_key.retain(|_, tat| *tat > now);
            arrivals.by_key.shrink_to_fit();
            arrivals.sweep_above = SWEEP_ABOVE.max(2 * arrivals.by_key.len());
        }
        let (outcome, next) = gcra(arrivals.by_key.get(&key).copied(), now, quota);
        if let Some(next) = next {
            arrivals.by_key.insert(key, next);
        }
        Ok(outcome)
    }

    async fn clear(&self, key: &str) -> Result<(), StateError> {
        let mut arrivals = self.arrivals();
        let key = arrivals.by_key.hasher().hash_one(key);
        arrivals.by_key.remove(&key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tessera_core::ManualClock;

    use super::*;

    #[tokio::test]
    async fn keys_whose_debt_has_run_out_are_swept_and_their_room_given_back() {
        let clock = Arc::new(ManualClock::starting_now());
        let counter = MemoryRateCounter::new(clock.clone());
        let quota = Quota::new(1, Duration::from_secs(1)).expect("a valid quota");
        for n in 0..=SWEEP_ABOVE {
            assert!(
                counter
                    .spend(&format!("ip:{n}"), quota)
                    .await
                    .expect("counted")
                    .allowed
            );
        }
        // Still owing: a sweep keeps every key, and the next one waits for twice as many.
        assert!(!counter.spend("ip:0", quota).await.expect("counted").allowed);
        assert_eq!(counter.arrivals().by_key.len(), SWEEP_ABOVE + 1);
        assert_eq!(counter.arrivals().sweep_above, 2 * (SWEEP_ABOVE + 1));
        let grown = counter.arrivals().by_key.capacity();
        for n in SWEEP_ABOVE + 1..=2 * (SWEEP_ABOVE + 1) {
            counter
                .spend(&format!("ip:{n}"), quota)
                .await
                .expect("counted");
        }

        clock.advance(Duration::from_secs(2));
        assert!(counter.spend("ip:0", quota).await.expect("counted").allowed);

        let arrivals = counter.arrivals();
        assert_eq!(arrivals.by_key.len(), 1);
        assert!(arrivals.by_key.capacity() < grown / 100, "{grown}");
        assert_eq!(arrivals.sweep_above, SWEEP_ABOVE);
    }
}
