//! Passkeys (WebAuthn credentials) in PostgreSQL, with the removal that keeps a way in.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use tessera_core::ports::{PasskeyRemoved, PasskeyStore, StoredPasskey};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::columns::get;
use super::users::lock_ways_in;
use crate::error::store_error;

#[async_trait]
impl PasskeyStore for PgStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, credential, name, created_at, \
             last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(passkey.id)
        .bind(passkey.user.0)
        .bind(&passkey.credential_id)
        .bind(&passkey.credential)
        .bind(&passkey.name)
        .bind(passkey.created_at)
        .bind(passkey.last_used_at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn user_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
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
            " FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&self.pool)
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
        // One conditional write: of two logins that read the same credential, the row lock
        // lets one update it, and the other re-checks the condition against its new value.
        let recorded = sqlx::query(
            "UPDATE passkeys SET credential = $3, last_used_at = $4 \
             WHERE id = $1 AND credential = $2",
        )
        .bind(id)
        .bind(previous)
        .bind(credential)
        .bind(at)
        .execute(&self.pool)
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
            "UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2 RETURNING ",
            passkey_columns!()
        ))
        .bind(user.0)
        .bind(id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(passkey_from_row).transpose()
    }

    async fn remove_passkey(&self, user: UserId, id: Uuid) -> Result<PasskeyRemoved, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The same lock as unlinking an identity: of two removals racing for the user's last
        // two ways in, one waits and then sees the other's delete.
        lock_ways_in(&mut tx, user).await?;
        let removed = sqlx::query(concat!(
            "DELETE FROM passkeys WHERE user_id = $1 AND id = $2 \
             AND (EXISTS (SELECT 1 FROM password_credentials WHERE user_id = $1) \
                  OR EXISTS (SELECT 1 FROM identities WHERE user_id = $1) \
                  OR EXISTS (SELECT 1 FROM passkeys AS other \
                             WHERE other.user_id = $1 AND other.id <> $2)) \
             RETURNING ",
            passkey_columns!()
        ))
        .bind(user.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let outcome = match removed {
            Some(row) => PasskeyRemoved::Removed(passkey_from_row(&row)?),
            None => {
                let kept: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1 AND id = $2)",
                )
                .bind(user.0)
                .bind(id)
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

fn passkey_from_row(row: &PgRow) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        id: get(row, "id")?,
        user: UserId(get(row, "user_id")?),
        credential_id: get(row, "credential_id")?,
        credential: get(row, "credential")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}
