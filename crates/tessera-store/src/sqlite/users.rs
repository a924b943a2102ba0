//! Accounts and password credentials in SQLite.

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use tessera_core::account::{Email, NewUser, Role, User, fold};
use tessera_core::ports::{UserStore, UserWithHash};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;

use super::SqliteStore;
use super::columns::{get, get_roles, get_time, get_uuid, id_text, micros, roles_json};
use crate::UserColumns;
use crate::credential::algorithm_of;
use crate::decode;
use crate::error::store_error;

/// The database clock, for `updated_at` on changes whose port method carries no `now`.
macro_rules! sqlite_now_micros {
    () => {
        "CAST(unixepoch('subsec') * 1000000 AS INTEGER)"
    };
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        user: &NewUser,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        let credential = password_hash
            .map(|phc| algorithm_of(phc).map(|algorithm| (algorithm, phc)))
            .transpose()?;
        // IMMEDIATE takes the write lock up front, so the busy timeout applies to it.
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let created = insert_user(&mut tx, user, credential).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(created)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<UserWithHash>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", phc FROM users \
             LEFT JOIN password_credentials ON password_credentials.user_id = users.id \
             WHERE users.email_key = ?1"
        ))
        .bind(email.key())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_with_hash_from_row).transpose()
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<UserWithHash>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", phc FROM users \
             LEFT JOIN password_credentials ON password_credentials.user_id = users.id \
             WHERE users.id = ?1"
        ))
        .bind(id_text(id.0))
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_with_hash_from_row).transpose()
    }

    async fn set_name(&self, id: UserId, name: Option<&str>) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET name = ?2, name_key = ?3, updated_at = ",
            sqlite_now_micros!(),
            " WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id_text(id.0))
        .bind(name)
        .bind(name.map(fold))
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let algorithm = algorithm_of(password_hash)?;
        let mut writer = self.writer.acquire().await?;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        // Selecting from users makes an unknown id a no-op instead of a foreign-key error.
        // (`WHERE` is required here: SQLite would otherwise read `ON CONFLICT` as a join.)
        sqlx::query(
            "INSERT INTO password_credentials (user_id, algorithm, phc, updated_at) \
             SELECT id, ?2, ?3, ?4 FROM users WHERE id = ?1 \
             ON CONFLICT (user_id) DO UPDATE SET \
             algorithm = excluded.algorithm, phc = excluded.phc, updated_at = excluded.updated_at",
        )
        .bind(id_text(id.0))
        .bind(algorithm)
        .bind(password_hash)
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "UPDATE users SET security_epoch = security_epoch + 1, updated_at = ?2 WHERE id = ?1",
        )
        .bind(id_text(id.0))
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        expected: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let algorithm = algorithm_of(password_hash)?;
        let result = sqlx::query(
            "UPDATE password_credentials SET algorithm = ?3, phc = ?4, updated_at = ?5 \
             WHERE user_id = ?1 AND phc = ?2",
        )
        .bind(id_text(id.0))
        .bind(expected)
        .bind(algorithm)
        .bind(password_hash)
        .bind(micros(now))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_roles(&self, id: UserId, roles: &[Role]) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET roles = ?2, security_epoch = security_epoch + 1, updated_at = ",
            sqlite_now_micros!(),
            " WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id_text(id.0))
        .bind(roles_json(roles))
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET disabled = ?2, security_epoch = security_epoch + 1, updated_at = ",
            sqlite_now_micros!(),
            " WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id_text(id.0))
        .bind(disabled)
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_email(&self, id: UserId, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET email = ?2, email_key = ?3, email_verified = 1, security_epoch = security_epoch + 1, updated_at = ",
            sqlite_now_micros!(),
            " WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id_text(id.0))
        .bind(email.as_str())
        .bind(email.key())
        .fetch_optional(&mut *self.writer.acquire().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Sessions, credentials, identities and passkeys go with the user: ON DELETE CASCADE
        // (the connection turns foreign keys on).
        let result = sqlx::query("DELETE FROM users WHERE id = ?1")
            .bind(id_text(id.0))
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE (?1 IS NULL OR id > ?1) AND (?3 IS NULL OR instr(email_key, ?3) > 0 OR instr(coalesce(name_key, ''), ?3) > 0) ORDER BY id LIMIT ?2"
        ))
        .bind(after.map(|id| id_text(id.0)))
        .bind(i64::from(limit))
        .bind(query.map(fold))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.iter().map(user_from_row).collect()
    }
}

/// Inserts `user` and, when given, their password credential (algorithm, PHC string), on
/// `conn`: the caller's transaction.
pub(super) async fn insert_user(
    conn: &mut SqliteConnection,
    user: &NewUser,
    credential: Option<(&str, &str)>,
) -> Result<User, StoreError> {
    let row = sqlx::query(concat!(
        "INSERT INTO users (id, email, name, roles, email_verified, created_at, updated_at, \
         email_key, name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8) RETURNING ",
        user_columns!()
    ))
    .bind(id_text(user.id.0))
    .bind(user.email.as_str())
    .bind(user.name.as_deref())
    .bind(roles_json(&user.roles))
    .bind(user.email_verified)
    .bind(micros(user.created_at))
    .bind(user.email.key())
    .bind(user.name.as_deref().map(fold))
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)?;
    let created = user_from_row(&row)?;
    if let Some((algorithm, phc)) = credential {
        sqlx::query(
            "INSERT INTO password_credentials (user_id, algorithm, phc, updated_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(id_text(user.id.0))
        .bind(algorithm)
        .bind(phc)
        .bind(micros(user.created_at))
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    Ok(created)
}

pub(super) fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    user_from_columns(row, &UserColumns::PLAIN)
}

/// The user whose fields `row` keeps in `columns`.
pub(super) fn user_from_columns(
    row: &SqliteRow,
    columns: &UserColumns,
) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(get_uuid(row, columns.id)?),
        email: decode::email(&get::<String>(row, columns.email)?)?,
        name: get(row, columns.name)?,
        roles: get_roles(row, columns.roles)?,
        email_verified: get(row, columns.email_verified)?,
        mfa_enabled: get(row, columns.mfa_enabled)?,
        disabled: get(row, columns.disabled)?,
        created_at: get_time(row, columns.created_at)?,
        security_epoch: get(row, columns.security_epoch)?,
    })
}

fn user_with_hash_from_row(row: &SqliteRow) -> Result<UserWithHash, StoreError> {
    Ok(UserWithHash {
        user: user_from_row(row)?,
        password_hash: get(row, "phc")?,
    })
}
