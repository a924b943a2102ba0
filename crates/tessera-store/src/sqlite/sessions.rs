//! Sessions in SQLite. Ending sessions also appends to the revocation feed, in the same
//! transaction.

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::sqlite::SqliteRow;
use tessera_core::account::User;
use tessera_core::clock::unix_millis;
use tessera_core::ports::SessionStore;
use tessera_core::session::{Amr, RefreshState, Revocation, RevocationTarget, Session};
use tessera_core::{SessionId, StoreError, UserId};
use time::OffsetDateTime;

use super::SqliteStore;
use super::columns::{get, get_optional_time, get_time, get_uuid, id_text, micros};
use super::revocations::insert_revocation;
use super::users::user_from_columns;
use crate::UserColumns;
use crate::decode;
use crate::error::store_error;

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session, epoch: i64) -> Result<bool, StoreError> {
        let refresh = &session.refresh;
        // Selecting from the user's row makes the check and the insert one statement.
        let result = sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16 \
             FROM users WHERE id = ?2 AND disabled = 0 AND security_epoch = ?17"
        ))
        .bind(id_text(session.id.0))
        .bind(id_text(session.user_id.0))
        .bind(session.device_name.as_deref())
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .bind(micros(session.created_at))
        .bind(micros(session.last_used_at))
        .bind(micros(session.idle_expires_at))
        .bind(micros(session.absolute_expires_at))
        .bind(decode::generation_column(refresh.generation)?)
        .bind(&refresh.digest)
        .bind(refresh.previous_digest.as_deref())
        .bind(micros(refresh.rotated_at))
        .bind(session.revoked_at.map(micros))
        .bind(session.revoke_reason.as_deref())
        .bind(session.amr.to_string())
        .bind(epoch)
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?1"
        ))
        .bind(id_text(id.0))
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn find_session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        // The subquery names the session's columns once; SQLite flattens it into the join.
        let row = sqlx::query(concat!(
            "SELECT session.*, ",
            joined_user_columns!(),
            " FROM (SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?1) AS session \
             JOIN users ON users.id = session.user_id"
        ))
        .bind(id_text(id.0))
        .fetch_optional(&self.reader)
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
        // One statement: SQLite's single writer makes the check and the write atomic, so of
        // several rotations of the same token exactly one matches the digest, and none after
        // the user changed.
        let row = sqlx::query(concat!(
            "UPDATE sessions SET refresh_generation = ?3, refresh_digest = ?4, \
             previous_refresh_digest = ?5, refresh_rotated_at = ?6, last_used_at = ?8, \
             idle_expires_at = ?7 \
             WHERE id = ?1 AND refresh_digest = ?2 AND revoked_at IS NULL \
             AND idle_expires_at > ?8 AND absolute_expires_at > ?8 \
             AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id \
             AND users.disabled = 0 AND users.security_epoch = ?9) \
             RETURNING ",
            session_columns!()
        ))
        .bind(id_text(id.0))
        .bind(expected_digest)
        .bind(decode::generation_column(next.generation)?)
        .bind(&next.digest)
        .bind(next.previous_digest.as_deref())
        .bind(micros(next.rotated_at))
        .bind(micros(idle_expires_at))
        .bind(micros(now))
        .bind(epoch)
        .fetch_optional(&mut *self.writer.acquire().await?)
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
             WHERE user_id = ?1 AND revoked_at IS NULL \
             AND idle_expires_at > ?2 AND absolute_expires_at > ?2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(id_text(user.0))
        .bind(micros(now))
        .fetch_all(&self.reader)
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
        // IMMEDIATE takes the write lock up front, so the busy timeout applies to it.
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 \
             WHERE id = ?1 AND revoked_at IS NULL",
        )
        .bind(id_text(id.0))
        .bind(micros(now))
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let revocation = if ended.rows_affected() > 0 {
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
             WHERE revoked_at < ?1 OR idle_expires_at < ?1 OR absolute_expires_at < ?1 \
             LIMIT ?2)",
        )
        .bind(micros(ended_before))
        .bind(i64::from(limit))
        .execute(&mut *self.writer.acquire().await?)
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
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        // `IS NOT` is null-safe: with no session to keep, every id differs from NULL.
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = ?4, revoke_reason = ?3 \
             WHERE user_id = ?1 AND revoked_at IS NULL AND id IS NOT ?2 \
             RETURNING id",
        )
        .bind(id_text(user.0))
        .bind(keep.map(|id| id_text(id.0)))
        .bind(reason)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        let mut ended = rows
            .iter()
            .map(|row| get_uuid(row, "id").map(SessionId))
            .collect::<Result<Vec<_>, _>>()?;
        // Feed entries in session-creation order (UUIDv7), whatever order SQLite returned.
        ended.sort_unstable();
        let mut revocations = Vec::with_capacity(ended.len());
        for id in ended {
            let target = RevocationTarget::Session(id);
            revocations.push(insert_revocation(&mut *tx, target, unix_millis(now), until).await?);
        }
        tx.commit().await.map_err(store_error)?;
        Ok(revocations)
    }
}

fn session_from_row(row: &SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: SessionId(get_uuid(row, "id")?),
        user_id: UserId(get_uuid(row, "user_id")?),
        device_name: get(row, "device_name")?,
        user_agent: get(row, "user_agent")?,
        ip: get(row, "ip")?,
        created_at: get_time(row, "created_at")?,
        last_used_at: get_time(row, "last_used_at")?,
        idle_expires_at: get_time(row, "idle_expires_at")?,
        absolute_expires_at: get_time(row, "absolute_expires_at")?,
        refresh: RefreshState {
            generation: decode::generation(get(row, "refresh_generation")?)?,
            digest: get(row, "refresh_digest")?,
            previous_digest: get(row, "previous_refresh_digest")?,
            rotated_at: get_time(row, "refresh_rotated_at")?,
        },
        revoked_at: get_optional_time(row, "revoked_at")?,
        revoke_reason: get(row, "revoke_reason")?,
        amr: Amr::parse(&get::<String>(row, "amr")?),
    })
}
