//! Two-factor use cases: TOTP setup, confirmation and removal, recovery codes, and the second
//! step of a login, which ends in the grant path like every other login.

use std::sync::Arc;

use super::challenge::MfaChallenges;
use super::recovery;
use super::totp::TotpSecret;
use crate::account::{AccountError, Accounts};
use crate::grant::PendingLogin;
use crate::grant::{Grant, Grants};
use crate::mail::Notice;
use crate::ports::MfaStore;
use crate::secret::MasterKey;
use crate::session::Method;
use crate::{Clock, StateError, StoreError, UserId};

/// What setup hands the user's authenticator app.
#[derive(Debug)]
pub struct TotpSetup {
    /// The secret in base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

/// Why a two-factor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// A wrong or replayed code, or an unknown, spent or expired `mfa_token`.
    #[error("invalid two-factor code or token")]
    Invalid,
    /// Two-factor is on already (setup) or off (confirm, disable, renewal).
    #[error("two-factor is {}", if *.0 { "already on" } else { "not on" })]
    State(bool),
    /// The password check or the account failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The pending logins could not be reached.
    #[error(transparent)]
    Unavailable(#[from] StateError),
    /// A stored secret could not be opened (wrong master key or damaged data).
    #[error("a stored two-factor secret could not be opened")]
    Sealed,
}

/// The two-factor use cases.
pub struct TwoFactor {
    store: Arc<dyn MfaStore>,
    accounts: Arc<Accounts>,
    grants: Arc<Grants>,
    challenges: Arc<MfaChallenges>,
    master: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    /// The issuer shown in authenticator apps.
    label: String,
}

impl TwoFactor {
    /// Wires the use cases; `label` names this service in authenticator apps.
    pub fn new(
        store: Arc<dyn MfaStore>,
        accounts: Arc<Accounts>,
        grants: Arc<Grants>,
        challenges: Arc<MfaChallenges>,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        label: String,
    ) -> Self {
        Self {
            store,
            accounts,
            grants,
            challenges,
            master,
            clock,
            label,
        }
    }

    /// A new secret for the user's authenticator, not active until confirmed; a setup not
    /// confirmed yet is replaced.
    pub async fn setup(&self, id: UserId) -> Result<TotpSetup, MfaError> {
        let user = self.accounts.user(id).await?;
        let secret = TotpSecret::generate();
        let otpauth_uri = secret
            .uri(&self.label, user.email.as_str())
            .ok_or(MfaError::Sealed)?;
        let sealed = self.master.seal(&context(id), secret.as_bytes());
        if !self
            .store
            .put_pending_totp(id, &sealed, self.clock.now())
            .await?
        {
            return Err(MfaError::State(true));
        }
        Ok(TotpSetup {
            secret: secret.base32(),
            otpauth_uri,
        })
    }

    /// Turns two-factor on with a code from the authenticator; the ten recovery codes, shown
    /// this once.
    pub async fn confirm(&self, id: UserId, code: &str) -> Result<Vec<String>, MfaError> {
        self.accounts.user(id).await?;
        let stored = match self.store.totp(id).await? {
            Some(stored) if !stored.confirmed => stored,
            // Confirmed already: on; nothing pending: not set up.
            other => return Err(MfaError::State(other.is_some())),
        };
        let step = self.step_of(id, &stored.sealed_secret, code)?;
        let codes = recovery::generate();
        let digests: Vec<String> = codes.iter().map(|code| recovery::digest(code)).collect();
        if !self
            .store
            .confirm_totp(id, step, &digests, self.clock.now())
            .await?
        {
            return Err(MfaError::State(true));
        }
        self.accounts.profiles().forget(id);
        tracing::info!(user_id = %id, event = "mfa_enabled", "two-factor turned on");
        Ok(codes)
    }

    /// Turns two-factor off after checking the password.
    pub async fn disable(
        &self,
        id: UserId,
        password: &str,
        address: Option<&str>,
    ) -> Result<(), MfaError> {
        self.accounts
            .confirm_password(id, password, address)
            .await?;
        if !self.store.remove_totp(id).await? {
            return Err(MfaError::State(false));
        }
        self.accounts.profiles().forget(id);
        self.accounts.notices().tell(id, Notice::MfaDisabled).await;
        tracing::info!(user_id = %id, event = "mfa_disabled", "two-factor turned off");
        Ok(())
    }

