//! The token vault: the app's back end asks for a user's provider access token and gets a
//! valid one, refreshed upstream when it is about to expire.
//!
//! One refresh at a time per identity, on every instance: a caller refreshes only while it
//! holds the identity's lease (a conditional write on its row), and stores what it got only
//! while it still holds it. Everyone else waits for the tokens version to change and reads
//! the result, so a rotating provider refresh token is presented once. The lease outlives
//! the upstream call's timeout, so it cannot run out while its holder is still waiting for the
//! provider.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::upstream::{Provider, ProviderTokens, UpstreamError};
use super::{SocialError, open_tokens, seal_tokens};
use crate::account::AccountError;
use crate::ports::{IdentityStore, StoredIdentity};
use crate::secret::MasterKey;
use crate::{Clock, UserId};

/// A token is refreshed when it has less than this left, so the caller gets one that lasts
/// through its own request to the provider.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(10);
/// How long a refresh may hold its lease: longer than the upstream timeout (10 s) and the
/// writes around it.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a waiter looks whether the holder's refresh has landed.
const POLL: Duration = Duration::from_millis(25);
/// How long a caller waits for another instance's refresh before giving up (503).
const PATIENCE: Duration = Duration::from_secs(20);

/// A provider access token for the app's back end.
#[derive(Clone)]
pub struct VaultToken {
    /// The provider's access token.
    pub access_token: String,
    /// Seconds it lives, when the provider said.
    pub expires_in: Option<i64>,
}

impl VaultToken {
    /// The access token of `tokens`, handed out at `now` (Unix seconds).
    fn of(tokens: &ProviderTokens, now: i64) -> Self {
        Self {
            access_token: tokens.access_token.clone(),
            expires_in: tokens.expires_at.map(|at| at - now),
        }
    }
}

impl std::fmt::Debug for VaultToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultToken")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The vault's use case.
pub struct Vault {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    identities: Arc<dyn IdentityStore>,
    master: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
}

impl Vault {
    /// Wires the vault.
    pub fn new(
        providers: BTreeMap<String, Arc<dyn Provider>>,
        identities: Arc<dyn IdentityStore>,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            providers,
            identities,
            master,
            clock,
        }
    }

    /// A valid access token of `user`'s identity at `provider`; none for a disabled account.
    pub async fn token(&self, user: UserId, provider: &str) -> Result<VaultToken, SocialError> {
        let upstream = self.providers.get(provider).ok_or(SocialError::NotLinked)?;
        let started = tokio::time::Instant::now();
        let mut seen_version = None;
        loop {
            let identity = self.identity(user, provider).await?;
            let tokens = self.tokens_of(&identity)?;
            if let Some(token) = self.fresh(&tokens) {
                return Ok(token);
            }
            if tokens.refresh_token.is_none() {
                return Err(SocialError::ProviderLoginRequired);
            }
            // The refresh this caller waited for landed without fresh tokens: it failed, and
            // another attempt now would only hit the failing provider again.
            if seen_version.is_some_and(|version| version != identity.tokens_version) {
                return Err(SocialError::Upstream(UpstreamError::Unavailable(
                    "the provider refresh failed".into(),
                )));
            }
            let holder = Uuid::new_v4();
            let now = self.clock.now();
            if self
                .identities
                .take_refresh_lease(identity.id, holder, now, now + LEASE)
                .await?
            {
                return self
                    .refresh(upstream.as_ref(), user, provider, holder)
                    .await;
            }
            // Someone refreshes right now: wait for it to land, then read theirs. A holder
            // that died frees the lease when it runs out.
            seen_version.get_or_insert(identity.tokens_version);
            if started.elapsed() > PATIENCE {
                return Err(SocialError::Upstream(UpstreamError::Unavailable(
                    "waited too long for another refresh".into(),
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn identity(&self, user: UserId, provider: &str) -> Result<StoredIdentity, SocialError> {
        let (identity, user_disabled) = self
            .identities
            .user_identity(user, provider)
            .await?
            .ok_or(SocialError::NotLinked)?;
        // A disabled account gets nothing, not even a token that is still fresh.
        if user_disabled {
            return Err(AccountError::AccountDisabled.into());
        }
        if identity.needs_login {
            return Err(SocialError::ProviderLoginRequired);
        }
        Ok(identity)
    }

    fn tokens_of(&self, identity: &StoredIdentity) -> Result<ProviderTokens, SocialError> {
        let sealed = identity
            .sealed_tokens
            .as_deref()
            .ok_or(SocialError::ProviderLoginRequired)?;
        open_tokens(&self.master, identity.id, sealed)
    }

    /// The access token of `tokens` if it lasts beyond the margin.
    fn fresh(&self, tokens: &ProviderTokens) -> Option<VaultToken> {
        let now = self.clock.now().unix_timestamp();
        let margin = REFRESH_MARGIN.as_secs() as i64;
        let lasts = tokens.expires_at.is_none_or(|at| at - now > margin);
        lasts.then(|| VaultToken::of(tokens, now))
    }

    /// The refresh itself, under `holder`'s lease. Re-reads first: the refresh this caller
    /// waited for may have landed between its read and its lease.
    async fn refresh(
        &self,
        upstream: &dyn Provider,
        user: UserId,
        provider: &str,
        holder: Uuid,
    ) -> Result<VaultToken, SocialError> {
        let identity = self.identity(user, provider).await?;
        let tokens = self.tokens_of(&identity)?;
        if let Some(token) = self.fresh(&tokens) {
            self.identities
                .finish_refresh(identity.id, holder, None, false)
                .await?;
            return Ok(token);
        }
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            self.identities
                .finish_refresh(identity.id, holder, None, false)
                .await?;
            return Err(SocialError::ProviderLoginRequired);
        };
        match upstream.refresh(refresh_token).await {
            Ok(mut fresh) => {
                // A provider that does not rotate answers without one: the old one stays.
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = tokens.refresh_token.clone();
                }
                let sealed = seal_tokens(&self.master, identity.id, &fresh);
                let stored = self
                    .identities
                    .finish_refresh(identity.id, holder, Some(&sealed), false)
                    .await?;
                if !stored {
                    tracing::warn!(event = "vault", provider, %user, "a provider refresh outlived its lease; its tokens were not stored");
                }
                metrics::counter!("tessera_vault_refreshes_total", "result" => "success")
                    .increment(1);
                Ok(VaultToken::of(&fresh, self.clock.now().unix_timestamp()))
            }
            Err(UpstreamError::InvalidGrant) => {
                self.identities
                    .finish_refresh(identity.id, holder, None, true)
                    .await?;
                metrics::counter!("tessera_vault_refreshes_total", "result" => "invalid_grant")
                    .increment(1);
                tracing::info!(event = "vault", provider, %user, "the provider refused the refresh token; the identity needs a new login");
                Err(SocialError::ProviderLoginRequired)
            }
            Err(error) => {
                self.identities
                    .finish_refresh(identity.id, holder, None, false)
                    .await?;
                metrics::counter!("tessera_vault_refreshes_total", "result" => "error")
                    .increment(1);
                Err(SocialError::Upstream(error))
            }
        }
    }
}
