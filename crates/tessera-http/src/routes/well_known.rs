//! Discovery: the JWKS and RFC 8414 authorization-server metadata.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jwks))
        .routes(routes!(openid_configuration))
        .routes(routes!(oauth_authorization_server))
}

/// RFC 8414 metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct Metadata {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    access_token_signing_alg_values_supported: Vec<String>,
    response_types_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
}

/// How long resource servers may cache the JWKS, at most.
const JWKS_MAX_AGE_SECS: u64 = 60;

/// The public keys that verify live access tokens (RFC 7517). Without entries under HS256.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "JWK set", content_type = "application/json")))]
async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = axum::Json(&*state.keys.jwks()).into_response();
    // Short caching, and never longer than a rotated key is published before it signs, so a
    // cached set always knows the key of any token it meets; resource servers refetch on an
    // unknown kid anyway.
    let publish_ahead = state.keys.settings().publish_ahead.as_secs();
    let max_age = JWKS_MAX_AGE_SECS.min(publish_ahead);
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// Authorization-server metadata under the OpenID discovery name.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, body = Metadata)))]
async fn openid_configuration(State(state): State<AppState>) -> axum::Json<Metadata> {
    axum::Json(metadata(&state))
}

/// RFC 8414 authorization-server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, body = Metadata)))]
async fn oauth_authorization_server(State(state): State<AppState>) -> axum::Json<Metadata> {
    axum::Json(metadata(&state))
}

fn metadata(state: &AppState) -> Metadata {
    let base = state.site.public_url.trim_end_matches('/');
    Metadata {
        issuer: state.site.issuer.clone(),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        token_endpoint: format!("{base}/oauth/token"),
        introspection_endpoint: format!("{base}/auth/introspect"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        grant_types_supported: vec!["password", "refresh_token"],
        token_endpoint_auth_methods_supported: vec!["none"],
        access_token_signing_alg_values_supported: vec![
            state.keys.settings().algorithm.to_string(),
        ],
        response_types_supported: vec!["token"],
        subject_types_supported: vec!["public"],
    }
}
