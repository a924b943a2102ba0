//! A resource server that trusts a Tessera server: `/public` for anyone, `/me` for any signed-in
//! user, `/admin` for the `admin` role, all checked in memory.
//!
//! ```text
//! cargo run -p tessera-verify --features fetch,axum --example axum_resource_server -- \
//!     http://127.0.0.1:8080 [SERVICE_KEY] [AUDIENCE]
//! ```
//!
//! The first argument is Tessera's `issuer` (its JWKS is read from there). With a service key
//! (one of Tessera's `service_keys`) the server also follows the revocation feed, so a logout is
//! refused here within a second. Then, with an access token from `POST /auth/login`:
//! `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me`.

use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use tessera_verify::{
    Admin, AuthUser, Authenticator, Expectations, Forbidden, JwksClient, RequireRole,
    RevocationFeed,
};

/// The application's state; the extractors find the authenticator in it through `FromRef`.
#[derive(Clone)]
struct AppState {
    auth: Authenticator,
    greeting: &'static str,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let issuer = args
        .next()
        .ok_or("usage: axum_resource_server ISSUER [SERVICE_KEY] [AUDIENCE]")?;
    let service_key = args.next();
    let audience = args.next().unwrap_or_else(|| "tessera".to_owned());

    let jwks = JwksClient::new(&issuer);
    // Fail fast when the issuer is unreachable; later failures are retried on demand.
    jwks.refresh().await?;
    let mut auth = Authenticator::from_jwks(jwks, Expectations::new(&issuer, audience));
    if let Some(service_key) = service_key {
        let feed = RevocationFeed::follow(&issuer, &service_key);
        // Don't serve before the revocations still in force are known.
        tokio::time::timeout(Duration::from_secs(10), feed.caught_up()).await?;
        auth = auth.with_revocation_feed(feed);
    }

    let state = AppState {
        auth,
        greeting: "hello",
    };
    let app = Router::new()
        .route("/public", get(|| async { "anyone may read this" }))
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/editor", get(editor))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Any valid token; the claims are at hand.
async fn me(axum::extract::State(state): axum::extract::State<AppState>, user: AuthUser) -> String {
    format!(
        "{} {} (roles: {:?})",
        state.greeting, user.email, user.roles
    )
}

/// A role fixed at the type level: 403 `forbidden` without it.
async fn admin(admin: RequireRole<Admin>) -> String {
    format!("welcome, admin {}", admin.sub)
}

/// A role decided at run time.
async fn editor(user: AuthUser) -> Result<String, Forbidden> {
    user.require_role("editor")?;
    Ok(format!("{} may edit", user.email))
}
