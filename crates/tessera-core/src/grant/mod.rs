//! The one grant path: every way of logging in (password today; provider, magic link, MFA
//! step and passkey later), signup and refresh end here, where a session's tokens are issued
//! and the outcome is counted.
//!
//! It never signs tokens itself: that is the [`TokenIssuer`] port's job (`tessera-token`).

mod login_code;
mod pending;

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::Clock;
use crate::StateError;
use crate::account::{AccountError, Device, User};
use crate::mail::{Notice, Notices};
use crate::mfa::{MfaChallenge, MfaChallenges};
use crate::ports::TokenIssuer;
use crate::session::{Amr, Method, RefreshToken, Session, SessionError, Sessions};

pub use login_code::{LOGIN_CODE_TTL, LoginCode, LoginCodes};
pub(crate) use pending::PendingLogin;

/// A signed access token (a compact JWT). A bearer secret: its `Debug` shows no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    token: String,
    expires_in: i64,
}

impl AccessToken {
    /// `token` living `expires_in` seconds from its issue.
    pub fn new(token: String, expires_in: i64) -> Self {
        Self { token, expires_in }
    }

    /// The compact JWT, to hand to its owner only.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The compact JWT, consumed, to hand to its owner only.
    pub fn into_string(self) -> String {
        self.token
    }

