//! Passkeys (API.md §3 "Passkeys"): WebAuthn registration for a signed-in user, and login
//! without a password, either email-first (the user's credentials allowed) or with a
//! discoverable credential (conditional UI, autofill). The ceremonies' checks (origin, relying
//! party, challenge, signature, user verification, the signature counter) are `webauthn-rs`'s;
//! this module keeps each ceremony's state single-use for five minutes in the store every
//! instance shares, keeps the credentials, and ends every login in the grant path, where a
//! passkey counts as two factors.

mod ceremony;

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CredentialID, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::account::{AccountError, Accounts, Device, Email};
use crate::grant::{Grants, LoginOutcome};
use crate::mail::Notice;
use crate::ports::{
    AuditEvent, AuditStore, PasskeyRemoved, PasskeyStore, SingleUseStore, StoredPasskey, UserStore,
};
use crate::secret::{MasterKey, random_token};
use crate::session::Method;
use crate::{Clock, Conflict, StateError, StoreError, UserId};

use ceremony::{Authentication, Ceremonies, Registration};

/// How long a ceremony may take, from its options to its answer.
pub const CEREMONY_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The longest passkey name, in characters.
const MAX_NAME: usize = 64;

/// `[webauthn]`: who the credentials are for.
#[derive(Debug, Clone)]
pub struct PasskeySettings {
    /// The relying party id: a registrable domain the origins are on. Credentials are bound to
    /// it for ever: changing it orphans every passkey.
    pub rp_id: String,
    /// The name authenticators show.
    pub rp_name: String,
    /// The origins pages may run a ceremony from.
    pub origins: Vec<Url>,
}

/// Why a passkey request failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The settings cannot work (an origin not on the relying party id).
    #[error("webauthn settings: {0}")]
    Settings(String),
    /// The ceremony is unknown, spent, expired or someone else's.
    #[error("unknown or spent ceremony")]
    CeremonyInvalid,
    /// The credential is not one: malformed JSON or encoding.
    #[error("malformed credential")]
    Malformed,
    /// A registration the authenticator's answer did not pass (origin, relying party,
    /// challenge, user verification).
    #[error("registration refused: {0}")]
    Refused(String),
    /// The credential is registered already.
    #[error("the passkey is registered already")]
    Taken,
    /// A name that is empty or longer than 64 characters.
    #[error("a passkey name has 1 to 64 characters")]
    Name,
    /// Removing it would leave the account without a way to log in.
    #[error("the last way to log in")]
    LastMethod,
    /// The user has no passkey with that id.
    #[error("no such passkey")]
    NotFound,
    /// The account failed: gone, disabled, or a login refused.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ceremonies' store could not be reached.
    #[error(transparent)]
    Unavailable(#[from] StateError),
}

/// The first half of a ceremony: its id and the options for `navigator.credentials`.
#[derive(Debug)]
pub struct Ceremony {
    /// Names the ceremony's state; the second half sends it back.
    pub ceremony_id: String,
    /// `{publicKey: …}` (and `mediation` for conditional UI), base64url buffers.
    pub options: Value,
}

