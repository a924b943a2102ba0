//! Handler state: one `AppState`, with sub-states so a handler asks only for what it uses.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use tessera_core::account::Accounts;
use tessera_core::ports::Health;
use tessera_token::KeyRing;

/// Where this server is reached.
#[derive(Debug, Clone)]
pub struct Site {
    /// `iss` of tokens and the metadata's `issuer`.
    pub issuer: String,
    /// Base URL browsers and clients use; endpoints in metadata hang off it.
    pub public_url: String,
}

/// Everything handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Account use cases.
    pub accounts: Arc<Accounts>,
    /// Keys: signing, verification, JWKS.
    pub keys: Arc<KeyRing>,
    /// Database liveness.
    pub health: Arc<dyn Health>,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Addresses.
    pub site: Arc<Site>,
}

impl FromRef<AppState> for Arc<KeyRing> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.keys)
    }
}

impl FromRef<AppState> for Arc<Accounts> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.accounts)
    }
}
