//! The time limit of a request: how long a handler may take to produce its answer. It bounds
//! the answer's head only, so stream bodies (the revocation feed's Server-Sent Events, an
//! upgraded WebSocket) flow on after it and are never cut. A handler that has not answered
//! within the limit gets a bare 503 in its place (see `observe`), which the router turns into
//! problem+json `unavailable`.

use std::time::Duration;

/// Longer than the backends' own limits (PostgreSQL pool 3 s, SQLite 6 s, Redis 2 s), so a slow
/// backend answers first with its own cause; shorter than the 30–60 s after which clients and
/// proxies give up, so a stuck request frees its connection with a 503 the client may retry.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::extract::State;
    use axum::http::{Request, StatusCode, header};
    use axum::response::sse::{Event, Sse};
    use axum::routing::get;
    use futures_util::{Stream, StreamExt};
    use tokio::sync::broadcast;
    use tower::ServiceExt;

    use super::*;
    use crate::{around, observed};

    fn get_request(path: &str) -> Request<Body> {
        Request::get(path)
            .body(Body::empty())
            .expect("a valid request")
    }

    /// Forwards what the test sends, as Server-Sent Events, like the revocation feed.
    async fn events(
        State(sender): State<broadcast::Sender<&'static str>>,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
        let live = sender.subscribe();
        Sse::new(futures_util::stream::unfold(live, |mut live| async move {
            let data = live.recv().await.ok()?;
            Some((Ok(Event::default().data(data)), live))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_that_never_answers_is_cut_with_503_unavailable() {
        // Arrange
        let app = around(
            observed(Router::new().route("/slow", get(std::future::pending::<()>))),
            None,
            false,
        );

        // Act: the paused clock jumps to the limit once nothing else can run.
        let response = app.oneshot(get_request("/slow")).await.expect("infallible");

        // Assert
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(headers.contains_key(header::RETRY_AFTER));
        assert!(headers.contains_key("x-request-id"));
        let body = to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("a small body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["code"], "unavailable");
        assert_eq!(problem["status"], 503);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_stream_outlives_the_limit() {
        // Arrange
        let (sender, _) = broadcast::channel(4);
        let app = around(
            observed(Router::new().route("/stream", get(events))).with_state(sender.clone()),
            None,
            false,
        );
        let response = app
            .oneshot(get_request("/stream"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body().into_data_stream();
        sender.send("first").expect("the stream listens");
        let first = body.next().await.expect("an event").expect("data");
        assert_eq!(&first[..], b"data: first\n\n");

        // Act: wait on the stream while the clock passes the limit, then send.
        let (later, sent) = tokio::join!(body.next(), async {
            tokio::time::advance(REQUEST_TIMEOUT * 3).await;
            sender.send("later")
        });

        // Assert
        assert!(sent.is_ok(), "the stream still listens");
        let later = later.expect("an event").expect("data");
        assert_eq!(&later[..], b"data: later\n\n");
    }
}
