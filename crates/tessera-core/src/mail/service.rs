//! The account flows that go by mail: email verification and password reset (API.md §3).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::kind;
use crate::account::{AccountError, Accounts, Device, Email, User, parse_email};
use crate::grant::{Grants, LoginOutcome};
use crate::limits::{LimitError, RateLimits, Rule, Subject};
use crate::mail::{Locale, Notice};
use crate::ports::{IdentityStore, MailStore};
use crate::secret::token_digest;
use crate::session::Method;
use crate::{Clock, StoreError, UserId};

/// How long links live and where they point.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Base of the links (`public_url`).
    pub public_url: String,
    /// The product name mails speak of.
    pub product: String,
    /// The language of mails.
    pub locale: super::Locale,
}

/// A verification link lives a day.
pub(crate) const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
/// A reset link lives half an hour.
pub(crate) const RESET_TTL: Duration = Duration::from_secs(30 * 60);
/// A sign-in link lives a quarter of an hour.
pub(crate) const MAGIC_TTL: Duration = Duration::from_secs(15 * 60);

/// The purposes codes are stored under: a code of one purpose never works for another.
pub(crate) mod purpose {
    pub const VERIFY: &str = "verify_email";
    pub const RESET: &str = "password_reset";
    pub const MAGIC: &str = "magic_link";
    pub const EMAIL_CHANGE: &str = "email_change";
}

/// Why a mail flow failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The link's code is unknown, expired or spent (`code_invalid`).
    #[error("the code is unknown, expired or used")]
    CodeInvalid,
    /// The account side failed (weak password, validation, limits, storage).
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl From<StoreError> for MailError {
    fn from(error: StoreError) -> Self {
        Self::Account(error.into())
    }
}

impl From<LimitError> for MailError {
    fn from(error: LimitError) -> Self {
        Self::Account(error.into())
    }
}

/// A sign-in by a mailed link: what the login ends in, and where the sign-in should go
/// afterwards when the link was asked for on behalf of an app.
#[derive(Debug)]
pub struct LinkSignIn {
    /// The session, or the second step it still needs.
    pub outcome: LoginOutcome,
    /// The address given when the link was asked for; still to be checked against the
    /// allow-list, which may have changed since.
    pub return_to: Option<String>,
}

/// Email verification and password reset.
pub struct AccountMail {
    store: Arc<dyn MailStore>,
    identities: Arc<dyn IdentityStore>,
    accounts: Arc<Accounts>,
    grants: Arc<Grants>,
    limits: Arc<RateLimits>,
    clock: Arc<dyn Clock>,
}

