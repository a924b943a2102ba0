//! The SQLite store: the embedded default, one file in WAL mode shared by every process
//! that opens it. SQL for SQLite lives only under this module.

mod audit;
mod columns;
mod identities;
mod keys;
mod mail;
mod mfa;
mod passkeys;
mod revocations;
mod sessions;
mod users;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use tessera_core::StoreError;
use tessera_core::ports::Health;

use crate::OpenError;
use crate::error::store_error;
use crate::location::mask_url_password;
use writer::Writer;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Readers run alongside the writer (WAL) and each other.
const READER_CONNECTIONS: u32 = 4;
/// How long a writer waits for another (including another process) to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is waited for no longer than a writer waits for the lock, plus slack.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(6);
/// The pause between attempts to open a file another process is switching to WAL.
const BUSY_RETRY: Duration = Duration::from_millis(20);

/// Users, sessions, keys and the revocation feed in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Every statement that writes, transactions included (SQLite allows one writer at a
    /// time, so this process writes through one connection).
    writer: Writer,
    /// Statements that only read.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and applies pending migrations.
    pub async fn open_file(path: &Path) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open(options, path.display().to_string()).await
    }

    /// Opens (creating if missing) the database named by a `sqlite:` URL and applies pending
    /// migrations.
    pub async fn open_url(url: &str) -> Result<Self, OpenError> {
        let options =
            SqliteConnectOptions::from_str(url).map_err(|source| OpenError::InvalidUrl {
                url: mask_url_password(url),
                source: Box::new(source),
            })?;
        Self::open(options, mask_url_password(url)).await
    }

    async fn open(options: SqliteConnectOptions, target: String) -> Result<Self, OpenError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable in WAL mode except for the last commits on power loss.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let connect_error = |source| OpenError::Connect {
            target: target.clone(),
            source: Box::new(source),
        };
        // The writer first: it creates the file and switches it to WAL before readers open.
        let mut writer = busy_retried(|| SqliteConnection::connect_with(&options))
            .await
            .map_err(connect_error)?;
        migrate(&mut writer)
            .await
            .map_err(|source| OpenError::Migrate {
                target: target.clone(),
                source: Box::new(source),
            })?;
        let reader = busy_retried(|| reader_pool(options.clone()))
            .await
            .map_err(connect_error)?;
        tracing::info!(database = %target, "sqlite database ready, migrations applied");
        Ok(Self {
            writer: Writer::new(writer),
            reader,
        })
    }
}

#[async_trait]
impl Health for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// SQLite's own checkpoints, after commits, are passive: they copy the log's pages into
    /// the database but, while reads never stop, never find the moment no reader is using the
    /// log, so every commit appends and the log only grows (100 MiB in five seconds of refreshes
    /// at full speed, for a database of 300 KiB). Past [`WAL_FRAME_LIMIT`], a truncating
    /// checkpoint waits for the readers of old pages (statements take micro- to
    /// milliseconds), lets the next write start the log over, and gives the file's space
    /// back. It holds the one writer connection meanwhile, so writes wait rather than fail.
    async fn upkeep(&self) -> Result<(), StoreError> {
        let mut writer = self.writer.acquire().await?;
        let (_busy, frames, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut *writer)
                .await
                .map_err(store_error)?;
        if frames > WAL_FRAME_LIMIT {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *writer)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

/// Pages the write-ahead log may hold before [`Health::upkeep`] starts it over: 16 MiB of
/// SQLite's 4 KiB pages, four times what its own checkpoints aim for.
const WAL_FRAME_LIMIT: i64 = 4096;

/// Opens with `open`, retrying while the file is busy. Switching a new file to WAL takes an
/// exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy handler, to a
/// connection that holds a read lock and would otherwise deadlock with the switching one; so
/// processes opening a new database together can fail here although nothing is wrong.
async fn busy_retried<T, Opened>(mut open: impl FnMut() -> Opened) -> Result<T, sqlx::Error>
where
    Opened: Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match open().await {
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
                tokio::time::sleep(BUSY_RETRY).await;
            }
            opened => return opened,
        }
    }
}

async fn reader_pool(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    SqlitePoolOptions::new()
        .max_connections(READER_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // An embedded database's connection cannot go stale, and the check sqlx makes by
        // default is a round trip to the connection's thread before every statement: with
        // the statement's own, it was most of a refresh's thread switches.
        .test_before_acquire(false)
        .connect_with(options)
        .await
}

/// SQLITE_BUSY, in any of its extended forms (the primary code is the low byte).
fn is_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

async fn migrate(conn: &mut SqliteConnection) -> Result<(), MigrateError> {
    // sqlx takes no migration lock on SQLite. Holding the write lock for the whole run makes a
    // second process wait (busy timeout), then find every migration applied. sqlx runs each
    // migration in a savepoint inside this transaction.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    // `run_direct` rather than `run`: `run`'s `Acquire` bound makes this future fail the
    // `Send` check ("Acquire is not general enough"), so `open` could not be spawned.
    // sqlx's own test harness calls it for the same reason.
    MIGRATOR.run_direct(None, &mut *tx, false).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_len(database: &Path) -> u64 {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |meta| meta.len())
    }

    #[tokio::test]
    async fn upkeep_starts_over_a_log_that_a_reader_kept_growing() {
        // Arrange: a reader holding a snapshot while 20 MiB are written, as overlapping reads
        // under load do, so that no checkpoint of SQLite's own can start the log over.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.db");
        let store = SqliteStore::open_file(&file).await.unwrap();
        let options = SqliteConnectOptions::new().filename(&file);
        let mut reader = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
        sqlx::query("SELECT count(*) FROM users")
            .fetch_one(&mut reader)
            .await
            .unwrap();
        let mut writer = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE ballast (data BLOB)")
            .execute(&mut writer)
            .await
            .unwrap();
        for _ in 0..5 {
            sqlx::query("INSERT INTO ballast VALUES (zeroblob(4 * 1024 * 1024))")
                .execute(&mut writer)
                .await
                .unwrap();
        }
        sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
        let grown = wal_len(&file);

        // Act
        store.upkeep().await.unwrap();

        // Assert
        assert!(grown > 16 * 1024 * 1024, "the log grew to {grown} bytes");
        assert_eq!(wal_len(&file), 0, "upkeep truncated the log");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ballast")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!(rows, 5, "nothing written was lost");
    }
}
