//! Signup and login.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tessera_core::account::{AccountError, Device, Login, Signup, TokenSubject};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem};
use crate::extract::{ClientInfo, Json, JsonOrForm};
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
}

/// Body of `POST /auth/signup`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    email: String,
    password: String,
    name: Option<String>,
    device_name: Option<String>,
}

/// Body of `POST /auth/login`: JSON, or the OAuth2 password form (`username`, `password`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(alias = "username")]
    email: String,
    password: String,
    device_name: Option<String>,
}

/// Creates an account and its first session.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, body = TokenResponse),
        (status = 409, description = "email_taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password or validation_error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<SignupRequest>,
) -> Result<NoStore<TokenResponse>, ApiError> {
    let device = device(body.device_name, client);
    let input = Signup {
        email: body.email,
        password: body.password,
        name: body.name,
        device,
    };
    let subject = state.accounts.signup(input).await?;
    issue(&state, &subject, StatusCode::CREATED)
}

/// Checks an email and password and starts a session.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "account_disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable (hashing queue full or database down)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonOrForm(body): JsonOrForm<LoginRequest>,
) -> Result<NoStore<TokenResponse>, ApiError> {
    let input = Login {
        email: body.email,
        password: body.password,
        device: device(body.device_name, client),
    };
    let result = state.accounts.login(input).await;
    metrics::counter!("tessera_logins_total", "result" => login_result(&result)).increment(1);
    issue(&state, &result?, StatusCode::OK)
}

fn device(name: Option<String>, client: ClientInfo) -> Device {
    Device {
        name,
        user_agent: client.user_agent,
        ip: client.ip,
    }
}

fn issue(
    state: &AppState,
    subject: &TokenSubject,
    status: StatusCode,
) -> Result<NoStore<TokenResponse>, ApiError> {
    let now = state.clock.now();
    let response = TokenResponse::issue(
        &state.keys,
        &subject.user,
        &subject.session,
        &subject.refresh_token,
        now,
    )?;
    Ok(NoStore(status, response))
}

fn login_result<T>(result: &Result<T, AccountError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(AccountError::InvalidCredentials) => "invalid_credentials",
        Err(AccountError::AccountDisabled) => "account_disabled",
        Err(AccountError::Validation(_)) => "validation_error",
        Err(AccountError::Busy) => "busy",
        Err(_) => "error",
    }
}
