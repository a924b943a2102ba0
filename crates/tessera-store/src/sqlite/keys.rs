//! Signing keys in SQLite.

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use tessera_core::StoreError;
use tessera_core::ports::{KeyStore, StoredKey};
use time::OffsetDateTime;

use super::SqliteStore;
use super::columns::{get, get_optional_time, get_time, micros};
use crate::error::store_error;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, sealed_private_key, public_jwk, created_at, signs_at, \
             retired_at, withdrawn_at FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn add_signing_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        // IMMEDIATE serialises rotations across processes: exactly one key stays unretired.
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        retire_others_and_insert(&mut tx, key).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn add_first_signing_key(&self, key: &StoredKey) -> Result<bool, StoreError> {
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let signing: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL AND algorithm = ?1)",
        )
        .bind(&key.algorithm)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        if signing {
            return Ok(false);
        }
        retire_others_and_insert(&mut tx, key).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn withdraw_signing_key(
        &self,
        kid: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE signing_keys SET withdrawn_at = coalesce(withdrawn_at, ?2), \
             retired_at = coalesce(retired_at, ?2) WHERE kid = ?1",
        )
        .bind(kid)
        .bind(micros(at))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn retire_signing_keys(&self, at: OffsetDateTime) -> Result<u64, StoreError> {
        let result =
            sqlx::query("UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL")
                .bind(micros(at))
                .execute(&mut *self.writer.acquire().await?)
                .await
                .map_err(store_error)?;
        Ok(result.rows_affected())
    }

    async fn prune_signing_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM signing_keys WHERE retired_at < ?1")
            .bind(micros(before))
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}

async fn retire_others_and_insert(
    tx: &mut SqliteConnection,
    key: &StoredKey,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE signing_keys SET retired_at = ?2 WHERE retired_at IS NULL AND kid <> ?1")
        .bind(&key.kid)
        .bind(micros(key.signs_at))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    sqlx::query(
        "INSERT INTO signing_keys \
         (kid, algorithm, sealed_private_key, public_jwk, created_at, signs_at, retired_at, \
         withdrawn_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.sealed_private_key)
    .bind(&key.public_jwk)
    .bind(micros(key.created_at))
    .bind(micros(key.signs_at))
    .bind(key.retired_at.map(micros))
    .bind(key.withdrawn_at.map(micros))
    .execute(tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

fn key_from_row(row: &SqliteRow) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        kid: get(row, "kid")?,
        algorithm: get(row, "algorithm")?,
        sealed_private_key: get(row, "sealed_private_key")?,
        public_jwk: get(row, "public_jwk")?,
        created_at: get_time(row, "created_at")?,
        signs_at: get_time(row, "signs_at")?,
        retired_at: get_optional_time(row, "retired_at")?,
        withdrawn_at: get_optional_time(row, "withdrawn_at")?,
    })
}
