//! One span per request: method, route template and request id, then the user id (recorded by
//! the bearer extractor), session id, status and latency. Never the raw URI (queries may carry
//! codes), never credentials. The request id goes back in `x-request-id`, so a client's report
//! can be found in the logs.

use std::io::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tracing::field::Empty;
use tracing::{Level, Span};

/// The request id header, read from the client and always sent back.
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-given id we keep; anything longer is replaced (it goes into every log line).
const MAX_REQUEST_ID_LEN: usize = 64;

/// The request's span, current while its handler runs.
pub(crate) fn request_span(request: &Request, route: Option<&str>, id: &HeaderValue) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = route.unwrap_or_default(),
        request_id = id.to_str().unwrap_or_default(),
        user_id = Empty,
        session_id = Empty,
        status = Empty,
        latency_ms = Empty,
    )
}

/// The request id: the client's when it is safe to log, otherwise a new one.
pub(crate) fn request_id(request: &Request) -> HeaderValue {
    given_id(request).unwrap_or_else(new_id)
}

/// Records the outcome, logs a failure's cause, and echoes the request id. Called inside the
/// span. The status and latency are recorded only when a line will show them: formatting them
/// into the span for nothing was a measurable part of every request.
pub(crate) fn finish(span: &Span, response: &mut Response, latency: Duration, id: HeaderValue) {
    let failure = crate::error::take_failure(response);
    if failure.is_some() || tracing::enabled!(Level::DEBUG) {
        span.record("status", response.status().as_u16());
        span.record("latency_ms", latency.as_secs_f64() * 1_000.0);
        if let Some(failure) = failure {
            failure.log();
        }
        tracing::debug!("request finished");
    }
    response.headers_mut().insert(&REQUEST_ID, id);
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
/// Written on the stack: the header value is the only allocation.
fn new_id() -> HeaderValue {
    static PREFIX: LazyLock<String> = LazyLock::new(|| {
        let random = uuid::Uuid::new_v4().as_u128() & 0xffff_ffff_ffff;
        format!("{random:012x}")
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // 12 digits, a dash and at most 16 more.
    const LEN: usize = 29;
    let mut text = [0_u8; LEN];
    let mut rest = &mut text[..];
    write!(
        rest,
        "{}-{:x}",
        *PREFIX,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
    .expect("the prefix, a dash and a u64 in hex fit");
    let written = LEN - rest.len();
    HeaderValue::from_bytes(&text[..written])
        .expect("hex digits and a dash are a valid header value")
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
