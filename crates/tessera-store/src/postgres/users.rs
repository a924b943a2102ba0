//! Accounts and password credentials in PostgreSQL.

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use tessera_core::account::{Email, NewUser, Role, User, fold};
use tessera_core::ports::{UserStore, UserWithHash};
use tessera_core::{StoreError, UserId};
use time::OffsetDateTime;

use super::PgStore;
use super::columns::{get, get_roles, role_names};
use crate::UserColumns;
use crate::credential::algorithm_of;
use crate::decode;
use crate::error::store_error;

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(
        &self,
        user: &NewUser,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        let credential = password_hash
            .map(|phc| algorithm_of(phc).map(|algorithm| (algorithm, phc)))
            .transpose()?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
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
             WHERE users.email_key = $1"
        ))
        .bind(email.key())
        .fetch_optional(&self.pool)
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
             WHERE users.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_with_hash_from_row).transpose()
    }

    async fn set_name(&self, id: UserId, name: Option<&str>) -> Result<Option<User>, StoreError> {
        // The port carries no `now` here, so `updated_at` comes from the database clock.
        let row = sqlx::query(concat!(
            "UPDATE users SET name = $2, name_key = $3, updated_at = now() WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(name)
        .bind(name.map(fold))
        .fetch_optional(&self.pool)
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
        // Selecting from the updated user makes an unknown id a no-op instead of a
        // foreign-key error, and the new epoch and the new hash one statement.
        sqlx::query(
            "WITH bumped AS (UPDATE users SET security_epoch = security_epoch + 1, \
             updated_at = $4 WHERE id = $1 RETURNING id) \
             INSERT INTO password_credentials (user_id, algorithm, phc, updated_at) \
             SELECT id, $2, $3, $4 FROM bumped \
             ON CONFLICT (user_id) DO UPDATE SET \
             algorithm = excluded.algorithm, phc = excluded.phc, updated_at = excluded.updated_at",
        )
        .bind(id.0)
        .bind(algorithm)
        .bind(password_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
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
            "UPDATE password_credentials SET algorithm = $3, phc = $4, updated_at = $5 \
             WHERE user_id = $1 AND phc = $2",
        )
        .bind(id.0)
        .bind(expected)
        .bind(algorithm)
        .bind(password_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_roles(&self, id: UserId, roles: &[Role]) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET roles = $2, security_epoch = security_epoch + 1, updated_at = now() WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(role_names(roles))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET disabled = $2, security_epoch = security_epoch + 1, updated_at = now() WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(disabled)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_email(&self, id: UserId, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE users SET email = $2, email_key = $3, email_verified = true, security_epoch = security_epoch + 1, updated_at = now() \
             WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(email.as_str())
        .bind(email.key())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Sessions, credentials, identities and passkeys go with the user: ON DELETE CASCADE.
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
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
            " FROM users WHERE ($1::uuid IS NULL OR id > $1) AND ($3::text IS NULL OR strpos(email_key, $3) > 0 OR strpos(coalesce(name_key, ''), $3) > 0) ORDER BY id LIMIT $2"
        ))
        .bind(after.map(|id| id.0))
        .bind(i64::from(limit))
        .bind(query.map(fold))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(user_from_row).collect()
    }
}

/// Inserts `user` and, when given, their password credential (algorithm, PHC string), on
/// `conn`: the caller's transaction.
pub(super) async fn insert_user(
    conn: &mut PgConnection,
    user: &NewUser,
    credential: Option<(&str, &str)>,
) -> Result<User, StoreError> {
    let row = sqlx::query(concat!(
        "INSERT INTO users (id, email, name, roles, email_verified, created_at, updated_at, \
         email_key, name_key) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8) RETURNING ",
        user_columns!()
    ))
    .bind(user.id.0)
    .bind(user.email.as_str())
    .bind(user.name.as_deref())
    .bind(role_names(&user.roles))
    .bind(user.email_verified)
    .bind(user.created_at)
    .bind(user.email.key())
    .bind(user.name.as_deref().map(fold))
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)?;
    let created = user_from_row(&row)?;
    if let Some((algorithm, phc)) = credential {
        sqlx::query(
            "INSERT INTO password_credentials (user_id, algorithm, phc, updated_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user.id.0)
        .bind(algorithm)
        .bind(phc)
        .bind(user.created_at)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    Ok(created)
}

/// Makes the caller's transaction the only one removing a way for `user` to log in (an
/// identity, a passkey) until it ends.
///
/// Two removals of a user's last two ways in would each see the other's in their snapshot
/// and both delete. Locking the user row makes them take turns, and the second one's delete,
/// a new statement, sees the first one's. NO KEY UPDATE: rows referencing the user (new
/// sessions, passkeys) are not held up by it.
pub(super) async fn lock_ways_in(tx: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(user.0)
        .execute(tx)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(super) fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    user_from_columns(row, &UserColumns::PLAIN)
}

/// The user whose fields `row` keeps in `columns`.
pub(super) fn user_from_columns(row: &PgRow, columns: &UserColumns) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(get(row, columns.id)?),
        email: decode::email(get(row, columns.email)?)?,
        name: get(row, columns.name)?,
        roles: get_roles(row, columns.roles)?,
        email_verified: get(row, columns.email_verified)?,
        mfa_enabled: get(row, columns.mfa_enabled)?,
        disabled: get(row, columns.disabled)?,
        created_at: get(row, columns.created_at)?,
        security_epoch: get(row, columns.security_epoch)?,
    })
}

fn user_with_hash_from_row(row: &PgRow) -> Result<UserWithHash, StoreError> {
    Ok(UserWithHash {
        user: user_from_row(row)?,
        password_hash: get(row, "phc")?,
    })
}
