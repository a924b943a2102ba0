//! Upstream identities and their sealed provider tokens in SQLite, with the refresh lease.

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::SqliteExecutor;
use sqlx::sqlite::SqliteRow;
use tessera_core::account::{NewUser, User};
use tessera_core::ports::{IdentityStore, StoredIdentity, Unlinked};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::SqliteStore;
use super::columns::{get, get_time, get_uuid, id_text, micros};
use super::users::insert_user;
use crate::error::store_error;

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn find_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredIdentity>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM identities WHERE provider = ?1 AND subject = ?2"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn user_identity(
        &self,
        user: UserId,
        provider: &str,
    ) -> Result<Option<(StoredIdentity, bool)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            identity_columns!(),
            ", (SELECT disabled FROM users WHERE users.id = identities.user_id) AS user_disabled \
             FROM identities WHERE user_id = ?1 AND provider = ?2"
        ))
        .bind(id_text(user.0))
        .bind(provider)
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.as_ref()
            .map(|row| Ok((identity_from_row(row)?, get(row, "user_disabled")?)))
            .transpose()
    }

    async fn user_identities(&self, user: UserId) -> Result<Vec<StoredIdentity>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM identities WHERE user_id = ?1 ORDER BY linked_at, id"
        ))
        .bind(id_text(user.0))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn unlink_unproven(&self, user: UserId) -> Result<Vec<StoredIdentity>, StoreError> {
        let rows = sqlx::query(concat!(
            "DELETE FROM identities WHERE user_id = ?1 AND NOT email_proven RETURNING ",
            identity_columns!()
        ))
        .bind(id_text(user.0))
        .fetch_all(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn link_identity(&self, identity: &StoredIdentity) -> Result<(), StoreError> {
        insert_identity(&mut *self.writer.acquire().await?, identity).await
    }

    async fn create_user_with_identity(
        &self,
        user: &NewUser,
        identity: &StoredIdentity,
    ) -> Result<User, StoreError> {
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let created = insert_user(&mut tx, user, None).await?;
        insert_identity(&mut *tx, identity).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(created)
    }

    async fn unlink_identity(&self, user: UserId, provider: &str) -> Result<Unlinked, StoreError> {
        let id = id_text(user.0);
        // The file's one writer runs this transaction alone, so no other unlink of the user's
        // identities, nor a removal of their passkeys, can remove their other way to log in
        // between the check and the delete.
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let removed = sqlx::query(concat!(
            "DELETE FROM identities WHERE user_id = ?1 AND provider = ?2 \
             AND (EXISTS (SELECT 1 FROM password_credentials WHERE user_id = ?1) \
                  OR EXISTS (SELECT 1 FROM identities AS other \
                             WHERE other.user_id = ?1 AND other.provider <> ?2) \
                  OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1)) \
             RETURNING ",
            identity_columns!()
        ))
        .bind(&id)
        .bind(provider)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let unlinked = match removed {
            Some(row) => Unlinked::Removed(identity_from_row(&row)?),
            None => {
                let kept: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM identities WHERE user_id = ?1 AND provider = ?2)",
                )
                .bind(&id)
                .bind(provider)
                .fetch_one(&mut *tx)
                .await
                .map_err(store_error)?;
                if kept {
                    Unlinked::LastMethod
                } else {
                    Unlinked::NotFound
                }
            }
        };
        tx.commit().await.map_err(store_error)?;
        Ok(unlinked)
    }

    async fn store_login_tokens(
        &self,
        id: Uuid,
        email: Option<&str>,
        sealed_tokens: &[u8],
    ) -> Result<Option<i64>, StoreError> {
        // The lease is left alone: it guards refreshes, and a login's tokens are stored
        // whoever holds it.
        let row = sqlx::query(
            "UPDATE identities SET sealed_tokens = ?2, email = ?3, needs_login = 0, \
             lease_holder = NULL, lease_until = NULL, \
             tokens_version = tokens_version + 1 WHERE id = ?1 RETURNING tokens_version",
        )
        .bind(id_text(id))
        .bind(sealed_tokens)
        .bind(email)
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.map(|row| get(&row, "tokens_version")).transpose()
    }

    async fn take_refresh_lease(
        &self,
        id: Uuid,
        holder: Uuid,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "UPDATE identities SET lease_holder = ?2, lease_until = ?4 \
             WHERE id = ?1 AND (lease_until IS NULL OR lease_until <= ?3)",
        )
        .bind(id_text(id))
        .bind(id_text(holder))
        .bind(micros(now))
        .bind(micros(until))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(taken.rows_affected() == 1)
    }

    async fn finish_refresh(
        &self,
        id: Uuid,
        holder: Uuid,
        sealed_tokens: Option<&[u8]>,
        needs_login: bool,
    ) -> Result<bool, StoreError> {
        let finished = sqlx::query(
            "UPDATE identities SET sealed_tokens = COALESCE(?3, sealed_tokens), \
             needs_login = ?4, tokens_version = tokens_version + 1, \
             lease_holder = NULL, lease_until = NULL \
             WHERE id = ?1 AND lease_holder = ?2",
        )
        .bind(id_text(id))
        .bind(id_text(holder))
        .bind(sealed_tokens)
        .bind(needs_login)
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(finished.rows_affected() == 1)
    }
}

/// Inserts `identity` with no lease; a taken subject or provider is an identity conflict.
async fn insert_identity(
    executor: impl SqliteExecutor<'_>,
    identity: &StoredIdentity,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO identities (id, user_id, provider, subject, email, linked_at, \
         sealed_tokens, tokens_version, needs_login, email_proven) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .bind(id_text(identity.id))
    .bind(id_text(identity.user.0))
    .bind(&identity.provider)
    .bind(&identity.subject)
    .bind(identity.email.as_deref())
    .bind(micros(identity.linked_at))
    .bind(identity.sealed_tokens.as_deref())
    .bind(identity.tokens_version)
    .bind(identity.needs_login)
    .bind(identity.email_proven)
    .execute(executor)
    .await
    .map_err(store_error)?;
    Ok(())
}

fn identity_from_row(row: &SqliteRow) -> Result<StoredIdentity, StoreError> {
    Ok(StoredIdentity {
        id: get_uuid(row, "id")?,
        user: UserId(get_uuid(row, "user_id")?),
        provider: get(row, "provider")?,
        subject: get(row, "subject")?,
        email: get(row, "email")?,
        linked_at: get_time(row, "linked_at")?,
        sealed_tokens: get(row, "sealed_tokens")?,
        tokens_version: get(row, "tokens_version")?,
        needs_login: get(row, "needs_login")?,
        email_proven: get(row, "email_proven")?,
    })
}
