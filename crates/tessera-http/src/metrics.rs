//! Prometheus metrics (API.md §3 "operations"): the recorder, and the per-request middleware.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const DURATION: &str = "tessera_http_request_duration_seconds";

/// The process-wide recorder's handle. The `metrics` facade is global by design, so the
/// recorder is installed once per process and every router in it renders the same registry.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.into()), &buckets)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding application's); then
            // ours still renders what it records through this handle.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "tessera_http_requests_total",
        "HTTP requests by route and status"
    );
    metrics::describe_histogram!(DURATION, metrics::Unit::Seconds, "HTTP request latency");
    metrics::describe_counter!("tessera_logins_total", "Login attempts by result");
    metrics::describe_counter!("tessera_refreshes_total", "Refresh attempts by result");
    metrics::describe_counter!(
        "tessera_refresh_reuse_total",
        "Rotated refresh tokens presented again"
    );
    metrics::describe_counter!(
        "tessera_rate_limited_total",
        "Requests refused by a rate limit"
    );
    metrics::describe_gauge!(
        "tessera_hash_queue_depth",
        "Password hashing jobs waiting or running"
    );
}

/// Counts and times each request by its route template (never the raw path, which may carry
/// ids or secrets).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tessera_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "route" => route).record(started.elapsed().as_secs_f64());
    response
}
