//! Signing in through a provider: the authorization request, the callback (code exchange,
//! linking rules, the grant path) and the trade of its login code for tokens; listing and
//! unlinking identities.
//!
//! The linking rules (API.md §3): an identity seen before signs in its user; else an account
//! with the same email is joined only when the provider vouches for the email *and* the
//! account's email was verified here (an unverified account could have been registered by
//! anyone to catch a later provider login); else a new account is made. Linking on purpose
//! takes a signed-in user asking with `link=true`.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::SocialError;
use super::flow::{FLOW_TTL, Flow, LinkRequest};
use super::redirect::RedirectPolicy;
use super::upstream::{AuthorizationRequest, CodeExchange, Profile, Provider, ProviderTokens};
use crate::account::Device;
use crate::account::{AccountError, Accounts, DisplayName, Email, NewUser, User};
use crate::grant::{Grant, Grants, Handover, LoginCode};
use crate::kept::Kept;
use crate::mfa::MfaChallenge;
use crate::ports::{AuditEvent, AuditStore, IdentityStore, StoredIdentity, Unlinked, UserStore};
use crate::secret::{MasterKey, random_token, token_digest};
use crate::session::Method;
use crate::{Clock, Conflict, StoreError, UserId};

/// Where to send the browser to begin, and the value of its binding cookie.
#[derive(Debug)]
pub struct Authorization {
    /// The provider's authorization URL.
    pub url: String,
    /// The `tessera_oauth` cookie's value: the callback needs it back.
    pub binding: String,
}

/// What the callback hands back to the app, at `target`.
#[derive(Debug)]
pub struct Callback {
    /// The app's URL the browser goes back to.
    pub target: Url,
    /// What goes with it.
    pub result: CallbackResult,
}

/// The outcome of a successful callback.
#[derive(Debug)]
pub enum CallbackResult {
    /// Signed in: `?login_code=`.
    LoginCode(LoginCode),
    /// Two-factor is on: `?mfa_token=`.
    SecondFactor(MfaChallenge),
    /// The identity was linked to the signed-in user: `?linked=provider`.
    Linked(String),
}

/// A callback's parameters.
#[derive(Debug, Default)]
pub struct CallbackParams<'a> {
    /// `code`.
    pub code: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `error`, when the provider refused (the person declined, for one).
    pub error: Option<&'a str>,
    /// The `tessera_oauth` cookie.
    pub binding: Option<&'a str>,
}

/// The social login use cases.
pub struct SocialLogin {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    identities: Arc<dyn IdentityStore>,
    users: Arc<dyn UserStore>,
    accounts: Arc<Accounts>,
    grants: Arc<Grants>,
    audit: Arc<dyn AuditStore>,
    master: Arc<MasterKey>,
    flows: Kept<Flow>,
    redirects: RedirectPolicy,
    public_url: String,
    clock: Arc<dyn Clock>,
}

