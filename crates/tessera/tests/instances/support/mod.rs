//! The harness: real `tessera serve` children sharing a deployment ([`server`]), on top of the
//! test kit's processes, PostgreSQL databases, Redis servers and Cluster, and bounded waits.

pub mod server;

use std::time::Duration;

/// The contract of API.md §5: a revocation on one instance holds on every instance within this.
pub const PROPAGATION_BOUND: Duration = Duration::from_secs(1);

/// The `percent`th percentile (nearest rank) of `samples`, which must not be empty.
pub fn percentile(samples: &[Duration], percent: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// `value` in milliseconds with one decimal, for the printed timings.
pub fn millis(value: Duration) -> String {
    format!("{:.1} ms", value.as_secs_f64() * 1_000.0)
}
