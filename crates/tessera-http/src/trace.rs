//! One span per request with the method and route template; the user id is recorded by the
//! bearer extractor. Never the raw URI (queries may carry codes), never credentials.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Wraps the request in a span and logs its outcome at debug level.
pub async fn span(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        user_id = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    async move {
        let response = next.run(request).await;
        let current = tracing::Span::current();
        current.record("status", response.status().as_u16());
        tracing::debug!(
            latency_ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
        response
    }
    .instrument(span)
    .await
}
