//! Two-factor credentials in SQLite.

use async_trait::async_trait;
use sqlx::Connection as _;
use tessera_core::ports::{MfaStore, StoredTotp};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;

use super::SqliteStore;
use super::columns::{get, get_optional_time, id_text, micros};
use crate::error::store_error;

#[async_trait]
impl MfaStore for SqliteStore {
    async fn totp(&self, user: UserId) -> Result<Option<StoredTotp>, StoreError> {
        let row = sqlx::query(
            "SELECT sealed_secret, confirmed_at, last_step FROM totp_credentials WHERE user_id = ?1",
        )
        .bind(id_text(user.0))
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(|row| {
            Ok(StoredTotp {
                sealed_secret: get(&row, "sealed_secret")?,
                confirmed: get_optional_time(&row, "confirmed_at")?.is_some(),
                last_step: get(&row, "last_step")?,
            })
        })
        .transpose()
    }

    async fn put_pending_totp(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let written = sqlx::query(
            "INSERT INTO totp_credentials (user_id, sealed_secret, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
             created_at = excluded.created_at, last_step = -1 \
             WHERE totp_credentials.confirmed_at IS NULL",
        )
        .bind(id_text(user.0))
        .bind(sealed_secret)
        .bind(micros(now))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(written.rows_affected() == 1)
    }

    async fn confirm_totp(
        &self,
        user: UserId,
        step: i64,
        recovery_digests: &[String],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = id_text(user.0);
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let confirmed = sqlx::query(
            "UPDATE totp_credentials SET confirmed_at = ?2, last_step = ?3 \
             WHERE user_id = ?1 AND confirmed_at IS NULL",
        )
        .bind(&id)
        .bind(micros(now))
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if confirmed.rows_affected() != 1 {
            return Ok(false);
        }
        replace_codes(&mut tx, &id, recovery_digests).await?;
        sqlx::query("UPDATE users SET mfa_enabled = 1, updated_at = ?2 WHERE id = ?1")
            .bind(&id)
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> Result<bool, StoreError> {
        let accepted = sqlx::query(
            "UPDATE totp_credentials SET last_step = ?2 \
             WHERE user_id = ?1 AND confirmed_at IS NOT NULL AND last_step < ?2",
        )
        .bind(id_text(user.0))
        .bind(step)
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(accepted.rows_affected() == 1)
    }

    async fn spend_recovery_code(&self, user: UserId, digest: &str) -> Result<bool, StoreError> {
        let spent = sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?1 AND digest = ?2")
            .bind(id_text(user.0))
            .bind(digest)
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(store_error)?;
        Ok(spent.rows_affected() == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: &[String],
    ) -> Result<(), StoreError> {
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        replace_codes(&mut tx, &id_text(user.0), digests).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn remove_totp(&self, user: UserId) -> Result<bool, StoreError> {
        let id = id_text(user.0);
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let removed = sqlx::query("DELETE FROM totp_credentials WHERE user_id = ?1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(concat!(
            "UPDATE users SET mfa_enabled = 0, updated_at = ",
            "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
            " WHERE id = ?1"
        ))
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(removed.rows_affected() == 1)
    }
}

async fn replace_codes(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    digests: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    for digest in digests {
        sqlx::query("INSERT INTO recovery_codes (user_id, digest) VALUES (?1, ?2)")
            .bind(id)
            .bind(digest)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}
