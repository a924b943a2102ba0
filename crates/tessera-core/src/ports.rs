//! The traits the core needs from storage. Adapters live in `tessera-store`.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{Email, NewUser, Role, User};
use crate::grant::{AccessToken, IssueError};
use crate::session::{RefreshState, Revocation, Session};
use crate::{SessionId, StateError, StoreError, UserId};

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
    /// Replaces the password hash (a new password: the security epoch changes).
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Replaces the hash `expected` with `password_hash`, a stronger hash of the same password
    /// (the epoch stays), only if the stored hash is still `expected`: an upgrade at login
    /// never overwrites a password changed meanwhile. Whether it was replaced.
    async fn upgrade_password_hash(
        &self,
        id: UserId,
        expected: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Replaces the roles; `None` if there is no such user.
    async fn set_roles(&self, id: UserId, roles: &[Role]) -> Result<Option<User>, StoreError>;
    /// Sets or clears `disabled`; `None` if there is no such user.
    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<Option<User>, StoreError>;
    /// Replaces the email with a verified `email`; [`crate::Conflict::Email`] if another
    /// account has it, `None` if there is no such user.
    async fn set_email(&self, id: UserId, email: &Email) -> Result<Option<User>, StoreError>;
    /// Deletes the user with their sessions; false if there was none.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
    /// Users in id order after `after`, at most `limit`; with `query`, only those whose email
    /// or name contains it, ignoring case.
    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
}

