//! Signing keys in PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use tessera_core::StoreError;
use tessera_core::ports::{KeyStore, StoredKey};
use time::OffsetDateTime;

use super::PgStore;
use super::columns::get;
use crate::error::store_error;

#[async_trait]
impl KeyStore for PgStore {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, sealed_private_key, public_jwk, created_at, retired_at \
             FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn add_signing_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Under READ COMMITTED two instances rotating at once would each miss the other's new
        // key and leave two unretired; this self-conflicting lock serialises rotations only.
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE retired_at IS NULL AND kid <> $1",
        )
        .bind(&key.kid)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO signing_keys \
             (kid, algorithm, sealed_private_key, public_jwk, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.sealed_private_key)
        .bind(&key.public_jwk)
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn prune_signing_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM signing_keys WHERE retired_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}

fn key_from_row(row: &PgRow) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        kid: get(row, "kid")?,
        algorithm: get(row, "algorithm")?,
        sealed_private_key: get(row, "sealed_private_key")?,
        public_jwk: get(row, "public_jwk")?,
        created_at: get(row, "created_at")?,
        retired_at: get(row, "retired_at")?,
    })
}
