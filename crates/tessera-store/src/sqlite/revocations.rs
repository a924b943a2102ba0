//! The revocation feed in SQLite. SQLite has one writer at a time, so cursors are handed out
//! in commit order and a reader resuming after a cursor never skips an entry.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, Sqlite};
use tessera_core::clock::unix_millis;
use tessera_core::ports::RevocationStore;
use tessera_core::session::{Revocation, RevocationTarget};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;

use super::SqliteStore;
use super::columns::{get, get_optional_uuid, id_text};
use crate::decode;
use crate::error::store_error;

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn record_user_revocation(
        &self,
        user: UserId,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Revocation, StoreError> {
        let target = RevocationTarget::User(user);
        insert_revocation(
            &mut *self.writer.acquire().await?,
            target,
            unix_millis(now),
            until,
        )
        .await
    }

    async fn revocations_after(
        &self,
        cursor: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            revocation_columns!(),
            " FROM revocations WHERE cursor > ?1 AND until_at > ?2 ORDER BY cursor LIMIT ?3"
        ))
        .bind(cursor)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.iter().map(revocation_from_row).collect()
    }

    async fn latest_cursor(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT coalesce(max(cursor), 0) AS latest FROM revocations")
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
        get(&row, "latest")
    }

    async fn prune_revocations(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM revocations WHERE cursor IN \
             (SELECT cursor FROM revocations WHERE until_at <= ?1 LIMIT ?2)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}

/// Appends one entry to the feed (inside the caller's transaction, if any).
pub(super) async fn insert_revocation<'c>(
    executor: impl Executor<'c, Database = Sqlite>,
    target: RevocationTarget,
    revoked_at_ms: i64,
    until: i64,
) -> Result<Revocation, StoreError> {
    let (session_id, user_id) = decode::target_columns(target);
    let row = sqlx::query(
        "INSERT INTO revocations (session_id, user_id, revoked_at, until_at) \
         VALUES (?1, ?2, ?3, ?4) RETURNING cursor",
    )
    .bind(session_id.map(id_text))
    .bind(user_id.map(id_text))
    .bind(revoked_at_ms)
    .bind(until)
    .fetch_one(executor)
    .await
    .map_err(store_error)?;
    Ok(Revocation {
        cursor: get(&row, "cursor")?,
        target,
        revoked_at_ms,
        until,
    })
}

fn revocation_from_row(row: &SqliteRow) -> Result<Revocation, StoreError> {
    decode::revocation(
        get(row, "cursor")?,
        get_optional_uuid(row, "session_id")?,
        get_optional_uuid(row, "user_id")?,
        get(row, "revoked_at")?,
        get(row, "until_at")?,
    )
}
