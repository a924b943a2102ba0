//! Administration (`/admin/*`): users and their sessions, for callers whose token carries the
//! `admin` role. Role changes show in tokens from the user's next refresh; disabling or
//! deleting ends every session at once.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Deserializer, Serialize};
use tessera_core::UserId;
use tessera_core::account::{Role, User, UserChanges};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::SessionView;
use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, Json, Query};
use crate::state::AppState;
use crate::views::UserView;

/// Default page size.
const DEFAULT_LIMIT: u32 = 50;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(user_sessions, end_user_sessions))
}

/// A caller holding the `admin` role.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.claims.has_role(Role::ADMIN) {
            Ok(Self(caller))
        } else {
            Err(Code::Forbidden.into())
        }
    }
}

/// A user as administrators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    user: UserView,
    /// Disabled users cannot log in and their tokens are refused.
    disabled: bool,
}

impl From<&User> for AdminUserView {
    fn from(user: &User) -> Self {
        Self {
            user: user.into(),
            disabled: user.disabled,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<AdminUserView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// Query of `GET /admin/users`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UserSearch {
    /// Case-insensitive substring of the email or the name.
    query: Option<String>,
    /// Page size: 50 by default, at most 200.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Body of `PATCH /admin/users/{id}`; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatch {
    /// Replaces every role.
    roles: Option<Vec<String>>,
    /// Disables (ending every session) or re-enables.
    disabled: Option<bool>,
    /// Display name; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
}

/// Tells a `null` field (`Some(None)`) from an absent one (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Users, in creation order, optionally filtered.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(UserSearch),
    responses((status = 200, body = UserPage), (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json")))]
async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
    Query(search): Query<UserSearch>,
) -> Result<axum::Json<UserPage>, ApiError> {
    let after = match search.cursor.as_deref() {
        Some(cursor) => Some(
            cursor
                .parse()
                .map_err(|_| ApiError::validation([("cursor".into(), "unknown cursor".into())]))?,
        ),
        None => None,
    };
    let limit = search.limit.unwrap_or(DEFAULT_LIMIT);
    let page = state
        .admin
        .search(search.query.as_deref(), after, limit)
        .await?;
    let next_cursor = page
        .users
        .last()
        .filter(|_| page.more)
        .map(|u| u.id.to_string());
    Ok(axum::Json(UserPage {
        items: page.users.iter().map(AdminUserView::from).collect(),
        next_cursor,
    }))
}

/// One user.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = AdminUserView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    let user = state.admin.user(user_id(&id)?).await.map_err(not_found)?;
    Ok(axum::Json(AdminUserView::from(&user)))
}

/// Changes roles, `disabled` or the name of a user.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])), request_body = UserPatch,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = AdminUserView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn patch_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    let changes = UserChanges {
        roles: patch.roles,
        disabled: patch.disabled,
        name: patch.name,
    };
    let user = state
        .admin
        .update(Some(caller.user_id), user_id(&id)?, changes)
        .await
        .map_err(not_found)?;
    Ok(axum::Json(AdminUserView::from(&user)))
}

/// Deletes a user and ends every session of theirs.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .delete(caller.user_id, user_id(&id)?)
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's live sessions, newest first.
#[utoipa::path(get, path = "/admin/users/{id}/sessions", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = [SessionView]), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn user_sessions(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    let sessions = state
        .admin
        .sessions(user_id(&id)?)
        .await
        .map_err(not_found)?;
    Ok(axum::Json(
        sessions.iter().map(|s| SessionView::new(s, None)).collect(),
    ))
}

/// Ends every session of a user.
#[utoipa::path(delete, path = "/admin/users/{id}/sessions", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn end_user_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .end_sessions(caller.user_id, user_id(&id)?)
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| Code::NotFound.into())
}

/// Here an unknown user is the resource that is missing, not the caller's account.
fn not_found(error: tessera_core::account::AccountError) -> ApiError {
    match error {
        tessera_core::account::AccountError::AccountGone => Code::NotFound.into(),
        other => other.into(),
    }
}
