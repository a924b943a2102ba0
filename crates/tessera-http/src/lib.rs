//! Tessera's HTTP layer: axum routers per area, extractors, problem+json errors, OpenAPI.
//!
//! Handlers extract, call one use case and map the result; they see ports only as `Arc<dyn …>`.

pub mod browser;
pub mod error;
pub mod extract;
pub mod metrics;
mod openapi;
pub mod proxies;
pub mod routes;
pub mod state;
mod timeout;
mod trace;
pub mod views;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use browser::Browser;
pub use error::{ApiError, Code};
pub use state::{AppState, ServiceKeys, Services, Site};

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let docs = SwaggerUi::new("/docs").url("/openapi.json", openapi_document());
    let api = api_router(state.hosted_pages).split_for_parts().0;
    let cors = state.browser.cors();
    let https = state.site.public_url.starts_with("https://");
    let routes = layered(api.merge(docs)).with_state(state);
    // Outermost, so a preflight is answered before routing (which knows no OPTIONS).
    let routes = match cors {
        Some(cors) => routes
            .layer(cors)
            .layer(middleware::map_response(browser::no_cors_for_strangers)),
        None => routes,
    };
    security_headers(routes, https)
}

/// Headers every response carries, whatever answered it: no content sniffing, and, when the
/// public URL is https, Strict-Transport-Security (a year; subdomains are the operator's call,
/// so they are left out).
fn security_headers(routes: Router, https: bool) -> Router {
    let routes = routes.layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ));
    if !https {
        return routes;
    }
    routes.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ))
}

/// What every request goes through around its handler, innermost first: the time limit, the
/// metrics, the span with the request id (which logs a failure's cause); then the fallbacks,
/// problem+json for bare errors and panics. The limit sits inside the span and the metrics so a
/// timed-out request is still counted and logged, with its 503.
fn layered<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .route_layer(timeout::layer())
        .route_layer(middleware::from_fn(metrics::track))
        .route_layer(middleware::from_fn(trace::span))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::map_response(problem_for_bare_errors))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(Code::Internal).into_response()
        }))
}

/// The OpenAPI document, for tools that want it without a server.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = api_router(true).split_for_parts().1;
    openapi::add_common_problems(&mut document);
    document
}

/// Every route; the hosted pages when `pages`.
fn api_router(pages: bool) -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::sessions::router())
        .merge(routes::users::router())
        .merge(routes::mfa::router())
        .merge(routes::mail::router())
        .merge(routes::admin::router())
        .merge(routes::oauth::router())
        .merge(routes::social::router())
        .merge(routes::passkeys::router())
        .merge(routes::introspection::router())
        .merge(routes::revocations::router())
        .merge(routes::tickets::router())
        .merge(routes::well_known::router())
        .merge(routes::ops::router());
    if pages {
        api.merge(routes::pages::router())
    } else {
        api
    }
}

async fn not_found(_: Request<Body>) -> ApiError {
    Code::NotFound.into()
}

async fn method_not_allowed() -> ApiError {
    Code::MethodNotAllowed.into()
}

/// Errors produced below our handlers (a timeout, a rejection we did not write) come without a
/// body; give them the problem+json every client expects, keeping their headers (the request
/// id among them).
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let code = match status.as_u16() {
        404 => Code::NotFound,
        405 => Code::MethodNotAllowed,
        413 => Code::PayloadTooLarge,
        400..=499 => Code::ValidationError,
        // Only the time limit answers a bare 503 (see `timeout`).
        503 => Code::Unavailable,
        _ => Code::Internal,
    };
    let (mut parts, _) = response.into_parts();
    let (problem, body) = ApiError::new(code).into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(problem.headers);
    Response::from_parts(parts, body)
}
