//! Bounded polling, for effects that arrive on their own time (a message over Redis, a process
//! becoming ready) where a sleep would be either flaky or slow.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long to wait between two checks.
const INTERVAL: Duration = Duration::from_millis(20);

/// Calls `check` until it gives a value and returns that value; panics with `what` when none
/// came within `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        tokio::time::sleep(INTERVAL).await;
    }
}
