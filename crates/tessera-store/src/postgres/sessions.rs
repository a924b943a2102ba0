//! Sessions in PostgreSQL. Ending sessions also appends to the revocation feed, in the same
//! transaction.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use tessera_core::account::User;
use tessera_core::clock::unix_millis;
use tessera_core::ports::SessionStore;
use tessera_core::session::{Amr, RefreshState, Revocation, RevocationTarget, Session};
use tessera_core::{SessionId, StoreError, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::columns::get;
use super::revocations::{insert_revocation, lock_feed, revocation_from_row};
use super::users::user_from_columns;
use crate::UserColumns;
use crate::decode;
use crate::error::store_error;

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, session: &Session, epoch: i64) -> Result<bool, StoreError> {
        let refresh = &session.refresh;
        // The check and the insert are one statement, and the user's row is locked for share:
        // a concurrent change of the user (a new password, a disable) either committed first
        // (the epoch no longer matches: nothing is inserted) or waits until this commits (and
        // then the sessions it ends include this one).
        let result = sqlx::query(concat!(
            "WITH owner AS (SELECT id FROM users \
             WHERE id = $2 AND NOT disabled AND security_epoch = $17 FOR SHARE) \
             INSERT INTO sessions (",
            session_columns!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16 \
             FROM owner"
        ))
        .bind(session.id.0)
        .bind(session.user_id.0)
        .bind(session.device_name.as_deref())
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .bind(session.created_at)
        .bind(session.last_used_at)
        .bind(session.idle_expires_at)
        .bind(session.absolute_expires_at)
        .bind(decode::generation_column(refresh.generation)?)
        .bind(&refresh.digest)
        .bind(refresh.previous_digest.as_deref())
        .bind(refresh.rotated_at)
        .bind(session.revoked_at)
        .bind(session.revoke_reason.as_deref())
        .bind(session.amr.to_string())
        .bind(epoch)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn find_session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        // The subquery names the session's columns once; the planner flattens it into the join.
        let row = sqlx::query(concat!(
            "SELECT session.*, ",
            joined_user_columns!(),
            " FROM (SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1) AS session \
             JOIN users ON users.id = session.user_id"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref()
            .map(|row| {
                Ok((
                    session_from_row(row)?,
                    user_from_columns(row, &UserColumns::JOINED)?,
                ))
            })
            .transpose()
    }

    async fn rotate_refresh(
        &self,
        id: SessionId,
        expected_digest: &str,
        next: &RefreshState,
        idle_expires_at: OffsetDateTime,
        now: OffsetDateTime,
        epoch: i64,
    ) -> Result<Option<Session>, StoreError> {
        // One statement: a concurrent rotation of the same token waits for this row's lock,
        // then re-checks the digest against the committed row and updates nothing.
        let row = sqlx::query(concat!(
            "UPDATE sessions SET refresh_generation = $3, refresh_digest = $4, \
             previous_refresh_digest = $5, refresh_rotated_at = $6, last_used_at = $8, \
             idle_expires_at = $7 \
             WHERE id = $1 AND refresh_digest = $2 AND revoked_at IS NULL \
             AND idle_expires_at > $8 AND absolute_expires_at > $8 \
             AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id \
             AND NOT users.disabled AND users.security_epoch = $9) \
             RETURNING ",
            session_columns!()
        ))
        .bind(id.0)
        .bind(expected_digest)
        .bind(decode::generation_column(next.generation)?)
        .bind(&next.digest)
        .bind(next.previous_digest.as_deref())
        .bind(next.rotated_at)
        .bind(idle_expires_at)
        .bind(now)
        .bind(epoch)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL \
             AND idle_expires_at > $2 AND absolute_expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        reason: &str,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Option<Revocation>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // A concurrent revocation of the same session waits for the row lock, then finds it
        // revoked and changes nothing: one feed entry per session.
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let revocation = if ended.rows_affected() > 0 {
            lock_feed(&mut tx).await?;
            let target = RevocationTarget::Session(id);
            Some(insert_revocation(&mut *tx, target, unix_millis(now), until).await?)
        } else {
            None
        };
        tx.commit().await.map_err(store_error)?;
        Ok(revocation)
    }

    async fn prune_sessions(
        &self,
        ended_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        // In batches, so that no one statement holds the writer for long.
        let result = sqlx::query(
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
             WHERE revoked_at < $1 OR idle_expires_at < $1 OR absolute_expires_at < $1 \
             LIMIT $2)",
        )
        .bind(ended_before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected())
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // `IS DISTINCT FROM` is null-safe: with no session to keep, every id differs from NULL.
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = $4, revoke_reason = $3 \
             WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 \
             RETURNING id",
        )
        .bind(user.0)
        .bind(keep.map(|id| id.0))
        .bind(reason)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        if rows.is_empty() {
            tx.commit().await.map_err(store_error)?;
            return Ok(Vec::new());
        }
        let mut ended = rows
            .iter()
            .map(|row| get::<Uuid>(row, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        // Feed entries in session-creation order (UUIDv7), whatever order the update found.
        ended.sort_unstable();
        lock_feed(&mut tx).await?;
        let rows = sqlx::query(concat!(
            "INSERT INTO revocations (session_id, revoked_at, until_at) \
             SELECT id, $2, $3 FROM unnest($1::uuid[]) WITH ORDINALITY AS ended (id, position) \
             ORDER BY position \
             RETURNING ",
            revocation_columns!()
        ))
        .bind(&ended)
        .bind(unix_millis(now))
        .bind(until)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        let mut revocations = rows
            .iter()
            .map(revocation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING promises no order.
        revocations.sort_unstable_by_key(|revocation| revocation.cursor);
        Ok(revocations)
    }
}

fn session_from_row(row: &PgRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: SessionId(get(row, "id")?),
        user_id: UserId(get(row, "user_id")?),
        device_name: get(row, "device_name")?,
        user_agent: get(row, "user_agent")?,
        ip: get(row, "ip")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
        idle_expires_at: get(row, "idle_expires_at")?,
        absolute_expires_at: get(row, "absolute_expires_at")?,
        refresh: RefreshState {
            generation: decode::generation(get(row, "refresh_generation")?)?,
            digest: get(row, "refresh_digest")?,
            previous_digest: get(row, "previous_refresh_digest")?,
            rotated_at: get(row, "refresh_rotated_at")?,
        },
        revoked_at: get(row, "revoked_at")?,
        revoke_reason: get(row, "revoke_reason")?,
        amr: Amr::parse(&get::<String>(row, "amr")?),
    })
}
