//! Refresh, logout and per-device session management.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::session::Session;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, Json};
use crate::state::AppState;
use crate::views::TokenResponse;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
}

/// Body of `POST /auth/refresh`; without `refresh_token` (or with no body at all) the refresh
/// cookie is used, in browser mode.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: Option<String>,
    /// With a `refresh_token`: answer with cookies instead of a token response.
    #[serde(default)]
    cookie: bool,
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

/// Exchanges a refresh token for a new access token and a rotated refresh token: the one in
/// the body, or the refresh cookie (browser mode, with the CSRF header).
#[utoipa::path(post, path = "/auth/refresh", tag = "sessions", request_body = Option<RefreshRequest>,
    responses(
        (status = 200, description = "the token response; by cookie, Set-Cookie for the three cookies and a `CookieGrantView` body", body = TokenResponse),
        (status = 401, description = "refresh_invalid, or refresh_reused (the session is ended); by cookie, the cookies are cleared", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "csrf_failed: a refresh by cookie without the CSRF header, or from a foreign page", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    browser: BrowserRequest,
    body: Option<Json<RefreshRequest>>,
) -> Result<Response, ApiError> {
    let (token, cookie) = match body {
        Some(Json(RefreshRequest {
            refresh_token: Some(token),
            cookie,
        })) => (token, cookie),
        _ => {
            let (token, delivery) = browser.cookie_refresh()?;
            return Ok(match state.grants.refresh(&token).await {
                Ok(grant) => delivery.reply(StatusCode::OK, grant),
                Err(error) => browser.refresh_failed(error.into()),
            });
        }
    };
    let delivery = browser.login_delivery(cookie)?;
    let grant = state.grants.refresh(&token).await?;
    Ok(delivery.reply(StatusCode::OK, grant))
}

/// Ends the current session: its refresh token stops working and its access tokens are
/// refused with `token_revoked` everywhere.
#[utoipa::path(post, path = "/auth/logout", tag = "sessions", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn logout(
    State(state): State<AppState>,
    browser: BrowserRequest,
    caller: Caller,
) -> Result<Response, ApiError> {
    state.sessions.end_any(caller.session_id, "logout").await?;
    Ok(signed_out(&browser, &caller))
}

/// Ends every session of the caller.
#[utoipa::path(post, path = "/auth/logout-all", tag = "sessions", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn logout_all(
    State(state): State<AppState>,
    browser: BrowserRequest,
    caller: Caller,
) -> Result<Response, ApiError> {
    state
        .sessions
        .end_all(caller.user_id, None, "logout_all")
        .await?;
    Ok(signed_out(&browser, &caller))
}

/// 204, clearing the cookies of a browser that was signed in by them.
fn signed_out(browser: &BrowserRequest, caller: &Caller) -> Response {
    if caller.by_cookie {
        (browser.cleared(), StatusCode::NO_CONTENT).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
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
