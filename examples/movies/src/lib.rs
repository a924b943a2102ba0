//! The movie service of the tutorials, trusting Tessera for who the caller is: a public list,
//! per-user favourites, admin-only additions, and a chat room entered with a WebSocket ticket.
//! Tokens are checked in memory by `tessera-verify` (keys from the JWKS, revocations from the
//! feed); the data lives in memory, as in the tutorials.

mod catalog;
mod chat;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{delete, get};
use tessera_verify::{
    Authenticator, CookieNames, CookiePolicy, Expectations, JwksClient, RevocationFeed,
};

pub use catalog::Catalog;

/// Where Tessera is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tessera's issuer (also its base URL).
    pub tessera_url: String,
    /// One of Tessera's `service_keys`: for the revocation feed and ticket redemption.
    pub service_key: String,
    /// The `aud` Tessera puts in tokens.
    pub audience: String,
    /// Browser mode: accept Tessera's access cookie from pages of these origins (with the CSRF
    /// rules); `None`: bearer tokens only.
    pub browser_origins: Option<Vec<String>>,
}

/// The cookie rules for pages of `origins`: a page served over plain http can only hold the
/// cookies of Tessera's development mode (the `__Host-` prefix needs `Secure`).
fn cookie_policy(origins: &[String]) -> CookiePolicy {
    let names = if origins.iter().all(|origin| origin.starts_with("http://")) {
        CookieNames::DEV_INSECURE
    } else {
        CookieNames::SECURE
    };
    CookiePolicy::new(names, origins)
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    auth: Authenticator,
    catalog: Arc<Catalog>,
    chat: chat::Room,
    settings: Arc<Settings>,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// Connects to Tessera (JWKS and revocation feed) and builds the router.
pub async fn app(settings: Settings) -> anyhow::Result<Router> {
    let jwks = JwksClient::new(&settings.tessera_url);
    jwks.refresh().await?;
    let feed = RevocationFeed::follow(&settings.tessera_url, &settings.service_key);
    // Serve only once the revocations still in force are known.
    tokio::time::timeout(std::time::Duration::from_secs(10), feed.caught_up()).await?;
    let expect = Expectations::new(&settings.tessera_url, settings.audience.clone());
    let mut auth = Authenticator::from_jwks(jwks, expect).with_revocation_feed(feed);
    if let Some(origins) = &settings.browser_origins {
        auth = auth.with_cookies(cookie_policy(origins));
    }
    let state = AppState {
        auth,
        catalog: Arc::new(Catalog::with_classics()),
        chat: chat::Room::new(),
        settings: Arc::new(settings),
    };
    Ok(Router::new()
        .route("/movies", get(catalog::list).post(catalog::add))
        .route(
            "/me/favorites",
            get(catalog::favorites).post(catalog::add_favorite),
        )
        .route("/me/favorites/{movie_id}", delete(catalog::remove_favorite))
        .route("/chat", get(chat::join))
        .with_state(state))
}
