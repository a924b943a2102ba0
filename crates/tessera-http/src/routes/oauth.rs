//! The RFC 6749 token endpoint (password and refresh_token grants) and RFC 7009 revocation,
//! so standard OAuth2 client libraries work unchanged. Errors here are RFC 6749 §5.2 JSON,
//! not problem+json, because that is what those libraries parse.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::account::{AccountError, Login};
use tessera_core::grant::LoginOutcome;
use tessera_core::limits::Limited;
use tessera_core::session::SessionError;
use tessera_verify::Rejection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Code, FailureCause, rate_limit_headers};
use crate::extract::{ClientInfo, Form};
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(revoke))
}

/// Form of `POST /oauth/token`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// Form of `POST /oauth/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    token: Option<String>,
}

/// An RFC 6749 §5.2 error.
#[derive(Serialize, ToSchema)]
pub struct OAuthError {
    error: &'static str,
    error_description: String,
    #[serde(skip)]
    status: u16,
    /// Why a server-side failure happened, for the log (never the body).
    #[serde(skip)]
    #[schema(ignore)]
    cause: Option<FailureCause>,
    /// The rule that refused a 429, for its headers.
    #[serde(skip)]
    #[schema(ignore)]
    limited: Option<Limited>,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            status,
            cause: None,
            limited: None,
        }
    }

    /// 429 `rate_limited` (RFC 6749 leaves room for extension codes): the same code and
    /// headers as the JSON endpoints give.
    fn rate_limited(limited: Limited) -> Self {
        Self {
            limited: Some(limited),
            ..Self::new(429, "rate_limited", "too many attempts; try again later")
        }
    }

    /// The RFC 6749 form of an error of ours that is not the client's doing: 503
    /// `temporarily_unavailable` for a backend that is down, else 500 `server_error`.
    fn server_side(error: ApiError) -> Self {
        let mut answer = if error.code() == Code::Unavailable {
            Self::new(
                503,
                "temporarily_unavailable",
                "a required backend is unavailable; try again shortly",
            )
        } else {
            Self::new(500, "server_error", "an internal error occurred")
        };
        answer.cause = error.into_cause();
        answer
    }
}

impl IntoResponse for OAuthError {
    fn into_response(mut self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let cause = self.cause.take();
        let mut response = (status, axum::Json(&self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(limited) = &self.limited {
            rate_limit_headers(limited, headers);
        }
        if let Some(cause) = cause {
            cause.attach(&mut response);
        }
        response
    }
}

/// Issues tokens for the `password` and `refresh_token` grants.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthError), (status = 503, body = OAuthError)))]
async fn token(
    State(state): State<AppState>,
    client: ClientInfo,
    form: Result<Form<TokenRequest>, ApiError>,
) -> Result<NoStore<TokenResponse>, OAuthError> {
    let Form(form) = form.map_err(|e| OAuthError::new(400, "invalid_request", detail(e)))?;
    match form.grant_type.as_deref() {
        Some("password") => {
            let (Some(email), Some(password)) = (form.username, form.password) else {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    "username and password are required",
                ));
            };
            let login = Login {
                email,
                password,
                device: client.device(None),
            };
            match state.accounts.login(login).await.map_err(account_error)? {
                LoginOutcome::Granted(grant) => {
                    Ok(NoStore(StatusCode::OK, TokenResponse::from(*grant)))
                }
                // The password grant has no second step: the pending login is left to expire.
                LoginOutcome::SecondFactor(_) => Err(OAuthError::new(
                    400,
                    "invalid_grant",
                    "this account has two-factor on: log in through POST /auth/login and /auth/login/mfa",
                )),
            }
        }
        Some("refresh_token") => {
            let token = form.refresh_token.ok_or_else(|| {
                OAuthError::new(400, "invalid_request", "refresh_token is required")
            })?;
            let grant = state.grants.refresh(&token).await.map_err(session_error)?;
            Ok(NoStore(StatusCode::OK, TokenResponse::from(grant)))
        }
        Some(_) => Err(OAuthError::new(
            400,
            "unsupported_grant_type",
            "grant_type must be password or refresh_token",
        )),
        None => Err(OAuthError::new(
            400,
            "invalid_request",
            "grant_type is required",
        )),
    }
}

/// Revokes the session of a refresh token, or of an access token (RFC 7009). Answers 200
/// whether or not the token was known.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200), (status = 400, body = OAuthError), (status = 503, body = OAuthError)))]
async fn revoke(
    State(state): State<AppState>,
    form: Result<Form<RevokeRequest>, ApiError>,
) -> Result<StatusCode, OAuthError> {
    let Form(form) = form.map_err(|e| OAuthError::new(400, "invalid_request", detail(e)))?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::new(400, "invalid_request", "token is required"))?;
    let sessions = &state.sessions;
    match state.keys.verify(&token) {
        Ok(claims) => {
            if let Ok(session) = claims.sid.parse() {
                sessions
                    .end_any(session, "revoked")
                    .await
                    .map_err(session_error)?;
            }
        }
        // An expired or revoked access token has nothing left to revoke; anything else may
        // be a refresh token.
        Err(Rejection::Expired | Rejection::Revoked) => {}
        Err(Rejection::Invalid) => {
            sessions
                .revoke_by_refresh_token(&token)
                .await
                .map_err(session_error)?;
        }
    }
    Ok(StatusCode::OK)
}

fn detail(error: ApiError) -> String {
    match error.code() {
        Code::PayloadTooLarge => "the request body is too large".into(),
        _ => "the request must be an application/x-www-form-urlencoded form".into(),
    }
}

fn account_error(error: AccountError) -> OAuthError {
    match error {
        AccountError::InvalidCredentials => {
            OAuthError::new(400, "invalid_grant", "wrong username or password")
        }
        AccountError::AccountDisabled => {
            OAuthError::new(400, "invalid_grant", "this account is disabled")
        }
        AccountError::Validation(_) => {
            OAuthError::new(400, "invalid_request", "username or password is malformed")
        }
        AccountError::RateLimited(limited) => OAuthError::rate_limited(limited),
        other => OAuthError::server_side(other.into()),
    }
}

fn session_error(error: SessionError) -> OAuthError {
    match error {
        SessionError::RefreshInvalid | SessionError::NotFound => OAuthError::new(
            400,
            "invalid_grant",
            "the refresh token is unknown, expired or revoked",
        ),
        SessionError::RefreshReused { .. } => OAuthError::new(
            400,
            "invalid_grant",
            "the refresh token was already used; the session has been ended",
        ),
        other => OAuthError::server_side(other.into()),
    }
}