    /// Seconds from issue until it expires.
    pub fn expires_in(&self) -> i64 {
        self.expires_in
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// An access token could not be signed. Never the caller's fault: answered 500 and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing an access token failed: {0}")]
pub struct IssueError(pub &'static str);

/// What a successful login, signup or refresh hands the client: everything of the token
/// response (API.md §2).
#[derive(Debug, Clone)]
pub struct Grant {
    /// The user, as stored now.
    pub user: User,
    /// The session the tokens belong to.
    pub session: Session,
    /// The session's current refresh token.
    pub refresh_token: RefreshToken,
    /// A new access token for the session.
    pub access_token: AccessToken,
    /// When the grant was made.
    pub issued_at: OffsetDateTime,
}

impl Grant {
    /// Seconds until the refresh token expires unused.
    pub fn refresh_expires_in(&self) -> i64 {
        (self.session.idle_expires_at - self.issued_at)
            .whole_seconds()
            .max(0)
    }
}

/// What a login ends in.
#[derive(Debug)]
pub enum LoginOutcome {
    /// A session and its tokens.
    Granted(Box<Grant>),
    /// The user has two-factor on: the client must send a code with this `mfa_token`.
    SecondFactor(MfaChallenge),
}

/// What a login that hands over by code ends in ([`Grants::login_by_code`]).
#[derive(Debug)]
pub enum Handover {
    /// A single-use code the client trades for the session's tokens.
    Code(LoginCode),
    /// The user has two-factor on: the client must send a code with this `mfa_token`.
    SecondFactor(MfaChallenge),
}

/// How a checked login ended: its own end (a grant, a login code), or the second step.
enum Checked<T> {
    Done(T),
    SecondFactor(MfaChallenge),
}

/// Starts sessions and refreshes them, issuing tokens through the [`TokenIssuer`].
pub struct Grants {
    sessions: Arc<Sessions>,
    issuer: Arc<dyn TokenIssuer>,
    challenges: Arc<MfaChallenges>,
    codes: Arc<LoginCodes>,
    notices: Arc<Notices>,
    clock: Arc<dyn Clock>,
}

impl Grants {
    /// Wires the grant path to the session use cases and the token issuer.
    pub fn new(
        sessions: Arc<Sessions>,
        issuer: Arc<dyn TokenIssuer>,
        challenges: Arc<MfaChallenges>,
        codes: Arc<LoginCodes>,
        notices: Arc<Notices>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sessions,
            issuer,
            challenges,
            codes,
            notices,
            clock,
        }
    }

    /// The security notices, for the use cases that change accounts.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// The session use cases grants are made of.
    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    /// Ends a login attempt: when `checked` names a user who proved who they are by `method`,
    /// starts a session on `device` and issues its tokens, or, when the user has two-factor
    /// on and `method` is one factor, starts the second step instead. Every login method
    /// comes through here, so no method can skip the second factor, and
    /// `tessera_logins_total` counts each attempt exactly once, whatever its outcome.
    pub async fn login(
        &self,
        checked: Result<User, AccountError>,
        device: Device,
        method: Method,
    ) -> Result<LoginOutcome, AccountError> {
        let finish = |user, device, amr| async move {
            self.finish_login(user, device, amr).await.map(Box::new)
        };
        Ok(match self.attempt(checked, device, method, finish).await? {
            Checked::Done(grant) => LoginOutcome::Granted(grant),
            Checked::SecondFactor(challenge) => LoginOutcome::SecondFactor(challenge),
        })
    }

    /// Ends a login attempt as [`login`](Self::login) does, but hands a success over as a
    /// single-use [`LoginCode`] instead of starting the session: for logins that end where
    /// tokens must not go, such as a provider's callback, whose answer is a redirect.
    pub async fn login_by_code(
        &self,
        checked: Result<User, AccountError>,
        device: Device,
        method: Method,
    ) -> Result<Handover, AccountError> {
        let hand_over = |user: User, device, amr| async move {
            Ok(self.codes.issue(&user, device, &amr).await?)
        };
        Ok(
            match self.attempt(checked, device, method, hand_over).await? {
                Checked::Done(code) => Handover::Code(code),
                Checked::SecondFactor(challenge) => Handover::SecondFactor(challenge),
            },
        )
    }

    /// Takes the pending login of a [`LoginCode`], once; `None` when it is unknown, expired or
    /// spent. Its user, re-read, goes to [`finish_login`](Self::finish_login).
    pub(crate) async fn take_login_code(
        &self,
        code: &str,
    ) -> Result<Option<PendingLogin>, StateError> {
        self.codes.take(code).await
    }

    /// The decision every login shares: the second step when two-factor is on, else
    /// `finish`; counted and logged once.
    async fn attempt<T, Finish, Finishing>(
        &self,
        checked: Result<User, AccountError>,
        device: Device,
        method: Method,
        finish: Finish,
    ) -> Result<Checked<T>, AccountError>
    where
        Finish: FnOnce(User, Device, Amr) -> Finishing,
        Finishing: Future<Output = Result<T, AccountError>>,
    {
        let amr = Amr::single(method);
        let user_id = checked.as_ref().ok().map(|user| user.id);
        let ip = device.ip.clone();
        let result = match checked {
            // A passkey is a second factor in itself (possession and the device's check).
            Ok(user) if user.mfa_enabled && method != Method::Passkey => self
                .challenges
                .issue(&user, device, &amr)
                .await
                .map(Checked::SecondFactor)
                .map_err(AccountError::from),
            Ok(user) => finish(user, device, amr).await.map(Checked::Done),
            Err(error) => Err(error),
        };
        let outcome = login_outcome(&result);
        metrics::counter!("tessera_logins_total", "result" => outcome).increment(1);
        // One line per attempt, for the operator's trail: who (when known), how, from where,
        // and how it ended; never what was typed.
        let method = method.as_str();
        let ip = ip.as_deref().unwrap_or("-");
        match user_id {
            Some(user_id) if result.is_ok() => {
                tracing::info!(event = "login", result = outcome, %user_id, method, ip, "login")
            }
            _ => tracing::info!(
                event = "login",
                result = outcome,
                method,
                ip,
                "login refused"
            ),
        }
        result
    }

    /// The end of every login (after its second step, if any): a session, and a notice when
    /// the device is new to the account (no live session of the user has its user agent).
    pub async fn finish_login(
        &self,
        user: User,
        device: Device,
        amr: Amr,
    ) -> Result<Grant, AccountError> {
        let known = match &device.user_agent {
            Some(agent) => self
                .sessions
                .list(user.id)
                .await?
                .iter()
                .any(|session| session.user_agent.as_deref() == Some(agent)),
            None => true,
        };
        let grant = self.start(user, device, amr).await?;
        if !known {
            self.notices.tell(grant.user.id, Notice::NewDevice).await;
        }
        Ok(grant)
    }

    /// Starts a session for `user` on `device`, who proved who they are by `amr`, and issues
    /// its first tokens (signup, and the end of every login).
    ///
    /// The session is stored only if the account is still as it was read (enabled, same
    /// security epoch): a login whose password was changed, or whose account was disabled or
    /// changed roles, while it was being checked starts nothing.
    pub async fn start(&self, user: User, device: Device, amr: Amr) -> Result<Grant, AccountError> {
        let (session, refresh_token) = self.sessions.begin(&user, device, amr);
        // Signed before the session is stored, so a signing failure leaves no session behind,
        // and the token is older than any change that makes the write below fail.
        let grant = self.issue(user, session, refresh_token)?;
        if !self
            .sessions
            .record(&grant.session, grant.user.security_epoch)
            .await?
        {
            tracing::info!(user_id = %grant.user.id, "login refused: the account changed while it was checked");
            return Err(AccountError::InvalidCredentials);
        }
        Ok(grant)
    }

    /// Exchanges a refresh token for its successor and a new access token (API.md §2),
    /// counting the outcome in `tessera_refreshes_total` and reuse in
    /// `tessera_refresh_reuse_total`.
    pub async fn refresh(&self, presented: &str) -> Result<Grant, SessionError> {
        let result = self
            .sessions
            .refresh(presented, self.issuer.as_ref())
            .await
            .map(|refreshed| Grant {
                user: refreshed.user,
                session: refreshed.session,
                refresh_token: refreshed.refresh_token,
                access_token: refreshed.access_token,
                issued_at: self.clock.now(),
            });
        metrics::counter!("tessera_refreshes_total", "result" => refresh_outcome(&result))
            .increment(1);
        if let Err(SessionError::RefreshReused { user }) = &result {
            metrics::counter!("tessera_refresh_reuse_total").increment(1);
            self.notices.tell(*user, Notice::RefreshReuse).await;
        }
        result
    }

    fn issue(
        &self,
        user: User,
        session: Session,
        refresh_token: RefreshToken,
    ) -> Result<Grant, IssueError> {
        let issued_at = self.clock.now();
        let access_token = self.issuer.issue(&user, &session)?;
        Ok(Grant {
            user,
            session,
            refresh_token,
            access_token,
            issued_at,
        })
    }
}

fn login_outcome<T>(result: &Result<Checked<T>, AccountError>) -> &'static str {
    match result {
        Ok(Checked::Done(_)) => "success",
        Ok(Checked::SecondFactor(_)) => "mfa_required",
        Err(AccountError::InvalidCredentials) => "invalid_credentials",
        Err(AccountError::AccountDisabled) => "account_disabled",
        Err(AccountError::Validation(_)) => "validation_error",
        Err(AccountError::Busy) => "busy",
        Err(AccountError::RateLimited(_)) => "rate_limited",
        Err(_) => "error",
    }
}

fn refresh_outcome(result: &Result<Grant, SessionError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(SessionError::RefreshInvalid) => "invalid",
        Err(SessionError::RefreshReused { .. }) => "reused",
        Err(SessionError::Contended) => "busy",
        Err(_) => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Role;
    use crate::fakes::{ACCESS_TTL, Core, SETTINGS};
    use crate::ports::UserStore;

    fn password() -> Amr {
        Amr::single(Method::Password)
    }

    #[tokio::test]
    async fn a_login_grant_carries_the_stored_session_and_its_tokens() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");

        // Act
        let outcome = core
            .grants
            .login(Ok(user.clone()), Device::default(), Method::Password)
            .await
            .unwrap();
        let LoginOutcome::Granted(grant) = outcome else {
            panic!("no second factor is on: {outcome:?}");
        };

        // Assert
        assert_eq!(grant.user, user);
        assert_eq!(core.store.sessions(), vec![grant.session.clone()]);
        assert_eq!(grant.refresh_token.session_id(), grant.session.id);
        assert_eq!(grant.refresh_token.digest(), grant.session.refresh.digest);
        let expected = format!("fake-access-token.{}.{}.1", user.id, grant.session.id);
        assert_eq!(grant.access_token.as_str(), expected);
        assert_eq!(grant.access_token.expires_in(), ACCESS_TTL);
        assert_eq!(grant.issued_at, core.clock.now());
        let idle = i64::try_from(SETTINGS.lifetimes.idle.as_secs()).unwrap();
        assert_eq!(grant.refresh_expires_in(), idle);
    }

