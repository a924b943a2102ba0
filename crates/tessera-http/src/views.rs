//! Response bodies shared by several routes.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::account::User;
use tessera_core::grant::Grant;
use tessera_core::ids::UserId;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A user (API.md §2 "User object").
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// User id.
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
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
            id: user.id,
            email: user.email.to_string(),
            name: user.name.clone(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
        }
    }
}

/// The token response (API.md §2).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque, rotated on every refresh.
    pub refresh_token: String,
    /// Seconds until the refresh token expires unused.
    pub refresh_expires_in: i64,
    /// The session the tokens belong to.
    pub session_id: String,
    /// The user.
    pub user: UserView,
}

impl From<Grant> for TokenResponse {
    fn from(grant: Grant) -> Self {
        Self {
            refresh_token: grant.refresh_token.encode(),
            refresh_expires_in: grant.refresh_expires_in(),
            session_id: grant.session.id.to_string(),
            user: (&grant.user).into(),
            token_type: "Bearer",
            expires_in: grant.access_token.expires_in(),
            access_token: grant.access_token.into_string(),
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

/// A redirect (`302 Found` or `303 See Other`) to `location`, never cached.
pub fn redirect(status: axum::http::StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (
            status,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => crate::error::ApiError::from(crate::error::Code::Internal).into_response(),
    }
}

/// An HTML page with the headers every page carries: `policy` as its Content-Security-Policy,
/// no `Referer` (its links may carry codes), never cached, never sniffed or framed.
pub fn html_page(status: axum::http::StatusCode, html: String, policy: HeaderValue) -> Response {
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    for (name, value) in [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
