//! RFC 7662 token introspection for resource servers that prefer asking to verifying.

use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem};
use crate::extract::{Form, ServiceCaller, authenticate};
use crate::state::AppState;
use crate::views::NoStore;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(introspect))
}

/// Form of `POST /auth/introspect`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectRequest {
    token: String,
}

/// RFC 7662 §2.2 response; only `active` when the token is not active.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// Says whether an access or refresh token is active, with its claims. Revoked, expired or
/// unknown tokens are `{"active": false}`.
#[utoipa::path(post, path = "/auth/introspect", tag = "resource servers", security(("service_key" = [])),
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn introspect(
    State(state): State<AppState>,
    _service: ServiceCaller,
    Form(form): Form<IntrospectRequest>,
) -> Result<NoStore<Introspection>, ApiError> {
    if let Ok(caller) = authenticate(&state.keys, &form.token) {
        let claims = Arc::unwrap_or_clone(caller.claims);
        return Ok(NoStore(
            axum::http::StatusCode::OK,
            Introspection {
                active: true,
                token_type: Some("access_token"),
                sub: Some(claims.sub),
                sid: Some(claims.sid),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                jti: Some(claims.jti),
                iss: Some(claims.iss),
                aud: Some(claims.aud),
                roles: Some(claims.roles),
                email: Some(claims.email),
            },
        ));
    }
    let answer = match state.sessions.inspect_refresh_token(&form.token).await? {
        Some((session, user)) => Introspection {
            active: true,
            token_type: Some("refresh_token"),
            sub: Some(user.id.to_string()),
            sid: Some(session.id.to_string()),
            exp: Some(session.idle_expires_at.unix_timestamp()),
            iat: Some(session.refresh.rotated_at.unix_timestamp()),
            roles: Some(user.roles.iter().map(|r| r.as_str().to_owned()).collect()),
            email: Some(user.email.to_string()),
            ..Introspection::default()
        },
        None => Introspection::default(),
    };
    Ok(NoStore(axum::http::StatusCode::OK, answer))
}
