//! The traits the core needs from storage. Adapters live in `tessera-store`.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{Email, NewUser, Role, User};
use crate::session::Session;
use crate::{SessionId, StoreError, UserId};

/// A user with their password hash, for login.
#[derive(Debug, Clone)]
pub struct UserWithHash {
    /// The user.
    pub user: User,
    /// PHC string, or `None` for accounts without a password.
    pub password_hash: Option<String>,
}

/// Accounts and their passwords.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user with a password hash; [`crate::Conflict::Email`] if the email is taken.
    async fn create_user(
        &self,
        user: &NewUser,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError>;
    /// The user with `email` and their hash.
    async fn find_by_email(&self, email: &Email) -> Result<Option<UserWithHash>, StoreError>;
    /// The user with `id` and their hash.
    async fn find_by_id(&self, id: UserId) -> Result<Option<UserWithHash>, StoreError>;
    /// Replaces the display name; `None` if there is no such user.
    async fn set_name(&self, id: UserId, name: Option<&str>) -> Result<Option<User>, StoreError>;
    /// Replaces the password hash.
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Replaces the roles; `None` if there is no such user.
    async fn set_roles(&self, id: UserId, roles: &[Role]) -> Result<Option<User>, StoreError>;
    /// Sets or clears `disabled`; `None` if there is no such user.
    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<Option<User>, StoreError>;
    /// Deletes the user with their sessions; false if there was none.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
    /// Users in id order after `after`, at most `limit`.
    async fn list_users(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>, StoreError>;
}

/// Sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    /// The live (not revoked) session with `id`.
    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;
    /// Ends every live session of `user` except `keep`; returns the ids ended.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionId>, StoreError>;
}

/// A signing key as stored: the private half sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm name: `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// PKCS#8 DER of the private key, sealed with the kid as context.
    pub sealed_private_key: Vec<u8>,
    /// The public JWK, as JSON.
    pub public_jwk: String,
    /// When the key was made; the newest unretired key signs.
    pub created_at: OffsetDateTime,
    /// When a newer key replaced it; it verifies until tokens it signed have expired.
    pub retired_at: Option<OffsetDateTime>,
}

/// Signing keys shared by every instance.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Adds `key` and retires every other unretired key at `key.created_at`.
    async fn add_signing_key(&self, key: &StoredKey) -> Result<(), StoreError>;
    /// Deletes keys retired before `before`.
    async fn prune_signing_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Liveness of the backing database.
#[async_trait]
pub trait Health: Send + Sync {
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
