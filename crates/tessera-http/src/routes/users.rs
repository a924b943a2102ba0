//! The caller's own account.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem};
use crate::extract::{Caller, ClientInfo, Json};
use crate::state::AppState;
use crate::views::UserView;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, patch_me, delete_me))
        .routes(routes!(change_password))
}

/// Body of `PATCH /users/me`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// New display name; `null` or empty clears it.
    name: Option<String>,
}

/// Body of `POST /users/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Body of `DELETE /users/me`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccount {
    password: String,
}

/// The caller. The profile may be up to a second old when it was changed through another
/// instance; changes made through this one show at once.
#[utoipa::path(get, path = "/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn get_me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<UserView>, ApiError> {
    let user = state.accounts.profile(caller.user_id).await?;
    Ok(axum::Json(UserView::from(&*user)))
}

/// Changes the caller's display name.
#[utoipa::path(patch, path = "/users/me", tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = UserView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn patch_me(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ProfileUpdate>,
) -> Result<axum::Json<UserView>, ApiError> {
    let user = state
        .accounts
        .rename(caller.user_id, body.name.as_deref())
        .await?;
    Ok(axum::Json(UserView::from(&user)))
}

/// Changes the password; every other session of the user ends.
#[utoipa::path(post, path = "/users/me/password", tag = "users", security(("bearer" = [])), request_body = PasswordChange,
    responses(
        (status = 204),
        (status = 401, description = "invalid_credentials: wrong current password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: counted with the logins on this account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let accounts = &state.accounts;
    accounts
        .change_password(
            caller.user_id,
            caller.session_id,
            &body.current_password,
            &body.new_password,
            client.ip.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the caller's account and every session of it.
#[utoipa::path(delete, path = "/users/me", tag = "users", security(("bearer" = [])), request_body = DeleteAccount,
    responses((status = 204), (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: counted with the logins on this account", body = Problem, content_type = "application/problem+json")))]
async fn delete_me(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Json(body): Json<DeleteAccount>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .delete(caller.user_id, &body.password, client.ip.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
