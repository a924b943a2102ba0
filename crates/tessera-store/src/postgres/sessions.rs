//! Sessions in PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use tessera_core::ports::SessionStore;
use tessera_core::session::Session;
use tessera_core::{SessionId, StoreError, UserId};
use time::OffsetDateTime;

use super::PgStore;
use super::columns::get;
use crate::error::store_error;

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1 AND revoked_at IS NULL"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionId>, StoreError> {
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
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| get(row, "id").map(SessionId))
            .collect()
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
    })
}
