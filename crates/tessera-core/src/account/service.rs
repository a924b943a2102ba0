//! Account use cases: signup, login, profile, password change, deletion.

use std::sync::Arc;

use super::{
    DisplayName, Email, NewUser, Password, PasswordError, PasswordHasher, PasswordPolicy, Profiles,
    Role, User,
};
use crate::grant::{Grant, Grants, IssueError, LoginOutcome};
use crate::limits::{LimitError, Limited, RateLimits, Rule, Subject};
use crate::mail::{Notice, Notices};
use crate::ports::{UserStore, UserWithHash};
use crate::session::{Amr, Method, SessionError, Sessions};
use crate::{Clock, Conflict, SessionId, StateError, StoreError, UserId};

/// Where a login comes from; stored on the session.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// Name the client chose, e.g. "Alice's phone".
    pub name: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// Client address.
    pub ip: Option<String>,
}

impl Device {
    /// Truncates over-long client-supplied text rather than refusing a login over it.
    fn bounded(self) -> Self {
        fn cut(text: Option<String>, max: usize) -> Option<String> {
            text.map(|t| {
                t.trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(max)
                    .collect::<String>()
            })
            .filter(|t| !t.is_empty())
        }
        Self {
            name: cut(self.name, 100),
            user_agent: cut(self.user_agent, 512),
            ip: self.ip,
        }
    }
}

/// Input of [`Accounts::signup`].
#[derive(Debug)]
pub struct Signup {
    /// Email as typed.
    pub email: String,
    /// Password as typed.
    pub password: String,
    /// Display name.
    pub name: Option<String>,
    /// Device of the first session.
    pub device: Device,
}

/// Input of [`Accounts::login`].
#[derive(Debug)]
pub struct Login {
    /// Email as typed.
    pub email: String,
    /// Password as typed.
    pub password: String,
    /// Device of the new session.
    pub device: Device,
}

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field name as in the request.
    pub field: &'static str,
    /// What is wrong, safe to show.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Malformed input.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The new password breaks the policy.
    #[error("weak password: {0}")]
    WeakPassword(PasswordError),
    /// Another account has this email.
    #[error("email taken")]
    EmailTaken,
    /// Wrong email or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account is disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// The account no longer exists (or is disabled) though a token names it.
    #[error("account gone")]
    AccountGone,
    /// The hashing pool is full.
    #[error("hashing pool busy")]
    Busy,
    /// Too many attempts (API.md §4).
    #[error(transparent)]
    RateLimited(#[from] Limited),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Ending sessions could not be announced to other instances.
    #[error(transparent)]
    State(#[from] StateError),
    /// The new session's access token could not be signed.
    #[error(transparent)]
    Token(#[from] IssueError),
}

impl From<SessionError> for AccountError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Store(error) => Self::Store(error),
            SessionError::State(error) => Self::State(error),
            SessionError::Token(error) => Self::Token(error),
            SessionError::Contended => Self::Busy,
            // Ending sessions by user never meets refresh or lookup failures.
            SessionError::RefreshInvalid
            | SessionError::RefreshReused { .. }
            | SessionError::NotFound => Self::AccountGone,
        }
    }
}

impl From<LimitError> for AccountError {
    fn from(error: LimitError) -> Self {
        match error {
            LimitError::Limited(limited) => Self::RateLimited(limited),
            LimitError::State(error) => Self::State(error),
        }
    }
}

impl From<super::HashBusy> for AccountError {
    fn from(_: super::HashBusy) -> Self {
        Self::Busy
    }
}

/// The account use cases.
pub struct Accounts {
    users: Arc<dyn UserStore>,
    grants: Arc<Grants>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    clock: Arc<dyn Clock>,
    profiles: Arc<Profiles>,
    limits: Arc<RateLimits>,
}

