//! One span per request: method, route template and request id, then the user id (recorded by
//! the bearer extractor), session id, status and latency. Never the raw URI (queries may carry
//! codes), never credentials. The request id goes back in `x-request-id`, so a client's report
//! can be found in the logs.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

/// The request id header, read from the client and always sent back.
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-given id we keep; anything longer is replaced (it goes into every log line).
const MAX_REQUEST_ID_LEN: usize = 64;

/// Wraps the request in a span, records its outcome, and echoes the request id.
pub async fn span(request: Request, next: Next) -> Response {
    let id = given_id(&request).unwrap_or_else(new_id);
    let span = {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        tracing::info_span!(
            "request",
            method = %request.method(),
            route,
            request_id = id.to_str().unwrap_or_default(),
            user_id = Empty,
            session_id = Empty,
            status = Empty,
            latency_ms = Empty,
        )
    };
    let started = Instant::now();
    async move {
        let mut response = next.run(request).await;
        let current = tracing::Span::current();
        current.record("status", response.status().as_u16());
        current.record("latency_ms", started.elapsed().as_secs_f64() * 1_000.0);
        crate::error::log_failure(&mut response);
        tracing::debug!("request finished");
        response.headers_mut().insert(&REQUEST_ID, id);
        response
    }
    .instrument(span)
    .await
}

/// The client's (or its proxy's) id, when it is a short token that is safe to log as is.
fn given_id(request: &Request) -> Option<HeaderValue> {
    let value = request.headers().get(&REQUEST_ID)?;
    is_loggable_id(value.as_bytes()).then(|| value.clone())
}

fn is_loggable_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// `<process prefix>-<counter>`: unique across instances and restarts without a random draw
/// per request (48 random bits per process make two processes sharing a prefix unlikely).
fn new_id() -> HeaderValue {
    static PREFIX: LazyLock<String> = LazyLock::new(|| {
        let random = uuid::Uuid::new_v4().as_u128() & 0xffff_ffff_ffff;
        format!("{random:012x}")
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = format!("{}-{:x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed));
    HeaderValue::try_from(id).expect("hex digits and a dash are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_kept_and_anything_else_is_replaced() {
        for kept in ["abc", "0b8e2f3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c", "edge:42.a_b"] {
            assert!(is_loggable_id(kept.as_bytes()), "{kept}");
        }
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for replaced in [
            "",
            "has space",
            "quote\"d",
            "new\nline",
            "é",
            too_long.as_str(),
        ] {
            assert!(!is_loggable_id(replaced.as_bytes()), "{replaced:?}");
        }
    }

    #[test]
    fn generated_ids_are_distinct_and_loggable() {
        let (first, second) = (new_id(), new_id());
        assert_ne!(first, second);
        assert!(is_loggable_id(first.as_bytes()), "{first:?}");
        let prefix = |id: &HeaderValue| {
            let text = id.to_str().expect("ascii");
            text.split_once('-').expect("a dash").0.to_owned()
        };
        assert_eq!(prefix(&first), prefix(&second));
    }
}
