//! Passkeys (WebAuthn credentials) in SQLite, with the removal that keeps a way in.

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::sqlite::SqliteRow;
use tessera_core::ports::{PasskeyRemoved, PasskeyStore, StoredPasskey};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::SqliteStore;
use super::columns::{get, get_optional_time, get_time, get_uuid, id_text, micros};
use crate::error::store_error;

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, credential, name, created_at, \
             last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(id_text(passkey.id))
        .bind(id_text(passkey.user.0))
        .bind(&passkey.credential_id)
        .bind(&passkey.credential)
        .bind(&passkey.name)
        .bind(micros(passkey.created_at))
        .bind(passkey.last_used_at.map(micros))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn user_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id"
        ))
        .bind(id_text(user.0))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.iter().map(passkey_from_row).collect()
    }

    async fn find_passkey(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = ?1"
        ))
        .bind(credential_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.as_ref().map(passkey_from_row).transpose()
    }

    async fn record_passkey_use(
        &self,
        id: Uuid,
        previous: &str,
        credential: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let recorded = sqlx::query(
            "UPDATE passkeys SET credential = ?3, last_used_at = ?4 \
             WHERE id = ?1 AND credential = ?2",
        )
        .bind(id_text(id))
        .bind(previous)
        .bind(credential)
        .bind(micros(at))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(recorded.rows_affected() == 1)
    }

    async fn rename_passkey(
        &self,
        user: UserId,
        id: Uuid,
        name: &str,
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE passkeys SET name = ?3 WHERE user_id = ?1 AND id = ?2 RETURNING ",
            passkey_columns!()
        ))
        .bind(id_text(user.0))
        .bind(id_text(id))
        .bind(name)
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(passkey_from_row).transpose()
    }

    async fn remove_passkey(&self, user: UserId, id: Uuid) -> Result<PasskeyRemoved, StoreError> {
        let (user, id) = (id_text(user.0), id_text(id));
        // The file's one writer runs this transaction alone, so no other removal of the
        // user's passkeys, nor an unlink of their identities, can remove their other way to
        // log in between the check and the delete.
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let removed = sqlx::query(concat!(
            "DELETE FROM passkeys WHERE user_id = ?1 AND id = ?2 \
             AND (EXISTS (SELECT 1 FROM password_credentials WHERE user_id = ?1) \
                  OR EXISTS (SELECT 1 FROM identities WHERE user_id = ?1) \
                  OR EXISTS (SELECT 1 FROM passkeys AS other \
                             WHERE other.user_id = ?1 AND other.id <> ?2)) \
             RETURNING ",
            passkey_columns!()
        ))
        .bind(&user)
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let outcome = match removed {
            Some(row) => PasskeyRemoved::Removed(passkey_from_row(&row)?),
            None => {
                let kept: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1 AND id = ?2)",
                )
                .bind(&user)
                .bind(&id)
                .fetch_one(&mut *tx)
                .await
                .map_err(store_error)?;
                if kept {
                    PasskeyRemoved::LastMethod
                } else {
                    PasskeyRemoved::NotFound
                }
            }
        };
        tx.commit().await.map_err(store_error)?;
        Ok(outcome)
    }
}

fn passkey_from_row(row: &SqliteRow) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        id: get_uuid(row, "id")?,
        user: UserId(get_uuid(row, "user_id")?),
        credential_id: get(row, "credential_id")?,
        credential: get(row, "credential")?,
        name: get(row, "name")?,
        created_at: get_time(row, "created_at")?,
        last_used_at: get_optional_time(row, "last_used_at")?,
    })
}