/// What the passkey use cases are made of.
pub struct PasskeyParts {
    /// Who the credentials are for.
    pub settings: PasskeySettings,
    /// The credentials.
    pub passkeys: Arc<dyn PasskeyStore>,
    /// Accounts, read by email.
    pub users: Arc<dyn UserStore>,
    /// The account use cases.
    pub accounts: Arc<Accounts>,
    /// The grant path.
    pub grants: Arc<Grants>,
    /// The audit trail.
    pub audit: Arc<dyn AuditStore>,
    /// Derives the key of the decoy credentials of unknown addresses.
    pub master: Arc<MasterKey>,
    /// Where ceremonies are kept (shared by every instance).
    pub ceremonies: Arc<dyn SingleUseStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// The passkey use cases.
pub struct Passkeys {
    webauthn: Webauthn,
    passkeys: Arc<dyn PasskeyStore>,
    users: Arc<dyn UserStore>,
    accounts: Arc<Accounts>,
    grants: Arc<Grants>,
    audit: Arc<dyn AuditStore>,
    ceremonies: Ceremonies,
    /// Makes an unknown address's decoy credential id: the same one each time it is asked.
    decoys: hmac::Key,
    clock: Arc<dyn Clock>,
}

impl Passkeys {
    /// Wires the use cases; the settings are checked here, so a relying party id the origins
    /// are not on stops the server at start.
    pub fn new(parts: PasskeyParts) -> Result<Self, PasskeyError> {
        let settings = &parts.settings;
        let (first, others) = settings
            .origins
            .split_first()
            .ok_or_else(|| PasskeyError::Settings("webauthn.origins is empty".into()))?;
        let mut builder = WebauthnBuilder::new(&settings.rp_id, first)
            .map_err(|error| PasskeyError::Settings(format!("{error} ({first})")))?
            .rp_name(&settings.rp_name);
        for origin in others {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|error| PasskeyError::Settings(error.to_string()))?;
        let decoy_key = parts.master.derive("passkey decoy credential ids");
        Ok(Self {
            webauthn,
            passkeys: parts.passkeys,
            users: parts.users,
            accounts: parts.accounts,
            grants: parts.grants,
            audit: parts.audit,
            ceremonies: Ceremonies::new(parts.ceremonies, Arc::clone(&parts.clock)),
            decoys: hmac::Key::new(hmac::HMAC_SHA256, decoy_key.as_ref()),
            clock: parts.clock,
        })
    }

    /// Begins registering a passkey for `user`: the options, with the user's other passkeys
    /// excluded (an authenticator holding one of them declines).
    pub async fn register_options(&self, user: UserId) -> Result<Ceremony, PasskeyError> {
        let account = self.accounts.user(user).await?;
        let exclude: Vec<CredentialID> = self
            .passkeys
            .user_passkeys(user)
            .await?
            .into_iter()
            .map(|stored| CredentialID::from(stored.credential_id))
            .collect();
        let display = account.name.as_deref().unwrap_or(account.email.as_str());
        let (options, state) = self
            .webauthn
            .start_passkey_registration(user.0, account.email.as_str(), display, Some(exclude))
            .map_err(|error| PasskeyError::Refused(error.to_string()))?;
        let ceremony_id = random_token();
        let registration = Registration::new(user, state, self.ceremonies.expiry());
        self.ceremonies
            .put_registration(&ceremony_id, &registration)
            .await?;
        let mut options = to_json(&options)?;
        // webauthn-rs asks for a credential kept by the server only (`residentKey:
        // discouraged`); a passkey that autofill and the email-less login can offer must be
        // discoverable, so the options prefer one. Verification does not depend on it.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "preferred".into());
        }
        Ok(Ceremony {
            ceremony_id,
            options,
        })
    }