    /// A new set of recovery codes after checking the password; the old ones stop working.
    pub async fn renew_recovery_codes(
        &self,
        id: UserId,
        password: &str,
        address: Option<&str>,
    ) -> Result<Vec<String>, MfaError> {
        let user = self
            .accounts
            .confirm_password(id, password, address)
            .await?;
        if !user.mfa_enabled {
            return Err(MfaError::State(false));
        }
        let codes = recovery::generate();
        let digests: Vec<String> = codes.iter().map(|code| recovery::digest(code)).collect();
        self.store.replace_recovery_codes(id, &digests).await?;
        Ok(codes)
    }

    /// The second step of a login: `code` (TOTP or recovery) for the pending login of
    /// `mfa_token`. A success spends the token and starts the session through the grant path.
    pub async fn complete(&self, mfa_token: &str, code: &str) -> Result<Grant, MfaError> {
        let Some(pending) = self.challenges.take(mfa_token).await? else {
            return Err(MfaError::Invalid);
        };
        match self.check_second_factor(&pending, code).await {
            Ok(true) => {}
            Ok(false) => {
                let user_id = pending.user;
                self.challenges.wrong_code(mfa_token, pending).await?;
                metrics::counter!("tessera_mfa_total", "result" => "invalid").increment(1);
                tracing::info!(event = "login", result = "mfa_invalid", %user_id, method = "otp", "login refused");
                return Err(MfaError::Invalid);
            }
            Err(error) => {
                // Not the code's fault: the attempt does not count.
                self.challenges.put_back(mfa_token, &pending).await?;
                return Err(error);
            }
        }
        let user = self.accounts.user(pending.user).await?;
        if user.security_epoch != pending.epoch {
            // The password (or the account) changed since the first step: what it proved no
            // longer holds.
            return Err(AccountError::InvalidCredentials.into());
        }
        let amr = pending.amr().and(Method::Otp);
        let grant = self.grants.finish_login(user, pending.device, amr).await?;
        metrics::counter!("tessera_mfa_total", "result" => "success").increment(1);
        tracing::info!(event = "login", result = "success", user_id = %grant.user.id, method = "otp", "login");
        Ok(grant)
    }

    /// Whether `code` is a right, unspent TOTP or recovery code of the pending login's user.
    async fn check_second_factor(
        &self,
        pending: &PendingLogin,
        code: &str,
    ) -> Result<bool, MfaError> {
        let code = code.trim();
        if is_totp_shaped(code) {
            let Some(stored) = self.store.totp(pending.user).await?.filter(|t| t.confirmed) else {
                return Ok(false);
            };
            let step = match self.step_of(pending.user, &stored.sealed_secret, code) {
                Ok(step) => step,
                Err(MfaError::Invalid) => return Ok(false),
                Err(error) => return Err(error),
            };
            // One conditional write: a code accepted here or on another instance never
            // works twice.
            return Ok(self.store.accept_totp_step(pending.user, step).await?);
        }
        Ok(self
            .store
            .spend_recovery_code(pending.user, &recovery::digest(code))
            .await?)
    }

    /// The time step of `code` for the sealed secret of `id`, now.
    fn step_of(&self, id: UserId, sealed: &[u8], code: &str) -> Result<i64, MfaError> {
        let secret = self
            .master
            .open(&context(id), sealed)
            .map_err(|_| MfaError::Sealed)?;
        let now = u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0);
        let step = TotpSecret::from_bytes(secret)
            .check(code, now)
            .ok_or(MfaError::Invalid)?;
        i64::try_from(step).map_err(|_| MfaError::Invalid)
    }
}

/// Six digits (spaces allowed, as apps show them in groups): a TOTP code; anything else is
/// taken for a recovery code.
fn is_totp_shaped(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.iter().all(char::is_ascii_digit)
}

/// The sealing context of a user's TOTP secret: a sealed secret moved to another user's row
/// does not open.
fn context(id: UserId) -> String {
    format!("totp:{id}")
}
