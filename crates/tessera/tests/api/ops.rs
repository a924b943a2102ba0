//! Operations and discovery: health, readiness, metrics, OpenAPI, Swagger UI, metadata, request
//! ids.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::both_backends;
use crate::helpers::{Backend, assert_problem, eventually, spawn_app, spawn_app_with};

both_backends!(
    healthz_and_readyz_answer_200,
    metrics_expose_every_metric_of_the_contract,
    openapi_json_is_openapi_3_1_with_the_password_flow,
    docs_serve_swagger_ui_from_the_binary,
    both_metadata_documents_describe_the_authorization_server,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_forbids_sniffing_and_https_deployments_send_hsts() {
    // Arrange
    let plain = spawn_app(Backend::Sqlite).await;
    let https = spawn_app_with(Backend::Sqlite, |s| {
        s.public_url = "https://auth.example.com".into();
    })
    .await;

    for app in [&plain, &https] {
        // Act: a success, a problem, a page, the docs, a route that does not exist.
        let answers = [
            app.get("/healthz").await,
            app.get("/users/me").await,
            app.get("/ui/login").await,
            app.get("/openapi.json").await,
            app.get("/no/such/route").await,
        ];

        // Assert
        let is_https = app.settings.public_url.starts_with("https://");
        for answer in answers {
            let headers = answer.headers();
            assert_eq!(
                headers["x-content-type-options"],
                "nosniff",
                "{}",
                answer.url()
            );
            assert_eq!(
                headers
                    .get("strict-transport-security")
                    .map(|v| v.to_str().unwrap()),
                is_https.then_some("max-age=31536000"),
                "{}",
                answer.url()
            );
        }
    }
}

async fn healthz_and_readyz_answer_200(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let health = app.get("/healthz").await;
    let ready = app.get_readyz().await;

    // Assert
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn metrics_expose_every_metric_of_the_contract(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    // Act
    let response = app.get("/metrics").await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    for expected in [
        r#"tessera_http_requests_total{route="/healthz",status="200"}"#,
        r#"tessera_http_requests_total{route="/auth/login",status="200"}"#,
        r#"tessera_http_request_duration_seconds_bucket{route="/auth/login",le="#,
        "tessera_http_request_duration_seconds_count",
        r#"tessera_logins_total{result="success"}"#,
        "tessera_hash_queue_depth",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains(&user.email), "metrics never carry user data");
}

async fn openapi_json_is_openapi_3_1_with_the_password_flow(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app.get("/openapi.json").await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    let version = document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1"), "{version}");
    for path in ["/auth/signup", "/auth/login", "/users/me"] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    let password = &document["components"]["securitySchemes"]["password"];
    assert_eq!(password["type"], "oauth2", "{password}");
    assert_eq!(password["flows"]["password"]["tokenUrl"], "/auth/login");
}

async fn docs_serve_swagger_ui_from_the_binary(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let page = app.get("/docs/").await;

    // Assert
    assert_eq!(page.status(), StatusCode::OK);
    let content_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text().await.unwrap();
    let bundle = html
        .split(['"', '\''])
        .find(|part| part.contains("swagger-ui-bundle") && part.ends_with(".js"))
        .unwrap_or_else(|| panic!("the page loads the Swagger UI bundle: {html}"))
        .to_owned();
    assert!(
        !bundle.starts_with("http"),
        "the bundle is served by Tessera, not a CDN: {bundle}"
    );
    let path = match bundle.strip_prefix("./") {
        Some(relative) => format!("/docs/{relative}"),
        None if bundle.starts_with('/') => bundle.clone(),
        None => format!("/docs/{bundle}"),
    };
    let script = app.get(&path).await;
    assert_eq!(script.status(), StatusCode::OK, "{path}");
    let script = script.text().await.unwrap();
    assert!(script.len() > 100_000, "the real bundle, not a stub");
    assert!(script.contains("SwaggerUIBundle"));
}

async fn both_metadata_documents_describe_the_authorization_server(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        // Act
        let response = app.get(path).await;

        // Assert
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let metadata: Value = response.json().await.unwrap();
        assert_eq!(metadata["issuer"], app.address.as_str(), "{path}");
        assert_eq!(
            metadata["jwks_uri"],
            format!("{}/.well-known/jwks.json", app.address)
        );
        assert_eq!(
            metadata["token_endpoint"],
            format!("{}/oauth/token", app.address)
        );
        for field in ["introspection_endpoint", "revocation_endpoint"] {
            let url = metadata[field].as_str().unwrap_or_default();
            assert!(url.starts_with(&app.address), "{path} {field}: {url}");
        }
        let grants = metadata["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&json!("password")), "{grants:?}");
        assert!(grants.contains(&json!("refresh_token")), "{grants:?}");
        assert!(metadata["token_endpoint_auth_methods_supported"].is_array());
        assert_eq!(
            metadata["access_token_signing_alg_values_supported"],
            json!(["EdDSA"])
        );
    }
}

/// A TCP proxy in front of PostgreSQL that can be cut (existing connections closed, new ones
/// refused) and restored.
struct CuttableProxy {
    address: SocketAddr,
    up: watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (up, state) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*state.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut state = state.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { address, up }
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// `host:port` of the PostgreSQL server the tests use.
fn pg_host_and_port() -> String {
    let url = tessera_testkit::postgres_admin_url();
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let after_user = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, host)| host);
    after_user.split('/').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_postgres_going_down_and_up_without_a_restart() {
    // Arrange
    let upstream = pg_host_and_port();
    let proxy = CuttableProxy::start(upstream.clone()).await;
    let via_proxy = proxy.address.to_string();
    let app = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = s
            .database_url
            .expose_secret()
            .replacen(&upstream, &via_proxy, 1)
            .into();
    })
    .await;
    assert!(
        app.settings
            .database_url
            .expose_secret()
            .contains(&via_proxy)
    );
    let user = app.signup_test_user().await;
    assert_eq!(app.get_readyz().await.status(), StatusCode::OK);

    // Act: the database goes away.
    proxy.cut();

    // Assert: not ready, and requests that need the database answer 503, never 500.
    let not_ready = eventually(Duration::from_secs(10), "readyz answers 503", || async {
        let response = app.get_readyz().await;
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
    })
    .await;
    assert!(not_ready.headers().contains_key("retry-after"));
    assert_problem(not_ready, 503, "unavailable").await;
    let me = app.get_me(&user.access_token).await;
    assert!(me.headers().contains_key("retry-after"));
    assert_problem(me, 503, "unavailable").await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(login, 503, "unavailable").await;
    let signup = app
        .post_signup(
            &json!({ "email": "during-outage@example.com", "password": "correct horse battery" }),
        )
        .await;
    assert_problem(signup, 503, "unavailable").await;

    // Act: the database comes back.
    proxy.restore();

    // Assert: ready again, and serving, in the same process.
    eventually(Duration::from_secs(10), "readyz answers 200", || async {
        (app.get_readyz().await.status() == StatusCode::OK).then_some(())
    })
    .await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Request ids

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_echoed() {
    // Arrange
    let app = spawn_app(Backend::Sqlite).await;
    let user = app.signup_test_user().await;

    // Act
    let me = app
        .client
        .get(app.url("/users/me"))
        .bearer_auth(&user.access_token)
        .header("x-request-id", "edge-7f3a:42")
        .send()
        .await
        .unwrap();
    let problem = app
        .client
        .post(app.url("/auth/login"))
        .header("x-request-id", "edge-7f3a:43")
        .json(&json!({ "email": user.email, "password": "wrong password" }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers()["x-request-id"], "edge-7f3a:42");
    assert_eq!(problem.headers()["x-request-id"], "edge-7f3a:43");
    assert_problem(problem, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn a_request_without_an_id_gets_a_new_one_on_every_request() {
    // Arrange
    let app = spawn_app(Backend::Sqlite).await;

    // Act
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;

    // Assert
    let id = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let (first, second) = (id(&first), id(&second));
    assert!(!first.is_empty() && first.len() <= 64, "{first}");
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_request_id_unfit_for_logs_is_replaced() {
    // Arrange
    let app = spawn_app(Backend::Sqlite).await;
    let too_long = "a".repeat(65);

    for unfit in ["two words", "quote\"d", too_long.as_str()] {
        // Act
        let response = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", unfit)
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), StatusCode::OK);
        let echoed = response.headers()["x-request-id"].to_str().unwrap();
        assert!(
            !echoed.is_empty() && echoed != unfit,
            "{unfit} became {echoed}"
        );
    }
}