    #[tokio::test]
    async fn a_user_with_two_factor_gets_a_second_step_unless_the_method_is_a_passkey() {
        // Arrange
        let core = Core::new();
        let mut user = core.add_user("alice@example.test");
        user.mfa_enabled = true;

        // Act
        let by_password = core
            .grants
            .login(Ok(user.clone()), Device::default(), Method::Password)
            .await
            .unwrap();
        let sessions_after_password = core.store.sessions().len();
        let by_passkey = core
            .grants
            .login(Ok(user), Device::default(), Method::Passkey)
            .await
            .unwrap();

        // Assert
        assert!(matches!(by_password, LoginOutcome::SecondFactor(_)));
        assert_eq!(
            sessions_after_password, 0,
            "no session before the second factor"
        );
        let LoginOutcome::Granted(grant) = by_passkey else {
            panic!("a passkey is two factors in one: {by_passkey:?}");
        };
        assert_eq!(grant.session.amr, Amr::single(Method::Passkey));
    }

    #[tokio::test]
    async fn a_login_whose_account_changed_after_its_check_starts_no_session() {
        // Arrange: the password is checked, then changed before the session is stored.
        let core = Core::new();
        let checked = core.add_user_with_hash("alice@example.test", "$argon2id$old");
        core.store
            .set_password_hash(checked.id, "$argon2id$new", core.clock.now())
            .await
            .unwrap();

        // Act
        let refused = core
            .grants
            .login(Ok(checked), Device::default(), Method::Password)
            .await;

        // Assert
        assert!(matches!(refused, Err(AccountError::InvalidCredentials)));
        assert!(core.store.sessions().is_empty());
    }

