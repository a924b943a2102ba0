//! The mail outbox and one-time codes in SQLite.

use async_trait::async_trait;
use tessera_core::account::User;
use tessera_core::ports::{MailStore, QueuedMail};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::SqliteStore;
use super::columns::{get, get_uuid, id_text, micros};
use super::users::user_from_row;
use crate::error::store_error;

#[async_trait]
impl MailStore for SqliteStore {
    async fn enqueue_mail(
        &self,
        id: Uuid,
        kind: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_outbox (id, kind, payload, due_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?4)",
        )
        .bind(id_text(id))
        .bind(kind)
        .bind(payload)
        .bind(micros(now))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        // Most rounds find nothing: ask a reader first, so an idle outbox never takes the
        // write lock that logins and refreshes queue for.
        let due: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM mail_outbox \
             WHERE due_at <= ?1 AND (leased_until IS NULL OR leased_until <= ?1))",
        )
        .bind(micros(now))
        .fetch_one(&self.reader)
        .await
        .map_err(store_error)?;
        if !due {
            return Ok(Vec::new());
        }
        // One statement on the one writer: the processes sharing the file take turns on its
        // lock, so an entry is held by one of them at a time.
        let rows = sqlx::query(
            "UPDATE mail_outbox SET leased_until = ?2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM mail_outbox \
                          WHERE due_at <= ?1 AND (leased_until IS NULL OR leased_until <= ?1) \
                          ORDER BY due_at LIMIT ?3) \
             RETURNING id, kind, payload, attempts",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(QueuedMail {
                    id: get_uuid(row, "id")?,
                    kind: get(row, "kind")?,
                    payload: get(row, "payload")?,
                    attempts: u32::try_from(get::<i64>(row, "attempts")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn finish_mail(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM mail_outbox WHERE id = ?1")
            .bind(id_text(id))
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn retry_mail(&self, id: Uuid, retry_at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE mail_outbox SET due_at = ?2, leased_until = NULL WHERE id = ?1")
            .bind(id_text(id))
            .bind(micros(retry_at))
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn put_code(
        &self,
        digest: &str,
        purpose: &str,
        user: UserId,
        detail: Option<&str>,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO one_time_codes (digest, purpose, user_id, detail, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(digest)
        .bind(purpose)
        .bind(id_text(user.0))
        .bind(detail)
        .bind(micros(expires_at))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn take_code(
        &self,
        digest: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(UserId, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM one_time_codes WHERE digest = ?1 AND purpose = ?2 AND expires_at > ?3 \
             RETURNING user_id, detail",
        )
        .bind(digest)
        .bind(purpose)
        .bind(micros(now))
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.map(|row| Ok((UserId(get_uuid(&row, "user_id")?), get(&row, "detail")?)))
            .transpose()
    }

    async fn mark_email_verified(&self, user: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET email_verified = 1, updated_at = ",
            "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
            " WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id_text(user.0))
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }
}
