//! Email verification, password reset, magic links and email change (API.md §3): the JSON
//! endpoints. The pages the mails' links open are hosted pages (`pages::links`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_core::mail::MailError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, ClientInfo, Json, Language};
use crate::routes::auth::login_answer;
use crate::state::AppState;
use crate::views::{TokenResponse, UserView};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_verification))
        .routes(routes!(confirm_verification))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(request_magic_link))
        .routes(routes!(request_email_change))
        .routes(routes!(confirm_email_change))
        .routes(routes!(magic_link_sign_in))
}

impl From<MailError> for ApiError {
    fn from(error: MailError) -> Self {
        match error {
            MailError::CodeInvalid => Code::CodeInvalid.into(),
            MailError::Account(error) => error.into(),
        }
    }
}

/// Body with a link's code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// The `token` of the link.
    token: String,
}

/// Body of `POST /auth/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotRequest {
    email: String,
}

/// Body of `POST /auth/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The `token` of the link.
    token: String,
    new_password: String,
}

/// Mails a verification link (24 hours, single-use) to the caller's address.
#[utoipa::path(post, path = "/auth/email/verify/request", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, description = "queued; the mail leaves within a second or so"),
        (status = 429, description = "rate_limited: mails to this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_verification(
    State(state): State<AppState>,
    caller: Caller,
    Language(locale): Language,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .request_verification(caller.user_id, locale)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Spends a verification code.
#[utoipa::path(post, path = "/auth/email/verify/confirm", tag = "auth", request_body = CodeRequest,
    responses(
        (status = 200, body = UserView),
        (status = 400, description = "code_invalid: unknown, expired or used", body = Problem, content_type = "application/problem+json"),
    ))]
async fn confirm_verification(
    State(state): State<AppState>,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<UserView>, ApiError> {
    let user = state.mail.confirm_verification(&body.token).await?;
    Ok(axum::Json(UserView::from(&user)))
}

/// Mails a reset link (30 minutes, single-use) if an account has this address; the answer is
/// the same either way.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotRequest,
    responses(
        (status = 202, description = "always, whether or not the address has an account"),
        (status = 422, description = "validation_error: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: mails to this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    Language(locale): Language,
    Json(body): Json<ForgotRequest>,
) -> Result<StatusCode, ApiError> {
    state.mail.forgot_password(&body.email, locale).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset code; every session of the user ends. A password the
/// policy refuses leaves the code unspent.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 204),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .reset_password(&body.token, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /users/me/email`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChangeRequest {
    new_email: String,
    password: String,
}

/// Mails a link (24 hours, single-use) to the new address; the address changes only when it is
/// followed, and the old address is told then.
#[utoipa::path(post, path = "/users/me/email", tag = "users", security(("bearer" = [])), request_body = EmailChangeRequest,
    responses(
        (status = 202, description = "queued"),
        (status = 401, description = "invalid_credentials: a wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_email_change(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Language(locale): Language,
    Json(body): Json<EmailChangeRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .request_email_change(
            caller.user_id,
            &body.new_email,
            &body.password,
            client.ip.as_deref(),
            locale,
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Spends an email-change code: the account has the new, verified address.
#[utoipa::path(post, path = "/auth/email/change/confirm", tag = "auth", request_body = CodeRequest,
    responses(
        (status = 200, body = UserView),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken: another account took the address meanwhile", body = Problem, content_type = "application/problem+json"),
    ))]
async fn confirm_email_change(
    State(state): State<AppState>,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<UserView>, ApiError> {
    let user = state.mail.confirm_email_change(&body.token).await?;
    Ok(axum::Json(UserView::from(&user)))
}

/// Body of `POST /auth/magic-link`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MagicLinkRequest {
    email: String,
}

/// Body of `POST /auth/magic-link/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MagicLinkSignIn {
    /// The `token` of the link.
    token: String,
    device_name: Option<String>,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// Mails a sign-in link (15 minutes, single-use) if an account has this address; the answer
/// is the same either way.
#[utoipa::path(post, path = "/auth/magic-link", tag = "auth", request_body = MagicLinkRequest,
    responses(
        (status = 202, description = "always, whether or not the address has an account"),
        (status = 422, description = "validation_error: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: mails to this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_magic_link(
    State(state): State<AppState>,
    Language(locale): Language,
    Json(body): Json<MagicLinkRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .request_magic_link(&body.email, locale, None)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Signs in with a link's code: a token response, or `mfa_required` when two-factor is on.
#[utoipa::path(post, path = "/auth/magic-link/verify", tag = "auth", request_body = MagicLinkSignIn,
    responses(
        (status = 200, description = "the token response (cookies with `\"cookie\": true`), or an `MfaRequiredView`", body = TokenResponse),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
    ))]
async fn magic_link_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    browser: BrowserRequest,
    Json(body): Json<MagicLinkSignIn>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let signed_in = state
        .mail
        .sign_in_with_link(&body.token, client.device(body.device_name))
        .await?;
    Ok(login_answer(delivery, signed_in.outcome))
}
