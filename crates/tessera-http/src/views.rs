//! Response bodies shared by several routes.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::account::User;
use tessera_token::IssuedToken;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A user (API.md §2 "User object").
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Email, lower-case.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Whether TOTP is on.
    pub mfa_enabled: bool,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            name: user.name.clone(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
        }
    }
}

/// The token response (API.md §2). `refresh_token` is absent until refresh tokens exist.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The session the tokens belong to.
    pub session_id: String,
    /// The user.
    pub user: UserView,
}

impl TokenResponse {
    /// The response for `token` issued to `user`.
    pub fn new(token: IssuedToken, user: &User) -> Self {
        Self {
            session_id: token.claims.sid.clone(),
            access_token: token.token,
            token_type: "Bearer",
            expires_in: token.expires_in,
            user: user.into(),
        }
    }
}

/// A JSON body sent with `Cache-Control: no-store` (token responses must never be cached).
pub struct NoStore<T>(pub axum::http::StatusCode, pub T);

impl<T: Serialize> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(self.1)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}
