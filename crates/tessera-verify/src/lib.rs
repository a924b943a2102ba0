//! Verification of Tessera access tokens (RFC 9068 JWTs) for Rust resource servers and for the
//! Tessera server itself.
//!
//! Every key carries the one algorithm it may be used with (no `none`, no HS/RS confusion);
//! header fields that point at other keys (`jku`, `x5u`, `jwk`, `x5c`) are refused rather than
//! followed. `typ`, `iss`, `aud`, `exp` and `nbf` are checked with a leeway for clock skew. This
//! crate depends on no other Tessera crate: only on the token format and the HTTP contract.
//!
//! # Features
//!
//! None is on by default, so the core ([`Verifier`], [`KeySet`], [`Authenticator`] with fixed
//! keys, [`DenySet`]) pulls in no HTTP stack.
//!
//! | feature | adds |
//! |---|---|
//! | `fetch` | `JwksClient` (the issuer's JWKS, cached, refetched on an unknown `kid` at most once per 10 s), `RevocationFeed` (follows `/auth/revocations/stream` into a [`DenySet`]), `redeem_ticket` (WebSocket tickets). Uses reqwest with rustls, Tokio and tracing. |
//! | `axum` | `AuthUser` (extractor for a valid bearer token), `RequireRole` and `AuthUser::require_role` (role guards), answering problem+json 401/403 like Tessera. |
//!
//! # Quick start
//!
//! With `features = ["fetch", "axum"]`, a resource server verifies tokens from memory, with keys
//! from the issuer's JWKS and revocations from its feed:
//!
//! ```no_run
//! # #[cfg(all(feature = "fetch", feature = "axum"))]
//! # mod quick_start {
//! use axum::{Router, routing::get};
//! use tessera_verify::{
//!     Admin, AuthUser, Authenticator, Expectations, JwksClient, RequireRole, RevocationFeed,
//! };
//!
//! async fn me(user: AuthUser) -> String {
//!     format!("hello {}", user.email)
//! }
//!
//! async fn stats(_admin: RequireRole<Admin>) -> &'static str {
//!     "for admins only"
//! }
//!
//! pub async fn app() -> Router {
//!     let issuer = "https://auth.example.com";
//!     let jwks = JwksClient::new(issuer);
//!     // Optional: refused within a second of a logout, without a call per request.
//!     let feed = RevocationFeed::follow(issuer, "a service key configured in Tessera");
//!     let auth = Authenticator::from_jwks(jwks, Expectations::new(issuer, "tessera"))
//!         .with_revocation_feed(feed);
//!
//!     Router::new()
//!         .route("/me", get(me))
//!         .route("/stats", get(stats))
//!         .with_state(auth)
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! Without axum, call [`Authenticator::verify`] yourself; without `fetch`, build a [`KeySet`]
//! (e.g. [`KeySet::from_jwks_json`]) and use [`Authenticator::new`] or [`Verifier`].
//!
//! # Refusals
//!
//! [`Rejection::Invalid`] covers a bad format, signature, algorithm, `kid`, `typ`, `iss` or `aud`
//! and a token not yet valid; [`Rejection::Expired`] a token past `exp` plus the leeway (clients
//! refresh on it); [`Rejection::Revoked`] a token listed by the deny-set. The axum extractor
//! answers them as `token_invalid`, `token_expired` and `token_revoked`.
#![warn(missing_docs)]

mod authenticator;
mod bearer;
mod browser;
mod cache;
mod claims;
mod clock;
mod deny;
#[cfg(feature = "fetch")]
mod error;
#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "fetch")]
mod feed;
#[cfg(feature = "fetch")]
mod fetch;
#[cfg(feature = "fetch")]
mod jwks;
mod keys;
#[cfg(test)]
mod properties;
#[cfg(feature = "fetch")]
mod sse;
#[cfg(test)]
mod testkit;
#[cfg(feature = "fetch")]
mod ticket;
mod verifier;

pub use authenticator::Authenticator;
pub use bearer::bearer_token;
pub use browser::{
    CSRF_HEADER, CookieNames, CookiePolicy, CsrfFailure, RequestOrigin, find_cookie,
    is_unsafe_method, origin_of,
};
pub use claims::AccessClaims;
pub use clock::{Clock, SystemClock};
pub use deny::{DenySet, Revocation};
#[cfg(feature = "fetch")]
pub use error::FetchError;
#[cfg(feature = "axum")]
pub use extract::{
    Admin, AuthRejection, AuthUser, Credential, Forbidden, RequireRole, RoleName, TokenSource,
    request_credential, request_origin,
};
#[cfg(feature = "fetch")]
pub use feed::{RevocationFeed, RevocationFeedBuilder};
pub use jsonwebtoken::Algorithm;
#[cfg(feature = "fetch")]
pub use jwks::{
    DEFAULT_MIN_REFETCH_INTERVAL, DEFAULT_REFRESH_INTERVAL, JwksClient, JwksClientBuilder,
};
pub use keys::{KeySet, VerificationKey};
#[cfg(feature = "fetch")]
pub use ticket::{Ticket, TicketError, redeem_ticket, redeem_ticket_with};
pub use verifier::{Expectations, Rejection, Verifier};

/// The `typ` header value of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