impl AccountMail {
    /// Wires the flows.
    pub fn new(
        store: Arc<dyn MailStore>,
        identities: Arc<dyn IdentityStore>,
        accounts: Arc<Accounts>,
        grants: Arc<Grants>,
        limits: Arc<RateLimits>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            identities,
            accounts,
            grants,
            limits,
            clock,
        }
    }

    /// Queues a verification mail to the signed-in user's address.
    pub async fn request_verification(
        &self,
        id: UserId,
        locale: Option<Locale>,
    ) -> Result<(), MailError> {
        let user = self.accounts.user(id).await?;
        self.limits
            .spend(Rule::MailPerEmail, Subject::Account(&user.email))
            .await?;
        self.enqueue(kind::VERIFY_EMAIL, json!({ "user": id }), locale)
            .await
    }

    /// Spends a verification code: the user, now verified.
    pub async fn confirm_verification(&self, code: &str) -> Result<User, MailError> {
        let id = self.take(code, purpose::VERIFY).await?;
        let user = self
            .store
            .mark_email_verified(id)
            .await?
            .ok_or(MailError::CodeInvalid)?;
        self.accounts.profiles().forget(id);
        Ok(user)
    }

    /// Queues a reset mail for `email`. The same steps whether or not an account has the
    /// address (the worker decides), so neither the answer nor its time tells.
    pub async fn forgot_password(
        &self,
        email: &str,
        locale: Option<Locale>,
    ) -> Result<(), MailError> {
        self.to_address(kind::PASSWORD_RESET, email, locale, None)
            .await
    }

    /// Queues a sign-in link for `email`, the same way. `return_to` (an address the caller
    /// has checked against the allow-list) goes with the link's code, so the sign-in it opens
    /// goes back to the app that asked, in whichever browser the mail is read.
    pub async fn request_magic_link(
        &self,
        email: &str,
        locale: Option<Locale>,
        return_to: Option<&str>,
    ) -> Result<(), MailError> {
        self.to_address(kind::MAGIC_LINK, email, locale, return_to)
            .await
    }

    /// Signs in with a link's code from `device`: through the grant path, so a user with
    /// two-factor on gets the second step.
    pub async fn sign_in_with_link(
        &self,
        code: &str,
        device: Device,
    ) -> Result<LinkSignIn, MailError> {
        let (id, return_to) = self.take_with_detail(code, purpose::MAGIC).await?;
        self.end_unproven_links(id).await?;
        let user = self.accounts.user(id).await;
        let outcome = self.grants.login(user, device, Method::Email).await?;
        Ok(LinkSignIn { outcome, return_to })
    }

    /// The address's owner has just proven it: provider identities linked while nobody had
    /// (an account made through a provider that does not vouch for emails, by anyone claiming
    /// the address) stop signing into the account, and every session ends, theirs included.
    async fn end_unproven_links(&self, id: UserId) -> Result<(), MailError> {
        let unlinked = self.identities.unlink_unproven(id).await?;
        if unlinked.is_empty() {
            return Ok(());
        }
        for identity in &unlinked {
            tracing::info!(event = "oauth", provider = %identity.provider, user_id = %id, "identity unlinked: linked while the address was unproven, whose owner has now proven it");
        }
        self.grants
            .sessions()
            .revoke_user(id, "identity_unlinked")
            .await
            .map_err(AccountError::from)?;
        Ok(())
    }

    async fn to_address(
        &self,
        kind: &str,
        email: &str,
        locale: Option<Locale>,
        return_to: Option<&str>,
    ) -> Result<(), MailError> {
        let email = parse_email(email, "email")?;
        self.limits
            .spend(Rule::MailPerEmail, Subject::Account(&email))
            .await?;
        let payload = json!({ "email": email.as_str(), "return_to": return_to });
        self.enqueue(kind, payload, locale).await
    }

    /// Sets a new password with a reset code and ends every session of the user. A password
    /// the policy refuses leaves the code unspent.
    pub async fn reset_password(&self, code: &str, new_password: &str) -> Result<(), MailError> {
        self.accounts.check_new_password(new_password)?;
        let id = self.take(code, purpose::RESET).await?;
        self.end_unproven_links(id).await?;
        self.accounts.reset_password(id, new_password).await?;
        Ok(())
    }

    /// Asks to move the account to `new_email`, after checking the password: a link goes to
    /// the new address, and nothing changes until it is followed.
    pub async fn request_email_change(
        &self,
        id: UserId,
        new_email: &str,
        password: &str,
        address: Option<&str>,
        locale: Option<Locale>,
    ) -> Result<(), MailError> {
        let new_email = parse_email(new_email, "new_email")?;
        let user = self
            .accounts
            .confirm_password(id, password, address)
            .await?;
        if user.email == new_email || self.accounts.email_taken(&new_email).await? {
            return Err(AccountError::EmailTaken.into());
        }
        self.limits
            .spend(Rule::MailPerEmail, Subject::Account(&new_email))
            .await?;
        self.enqueue(
            kind::EMAIL_CHANGE,
            json!({ "user": id, "email": new_email.as_str() }),
            locale,
        )
        .await
    }

    /// Spends an email-change code: the account now has the new, verified address, and the
    /// old address is told.
    pub async fn confirm_email_change(&self, code: &str) -> Result<User, MailError> {
        let (id, detail) = self.take_with_detail(code, purpose::EMAIL_CHANGE).await?;
        let new_email = detail
            .as_deref()
            .and_then(|text| Email::parse(text).ok())
            .ok_or(MailError::CodeInvalid)?;
        let old = self.accounts.user(id).await?.email;
        let user = self.accounts.change_email(id, &new_email).await?;
        self.accounts
            .notices()
            .tell_at(id, Notice::EmailChanged, &old)
            .await;
        Ok(user)
    }

    async fn take(&self, code: &str, purpose: &str) -> Result<UserId, MailError> {
        Ok(self.take_with_detail(code, purpose).await?.0)
    }

    async fn take_with_detail(
        &self,
        code: &str,
        purpose: &str,
    ) -> Result<(UserId, Option<String>), MailError> {
        let code = code.trim();
        if code.is_empty() || code.len() > 128 {
            return Err(MailError::CodeInvalid);
        }
        self.store
            .take_code(&token_digest(code), purpose, self.clock.now())
            .await?
            .ok_or(MailError::CodeInvalid)
    }

    /// Queues `payload`, with the language of the request that asked for it (the worker
    /// falls back to `ui.default_locale`).
    async fn enqueue(
        &self,
        kind: &str,
        mut payload: serde_json::Value,
        locale: Option<Locale>,
    ) -> Result<(), MailError> {
        if let (Some(locale), Some(object)) = (locale, payload.as_object_mut()) {
            object.insert("locale".into(), locale.as_str().into());
        }
        self.store
            .enqueue_mail(
                uuid::Uuid::now_v7(),
                kind,
                &payload.to_string(),
                self.clock.now(),
            )
            .await?;
        Ok(())
    }
}