    #[tokio::test]
    async fn a_refresh_that_read_the_account_before_a_change_is_made_again_from_the_change() {
        // Arrange: the refresh reads the user as they were before a role was removed.
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let editor = vec![Role::parse("editor").unwrap()];
        let user = core
            .store
            .set_roles(user.id, &editor)
            .await
            .unwrap()
            .unwrap();
        let first = core
            .grants
            .start(user.clone(), Device::default(), password())
            .await
            .unwrap();
        let demoted = core.store.set_roles(user.id, &[]).await.unwrap().unwrap();
        core.store.serve_stale_user_once(user);

        // Act
        let refreshed = core
            .grants
            .refresh(&first.refresh_token.encode())
            .await
            .unwrap();

        // Assert: one rotation, and the token handed out is the one made from the change.
        assert_eq!(refreshed.user, demoted);
        assert_eq!(refreshed.session.refresh.generation, 1);
        assert_eq!(
            core.issuer.issued(),
            3,
            "signup, the stale attempt, the retry"
        );
    }

    #[tokio::test]
    async fn a_login_that_failed_its_check_starts_no_session() {
        // Arrange
        let core = Core::new();

        // Act
        let refused = core
            .grants
            .login(
                Err(AccountError::InvalidCredentials),
                Device::default(),
                Method::Password,
            )
            .await;

        // Assert
        assert!(matches!(refused, Err(AccountError::InvalidCredentials)));
        assert!(core.store.sessions().is_empty());
        assert_eq!(core.issuer.issued(), 0);
    }

    #[tokio::test]
    async fn a_login_whose_token_cannot_be_signed_fails_and_stores_no_session() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        core.issuer.fail(true);

        // Act
        let failed = core
            .grants
            .login(Ok(user), Device::default(), Method::Password)
            .await;

        // Assert
        assert!(matches!(failed, Err(AccountError::Token(_))));
        assert!(core.store.sessions().is_empty());
    }

    #[tokio::test]
    async fn a_signup_session_whose_token_cannot_be_signed_is_not_stored() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        core.issuer.fail(true);

        // Act
        let failed = core.grants.start(user, Device::default(), password()).await;

        // Assert
        assert!(matches!(failed, Err(AccountError::Token(_))));
        assert!(core.store.sessions().is_empty());
    }

    #[tokio::test]
    async fn a_refresh_grant_carries_the_rotated_refresh_token_and_a_new_access_token() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let first = core
            .grants
            .start(user, Device::default(), password())
            .await
            .unwrap();
        core.clock.advance(std::time::Duration::from_secs(60));

        // Act
        let second = core
            .grants
            .refresh(&first.refresh_token.encode())
            .await
            .unwrap();

        // Assert
        assert_eq!(
            second.refresh_token,
            first.refresh_token.successor(&core.key())
        );
        assert_eq!(second.session.id, first.session.id);
        assert_eq!(
            second.session,
            core.store.session(first.session.id).unwrap()
        );
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(core.issuer.issued(), 2);
        assert_eq!(second.issued_at, core.clock.now());
    }

    #[tokio::test]
    async fn a_refresh_whose_token_cannot_be_signed_fails_and_can_be_retried_in_the_grace_window() {
        // Arrange
        let core = Core::new();
        let user = core.add_user("alice@example.test");
        let first = core
            .grants
            .start(user, Device::default(), password())
            .await
            .unwrap();
        core.issuer.fail(true);

        // Act
        let failed = core.grants.refresh(&first.refresh_token.encode()).await;

        // Assert
        assert!(matches!(failed, Err(SessionError::Token(_))));
        core.issuer.fail(false);
        let retried = core
            .grants
            .refresh(&first.refresh_token.encode())
            .await
            .unwrap();
        assert_eq!(
            retried.refresh_token,
            first.refresh_token.successor(&core.key())
        );
    }

    #[tokio::test]
    async fn a_refused_refresh_issues_no_access_token() {
        // Arrange
        let core = Core::new();

        // Act
        let refused = core.grants.refresh("not a refresh token").await;

        // Assert
        assert!(matches!(refused, Err(SessionError::RefreshInvalid)));
        assert_eq!(core.issuer.issued(), 0);
    }
}
