//! `tessera-upstream` against fake providers on loopback: OpenID Connect ID token attacks, the
//! OAuth 2.0 userinfo mapping, refresh, revocation and the presets. One test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;
mod oauth2;
mod oidc;
mod presets;

use std::sync::Arc;

use tessera_core::ManualClock;
use tessera_core::social::{CodeExchange, Profile, Provider, ProviderTokens, UpstreamError};
use tessera_upstream::{ProviderSettings, UpstreamProvider, http_client};

use fake::{CLIENT_ID, CLIENT_SECRET, FakeProvider, REDIRECT_URI, VERIFIER};

/// The OpenID provider `fake`, on `clock`.
fn oidc_provider(fake: &FakeProvider, clock: &Arc<ManualClock>) -> UpstreamProvider {
    let settings = ProviderSettings {
        issuer: fake.base.clone(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.into(),
        ..ProviderSettings::default()
    };
    UpstreamProvider::new("fake", settings, http_client().unwrap())
        .unwrap()
        .with_clock(clock.clone())
}

/// The callback's code exchange with `nonce`.
async fn exchange(
    provider: &UpstreamProvider,
    nonce: &str,
) -> Result<(Profile, ProviderTokens), UpstreamError> {
    provider
        .exchange(CodeExchange {
            code: "code-1",
            code_verifier: VERIFIER,
            nonce,
            redirect_uri: REDIRECT_URI,
        })
        .await
}

/// The reason of a `Rejected`, or a panic naming what came instead.
fn rejection<T: std::fmt::Debug>(result: Result<T, UpstreamError>) -> String {
    match result {
        Err(UpstreamError::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::starting_now())
}