/// Sessions and their refresh-token chains.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session if its user is enabled and their security epoch is still
    /// `epoch` (in the same statement); whether it was recorded.
    async fn create_session(&self, session: &Session, epoch: i64) -> Result<bool, StoreError>;
    /// The session with `id`, whatever its state.
    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;
    /// The session with `id` and its user, in one read (the refresh path).
    async fn find_session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError>;
    /// Rotates the refresh token if and only if the session is live at `now`, its current
    /// digest is still `expected_digest` and its user is enabled with security epoch `epoch`;
    /// atomically, so concurrent rotations of one token cannot both succeed. Sets the previous
    /// digest to `expected_digest`, `last_used_at` to `now` and the idle expiry to
    /// `idle_expires_at`. `None` when the condition failed.
    async fn rotate_refresh(
        &self,
        id: SessionId,
        expected_digest: &str,
        next: &RefreshState,
        idle_expires_at: OffsetDateTime,
        now: OffsetDateTime,
        epoch: i64,
    ) -> Result<Option<Session>, StoreError>;
    /// Live sessions of `user` at `now` (not revoked, not expired), newest first.
    async fn list_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError>;
    /// Ends the session if it is not ended yet and records the revocation in the feed, in one
    /// transaction; `None` if there was no unrevoked session with `id`.
    async fn revoke_session(
        &self,
        id: SessionId,
        reason: &str,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Option<Revocation>, StoreError>;
    /// Deletes up to `limit` sessions that ended (revoked, or past their idle or absolute
    /// expiry) before `ended_before`; how many.
    async fn prune_sessions(
        &self,
        ended_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
    /// Ends every unrevoked session of `user` except `keep`, recording one feed entry each.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Vec<Revocation>, StoreError>;
}

/// The revocation feed: every instance and resource server rebuilds its deny-set from it.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records that every token of `user` issued up to `now` (to the millisecond) is revoked.
    async fn record_user_revocation(
        &self,
        user: UserId,
        now: OffsetDateTime,
        until: i64,
    ) -> Result<Revocation, StoreError>;
    /// Entries with a cursor above `cursor` whose `until` is after `now`, oldest first.
    async fn revocations_after(
        &self,
        cursor: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<Revocation>, StoreError>;
    /// The highest cursor recorded so far (0 for an empty feed): where a live-only reader
    /// starts.
    async fn latest_cursor(&self) -> Result<i64, StoreError>;
    /// Deletes up to `limit` entries whose `until` is at or before `now`; how many.
    async fn prune_revocations(&self, now: i64, limit: u32) -> Result<u64, StoreError>;
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
    /// When the key was made (and published).
    pub created_at: OffsetDateTime,
    /// When it starts signing: the key with the latest `signs_at` not in the future signs.
    pub signs_at: OffsetDateTime,
    /// When a newer key took over signing; it verifies until tokens it signed have expired.
    pub retired_at: Option<OffsetDateTime>,
    /// When an operator withdrew it as compromised: unpublished, and its tokens refused.
    pub withdrawn_at: Option<OffsetDateTime>,
}

/// Signing keys shared by every instance.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Adds `key` and retires every other unretired key at `key.signs_at`.
    async fn add_signing_key(&self, key: &StoredKey) -> Result<(), StoreError>;
    /// Adds `key` as [`add_signing_key`](Self::add_signing_key) does, unless an unretired key
    /// of `key.algorithm` exists (another instance starting at the same time made one first);
    /// whether it was added. Checked and added atomically, so instances starting at once on an
    /// empty database all end up signing with the same key.
    async fn add_first_signing_key(&self, key: &StoredKey) -> Result<bool, StoreError>;
    /// Deletes keys retired before `before`.
    async fn prune_signing_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
    /// Withdraws key `kid` at `at` (retiring it then too, if it was not); false when there is
    /// no such key.
    async fn withdraw_signing_key(&self, kid: &str, at: OffsetDateTime)
    -> Result<bool, StoreError>;
    /// Retires every unretired key at `at` (signing moved to a shared secret).
    async fn retire_signing_keys(&self, at: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Liveness of the backing database.
#[async_trait]
pub trait Health: Send + Sync {
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Housekeeping the database needs from its client, run every few seconds: the embedded
    /// database keeps its write-ahead log bounded. Nothing by default.
    async fn upkeep(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Carries revocations to every instance at once (in-process, or Redis pub/sub). Delivery is
/// best effort and at least once: the database feed is the record, and instances also read it
/// back periodically, so a missed message heals by itself.
#[async_trait]
pub trait RevocationBus: Send + Sync {
    /// Tells every instance (this one included) about revocations already recorded.
    async fn publish(&self, revocations: &[Revocation]) -> Result<(), StateError>;
    /// Revocations published by any instance from now on.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Revocation>;
    /// Succeeds when the backend answers.
    async fn ping(&self) -> Result<(), StateError>;
}

/// One administrative action, for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Event id.
    pub id: uuid::Uuid,
    /// When.
    pub at: OffsetDateTime,
    /// Who acted; `None` for the command line.
    pub actor: Option<UserId>,
    /// What was done, e.g. `user.update`.
    pub action: String,
    /// What it was done to, e.g. a user id.
    pub target: Option<String>,
    /// Details as a JSON object.
    pub detail: Option<serde_json::Value>,
}

/// The audit trail: data, not logs.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `event`.
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
}

/// Short-lived values that can be taken once, shared by every instance (WebSocket tickets and,
/// later, other one-time codes). In-process or Redis.
#[async_trait]
pub trait SingleUseStore: Send + Sync {
    /// Keeps `value` under `key` for `ttl`.
    async fn put(&self, key: &str, value: &str, ttl: std::time::Duration)
    -> Result<(), StateError>;
    /// Removes and returns the value under `key`; whoever asks second, on any instance, gets
    /// `None`.
    async fn take(&self, key: &str) -> Result<Option<String>, StateError>;
}

/// Signs access tokens for sessions (`tessera-token`'s key ring). Only the grant path calls it.
pub trait TokenIssuer: Send + Sync {
    /// A new access token for `user` in `session`; it never outlives the session.
    fn issue(&self, user: &User, session: &Session) -> Result<AccessToken, IssueError>;
}

/// The revocations this instance's token checks refuse: the same deny-set resource servers
/// keep (`tessera-verify`), fed with every revocation this instance learns of.
pub trait DenyList: Send + Sync {
    /// Refuses from now on every token `revocation` covers; `now` is seconds since the Unix
    /// epoch. Applying the same revocation twice changes nothing.
    fn apply(&self, revocation: &Revocation, now: i64);
    /// Forgets revocations whose tokens have all expired by `now`.
    fn purge(&self, now: i64);
}

/// Rate-limit counters shared by every instance (in-process, or Redis).
#[async_trait]
pub trait RateCounter: Send + Sync {
    /// Spends one unit of `quota` under `key` if one is left ([`crate::limits::gcra`]): the
    /// check and the spending are one atomic step on every instance.
    async fn spend(
        &self,
        key: &str,
        quota: crate::limits::Quota,
    ) -> Result<crate::limits::Outcome, StateError>;
    /// Gives `key` its whole quota back.
    async fn clear(&self, key: &str) -> Result<(), StateError>;
}

/// A user's TOTP credential as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotp {
    /// The secret, sealed under the master key with the user id as context.
    pub sealed_secret: Vec<u8>,
    /// Whether setup was confirmed with a code: only then does login ask for one.
    pub confirmed: bool,
    /// The last time step accepted; a code of this step or an earlier one is a replay.
    pub last_step: i64,
}

/// Two-factor credentials: TOTP secrets and recovery-code digests. Every check that spends
/// something (a time step, a recovery code) is one conditional write, so two instances can
/// never both accept it.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's TOTP credential, confirmed or not.
    async fn totp(&self, user: UserId) -> Result<Option<StoredTotp>, StoreError>;
    /// Stores a new unconfirmed secret, replacing an unconfirmed one; false (and nothing
    /// changes) when a confirmed one exists.
    async fn put_pending_totp(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Confirms the pending secret with the code of `step`, stores the recovery codes and turns
    /// `mfa_enabled` on, in one transaction; false when there is no pending secret.
    async fn confirm_totp(
        &self,
        user: UserId,
        step: i64,
        recovery_digests: &[String],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Records `step` as accepted if it is later than the last accepted one; false for a
    /// replay (on any instance).
    async fn accept_totp_step(&self, user: UserId, step: i64) -> Result<bool, StoreError>;
    /// Spends one of the user's recovery codes; false when it is not one of them (any more).
    async fn spend_recovery_code(&self, user: UserId, digest: &str) -> Result<bool, StoreError>;
    /// Replaces the recovery codes.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: &[String],
    ) -> Result<(), StoreError>;
    /// Removes TOTP and the recovery codes and turns `mfa_enabled` off; false when there was
    /// nothing to remove.
    async fn remove_totp(&self, user: UserId) -> Result<bool, StoreError>;
}

/// A mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// Entry id.
    pub id: uuid::Uuid,
    /// What it asks for (`verify_email`, `password_reset`).
    pub kind: String,
    /// Its details as JSON.
    pub payload: String,
    /// Sending attempts so far, this one included.
    pub attempts: u32,
}

