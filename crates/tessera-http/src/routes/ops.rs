//! Operations: liveness, readiness, metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Code, Problem};
use crate::state::AppState;

/// How long readiness waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// 200 when the database (and Redis, if configured) answer; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(state): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let database = tokio::time::timeout(PING_TIMEOUT, state.health.ping());
    let bus = tokio::time::timeout(PING_TIMEOUT, state.sessions.bus().ping());
    let (database, bus) = tokio::join!(database, bus);
    match database {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return Err(ApiError::from(error).with_detail("the database does not answer"));
        }
        Err(_) => {
            return Err(
                ApiError::new(Code::Unavailable).with_detail("the database does not answer")
            );
        }
    }
    match bus {
        Ok(Ok(())) => Ok(axum::Json(json!({ "status": "ready" }))),
        Ok(Err(error)) => Err(ApiError::from(error).with_detail("redis does not answer")),
        Err(_) => Err(ApiError::new(Code::Unavailable).with_detail("redis does not answer")),
    }
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> Response {
    let depth = state.accounts.hasher().queue_depth();
    metrics::gauge!("tessera_hash_queue_depth").set(depth as f64);
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
