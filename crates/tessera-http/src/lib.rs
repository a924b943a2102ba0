//! Tessera's HTTP layer: axum routers per area, extractors, problem+json errors, OpenAPI.
//!
//! Handlers extract, call one use case and map the result; they see ports only as `Arc<dyn …>`.

pub mod browser;
pub mod error;
pub mod extract;
pub mod metrics;
mod observe;
mod openapi;
pub mod proxies;
pub mod routes;
pub mod state;
mod timeout;
mod trace;
pub mod views;

use std::sync::OnceLock;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use observe::ObserveLayer;
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use browser::Browser;
pub use error::{ApiError, Code};
pub use state::{AppState, ServiceKeys, Services, Site};

/// Where the OpenAPI document is served.
const OPENAPI_PATH: &str = "/openapi.json";

/// The whole application router.
pub fn router(state: AppState) -> Router {
    // The Swagger UI only gets the document's address: handing it the document would keep a
    // second, complete copy of it in memory for the server's whole life (half its idle heap).
    let docs = SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from(OPENAPI_PATH));
    let api = api_router(state.hosted_pages)
        .split_for_parts()
        .0
        .route(OPENAPI_PATH, get(openapi_json));
    let cors = state.browser.cors();
    let https = state.site.public_url.starts_with("https://");
    let routes = observed(api.merge(docs)).with_state(state);
    around(routes, cors, https)
}

/// Each route observed (`observe`: span, metrics, time limit); then the fallbacks, which are
/// not (an unknown path is not a route to count).
fn observed<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .route_layer(ObserveLayer)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// What every answer goes through, whatever answered it, outermost first: the headers every
/// response carries, CORS (a preflight is answered before routing, which knows no OPTIONS),
/// then problem+json for panics and for bare errors.
///
/// Applied once around the whole router: axum's `Router::layer` would wrap every route in each
/// layer as a boxed service, cloned again on every request.
fn around(routes: Router, cors: Option<CorsLayer>, https: bool) -> Router {
    let stack = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // A year; subdomains are the operator's call, so they are left out.
        .option_layer(https.then(|| {
            SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            )
        }))
        .option_layer(
            cors.is_some()
                .then(|| MapResponseLayer::new(browser::no_cors_for_strangers)),
        )
        .option_layer(cors)
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(Code::Internal).into_response()
        }))
        .layer(MapResponseLayer::new(problem_for_bare_errors))
        .service(routes);
    Router::new().fallback_service(stack)
}

/// The OpenAPI document, for tools that want it without a server.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = api_router(true).split_for_parts().1;
    openapi::add_common_problems(&mut document);
    document
}

/// `GET /openapi.json`: the document, built and serialised on the first request only.
async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<Option<Bytes>> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        serde_json::to_vec(&openapi_document())
            .inspect_err(
                |error| tracing::error!(%error, "the OpenAPI document could not be serialised"),
            )
            .ok()
            .map(Bytes::from)
    });
    match document {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        None => ApiError::new(Code::Internal).into_response(),
    }
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
fn problem_for_bare_errors(response: Response) -> Response {
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
