//! What every routed request goes through around its handler: its span with the request id,
//! its metrics, and the time limit.
//!
//! One service, not three `route_layer`s of axum middleware: each of those is a boxed service
//! that clones the boxed services inside it on every request, which made a third of a cached
//! token check's allocations. The limit's timer is only set when the handler does not answer
//! at once, so answers from memory never touch the timer wheel.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};
use tracing::Span;

use crate::timeout::REQUEST_TIMEOUT;
use crate::{metrics, trace};

/// Wraps each route in [`Observe`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

/// A route with its request observed and limited in time.
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let id = trace::request_id(&request);
        let span = trace::request_span(&request, route.as_ref().map(MatchedPath::as_str), &id);
        let started = Instant::now();
        let answer = span.in_scope(|| self.inner.call(request));
        Observed {
            answer,
            limit: None,
            span,
            started,
            route,
            id: Some(id),
        }
    }
}

pin_project! {
    /// The handler's answer, observed.
    pub(crate) struct Observed<F> {
        #[pin]
        answer: F,
        // Boxed, and only when the handler is waiting: most answers never need it.
        limit: Option<Pin<Box<Sleep>>>,
        span: Span,
        started: Instant,
        route: Option<MatchedPath>,
        // Taken when the answer is out.
        id: Option<HeaderValue>,
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = match this.answer.poll(cx) {
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => {
                let deadline = *this.started + REQUEST_TIMEOUT;
                let limit = this
                    .limit
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                ready!(limit.as_mut().poll(cx));
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        };
        let latency = this.started.elapsed();
        let route = this.route.as_ref().map(MatchedPath::as_str);
        metrics::record(route, response.status().as_u16(), latency);
        let id = this.id.take().expect("an answer is produced once");
        trace::finish(this.span, &mut response, latency, id);
        Poll::Ready(Ok(response))
    }
}