/// What [`SocialLogin`] is made of.
pub struct SocialParts {
    /// The configured providers, by name.
    pub providers: BTreeMap<String, Arc<dyn Provider>>,
    /// Identities and their tokens.
    pub identities: Arc<dyn IdentityStore>,
    /// Accounts, read by email and id.
    pub users: Arc<dyn UserStore>,
    /// The account use cases.
    pub accounts: Arc<Accounts>,
    /// The grant path.
    pub grants: Arc<Grants>,
    /// The audit trail.
    pub audit: Arc<dyn AuditStore>,
    /// Seals provider tokens.
    pub master: Arc<MasterKey>,
    /// Where flows are kept (shared by every instance).
    pub flows: Arc<dyn crate::ports::SingleUseStore>,
    /// Allowed `redirect_to` targets.
    pub redirects: RedirectPolicy,
    /// This server's public URL: callbacks hang off it.
    pub public_url: String,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl SocialLogin {
    /// Wires the use cases.
    pub fn new(parts: SocialParts) -> Self {
        Self {
            providers: parts.providers,
            identities: parts.identities,
            users: parts.users,
            accounts: parts.accounts,
            grants: parts.grants,
            audit: parts.audit,
            master: parts.master,
            flows: Kept::new(parts.flows, Arc::clone(&parts.clock), "oauth", FLOW_TTL),
            redirects: parts.redirects,
            public_url: parts.public_url.trim_end_matches('/').to_owned(),
            clock: parts.clock,
        }
    }

    /// `requested` if it is an allowed place to send a browser back to (`redirect_to`, the
    /// allow-list of social login, which the hosted pages share).
    pub fn redirect_target(&self, requested: &str) -> Option<Url> {
        self.redirects.check(Some(requested))
    }

    /// The configured provider names.
    pub fn provider_names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    fn provider(&self, name: &str) -> Result<&Arc<dyn Provider>, SocialError> {
        self.providers.get(name).ok_or(SocialError::UnknownProvider)
    }

    fn redirect_uri(&self, provider: &str) -> String {
        format!("{}/auth/oauth/{provider}/callback", self.public_url)
    }

    /// Begins a login (or, with `link`, a link) through `provider`, returning to
    /// `redirect_to` (checked against the allow-list) at the end.
    pub async fn begin(
        &self,
        provider: &str,
        redirect_to: Option<&str>,
        link: Option<LinkRequest>,
    ) -> Result<Authorization, SocialError> {
        let upstream = self.provider(provider)?;
        let target = self
            .redirects
            .check(redirect_to)
            .ok_or(SocialError::RedirectNotAllowed)?;
        let link = match link {
            Some(mut link) => {
                link.epoch = self.live_user(link.user).await?.security_epoch;
                Some(link)
            }
            None => None,
        };
        let state = random_token();
        let binding = random_token();
        let flow = Flow {
            provider: provider.to_owned(),
            code_verifier: random_token(),
            nonce: random_token(),
            target: target.into(),
            binding: token_digest(&binding),
            link,
            expires_at: self.flows.expiry(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, flow.code_verifier.as_bytes()));
        let redirect_uri = self.redirect_uri(provider);
        let url = upstream
            .authorization_url(AuthorizationRequest {
                state: &state,
                code_challenge: &challenge,
                nonce: &flow.nonce,
                redirect_uri: &redirect_uri,
            })
            .await?;
        self.flows.put(&state, &flow).await?;
        Ok(Authorization { url, binding })
    }

    /// The provider's callback: validates the flow, trades the code, applies the linking
    /// rules and ends in the grant path. A failure once the flow is known goes back to its
    /// target ([`SocialError::Refused`]).
    pub async fn callback(
        &self,
        provider: &str,
        params: CallbackParams<'_>,
        device: Device,
    ) -> Result<Callback, SocialError> {
        let upstream = self.provider(provider)?;
        let Some(state) = params.state else {
            return Err(SocialError::StateInvalid);
        };
        // Taken before anything else: a state works once, whatever happens next.
        let Some(flow) = self.flows.take(state).await? else {
            return Err(SocialError::StateInvalid);
        };
        let target = Url::parse(&flow.target).map_err(|_| SocialError::StateInvalid)?;
        let refuse = |reason: &'static str| SocialError::Redirect {
            target: target.clone(),
            reason,
        };
        if flow.provider != provider {
            tracing::info!(
                event = "oauth",
                provider,
                "callback refused: state of another provider"
            );
            return Err(refuse("code_invalid"));
        }
        if !flow.is_bound_to(params.binding) {
            tracing::info!(
                event = "oauth",
                provider,
                "callback refused: not the browser that began it"
            );
            return Err(refuse("code_invalid"));
        }
        if let Some(error) = params.error {
            let reason = if error == "access_denied" {
                "access_denied"
            } else {
                "upstream_error"
            };
            return Err(refuse(reason));
        }
        let Some(code) = params.code else {
            return Err(refuse("code_invalid"));
        };
        let redirect_uri = self.redirect_uri(provider);
        let (profile, tokens) = upstream
            .exchange(CodeExchange {
                code,
                code_verifier: &flow.code_verifier,
                nonce: &flow.nonce,
                redirect_uri: &redirect_uri,
            })
            .await
            .map_err(|error| {
                tracing::warn!(event = "oauth", provider, %error, "callback refused: the code exchange failed");
                refuse("upstream_error")
            })?;
        let result = match flow.link {
            Some(link) => self.link(link, provider, &profile, &tokens).await,
            None => self.sign_in(provider, &profile, &tokens, device).await,
        };
        match result {
            Ok(result) => Ok(Callback { target, result }),
            Err(SocialError::Refused(reason)) => Err(refuse(reason)),
            Err(error) => {
                tracing::warn!(event = "oauth", provider, %error, "callback failed");
                Err(refuse(error.reason()))
            }
        }
    }

