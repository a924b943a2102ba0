//! The HTTP stack in-process, without sockets (`cargo bench -p tessera-bench --bench stack`):
//! `GET /healthz` and an authenticated `GET /users/me` through the router `tessera serve`
//! builds, with its layers and the log subscriber it installs, next to a bare axum route. The
//! gap to `bare-axum` is what Tessera's middleware and handlers add to each request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::get;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tessera::config::Settings;
use tessera::startup::{Application, Overrides};
use tessera::telemetry::{self, LogFormat};
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// Where every request comes from, as the listener would report it.
const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);
/// The largest answer read; the measured ones are well under it.
const MAX_BODY_BYTES: usize = 64 * 1024;

fn stack(c: &mut Criterion) {
    // As `tessera serve` installs it without `RUST_LOG`: compact text on stderr, `info`. The
    // variable is not read, so what is measured does not depend on the caller's environment.
    telemetry::init(LogFormat::Text, None, "info");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the runtime builds");
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let app = runtime.block_on(application(data_dir.path()));
    let server = app.router();
    let token = runtime.block_on(sign_up(&server));
    let bearer = format!("Bearer {token}");
    let bare = Router::new().route("/healthz", get(|| async { r#"{"status":"ok"}"# }));

    let mut group = c.benchmark_group("stack");
    measure(&mut group, &runtime, "healthz", &server, || {
        request(Method::GET, "/healthz", None)
    });
    measure(&mut group, &runtime, "users-me", &server, || {
        request(Method::GET, "/users/me", Some(&bearer))
    });
    measure(&mut group, &runtime, "bare-axum", &bare, || {
        request(Method::GET, "/healthz", None)
    });
    group.finish();
}

/// The server `tessera serve` builds with default settings, SQLite in `data_dir`; its listener
/// is bound (port 0) but never served.
async fn application(data_dir: &Path) -> Application {
    let settings = Settings {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        data_dir: data_dir.to_owned(),
        ..Settings::default()
    };
    Application::build(&settings, Overrides::default())
        .await
        .expect("the server builds")
}

/// Signs a user up through `router`; their access token.
async fn sign_up(router: &Router) -> String {
    let body = json!({
        "email": "bench@example.com",
        "password": "stack benchmark password",
    });
    let mut signup = request(Method::POST, "/auth/signup", None);
    signup.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("a header value"),
    );
    *signup.body_mut() = Body::from(body.to_string());
    let (status, body) = answer(router, signup).await;
    assert_eq!(status, StatusCode::CREATED, "signup: {body:?}");
    let grant: Value = serde_json::from_slice(&body).expect("a JSON token response");
    grant["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Checks once that `make` is answered 200 by `router`, then measures asking it.
fn measure(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    router: &Router,
    make: impl Fn() -> Request<Body>,
) {
    let (status, body) = runtime.block_on(answer(router, make()));
    assert_eq!(status, StatusCode::OK, "{name}: {body:?}");
    group.bench_function(name, |b| {
        b.to_async(runtime).iter(|| answer(router, make()));
    });
}

/// A request as the listener hands it to the router: with the peer's address.
fn request(method: Method, path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    let mut request = builder.body(Body::empty()).expect("a valid request");
    request.extensions_mut().insert(ConnectInfo(CLIENT));
    request
}

/// `router`'s answer to `request`, body read whole. The router is cloned per request, as
/// `axum::serve` does.
async fn answer(router: &Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let Ok(response) = router.clone().oneshot(request).await;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
        .await
        .expect("the body reads");
    (status, body)
}

criterion_group!(benches, stack);
criterion_main!(benches);