/// The mail outbox and the one-time codes mail links carry. Claiming is one conditional write
/// with a lease, so with several instances each entry is taken by one of them at a time.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Adds an entry due at `now`.
    async fn enqueue_mail(
        &self,
        id: uuid::Uuid,
        kind: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Takes up to `limit` due entries that nobody holds, holding them until `lease_until`
    /// and counting the attempt.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError>;
    /// Removes a sent (or abandoned) entry.
    async fn finish_mail(&self, id: uuid::Uuid) -> Result<(), StoreError>;
    /// Releases an entry whose attempt failed, due again at `retry_at`.
    async fn retry_mail(&self, id: uuid::Uuid, retry_at: OffsetDateTime) -> Result<(), StoreError>;
    /// Stores a one-time code by its digest, for `purpose`, with `detail` (what it carries
    /// besides its user), until `expires_at`.
    async fn put_code(
        &self,
        digest: &str,
        purpose: &str,
        user: UserId,
        detail: Option<&str>,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Spends the code with `digest` for `purpose` if it is unexpired at `now`: its user and
    /// detail, once.
    async fn take_code(
        &self,
        digest: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(UserId, Option<String>)>, StoreError>;
    /// Marks the user's email verified; the user, or `None` if there is none.
    async fn mark_email_verified(&self, user: UserId) -> Result<Option<User>, StoreError>;
}

/// An upstream identity linked to a user, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdentity {
    /// Row id: the context the tokens are sealed under.
    pub id: uuid::Uuid,
    /// The user it signs in.
    pub user: UserId,
    /// The provider's configured name.
    pub provider: String,
    /// The provider's id of the account; unique per provider.
    pub subject: String,
    /// The email the provider gave at the last login, as given.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: OffsetDateTime,
    /// The provider's tokens ([`crate::social::ProviderTokens`] as JSON), sealed under the
    /// master key with the row id as context; `None` before the first tokens are stored.
    pub sealed_tokens: Option<Vec<u8>>,
    /// Counts every replacement of the tokens: a waiter sees a refresh land by its change.
    pub tokens_version: i64,
    /// The provider refused the refresh token: only a new login through it brings tokens back.
    pub needs_login: bool,
    /// Whether the account's address was proven when the identity was linked: the provider
    /// vouched for it, or the account had verified it. An unproven link could have been made by
    /// anyone claiming the address, so it ends when the address's owner proves it by mail.
    pub email_proven: bool,
}

/// Why an identity was not unlinked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinked {
    /// It was removed; here it is as it was.
    Removed(StoredIdentity),
    /// It is the user's last way to log in (no password, no other identity, no passkey).
    LastMethod,
    /// The user has no identity of that provider.
    NotFound,
}