impl Accounts {
    /// Wires the use cases to their ports.
    pub fn new(
        users: Arc<dyn UserStore>,
        grants: Arc<Grants>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        clock: Arc<dyn Clock>,
        limits: Arc<RateLimits>,
    ) -> Self {
        let profiles = Arc::new(Profiles::new(Arc::clone(&clock)));
        Self {
            users,
            grants,
            hasher,
            policy,
            clock,
            profiles,
            limits,
        }
    }

    /// The recently read profiles, shared with [`Administration`](super::Administration) so
    /// that its changes show at once.
    pub fn profiles(&self) -> Arc<Profiles> {
        Arc::clone(&self.profiles)
    }

    /// The security notices, for the use cases beside these that change an account.
    pub fn notices(&self) -> &Notices {
        self.grants.notices()
    }

    /// The hashing pool, for its queue depth.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates an account and its first session.
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, input: Signup) -> Result<Grant, AccountError> {
        let mut errors = Vec::new();
        let email = Email::parse(&input.email)
            .map_err(|e| errors.push(FieldError::new("email", e.to_string())));
        let name = parse_name(input.name.as_deref()).map_err(|e| errors.push(e));
        let (Ok(email), Ok(name)) = (email, name) else {
            return Err(AccountError::Validation(errors));
        };
        let password = self
            .policy
            .check(&input.password)
            .map_err(AccountError::WeakPassword)?;
        self.limits
            .spend(Rule::SignupIp, Subject::Address(input.device.ip.as_deref()))
            .await?;
        // A taken email is reported anyway (409), so check before spending a hash on it.
        if self.users.find_by_email(&email).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        let hash = self.hasher.hash(&password).await?;
        let new = NewUser {
            id: UserId::new(),
            email,
            name,
            roles: Vec::new(),
            email_verified: false,
            created_at: self.clock.now(),
        };
        let user = self
            .users
            .create_user(&new, Some(&hash))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::Email) => AccountError::EmailTaken,
                other => other.into(),
            })?;
        tracing::info!(user_id = %user.id, "account created");
        self.grants
            .start(user, input.device.bounded(), Amr::single(Method::Password))
            .await
    }

    /// Checks an email and password and starts a session.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, input: Login) -> Result<LoginOutcome, AccountError> {
        let device = input.device.bounded();
        let checked = self
            .check_login(&input.email, &input.password, device.ip.as_deref())
            .await;
        self.grants.login(checked, device, Method::Password).await
    }

    /// The user whose email and password these are, if they may log in and the attempt is
    /// within the limits. Every attempt spends a unit of both login rules before the hash is
    /// checked, unknown emails included; a success gives the account's units back, so only
    /// failures count against it.
    async fn check_login(
        &self,
        email: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<User, AccountError> {
        let email = parse_email(email, "email")?;
        let password = login_password(password)?;
        self.limits
            .spend(Rule::LoginIp, Subject::Address(address))
            .await?;
        let account = Subject::AccountAt(&email, address);
        self.limits.spend(Rule::LoginAccountIp, account).await?;
        let user = self.check_password(&email, &password).await?;
        self.limits.clear(Rule::LoginAccountIp, account).await?;
        Ok(user)
    }

    /// The user whose email and password these are, if they may log in.
    async fn check_password(
        &self,
        email: &Email,
        password: &Password,
    ) -> Result<User, AccountError> {
        let found = self.users.find_by_email(email).await?;
        let stored = found.as_ref().and_then(|f| f.password_hash.as_deref());
        // Hash anyway so unknown emails cost the same time as wrong passwords (API.md §1).
        let verified = self.hasher.verify(password, stored).await?;
        let Some(UserWithHash {
            user,
            password_hash: Some(stored),
        }) = found.filter(|_| verified.matches)
        else {
            return Err(AccountError::InvalidCredentials);
        };
        if user.disabled {
            return Err(AccountError::AccountDisabled);
        }
        if verified.needs_rehash {
            self.rehash(&user, &stored, password).await;
        }
        Ok(user)
    }

    /// The live account `id`.
    pub async fn user(&self, id: UserId) -> Result<User, AccountError> {
        match self.users.find_by_id(id).await? {
            Some(found) if !found.user.disabled => Ok(found.user),
            _ => Err(AccountError::AccountGone),
        }
    }

    /// Whether the live account `id` has a password (an account made through a provider or
    /// a sign-in link may have none, and sets one through a reset link).
    pub async fn has_password(&self, id: UserId) -> Result<bool, AccountError> {
        match self.users.find_by_id(id).await? {
            Some(found) if !found.user.disabled => Ok(found.password_hash.is_some()),
            _ => Err(AccountError::AccountGone),
        }
    }

    /// The live account `id` as its owner sees it: possibly read up to [`PROFILE_TTL`] ago
    /// (see [`Profiles`]). Never use it for a decision; [`Accounts::user`] reads afresh.
    ///
    /// [`PROFILE_TTL`]: super::PROFILE_TTL
    pub async fn profile(&self, id: UserId) -> Result<Arc<User>, AccountError> {
        if let Some(user) = self.profiles.get(id) {
            return Ok(user);
        }
        let user = Arc::new(self.user(id).await?);
        self.profiles.put(&user);
        Ok(user)
    }

    /// Replaces the display name.
    pub async fn rename(&self, id: UserId, name: Option<&str>) -> Result<User, AccountError> {
        let name = parse_name(name).map_err(|e| AccountError::Validation(vec![e]))?;
        self.user(id).await?;
        let user = self
            .users
            .set_name(id, name.as_deref())
            .await?
            .ok_or(AccountError::AccountGone)?;
        self.profiles.forget(id);
        Ok(user)
    }

    /// Changes the password after checking the current one; ends the user's other sessions.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn change_password(
        &self,
        id: UserId,
        current_session: SessionId,
        current: &str,
        new: &str,
        address: Option<&str>,
    ) -> Result<usize, AccountError> {
        self.confirm_password(id, current, address).await?;
        let password = self.policy.check(new).map_err(AccountError::WeakPassword)?;
        let hash = self.hasher.hash(&password).await?;
        self.users
            .set_password_hash(id, &hash, self.clock.now())
            .await?;
        let ended = self
            .sessions()
            .end_all(id, Some(current_session), "password_changed")
            .await?;
        self.notices().tell(id, Notice::PasswordChanged).await;
        Ok(ended)
    }

    /// Whether another account has `email`.
    pub async fn email_taken(&self, email: &Email) -> Result<bool, AccountError> {
        Ok(self.users.find_by_email(email).await?.is_some())
    }

    /// Moves the account to `email` (verified: the caller has proven the mailbox).
    pub async fn change_email(&self, id: UserId, email: &Email) -> Result<User, AccountError> {
        let user = self
            .users
            .set_email(id, email)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::Email) => AccountError::EmailTaken,
                other => other.into(),
            })?
            .ok_or(AccountError::AccountGone)?;
        self.profiles.forget(id);
        tracing::info!(user_id = %id, event = "email_changed", "email changed");
        Ok(user)
    }

    /// Whether `new` is acceptable as a password, before anything is spent on it.
    pub fn check_new_password(&self, new: &str) -> Result<(), AccountError> {
        self.policy
            .check(new)
            .map(drop)
            .map_err(AccountError::WeakPassword)
    }

    /// Sets a new password without the old one (a reset link proved the mailbox) and ends
    /// every session of the user.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn reset_password(&self, id: UserId, new: &str) -> Result<(), AccountError> {
        let password = self.policy.check(new).map_err(AccountError::WeakPassword)?;
        self.user(id).await?;
        let hash = self.hasher.hash(&password).await?;
        self.users
            .set_password_hash(id, &hash, self.clock.now())
            .await?;
        self.sessions().end_all(id, None, "password_reset").await?;
        self.profiles.forget(id);
        self.notices().tell(id, Notice::PasswordChanged).await;
        tracing::info!(event = "password_reset", "password reset by mail link");
        Ok(())
    }

    /// Deletes the account after checking its password.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn delete(
        &self,
        id: UserId,
        password: &str,
        address: Option<&str>,
    ) -> Result<(), AccountError> {
        self.confirm_password(id, password, address).await?;
        self.sessions().revoke_user(id, "account_deleted").await?;
        self.users.delete_user(id).await?;
        self.profiles.forget(id);
        tracing::info!("account deleted");
        Ok(())
    }

    /// Creates an account without a session (administration, CLI).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        roles: Vec<Role>,
    ) -> Result<User, AccountError> {
        let email = parse_email(email, "email")?;
        let name = parse_name(name).map_err(|e| AccountError::Validation(vec![e]))?;
        let password = self
            .policy
            .check(password)
            .map_err(AccountError::WeakPassword)?;
        let hash = self.hasher.hash(&password).await?;
        let new = NewUser {
            id: UserId::new(),
            email,
            name,
            roles,
            email_verified: false,
            created_at: self.clock.now(),
        };
        self.users
            .create_user(&new, Some(&hash))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::Email) => AccountError::EmailTaken,
                other => other.into(),
            })
    }

    fn sessions(&self) -> &Sessions {
        self.grants.sessions()
    }

    /// Checks the password of a signed-in user from `address`, counted with the login
    /// attempts on the account (API.md §4): a stolen access token must not become a way to
    /// guess the password faster than the login form allows.
    pub(crate) async fn confirm_password(
        &self,
        id: UserId,
        password: &str,
        address: Option<&str>,
    ) -> Result<User, AccountError> {
        let password = login_password(password)?;
        let found = self
            .users
            .find_by_id(id)
            .await?
            .filter(|f| !f.user.disabled);
        let Some(found) = found else {
            return Err(AccountError::AccountGone);
        };
        let account = Subject::AccountAt(&found.user.email, address);
        self.limits.spend(Rule::LoginAccountIp, account).await?;
        let verified = self
            .hasher
            .verify(&password, found.password_hash.as_deref())
            .await?;
        if !verified.matches {
            return Err(AccountError::InvalidCredentials);
        }
        self.limits.clear(Rule::LoginAccountIp, account).await?;
        Ok(found.user)
    }

    /// Replaces a legacy or weaker hash `stored` after a successful login, unless the
    /// password changed meanwhile. Failure only delays the upgrade to the next login, so it is
    /// logged rather than failing the login.
    async fn rehash(&self, user: &User, stored: &str, password: &Password) {
        let result = match self.hasher.hash(password).await {
            Ok(hash) => self
                .users
                .upgrade_password_hash(user.id, stored, &hash, self.clock.now())
                .await
                .map_err(|e| e.to_string()),
            Err(busy) => Err(busy.to_string()),
        };
        match result {
            Ok(false) => {
                tracing::info!(user_id = %user.id, "password re-hash skipped: the password changed meanwhile")
            }
            Ok(true) => {
                tracing::info!(user_id = %user.id, event = "password_rehashed", "password re-hashed to argon2id")
            }
            Err(reason) => {
                tracing::warn!(user_id = %user.id, %reason, "password re-hash postponed")
            }
        }
    }
}