    /// Ends a registration: checks the authenticator's answer and keeps the passkey as
    /// `name`; the user is told by mail.
    pub async fn register(
        &self,
        user: UserId,
        ceremony_id: &str,
        credential: &Value,
        name: Option<&str>,
    ) -> Result<StoredPasskey, PasskeyError> {
        let name = passkey_name(name)?;
        let registration = self
            .ceremonies
            .take_registration(ceremony_id)
            .await?
            .filter(|registration| registration.user == user)
            .ok_or(PasskeyError::CeremonyInvalid)?;
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|_| PasskeyError::Malformed)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &registration.state)
            .map_err(|error| PasskeyError::Refused(error.to_string()))?;
        self.accounts.user(user).await?;
        let stored = StoredPasskey {
            id: Uuid::now_v7(),
            user,
            credential_id: passkey.cred_id().to_vec(),
            credential: serde_json::to_string(&passkey).map_err(|_| PasskeyError::Malformed)?,
            name,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        match self.passkeys.add_passkey(&stored).await {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::Passkey)) => return Err(PasskeyError::Taken),
            Err(error) => return Err(error.into()),
        }
        self.record(user, "passkey.add", &stored).await?;
        self.accounts
            .notices()
            .tell(user, Notice::PasskeyAdded)
            .await;
        tracing::info!(user_id = %user, event = "passkey_added", "passkey added");
        Ok(stored)
    }

    /// The user's passkeys, oldest first.
    pub async fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, PasskeyError> {
        Ok(self.passkeys.user_passkeys(user).await?)
    }

    /// Renames the user's passkey `id`.
    pub async fn rename(
        &self,
        user: UserId,
        id: Uuid,
        name: &str,
    ) -> Result<StoredPasskey, PasskeyError> {
        let name = passkey_name(Some(name))?;
        self.passkeys
            .rename_passkey(user, id, &name)
            .await?
            .ok_or(PasskeyError::NotFound)
    }

    /// Removes the user's passkey `id`, unless it is their last way to log in.
    pub async fn remove(&self, user: UserId, id: Uuid) -> Result<(), PasskeyError> {
        match self.passkeys.remove_passkey(user, id).await? {
            PasskeyRemoved::Removed(stored) => {
                self.record(user, "passkey.remove", &stored).await?;
                Ok(())
            }
            PasskeyRemoved::LastMethod => Err(PasskeyError::LastMethod),
            PasskeyRemoved::NotFound => Err(PasskeyError::NotFound),
        }
    }

    /// Begins a login. With `email`, the options allow that user's passkeys; an address with
    /// no account (or no passkey) gets options of the same shape with a decoy credential, the
    /// same each time, so the answer does not tell whether it has one. Without `email`, any
    /// discoverable credential of this relying party may answer (conditional UI).
    pub async fn login_options(&self, email: Option<&str>) -> Result<Ceremony, PasskeyError> {
        let (options, authentication) = match email {
            None => {
                let (options, state) = self
                    .webauthn
                    .start_discoverable_authentication()
                    .map_err(|error| PasskeyError::Refused(error.to_string()))?;
                (to_json(&options)?, Authentication::Discoverable { state })
            }
            Some(email) => {
                let email = Email::parse(email).map_err(|_| {
                    AccountError::Validation(vec![crate::account::FieldError::new(
                        "email",
                        "not an email address",
                    )])
                })?;
                self.email_first(&email).await?
            }
        };
        let ceremony_id = random_token();
        self.ceremonies
            .put_authentication(
                &ceremony_id,
                &authentication.until(self.ceremonies.expiry()),
            )
            .await?;
        Ok(Ceremony {
            ceremony_id,
            options,
        })
    }

    /// The options and state of an email-first login.
    async fn email_first(&self, email: &Email) -> Result<(Value, Authentication), PasskeyError> {
        let found = self.users.find_by_email(email).await?;
        let passkeys = match &found {
            Some(found) if !found.user.disabled => {
                self.passkeys.user_passkeys(found.user.id).await?
            }
            _ => Vec::new(),
        };
        let keys: Vec<Passkey> = passkeys
            .iter()
            .filter_map(|stored| serde_json::from_str(&stored.credential).ok())
            .collect();
        match found {
            Some(found) if !keys.is_empty() => {
                let (options, state) = self
                    .webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(|error| PasskeyError::Refused(error.to_string()))?;
                let user = found.user.id;
                Ok((to_json(&options)?, Authentication::ForUser { user, state }))
            }
            _ => Ok((self.decoy_options(email)?, Authentication::Decoy)),
        }
    }

    /// Options shaped like a user's (the discoverable ones, made email-first) whose one allowed
    /// credential is an id derived from the address: no authenticator has it.
    fn decoy_options(&self, email: &Email) -> Result<Value, PasskeyError> {
        let (options, _) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|error| PasskeyError::Refused(error.to_string()))?;
        let mut options = to_json(&options)?;
        let tag = hmac::sign(&self.decoys, email.key().as_bytes());
        let id = URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]);
        if let Some(object) = options.as_object_mut() {
            object.remove("mediation");
        }
        if let Some(public_key) = options.get_mut("publicKey").and_then(Value::as_object_mut) {
            public_key.remove("extensions");
            public_key.insert(
                "allowCredentials".into(),
                serde_json::json!([{ "type": "public-key", "id": id }]),
            );
        }
        Ok(options)
    }

    /// Ends a login: the assertion checked against the ceremony and the stored credential,
    /// the counter stored, then the grant path. Any failed check is `invalid_credentials`.
    pub async fn login(
        &self,
        ceremony_id: &str,
        credential: &Value,
        device: Device,
    ) -> Result<LoginOutcome, PasskeyError> {
        let authentication = self
            .ceremonies
            .take_authentication(ceremony_id)
            .await?
            .ok_or(PasskeyError::CeremonyInvalid)?;
        let credential: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|_| PasskeyError::Malformed)?;
        let checked = self.check(authentication, &credential).await;
        Ok(self.grants.login(checked, device, Method::Passkey).await?)
    }

    /// The user the assertion proves, with the credential's new counter stored.
    async fn check(
        &self,
        authentication: Authentication,
        credential: &PublicKeyCredential,
    ) -> Result<crate::account::User, AccountError> {
        let stored = self
            .passkeys
            .find_passkey(credential.get_credential_id())
            .await?
            .ok_or(AccountError::InvalidCredentials)?;
        let mut passkey: Passkey = serde_json::from_str(&stored.credential)
            .map_err(|_| AccountError::InvalidCredentials)?;
        let verified = match authentication {
            Authentication::ForUser { user, state } if user == stored.user => self
                .webauthn
                .finish_passkey_authentication(credential, &state),
            Authentication::Discoverable { state } => {
                match self
                    .webauthn
                    .identify_discoverable_authentication(credential)
                {
                    Ok((handle, _)) if handle == stored.user.0 => self
                        .webauthn
                        .finish_discoverable_authentication_v2(credential, state, &passkey),
                    Ok(_) => Err(WebauthnError::InvalidUserUniqueId),
                    Err(error) => Err(error),
                }
            }
            // Another user's credential, or the decoy of an unknown address.
            _ => Err(WebauthnError::CredentialNotFound),
        };
        let result = verified.map_err(|error| {
            tracing::info!(%error, "passkey assertion refused");
            AccountError::InvalidCredentials
        })?;
        passkey.update_credential(&result);
        let updated =
            serde_json::to_string(&passkey).map_err(|_| AccountError::InvalidCredentials)?;
        // Stored only over the credential read: of two logins with the same counter, one wins.
        if !self
            .passkeys
            .record_passkey_use(stored.id, &stored.credential, &updated, self.clock.now())
            .await?
        {
            return Err(AccountError::InvalidCredentials);
        }
        let user = self
            .accounts
            .user(stored.user)
            .await
            .map_err(|error| match error {
                AccountError::AccountGone => AccountError::AccountDisabled,
                other => other,
            })?;
        Ok(user)
    }

    async fn record(
        &self,
        user: UserId,
        action: &str,
        passkey: &StoredPasskey,
    ) -> Result<(), PasskeyError> {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: self.clock.now(),
            actor: Some(user),
            action: action.to_owned(),
            target: Some(user.to_string()),
            detail: Some(serde_json::json!({ "passkey": passkey.id, "name": passkey.name })),
        };
        Ok(self.audit.record_audit(&event).await?)
    }
}

/// `name` trimmed, or "Passkey" without one; 1 to 64 characters.
fn passkey_name(name: Option<&str>) -> Result<String, PasskeyError> {
    let name = name.map_or("Passkey", str::trim);
    let length = name.chars().count();
    if length == 0 || length > MAX_NAME || name.chars().any(char::is_control) {
        return Err(PasskeyError::Name);
    }
    Ok(name.to_owned())
}

fn to_json(options: &impl serde::Serialize) -> Result<Value, PasskeyError> {
    serde_json::to_value(options).map_err(|_| PasskeyError::Malformed)
}
