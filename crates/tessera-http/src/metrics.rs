//! Prometheus metrics (API.md §3 "operations"): the recorder, and what each request records.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
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

/// Counts and times one answered request by its route template (never the raw path, which may
/// carry ids or secrets), or `unmatched`.
///
/// The handles are looked up once per route, status and thread: building a metric's key (its
/// labels as owned strings) and finding it in the registry cost more than the rest of a cached
/// token check.
pub(crate) fn record(route: Option<&str>, status: u16, elapsed: Duration) {
    thread_local! {
        static HANDLES: RefCell<HashMap<Box<str>, RouteHandles>> = RefCell::new(HashMap::new());
    }
    let route = route.unwrap_or("unmatched");
    HANDLES.with_borrow_mut(|routes| {
        let handles = match routes.get_mut(route) {
            Some(handles) => handles,
            None => routes.entry(route.into()).or_insert_with(|| RouteHandles {
                duration: metrics::histogram!(DURATION, "route" => route.to_owned()),
                by_status: Vec::new(),
            }),
        };
        handles.count(route, status);
        handles.duration.record(elapsed.as_secs_f64());
    });
}

/// One route's handles: the latency histogram and a counter per status seen.
struct RouteHandles {
    duration: Histogram,
    by_status: Vec<(u16, Counter)>,
}

impl RouteHandles {
    fn count(&mut self, route: &str, status: u16) {
        if let Some((_, counter)) = self.by_status.iter().find(|(seen, _)| *seen == status) {
            counter.increment(1);
            return;
        }
        let counter = metrics::counter!(
            "tessera_http_requests_total",
            "route" => route.to_owned(),
            "status" => status.to_string()
        );
        counter.increment(1);
        self.by_status.push((status, counter));
    }
}
