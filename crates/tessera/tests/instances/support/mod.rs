//! The harness: real `tessera serve` children ([`server`]), a fresh PostgreSQL database per test
//! ([`postgres`]), Redis servers and a Cluster on free ports ([`redis`]), and bounded waits.

pub mod postgres;
pub mod redis;
pub mod server;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The contract of API.md §5: a revocation on one instance holds on every instance within this.
pub const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
/// The longest any harness step (a process starting, a cluster forming) may take.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `check` every 20 ms until it gives a value; panics after `patience`.
pub async fn eventually<T, F, Fut>(patience: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {patience:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A port on 127.0.0.1 that nobody listens on now and that no other test of this binary got.
/// Taken below Linux's ephemeral range, so outgoing connections do not land on it.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = 20_000 + rand::random::<u16>() % 10_000;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
}

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