    async fn sign_in(
        &self,
        provider: &str,
        profile: &Profile,
        tokens: &ProviderTokens,
        device: Device,
    ) -> Result<CallbackResult, SocialError> {
        let (identity, user) = match self
            .identities
            .find_identity(provider, &profile.subject)
            .await?
        {
            Some(identity) => {
                let user = self.live_user(identity.user).await?;
                (identity, user)
            }
            None => self.join_or_create(provider, profile).await?,
        };
        self.store_tokens(&identity, profile, tokens).await?;
        let handover = self
            .grants
            .login_by_code(Ok(user.clone()), device, Method::Federated)
            .await
            .map_err(SocialError::from)?;
        self.record(user.id, "login.provider", json!({ "provider": provider }))
            .await?;
        Ok(match handover {
            Handover::Code(code) => CallbackResult::LoginCode(code),
            Handover::SecondFactor(challenge) => CallbackResult::SecondFactor(challenge),
        })
    }

    /// A first login through `provider`: joins the account with the same email when both
    /// sides have verified it, else makes a new account; refuses with `account_exists` when
    /// the email is taken and either side has not verified it.
    async fn join_or_create(
        &self,
        provider: &str,
        profile: &Profile,
    ) -> Result<(StoredIdentity, User), SocialError> {
        let email = profile
            .email
            .as_deref()
            .and_then(|email| Email::parse(email).ok())
            .ok_or(SocialError::Refused("email_required"))?;
        if let Some(found) = self.users.find_by_email(&email).await? {
            let user = found.user;
            if !(profile.email_verified && user.email_verified) {
                return Err(SocialError::Refused("account_exists"));
            }
            if user.disabled {
                return Err(SocialError::Refused("account_disabled"));
            }
            let identity = self.new_identity(user.id, provider, profile, true);
            self.identities
                .link_identity(&identity)
                .await
                .map_err(|error| Self::conflict(error, "account_exists"))?;
            self.record(
                user.id,
                "identity.link",
                json!({ "provider": provider, "by": "verified_email" }),
            )
            .await?;
            return Ok((identity, user));
        }
        let new_user = NewUser {
            id: UserId::new(),
            email,
            name: profile
                .name
                .as_deref()
                .and_then(|name| DisplayName::parse(name).ok().flatten()),
            roles: Vec::new(),
            email_verified: profile.email_verified,
            created_at: self.clock.now(),
        };
        let identity = self.new_identity(new_user.id, provider, profile, profile.email_verified);
        let user = self
            .identities
            .create_user_with_identity(&new_user, &identity)
            .await
            .map_err(|error| Self::conflict(error, "account_exists"))?;
        self.record(
            user.id,
            "identity.link",
            json!({ "provider": provider, "by": "signup" }),
        )
        .await?;
        Ok((identity, user))
    }

    /// Links the provider's identity to the signed-in user who asked (`link=true`), if the
    /// session they asked from is still live and their account unchanged: a link begun with a
    /// stolen token, or on a shared computer by someone since signed out, ends in nothing once
    /// the owner has logged out or changed the password.
    async fn link(
        &self,
        link: LinkRequest,
        provider: &str,
        profile: &Profile,
        tokens: &ProviderTokens,
    ) -> Result<CallbackResult, SocialError> {
        let user = link.user;
        let account = self.live_user(user).await?;
        if account.security_epoch != link.epoch
            || !self
                .grants
                .sessions()
                .list(user)
                .await
                .map_err(AccountError::from)?
                .iter()
                .any(|session| session.id == link.session)
        {
            return Err(SocialError::Refused("code_invalid"));
        }
        let identity = match self
            .identities
            .find_identity(provider, &profile.subject)
            .await?
        {
            Some(identity) if identity.user == user => identity,
            Some(_) => return Err(SocialError::Refused("identity_taken")),
            None => {
                // Proven as far as the account's own address is: a link made from an account
                // whose address nobody proved is no stronger than the account.
                let identity = self.new_identity(user, provider, profile, account.email_verified);
                self.identities
                    .link_identity(&identity)
                    .await
                    .map_err(|error| Self::conflict(error, "identity_taken"))?;
                self.record(
                    user,
                    "identity.link",
                    json!({ "provider": provider, "by": "explicit" }),
                )
                .await?;
                identity
            }
        };
        self.store_tokens(&identity, profile, tokens).await?;
        Ok(CallbackResult::Linked(provider.to_owned()))
    }

