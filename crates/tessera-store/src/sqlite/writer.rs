//! The one connection this process writes through.

use std::fmt;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use tessera_core::StoreError;
use tokio::sync::{Mutex, MutexGuard};

use super::ACQUIRE_TIMEOUT;
use crate::error::store_error;

/// The file's one writing connection, held by one statement or transaction at a time in the
/// order they asked (tokio's mutex is fair): writes queue here instead of contending for the
/// file lock, whose busy handler sleeps for milliseconds at a time. Other processes still
/// meet the busy timeout.
///
/// Not a pool of one connection: sqlx's pool tests every connection given back to it with a
/// round trip to the connection's thread before the next caller may have it, and with one
/// writer that round trip stood in line with every write (a refresh's rotation held the file's
/// writer for two round trips instead of one).
#[derive(Clone)]
pub(super) struct Writer {
    connection: Arc<Mutex<SqliteConnection>>,
}

impl Writer {
    pub(super) fn new(connection: SqliteConnection) -> Self {
        Self {
            connection: Arc::new(Mutex::new(connection)),
        }
    }

    /// The connection, once the writes queued before have let go of it; unavailable after
    /// [`ACQUIRE_TIMEOUT`], as a pool's connection would be.
    pub(super) async fn acquire(&self) -> Result<MutexGuard<'_, SqliteConnection>, StoreError> {
        tokio::time::timeout(ACQUIRE_TIMEOUT, self.connection.lock())
            .await
            .map_err(|_| store_error(sqlx::Error::PoolTimedOut))
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Connection as _;
    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_writer_held_past_the_acquire_timeout_makes_the_next_one_unavailable() {
        // Arrange
        let connection = SqliteConnection::connect_with(&SqliteConnectOptions::new())
            .await
            .unwrap();
        let writer = Writer::new(connection);
        let held = writer.acquire().await.unwrap();

        // Act
        let waited = writer.acquire().await;

        // Assert
        assert!(matches!(waited, Err(StoreError::Unavailable(_))));
        drop(held);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(writer.acquire().await.is_ok(), "free again once let go");
    }
}
