//! Signup and login, answering with a token response or, with `"cookie": true`, cookies.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::account::{Login, Signup};
use tessera_core::grant::LoginOutcome;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::{BrowserRequest, CsrfView, Delivery};
use crate::error::{ApiError, Problem};
use crate::extract::{ClientInfo, Json, JsonOrForm};
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(csrf))
}

/// Body of `POST /auth/signup`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    email: String,
    password: String,
    name: Option<String>,
    device_name: Option<String>,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// Body of `POST /auth/login`: JSON, or the OAuth2 password form (`username`, `password`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(alias = "username")]
    email: String,
    password: String,
    device_name: Option<String>,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// The answer to a right password of a user with two-factor on: no tokens yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredView {
    /// Always true.
    mfa_required: bool,
    /// Send it with a code to `POST /auth/login/mfa`.
    mfa_token: String,
    /// What the code may be.
    methods: [&'static str; 2],
    /// Seconds the `mfa_token` lives.
    expires_in: u64,
}

/// Creates an account and its first session.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "the token response; with `\"cookie\": true`, Set-Cookie for the three cookies and a `CookieGrantView` body", body = TokenResponse),
        (status = 403, description = "csrf_failed: cookie mode from a foreign page", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password or validation_error", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: too many signups from this address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    browser: BrowserRequest,
    Json(body): Json<SignupRequest>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let device = client.device(body.device_name);
    let input = Signup {
        email: body.email,
        password: body.password,
        name: body.name,
        device,
    };
    let grant = state.accounts.signup(input).await?;
    Ok(delivery.reply(StatusCode::CREATED, grant))
}

/// Checks an email and password and starts a session.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "the token response; with `\"cookie\": true`, Set-Cookie for the three cookies and a `CookieGrantView` body. For a user with two-factor on, an `MfaRequiredView` and no tokens", body = TokenResponse),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "account_disabled, or csrf_failed (cookie mode from a foreign page)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: too many failed logins for this account from this address, or attempts from this address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable (hashing queue full, database or Redis down)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    browser: BrowserRequest,
    JsonOrForm(body): JsonOrForm<LoginRequest>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let input = Login {
        email: body.email,
        password: body.password,
        device: client.device(body.device_name),
    };
    let outcome = state.accounts.login(input).await?;
    Ok(login_answer(delivery, outcome))
}

/// How every login method answers: the grant (in the body or in cookies), or the second
/// step's `mfa_required` with no tokens.
pub(crate) fn login_answer(delivery: Delivery, outcome: LoginOutcome) -> Response {
    match outcome {
        LoginOutcome::Granted(grant) => delivery.reply(StatusCode::OK, *grant),
        LoginOutcome::SecondFactor(challenge) => NoStore(
            StatusCode::OK,
            MfaRequiredView {
                mfa_required: true,
                mfa_token: challenge.token,
                methods: ["totp", "recovery_code"],
                expires_in: challenge.expires_in,
            },
        )
        .into_response(),
    }
}

/// The browser's CSRF token (the `tessera_csrf` cookie), set when it has none: for pages on
/// another origin, which cannot read the cookie. Only allowed origins can read the answer.
#[utoipa::path(get, path = "/auth/csrf", tag = "auth",
    responses((status = 200, body = CsrfView)))]
async fn csrf(browser: BrowserRequest) -> Response {
    browser.csrf_token()
}
