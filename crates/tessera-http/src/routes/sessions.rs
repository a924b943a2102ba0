//! Refresh, logout and per-device session management.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_core::session::{Refreshed, Session, SessionError};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, Json};
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
}

/// Body of `POST /auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// One session (device) of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id (the `sid` of its tokens).
    pub id: String,
    /// Name the client gave the device.
    pub device_name: Option<String>,
    /// `User-Agent` at login.
    pub user_agent: Option<String>,
    /// Client address at login.
    pub ip: Option<String>,
    /// Login time, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last login or refresh, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_used_at: OffsetDateTime,
    /// Whether the request came with a token of this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
}

impl SessionView {
    /// The view of `session`; `current` is omitted when `None` (administrators' lists).
    pub fn new(session: &Session, current: Option<bool>) -> Self {
        Self {
            id: session.id.to_string(),
            device_name: session.device_name.clone(),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            current,
        }
    }
}

/// Exchanges a refresh token for a new access token and a rotated refresh token.
#[utoipa::path(post, path = "/auth/refresh", tag = "sessions", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "refresh_invalid, or refresh_reused (the session is ended)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<NoStore<TokenResponse>, ApiError> {
    let refreshed = refresh_counted(&state, &body.refresh_token).await?;
    Ok(NoStore(
        StatusCode::OK,
        refreshed_response(&state, &refreshed)?,
    ))
}

/// Refreshes and counts the outcome (`tessera_refreshes_total`, `tessera_refresh_reuse_total`).
pub async fn refresh_counted(state: &AppState, token: &str) -> Result<Refreshed, SessionError> {
    let result = state.sessions.refresh(token).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(SessionError::RefreshInvalid) => "invalid",
        Err(SessionError::RefreshReused) => "reused",
        Err(_) => "error",
    };
    metrics::counter!("tessera_refreshes_total", "result" => outcome).increment(1);
    if matches!(result, Err(SessionError::RefreshReused)) {
        metrics::counter!("tessera_refresh_reuse_total").increment(1);
    }
    result
}

/// The token response for a refresh.
pub fn refreshed_response(
    state: &AppState,
    refreshed: &Refreshed,
) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now();
    TokenResponse::issue(
        &state.keys,
        &refreshed.user,
        &refreshed.session,
        &refreshed.refresh_token,
        now,
    )
}

/// Ends the current session: its refresh token stops working and its access tokens are
/// refused with `token_revoked` everywhere.
#[utoipa::path(post, path = "/auth/logout", tag = "sessions", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.sessions.end_any(caller.session_id, "logout").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller.
#[utoipa::path(post, path = "/auth/logout-all", tag = "sessions", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn logout_all(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state
        .sessions
        .end_all(caller.user_id, None, "logout_all")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/auth/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = [SessionView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    let sessions = state.sessions.list(caller.user_id).await?;
    let views = sessions
        .iter()
        .map(|s| SessionView::new(s, Some(s.id == caller.session_id)))
        .collect();
    Ok(axum::Json(views))
}

/// Ends one of the caller's sessions (log out a device).
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 404, description = "not a live session of the caller", body = Problem, content_type = "application/problem+json")))]
async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id.parse().map_err(|_| Code::NotFound)?;
    state
        .sessions
        .end(caller.user_id, id, "ended_by_user")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
