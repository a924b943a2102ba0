//! Passkeys (API.md §3 "Passkeys"): registration and management for a signed-in user, and
//! login without a password. Options and credentials are WebAuthn's JSON (base64url buffers),
//! as `navigator.credentials` takes and `PublicKeyCredential.toJSON()` gives them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::passkey::{Ceremony, Passkeys};
use tessera_core::ports::StoredPasskey;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, ClientInfo, Json};
use crate::routes::auth::login_answer;
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_options))
        .routes(routes!(register))
        .routes(routes!(list))
        .routes(routes!(rename, remove))
        .routes(routes!(login_options))
        .routes(routes!(login))
}

/// The passkey use cases, or 404 when this server has no relying party (its public URL's
/// host is an IP address and `webauthn.rp_id` is unset).
fn passkeys(state: &AppState) -> Result<&Passkeys, ApiError> {
    state
        .passkeys
        .as_deref()
        .ok_or_else(|| ApiError::new(Code::NotFound).with_detail("passkeys are not configured"))
}

/// A ceremony's first half: `{ceremony_id, publicKey, mediation?}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyView {
    ceremony_id: String,
    /// `PublicKeyCredentialCreationOptions` or `PublicKeyCredentialRequestOptions` as JSON.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: Value,
    /// `conditional` for a discoverable login (autofill).
    #[serde(skip_serializing_if = "Option::is_none")]
    mediation: Option<Value>,
}

impl From<Ceremony> for CeremonyView {
    fn from(ceremony: Ceremony) -> Self {
        let mut options = ceremony.options;
        Self {
            ceremony_id: ceremony.ceremony_id,
            public_key: options
                .get_mut("publicKey")
                .map(Value::take)
                .unwrap_or_default(),
            mediation: options
                .get_mut("mediation")
                .map(Value::take)
                .filter(|mediation| !mediation.is_null()),
        }
    }
}

/// A passkey of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    id: String,
    name: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339; `null` before its first login.
    last_used_at: Option<String>,
}

impl From<StoredPasskey> for PasskeyView {
    fn from(passkey: StoredPasskey) -> Self {
        Self {
            id: passkey.id.to_string(),
            name: passkey.name,
            created_at: passkey.created_at.format(&Rfc3339).unwrap_or_default(),
            last_used_at: passkey.last_used_at.and_then(|at| at.format(&Rfc3339).ok()),
        }
    }
}

/// Begins registering a passkey: the options for `navigator.credentials.create`, valid five
/// minutes, the caller's other passkeys excluded.
#[utoipa::path(post, path = "/users/me/passkeys/register/options", tag = "passkeys", security(("bearer" = [])),
    responses(
        (status = 200, body = CeremonyView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are not configured (public_url's host is an IP address and webauthn.rp_id is unset)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_options(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<NoStore<CeremonyView>, ApiError> {
    let ceremony = passkeys(&state)?.register_options(caller.user_id).await?;
    Ok(NoStore(StatusCode::OK, ceremony.into()))
}

/// Body of `POST /users/me/passkeys/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    ceremony_id: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON.
    #[schema(value_type = Object)]
    credential: Value,
    /// What to call it, e.g. "MacBook"; "Passkey" without one.
    name: Option<String>,
}

/// Ends a registration: the passkey, kept; the user is told by mail.
#[utoipa::path(post, path = "/users/me/passkeys/register", tag = "passkeys", security(("bearer" = [])), request_body = RegisterRequest,
    responses(
        (status = 201, body = PasskeyView),
        (status = 400, description = "code_invalid: unknown, spent, expired or another user's ceremony", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are not configured (public_url's host is an IP address and webauthn.rp_id is unset)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: a malformed or refused credential, or a bad name", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<PasskeyView>), ApiError> {
    let passkey = passkeys(&state)?
        .register(
            caller.user_id,
            &body.ceremony_id,
            &body.credential,
            body.name.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(passkey.into())))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/users/me/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses(
        (status = 200, body = [PasskeyView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are not configured (public_url's host is an IP address and webauthn.rp_id is unset)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<PasskeyView>>, ApiError> {
    let passkeys = passkeys(&state)?.list(caller.user_id).await?;
    Ok(axum::Json(passkeys.into_iter().map(Into::into).collect()))
}

/// Body of `PATCH /users/me/passkeys/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameRequest {
    name: String,
}

fn passkey_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    id.parse().map_err(|_| Code::NotFound.into())
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/users/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), request_body = RenameRequest,
    params(("id" = String, Path, description = "Passkey id")),
    responses(
        (status = 200, body = PasskeyView),
        (status = 404, description = "not_found: no such passkey of the caller, or passkeys are not configured", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: 1 to 64 characters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RenameRequest>,
) -> Result<axum::Json<PasskeyView>, ApiError> {
    let passkey = passkeys(&state)?
        .rename(caller.user_id, passkey_id(&id)?, &body.name)
        .await?;
    Ok(axum::Json(passkey.into()))
}

/// Removes one of the caller's passkeys, unless it is the last way to log in.
#[utoipa::path(delete, path = "/users/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "Passkey id")),
    responses(
        (status = 204),
        (status = 404, description = "not_found: no such passkey of the caller, or passkeys are not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_login_method", body = Problem, content_type = "application/problem+json"),
    ))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    passkeys(&state)?
        .remove(caller.user_id, passkey_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /auth/passkey/options`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LoginOptionsRequest {
    /// Email-first: that account's passkeys. Without it, any discoverable one (autofill).
    email: Option<String>,
}

/// Begins a passkey login: the options for `navigator.credentials.get`, valid five minutes.
/// An address without an account gets options of the same shape.
#[utoipa::path(post, path = "/auth/passkey/options", tag = "passkeys", request_body = LoginOptionsRequest,
    responses(
        (status = 200, body = CeremonyView),
        (status = 404, description = "not_found: passkeys are not configured (public_url's host is an IP address and webauthn.rp_id is unset)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: not an email address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login_options(
    State(state): State<AppState>,
    Json(body): Json<LoginOptionsRequest>,
) -> Result<NoStore<CeremonyView>, ApiError> {
    let email = body
        .email
        .as_deref()
        .filter(|email| !email.trim().is_empty());
    let ceremony = passkeys(&state)?.login_options(email).await?;
    Ok(NoStore(StatusCode::OK, ceremony.into()))
}

/// Body of `POST /auth/passkey/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyLogin {
    ceremony_id: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON.
    #[schema(value_type = Object)]
    credential: Value,
    device_name: Option<String>,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// Ends a passkey login: the token response. A passkey is two factors, so no second step
/// follows; a failed assertion is `invalid_credentials`.
#[utoipa::path(post, path = "/auth/passkey/login", tag = "passkeys", request_body = PasskeyLogin,
    responses(
        (status = 200, description = "the token response (cookies with `\"cookie\": true`)", body = TokenResponse),
        (status = 400, description = "code_invalid: unknown, spent or expired ceremony", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "account_disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are not configured (public_url's host is an IP address and webauthn.rp_id is unset)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: not a WebAuthn credential", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    browser: BrowserRequest,
    Json(body): Json<PasskeyLogin>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let outcome = passkeys(&state)?
        .login(
            &body.ceremony_id,
            &body.credential,
            client.device(body.device_name),
        )
        .await?;
    Ok(login_answer(delivery, outcome))
}