/// Upstream identities and their sealed provider tokens. The vault's refresh is guarded by a
/// lease on the row: taking it and storing under it are conditional writes, so on every
/// instance at most one refresh of an identity runs, and a holder whose lease ran out cannot
/// overwrite what its successor stored.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The identity of `provider` with `subject`.
    async fn find_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredIdentity>, StoreError>;
    /// The user's identity of `provider`, and whether the user is disabled (one read: the
    /// vault's hit path).
    async fn user_identity(
        &self,
        user: UserId,
        provider: &str,
    ) -> Result<Option<(StoredIdentity, bool)>, StoreError>;
    /// The user's identities, oldest link first.
    async fn user_identities(&self, user: UserId) -> Result<Vec<StoredIdentity>, StoreError>;
    /// Links `identity` to its user; [`crate::Conflict::Identity`] when the (provider,
    /// subject) pair or the user's link to that provider exists.
    async fn link_identity(&self, identity: &StoredIdentity) -> Result<(), StoreError>;
    /// Creates `user` without a password and links `identity` to them, in one transaction;
    /// [`crate::Conflict::Email`] or [`crate::Conflict::Identity`] and nothing is written.
    async fn create_user_with_identity(
        &self,
        user: &NewUser,
        identity: &StoredIdentity,
    ) -> Result<User, StoreError>;
    /// Removes the user's identity of `provider` unless it is their last way to log in (no
    /// password, no other identity, no passkey), checked and removed in one statement.
    async fn unlink_identity(&self, user: UserId, provider: &str) -> Result<Unlinked, StoreError>;
    /// Removes the user's identities linked while their address was unproven; those removed.
    async fn unlink_unproven(&self, user: UserId) -> Result<Vec<StoredIdentity>, StoreError>;
    /// Stores the tokens of a new login (and its email), clearing `needs_login` and ending any
    /// refresh lease (a refresh begun before the login must not store over it); the new tokens
    /// version, or `None` if the identity is gone.
    async fn store_login_tokens(
        &self,
        id: uuid::Uuid,
        email: Option<&str>,
        sealed_tokens: &[u8],
    ) -> Result<Option<i64>, StoreError>;
    /// Takes the refresh lease of identity `id` for `holder` until `until`, if nobody holds
    /// an unexpired one at `now`; whether it was taken.
    async fn take_refresh_lease(
        &self,
        id: uuid::Uuid,
        holder: uuid::Uuid,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Ends `holder`'s lease: stores `sealed_tokens` (when given) and `needs_login`, and
    /// counts a new tokens version, only if `holder` still holds the lease; whether it did.
    async fn finish_refresh(
        &self,
        id: uuid::Uuid,
        holder: uuid::Uuid,
        sealed_tokens: Option<&[u8]>,
        needs_login: bool,
    ) -> Result<bool, StoreError>;
}

/// A user's passkey (a WebAuthn credential), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Row id: how the API names it.
    pub id: uuid::Uuid,
    /// The user it signs in.
    pub user: UserId,
    /// The id the authenticator names the credential by (raw bytes); unique across users.
    pub credential_id: Vec<u8>,
    /// The credential as the WebAuthn library keeps it (JSON: public key, algorithm, signature
    /// counter, backup flags). Public data: nothing in it signs anything.
    pub credential: String,
    /// The name the user gave it.
    pub name: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last signed in, if it has.
    pub last_used_at: Option<OffsetDateTime>,
}

/// What removing a passkey did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyRemoved {
    /// It was removed; here it is as it was.
    Removed(StoredPasskey),
    /// It is the user's last way to log in (no password, no identity, no other passkey).
    LastMethod,
    /// The user has no passkey with that id.
    NotFound,
}

/// Passkeys. A login stores the credential's new signature counter only over the one it read,
/// so of two logins that raced with the same counter, one loses.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Adds `passkey`; [`crate::Conflict::Passkey`] when its credential id is registered
    /// already, and nothing is written.
    async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<(), StoreError>;
    /// The user's passkeys, oldest first.
    async fn user_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError>;
    /// The passkey whose credential id is `credential_id`.
    async fn find_passkey(&self, credential_id: &[u8])
    -> Result<Option<StoredPasskey>, StoreError>;
    /// After a login: replaces passkey `id`'s credential with `credential` and sets its
    /// `last_used_at`, only if its credential is still `previous`; whether it did.
    async fn record_passkey_use(
        &self,
        id: uuid::Uuid,
        previous: &str,
        credential: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Renames the user's passkey `id`; the passkey, or `None` if the user has none with it.
    async fn rename_passkey(
        &self,
        user: UserId,
        id: uuid::Uuid,
        name: &str,
    ) -> Result<Option<StoredPasskey>, StoreError>;
    /// Removes the user's passkey `id` unless it is their last way to log in, checked and
    /// removed in one statement (as [`IdentityStore::unlink_identity`], which counts passkeys
    /// as a way in too).
    async fn remove_passkey(
        &self,
        user: UserId,
        id: uuid::Uuid,
    ) -> Result<PasskeyRemoved, StoreError>;
}