/// `raw` as an email address, or a validation error naming `field`.
pub(crate) fn parse_email(raw: &str, field: &'static str) -> Result<Email, AccountError> {
    Email::parse(raw)
        .map_err(|e| AccountError::Validation(vec![FieldError::new(field, e.to_string())]))
}

/// A password typed at login: never judged by the policy, only bounded.
fn login_password(raw: &str) -> Result<Password, AccountError> {
    if raw.is_empty() || raw.chars().count() > PasswordPolicy::MAX_LEN * 4 {
        let message = format!(
            "password must have 1 to {} characters",
            PasswordPolicy::MAX_LEN
        );
        return Err(AccountError::Validation(vec![FieldError::new(
            "password", message,
        )]));
    }
    let password = Password::normalise(raw);
    if password.char_count() > PasswordPolicy::MAX_LEN {
        let message = format!(
            "password must have at most {} characters",
            PasswordPolicy::MAX_LEN
        );
        return Err(AccountError::Validation(vec![FieldError::new(
            "password", message,
        )]));
    }
    Ok(password)
}

fn parse_name(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw {
        None => Ok(None),
        Some(raw) => DisplayName::parse(raw).map_err(|m| FieldError::new("name", m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Core;
    use crate::session::RevocationTarget;

    /// A bcrypt hash of `password` at the lowest cost: verified fast, and never re-hashed by
    /// the paths that only confirm a password.
    fn cheap_hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    fn login(email: &str, password: &str) -> Login {
        Login {
            email: email.to_owned(),
            password: password.to_owned(),
            device: Device::default(),
        }
    }

    #[tokio::test]
    async fn a_wrong_password_is_invalid_credentials_and_starts_no_session() {
        // Arrange
        let core = Core::new();
        core.add_user_with_hash("alice@example.test", &cheap_hash("right password"));

        // Act
        let refused = core
            .accounts
            .login(login("alice@example.test", "wrong password"))
            .await;

        // Assert
        assert!(matches!(refused, Err(AccountError::InvalidCredentials)));
        assert!(core.store.sessions().is_empty());
        assert_eq!(core.issuer.issued(), 0);
    }

    #[tokio::test]
    async fn a_disabled_account_cannot_log_in_even_with_its_password() {
        // Arrange
        let core = Core::new();
        let user = core.add_user_with_hash("alice@example.test", &cheap_hash("right password"));
        core.store.set_disabled(user.id, true).await.unwrap();

        // Act
        let refused = core
            .accounts
            .login(login("alice@example.test", "right password"))
            .await;

        // Assert
        assert!(matches!(refused, Err(AccountError::AccountDisabled)));
        assert!(core.store.sessions().is_empty());
    }

    #[tokio::test]
    async fn a_signup_whose_token_cannot_be_signed_keeps_the_account_but_stores_no_session() {
        // Arrange
        let core = Core::new();
        core.issuer.fail(true);
        let signup = Signup {
            email: "alice@example.test".to_owned(),
            password: "a long and unusual passphrase".to_owned(),
            name: None,
            device: Device::default(),
        };

        // Act
        let failed = core.accounts.signup(signup).await;

        // Assert
        assert!(matches!(failed, Err(AccountError::Token(_))));
        assert!(core.store.sessions().is_empty());
        let email = Email::parse("alice@example.test").unwrap();
        assert!(core.store.find_by_email(&email).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn deleting_an_account_ends_its_sessions_and_revokes_its_tokens() {
        // Arrange
        let core = Core::new();
        let user = core.add_user_with_hash("alice@example.test", &cheap_hash("right password"));
        let (session, _) = core.sign_in(&user).await;

        // Act
        core.accounts
            .delete(user.id, "right password", None)
            .await
            .unwrap();

        // Assert
        assert_eq!(core.store.user(user.id), None);
        let feed = core.store.feed();
        let targets: Vec<_> = feed.iter().map(|r| r.target).collect();
        assert_eq!(
            targets,
            [
                RevocationTarget::Session(session.id),
                RevocationTarget::User(user.id),
            ]
        );
        assert_eq!(core.deny.applied(), feed);
        assert_eq!(core.bus.published(), feed);
    }

    #[tokio::test]
    async fn deleting_an_account_with_a_wrong_password_changes_nothing() {
        // Arrange
        let core = Core::new();
        let user = core.add_user_with_hash("alice@example.test", &cheap_hash("right password"));
        let (session, _) = core.sign_in(&user).await;

        // Act
        let refused = core.accounts.delete(user.id, "wrong password", None).await;

        // Assert
        assert!(matches!(refused, Err(AccountError::InvalidCredentials)));
        assert_eq!(core.store.user(user.id), Some(user));
        assert_eq!(core.store.session(session.id), Some(session));
        assert!(core.store.feed().is_empty());
    }
}
