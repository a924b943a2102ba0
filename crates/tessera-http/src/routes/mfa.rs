//! Two-factor: the second step of a login, and TOTP setup, confirmation, removal and new
//! recovery codes for the signed-in user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Problem};
use crate::extract::{Caller, ClientInfo, Json};
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_mfa))
        .routes(routes!(totp_setup))
        .routes(routes!(totp_confirm))
        .routes(routes!(totp_disable))
        .routes(routes!(renew_recovery_codes))
}

/// Body of `POST /auth/login/mfa`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaLoginRequest {
    /// The `mfa_token` the login answered with.
    mfa_token: String,
    /// A 6-digit TOTP code, or a recovery code.
    code: String,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// Body of `POST /users/me/mfa/totp/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCode {
    /// A code from the authenticator app.
    code: String,
}

/// Body of the endpoints that need the password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordConfirmation {
    password: String,
}

/// A new TOTP secret, not active until confirmed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupView {
    /// Base32, for typing into an authenticator app.
    secret: String,
    /// `otpauth://totp/…`, for a QR code.
    otpauth_uri: String,
}

/// Recovery codes, shown this once: each works once instead of a TOTP code.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesView {
    recovery_codes: Vec<String>,
}

/// Completes a login of a user with two-factor on.
#[utoipa::path(post, path = "/auth/login/mfa", tag = "auth", request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "the token response; with `\"cookie\": true`, Set-Cookie for the three cookies", body = TokenResponse),
        (status = 401, description = "mfa_invalid: a wrong or replayed code, or an unknown, spent or expired mfa_token (dead after 5 wrong codes)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login_mfa(
    State(state): State<AppState>,
    browser: BrowserRequest,
    Json(body): Json<MfaLoginRequest>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let grant = state
        .two_factor
        .complete(&body.mfa_token, &body.code)
        .await?;
    Ok(delivery.reply(StatusCode::OK, grant))
}

/// Starts TOTP setup: a new secret for the authenticator app, active once confirmed.
#[utoipa::path(post, path = "/users/me/mfa/totp/setup", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = TotpSetupView),
        (status = 422, description = "validation_error: two-factor is already on", body = Problem, content_type = "application/problem+json"),
    ))]
async fn totp_setup(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<NoStore<TotpSetupView>, ApiError> {
    let setup = state.two_factor.setup(caller.user_id).await?;
    Ok(NoStore(
        StatusCode::OK,
        TotpSetupView {
            secret: setup.secret,
            otpauth_uri: setup.otpauth_uri,
        },
    ))
}

/// Turns TOTP on with a code from the app; answers the recovery codes, shown once.
#[utoipa::path(post, path = "/users/me/mfa/totp/confirm", tag = "users", security(("bearer" = [])), request_body = TotpCode,
    responses(
        (status = 200, body = RecoveryCodesView),
        (status = 401, description = "mfa_invalid: a wrong code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: no setup to confirm", body = Problem, content_type = "application/problem+json"),
    ))]
async fn totp_confirm(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TotpCode>,
) -> Result<NoStore<RecoveryCodesView>, ApiError> {
    let recovery_codes = state.two_factor.confirm(caller.user_id, &body.code).await?;
    Ok(NoStore(
        StatusCode::OK,
        RecoveryCodesView { recovery_codes },
    ))
}

/// Turns TOTP off; needs the password.
#[utoipa::path(delete, path = "/users/me/mfa/totp", tag = "users", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses(
        (status = 204),
        (status = 401, description = "invalid_credentials: a wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: two-factor is not on", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: counted with the logins on this account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn totp_disable(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Json(body): Json<PasswordConfirmation>,
) -> Result<StatusCode, ApiError> {
    state
        .two_factor
        .disable(caller.user_id, &body.password, client.ip.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the recovery codes with ten new ones; needs the password.
#[utoipa::path(post, path = "/users/me/mfa/recovery-codes", tag = "users", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses(
        (status = 200, body = RecoveryCodesView),
        (status = 401, description = "invalid_credentials: a wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: two-factor is not on", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: counted with the logins on this account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn renew_recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Json(body): Json<PasswordConfirmation>,
) -> Result<NoStore<RecoveryCodesView>, ApiError> {
    let recovery_codes = state
        .two_factor
        .renew_recovery_codes(caller.user_id, &body.password, client.ip.as_deref())
        .await?;
    Ok(NoStore(
        StatusCode::OK,
        RecoveryCodesView { recovery_codes },
    ))
}
