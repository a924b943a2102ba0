//! What the bus tests share beyond the test kit: patience bounds and revocation builders. Redis
//! servers, the Cluster, prefixes and bounded waits come from `tessera_testkit`.

use std::time::Duration;

use tessera_core::SessionId;
use tessera_core::session::{Revocation, RevocationTarget};
use tokio::sync::broadcast;

/// The longest any test waits for something to happen.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// Recovering from a restart takes the subscriber's backoff (up to 2 s) on top.
pub const RECOVERY_PATIENCE: Duration = Duration::from_secs(10);

/// Shows this crate's debug logs when `TEST_LOG` is set; silent otherwise.
pub fn init_logs() {
    tessera_testkit::init_logs("tessera_state=debug");
}

/// A session revocation with a fresh session id.
pub fn session_revocation(cursor: i64) -> Revocation {
    Revocation {
        cursor,
        target: RevocationTarget::Session(SessionId::new()),
        revoked_at_ms: (1_700_000_000 + cursor) * 1000,
        until: 1_700_000_900 + cursor,
    }
}

/// The next revocation on `receiver`, failing the test after [`PATIENCE`].
pub async fn next_revocation(receiver: &mut broadcast::Receiver<Revocation>) -> Revocation {
    tokio::time::timeout(PATIENCE, receiver.recv())
        .await
        .expect("a revocation arrives in time")
        .expect("the bus is open and the receiver did not lag")
}
