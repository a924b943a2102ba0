//! An access token that cannot be signed, on every grant path: a 500 whose cause is logged once
//! and never shown, and no session left behind. A test binary with one test, so that the log it
//! reads holds this server's lines only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tessera::config::Settings;
use tessera::startup::{Application, Overrides};
use tessera_core::account::User;
use tessera_core::grant::{AccessToken, IssueError};
use tessera_core::ports::TokenIssuer;
use tessera_core::session::Session;
use tessera_core::{Clock, SystemClock};
use tessera_testkit::CapturedLogs;

const SIGNING_FAILURE: &str = "signing an access token failed";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_failure_on_every_grant_path_is_a_500_logged_once_and_leaves_no_session() {
    // Arrange
    let logs = install_captured_logs();
    let server = Server::start().await;
    let signed_up = server.signup("first@example.com").await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let signed_up = body(signed_up).await;
    let refresh_token = signed_up["refresh_token"].as_str().unwrap().to_owned();
    let user_id = signed_up["user"]["id"].as_str().unwrap().parse().unwrap();
    server.issuer.broken.store(true, Ordering::SeqCst);

    // Act
    let signup = server.signup("second@example.com").await;
    let login = server.login("first@example.com").await;
    let refresh = server
        .post_json("/auth/refresh", &json!({ "refresh_token": refresh_token }))
        .await;
    let password_grant = server
        .post_form(&[
            ("grant_type", "password"),
            ("username", "first@example.com"),
            ("password", PASSWORD),
        ])
        .await;
    let refresh_grant = server
        .post_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ])
        .await;

    // Assert
    for response in [signup, login, refresh] {
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body(response).await;
        assert_eq!(body["code"], "internal", "{body}");
        assert!(!body.to_string().contains(SIGNING_FAILURE), "{body}");
    }
    for response in [password_grant, refresh_grant] {
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body(response).await;
        assert_eq!(body["error"], "server_error", "{body}");
        assert!(!body.to_string().contains(SIGNING_FAILURE), "{body}");
    }
    let logged = logs.text();
    let failures: Vec<_> = logged
        .lines()
        .filter(|line| line.contains(SIGNING_FAILURE))
        .collect();
    assert_eq!(failures.len(), 5, "{logged}");
    assert!(
        failures.iter().all(|line| line.contains("ERROR")),
        "{logged}"
    );
    let stores = tessera_store::open("", server.data_dir.path())
        .await
        .unwrap();
    let live = stores
        .sessions
        .list_sessions(user_id, SystemClock.now())
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "only the signup's session: {live:?}");
}

/// Signs nothing real: a placeholder token while working, an error once broken.
#[derive(Default)]
struct BreakableIssuer {
    broken: AtomicBool,
}

impl TokenIssuer for BreakableIssuer {
    fn issue(&self, _: &User, _: &Session) -> Result<AccessToken, IssueError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(IssueError("the test broke the signer"));
        }
        Ok(AccessToken::new("placeholder-token".into(), 900))
    }
}

/// The server on SQLite in this process, its tokens signed by a [`BreakableIssuer`].
struct Server {
    address: String,
    client: Client,
    issuer: Arc<BreakableIssuer>,
    data_dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let issuer = Arc::new(BreakableIssuer::default());
        let overrides = Overrides {
            token_issuer: Some(issuer.clone()),
            ..Overrides::default()
        };
        let app = Application::build(&Settings::for_tests(data_dir.path()), overrides)
            .await
            .expect("the server builds");
        let address = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: Client::new(),
            issuer,
            data_dir,
        }
    }

    async fn post_json(&self, path: &str, body: &Value) -> Response {
        let url = format!("{}{path}", self.address);
        self.client.post(url).json(body).send().await.unwrap()
    }

    async fn post_form(&self, form: &[(&str, &str)]) -> Response {
        let url = format!("{}/oauth/token", self.address);
        self.client.post(url).form(form).send().await.unwrap()
    }

    async fn signup(&self, email: &str) -> Response {
        let body = json!({ "email": email, "password": PASSWORD });
        self.post_json("/auth/signup", &body).await
    }

    async fn login(&self, email: &str) -> Response {
        let body = json!({ "email": email, "password": PASSWORD });
        self.post_json("/auth/login", &body).await
    }
}

async fn body(response: Response) -> Value {
    response.json().await.unwrap()
}

/// Every log line of this process, from the moment it is installed.
fn install_captured_logs() -> CapturedLogs {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    logs
}