    /// Trades a callback's login code for the session's tokens, once.
    pub async fn exchange(&self, login_code: &str) -> Result<Grant, SocialError> {
        let pending = self
            .grants
            .take_login_code(login_code)
            .await?
            .ok_or(SocialError::CodeInvalid)?;
        let user = match self.accounts.user(pending.user).await {
            Ok(user) if user.security_epoch == pending.epoch => user,
            // Disabled, deleted or changed since the callback: what it proved no longer holds.
            Ok(_) | Err(AccountError::AccountGone) => return Err(SocialError::CodeInvalid),
            Err(error) => return Err(error.into()),
        };
        let amr = pending.amr();
        Ok(self.grants.finish_login(user, pending.device, amr).await?)
    }

    /// The user's linked identities.
    pub async fn identities(&self, user: UserId) -> Result<Vec<StoredIdentity>, SocialError> {
        Ok(self.identities.user_identities(user).await?)
    }

    /// Unlinks the user's identity of `provider`, unless it is their last way to log in, and
    /// revokes its tokens upstream where the provider supports it (best effort: the link is
    /// gone either way).
    pub async fn unlink(&self, user: UserId, provider: &str) -> Result<(), SocialError> {
        let identity = match self.identities.unlink_identity(user, provider).await? {
            Unlinked::Removed(identity) => identity,
            Unlinked::LastMethod => return Err(SocialError::LastMethod),
            Unlinked::NotFound => return Err(SocialError::NotLinked),
        };
        self.record(user, "identity.unlink", json!({ "provider": provider }))
            .await?;
        let (Some(upstream), Some(sealed)) =
            (self.providers.get(provider), &identity.sealed_tokens)
        else {
            tracing::info!(
                event = "oauth",
                provider,
                "identity unlinked; it held no tokens"
            );
            return Ok(());
        };
        let Ok(tokens) = super::open_tokens(&self.master, identity.id, sealed) else {
            tracing::warn!(
                event = "oauth",
                provider,
                "identity unlinked; its stored tokens could not be opened to revoke them"
            );
            return Ok(());
        };
        match upstream.revoke(&tokens).await {
            Ok(revoked) => tracing::info!(event = "oauth", provider, revoked, "identity unlinked"),
            Err(error) => {
                tracing::warn!(event = "oauth", provider, %error, "identity unlinked; revoking its tokens upstream failed")
            }
        }
        Ok(())
    }

    async fn store_tokens(
        &self,
        identity: &StoredIdentity,
        profile: &Profile,
        tokens: &ProviderTokens,
    ) -> Result<(), SocialError> {
        let sealed = super::seal_tokens(&self.master, identity.id, tokens);
        self.identities
            .store_login_tokens(identity.id, profile.email.as_deref(), &sealed)
            .await?;
        Ok(())
    }

    async fn live_user(&self, id: UserId) -> Result<User, SocialError> {
        match self.users.find_by_id(id).await? {
            Some(found) if found.user.disabled => Err(SocialError::Refused("account_disabled")),
            Some(found) => Ok(found.user),
            None => Err(SocialError::Refused("code_invalid")),
        }
    }

    fn new_identity(
        &self,
        user: UserId,
        provider: &str,
        profile: &Profile,
        email_proven: bool,
    ) -> StoredIdentity {
        StoredIdentity {
            id: Uuid::now_v7(),
            user,
            provider: provider.to_owned(),
            subject: profile.subject.clone(),
            email: profile.email.clone(),
            linked_at: self.clock.now(),
            sealed_tokens: None,
            tokens_version: 0,
            needs_login: false,
            email_proven,
        }
    }

    /// A uniqueness conflict (another callback of the same person won a race) as `reason`.
    fn conflict(error: StoreError, reason: &'static str) -> SocialError {
        match error {
            StoreError::Conflict(Conflict::Email | Conflict::Identity) => {
                SocialError::Refused(reason)
            }
            error => error.into(),
        }
    }

    async fn record(
        &self,
        user: UserId,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), SocialError> {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: self.clock.now(),
            actor: Some(user),
            action: action.to_owned(),
            target: Some(user.to_string()),
            detail: Some(detail),
        };
        Ok(self.audit.record_audit(&event).await?)
    }
}
