//! Handler state: one `AppState`, with sub-states so a handler asks only for what it uses.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use tessera_core::Clock;
use tessera_core::account::{Accounts, Administration};
use tessera_core::grant::Grants;
use tessera_core::mail::AccountMail;
use tessera_core::mfa::TwoFactor;
use tessera_core::ports::{Health, RevocationStore};
use tessera_core::secret::{bytes_digest, secrets_equal};
use tessera_core::session::{Revocation, Sessions};
use tessera_core::social::{SocialLogin, Vault};
use tessera_core::ticket::Tickets;
use tessera_token::KeyRing;
use tokio::sync::broadcast;

use crate::browser::Browser;
use crate::proxies::TrustedProxies;

/// Where this server is reached.
#[derive(Debug, Clone)]
pub struct Site {
    /// `iss` of tokens and the metadata's `issuer`.
    pub issuer: String,
    /// Base URL browsers and clients use; endpoints in metadata hang off it.
    pub public_url: String,
}

/// The secrets accepted from back ends on `/internal/*` and the resource-server endpoints.
/// Only their digests are kept, and a presented key is compared with each in constant time.
#[derive(Default)]
pub struct ServiceKeys(Vec<String>);

impl ServiceKeys {
    /// Keeps the digests of `keys`.
    pub fn new<S: AsRef<str>>(keys: &[S]) -> Self {
        Self(
            keys.iter()
                .map(|k| bytes_digest(k.as_ref().as_bytes()))
                .collect(),
        )
    }

    /// Whether `presented` is one of the keys.
    pub fn accepts(&self, presented: &str) -> bool {
        let digest = bytes_digest(presented.as_bytes());
        // Check every key, so the time taken does not tell which one matched.
        self.0.iter().fold(false, |found, key| {
            secrets_equal(key.as_bytes(), digest.as_bytes()) | found
        })
    }
}

/// Everything handlers share, behind one `Arc`: each middleware layer clones the router's
/// state for every request, so a clone must be one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Shares `services` with every handler.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The use cases, ports and settings handlers reach through [`AppState`].
pub struct Services {
    /// Account use cases.
    pub accounts: Arc<Accounts>,
    /// Two-factor use cases.
    pub two_factor: Arc<TwoFactor>,
    /// Email verification and password reset.
    pub mail: Arc<AccountMail>,
    /// Administration use cases.
    pub admin: Arc<Administration>,
    /// The grant path: refresh (logins and signup reach it through `accounts`).
    pub grants: Arc<Grants>,
    /// Session use cases.
    pub sessions: Arc<Sessions>,
    /// Keys: signing, verification (revocations included), JWKS.
    pub keys: Arc<KeyRing>,
    /// WebSocket tickets.
    pub tickets: Arc<Tickets>,
    /// Social login and linked identities.
    pub social: Arc<SocialLogin>,
    /// Provider tokens for back ends.
    pub vault: Arc<Vault>,
    /// Passkeys: registration and login; `None` when no relying party could be named.
    pub passkeys: Option<Arc<tessera_core::passkey::Passkeys>>,
    /// The hosted pages' renderer.
    pub ui: Arc<tessera_ui::Ui>,
    /// Whether the hosted pages (`/ui/*`) are served (`ui.enabled`).
    pub hosted_pages: bool,
    /// The pages' Content-Security-Policy (`ui`'s), as a header made once.
    pub page_policy: axum::http::HeaderValue,
    /// The revocation feed, for resource servers.
    pub feed: Arc<dyn RevocationStore>,
    /// Revocations as this instance learns them, for the SSE stream.
    pub live_revocations: broadcast::Sender<Revocation>,
    /// Accepted service keys.
    pub service_keys: Arc<ServiceKeys>,
    /// Database liveness.
    pub health: Arc<dyn Health>,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Addresses.
    pub site: Arc<Site>,
    /// The clock every rule reads.
    pub clock: Arc<dyn Clock>,
    /// Browser (cookie) mode: cookie names and attributes, CSRF and CORS origins.
    pub browser: Arc<Browser>,
    /// Proxies whose forwarded headers name the client.
    pub proxies: Arc<TrustedProxies>,
}

impl FromRef<AppState> for Arc<TrustedProxies> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.proxies)
    }
}

impl FromRef<AppState> for Arc<Browser> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.browser)
    }
}

impl FromRef<AppState> for Arc<KeyRing> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.keys)
    }
}

impl FromRef<AppState> for Arc<Sessions> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.sessions)
    }
}

impl FromRef<AppState> for Arc<ServiceKeys> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.service_keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_service_keys_are_accepted() {
        let keys = ServiceKeys::new(&["first-service-key", "second-service-key"]);
        assert!(keys.accepts("second-service-key"));
        assert!(!keys.accepts("second-service-ke"));
        assert!(!ServiceKeys::default().accepts(""));
    }
}
