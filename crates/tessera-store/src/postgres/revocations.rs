//! The revocation feed in PostgreSQL.
//!
//! Identity values are drawn when a row is inserted, not when it commits: two writers could
//! commit out of cursor order, and a reader resuming after the higher cursor would never see
//! the lower one. So every transaction that appends takes one advisory lock first, and cursor
//! order is commit order. Revocations are rare; serialising them costs nothing that matters.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Executor, PgConnection, Postgres};
use tessera_core::clock::unix_millis;
use tessera_core::ports::RevocationStore;
use tessera_core::session::{Revocation, RevocationTarget};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;

use super::PgStore;
use super::columns::get;
use crate::decode;
use crate::error::store_error;

/// The advisory lock key of the feed's writers ("tessrevo" in ASCII); held until commit.
const FEED_LOCK: i64 = 0x7465_7373_7265_766f;

#[async_trait]
impl RevocationStore for PgStore {
    async fn record_user_revocation(
        &self,
        user: UserId,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Revocation, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        lock_feed(&mut tx).await?;
        let target = RevocationTarget::User(user);
        let revocation = insert_revocation(&mut *tx, target, unix_millis(now), until).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(revocation)
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
            " FROM revocations WHERE cursor > $1 AND until_at > $2 ORDER BY cursor LIMIT $3"
        ))
        .bind(cursor)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(revocation_from_row).collect()
    }

    async fn latest_cursor(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT coalesce(max(cursor), 0) AS latest FROM revocations")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        get(&row, "latest")
    }

    async fn prune_revocations(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM revocations WHERE cursor IN \
             (SELECT cursor FROM revocations WHERE until_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}

/// Waits until no other transaction can append to the feed before this one commits.
///
/// Take it after the transaction's row locks: a holder then never waits for a row, so two
/// transactions cannot deadlock over it.
pub(super) async fn lock_feed(tx: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(FEED_LOCK)
        .execute(tx)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Appends one entry to the feed; the caller holds [`lock_feed`] in the same transaction.
pub(super) async fn insert_revocation<'c>(
    executor: impl Executor<'c, Database = Postgres>,
    target: RevocationTarget,
    revoked_at_ms: i64,
    until: i64,
) -> Result<Revocation, StoreError> {
    let (session_id, user_id) = decode::target_columns(target);
    let row = sqlx::query(
        "INSERT INTO revocations (session_id, user_id, revoked_at, until_at) \
         VALUES ($1, $2, $3, $4) RETURNING cursor",
    )
    .bind(session_id)
    .bind(user_id)
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

/// A feed entry read back with `revocation_columns!()`.
pub(super) fn revocation_from_row(row: &PgRow) -> Result<Revocation, StoreError> {
    decode::revocation(
        get(row, "cursor")?,
        get(row, "session_id")?,
        get(row, "user_id")?,
        get(row, "revoked_at")?,
        get(row, "until_at")?,
    )
}
