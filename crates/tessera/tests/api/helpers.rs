//! Test harness: `spawn_app` builds the real server with its own data directory and database,
//! a manual clock, and returns a `TestApp` whose methods are named after endpoints.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tessera::config::Settings;
use tessera::startup::{Application, Overrides};
use tessera_core::ManualClock;
use tessera_token::DenySet;
// The kit's pieces the test files use, under the names they have always had here.
pub use tessera_testkit::{CliOutput, PgDatabase, eventually, run_cli};

/// Which SQL store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn(Backend)` once per backend, as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A running server.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub settings: Settings,
    pub data_dir: tempfile::TempDir,
    _database: Option<PgDatabase>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Builds settings for `backend` in a fresh directory; `customise` may change them.
pub async fn test_settings(backend: Backend) -> (Settings, tempfile::TempDir, Option<PgDatabase>) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(data_dir.path());
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let database = PgDatabase::create().await;
            settings.database_url = database.url().into();
            Some(database)
        }
    };
    (settings, data_dir, database)
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, customise: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_deny_set(backend, customise).await.0
}

/// A server, with the deny-set it checks tokens against.
pub async fn spawn_app_with_deny_set(
    backend: Backend,
    customise: impl FnOnce(&mut Settings),
) -> (TestApp, Arc<DenySet>) {
    spawn(backend, customise, Overrides::default().prune_every).await
}

/// A server that prunes ended sessions and moot revocations every `prune_every`.
pub async fn spawn_app_pruning_every(backend: Backend, prune_every: Duration) -> TestApp {
    spawn(backend, |_| {}, prune_every).await.0
}

async fn spawn(
    backend: Backend,
    customise: impl FnOnce(&mut Settings),
    prune_every: Duration,
) -> (TestApp, Arc<DenySet>) {
    init_logs();
    let (mut settings, data_dir, database) = test_settings(backend).await;
    customise(&mut settings);
    let clock = Arc::new(ManualClock::starting_now());
    let overrides = Overrides {
        clock: clock.clone(),
        prune_every,
        ..Overrides::default()
    };
    let app = Application::build(&settings, overrides)
        .await
        .expect("the server builds");
    let deny_set = app.deny_set();
    let address = format!("http://{}", app.local_addr());
    let server = tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        address,
        client: test_client(),
        clock,
        settings,
        data_dir,
        _database: database,
        server,
    };
    (app, deny_set)
}

fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn init_logs() {
    tessera_testkit::init_logs("debug");
}

/// A signed-up user.
pub struct TestUser {
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub session_id: String,
    pub id: String,
    pub refresh_token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_signup(&self, body: &Value) -> Response {
        self.post_json("/auth/signup", body).await
    }

    pub async fn post_login(&self, body: &Value) -> Response {
        self.post_json("/auth/login", body).await
    }

    pub async fn post_login_form(&self, username: &str, password: &str) -> Response {
        let form = [
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        self.client
            .post(self.url("/auth/login"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_me(&self, token: &str) -> Response {
        self.client
            .get(self.url("/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_me(&self, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url("/users/me"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_password(&self, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/users/me/password"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_me(&self, token: &str, body: &Value) -> Response {
        self.client
            .delete(self.url("/users/me"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Signs up a fresh user with a unique email.
    pub async fn signup_test_user(&self) -> TestUser {
        let email = format!("user-{:08x}@example.com", rand::random::<u32>());
        let password = "correct horse battery staple".to_owned();
        let response = self
            .post_signup(&json!({ "email": email, "password": password }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        TestUser {
            email,
            password,
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            session_id: body["session_id"].as_str().unwrap().to_owned(),
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Moves the server's clock a millisecond past the wall clock: a command run as another
    /// process stamps what it records with the real time, which the test's clock lags.
    pub fn catch_up_with_the_wall_clock(&self) {
        use tessera_core::Clock;
        let lag = tessera_core::SystemClock.now() - self.clock.now();
        if lag.is_positive() {
            self.clock
                .advance(lag.unsigned_abs() + Duration::from_millis(1));
        }
    }
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

impl TestApp {
    /// Opens the server's own database beside it, to arrange or inspect what HTTP cannot.
    pub async fn open_stores(&self) -> tessera_store::Stores {
        tessera_store::open(
            self.settings.database_url.expose_secret(),
            &self.settings.data_dir,
        )
        .await
        .expect("the test opens the server's database")
    }

    pub async fn get_readyz(&self) -> Response {
        self.get("/readyz").await
    }
}

/// The real `tessera` binary, without inherited `TESSERA_*` or `RUST_LOG` variables.
pub fn tessera_command() -> std::process::Command {
    tessera_testkit::tessera_command(env!("CARGO_BIN_EXE_tessera"))
}

impl TestApp {
    /// Runs `tessera ARGS…` on this server's data directory and database.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        let mut command = tessera_command();
        command
            .args(args)
            .env("TESSERA_DATA_DIR", &self.settings.data_dir)
            .env(
                "TESSERA_DATABASE_URL",
                self.settings.database_url.expose_secret(),
            )
            .current_dir(self.data_dir.path());
        run_cli(command).await
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions, OAuth and the revocation feed

impl TestApp {
    pub async fn post_refresh(&self, body: &Value) -> Response {
        self.post_json("/auth/refresh", body).await
    }

    /// Refreshes with `refresh_token`, asserting 200; returns the token response.
    pub async fn refresh(&self, refresh_token: &str) -> Value {
        let response = self
            .post_refresh(&json!({ "refresh_token": refresh_token }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        response.json().await.unwrap()
    }

    pub async fn post_logout(&self, token: &str) -> Response {
        self.client
            .post(self.url("/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_logout_all(&self, token: &str) -> Response {
        self.client
            .post(self.url("/auth/logout-all"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_sessions(&self, token: &str) -> Response {
        self.client
            .get(self.url("/auth/sessions"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_session(&self, token: &str, id: &str) -> Response {
        self.client
            .delete(self.url(&format!("/auth/sessions/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Posts an `application/x-www-form-urlencoded` body.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with `Authorization: Bearer <key>` when `key` is given.
    pub async fn post_form_with_key(
        &self,
        path: &str,
        key: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.post(self.url(path)).form(form);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.unwrap()
    }

    /// GETs `path` with `Authorization: Bearer <key>` when `key` is given.
    pub async fn get_with_key(&self, path: &str, key: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.unwrap()
    }

    /// Logs `user` in again (a new session); returns the token response.
    pub async fn login_again(&self, user: &TestUser) -> Value {
        let response = self
            .post_login(&json!({ "email": user.email, "password": user.password }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login");
        response.json().await.unwrap()
    }

    /// Stops the server (as a crash or a redeploy would: no graceful shutdown) and builds a new
    /// one on the same settings, data directory, database, clock and address.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            address,
            clock,
            mut settings,
            data_dir,
            _database,
            server,
            ..
        } = self;
        server.abort();
        let _ = server.await;
        settings.listen = address
            .trim_start_matches("http://")
            .parse()
            .expect("the bound address");
        let app = Application::build(
            &settings,
            Overrides {
                clock: clock.clone(),
                ..Overrides::default()
            },
        )
        .await
        .expect("the server builds again on the same data");
        let address = format!("http://{}", app.local_addr());
        let server = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            // A new client: no pooled connection to the old server.
            client: test_client(),
            clock,
            settings,
            data_dir,
            _database,
            server,
        }
    }
}

/// The claims of a JWT, decoded without verification.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT payload segment");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("a base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A field of a JSON object as a `&str`, with a helpful panic.
pub fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
}

// ---------------------------------------------------------------------------------------------
// Administration and WebSocket tickets

impl TestApp {
    /// Sends `method path` with `Authorization: Bearer <token>` and, when given, a JSON body.
    pub async fn send_with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// `GET /admin/users?<query>` (`query` is the raw query string, may be empty).
    pub async fn get_admin_users(&self, token: &str, query: &str) -> Response {
        let path = format!("/admin/users?{query}");
        self.send_with_token(reqwest::Method::GET, &path, Some(token), None)
            .await
    }

    pub async fn get_admin_user(&self, token: &str, id: &str) -> Response {
        let path = format!("/admin/users/{id}");
        self.send_with_token(reqwest::Method::GET, &path, Some(token), None)
            .await
    }

    pub async fn patch_admin_user(&self, token: &str, id: &str, body: &Value) -> Response {
        let path = format!("/admin/users/{id}");
        self.send_with_token(reqwest::Method::PATCH, &path, Some(token), Some(body))
            .await
    }

    pub async fn delete_admin_user(&self, token: &str, id: &str) -> Response {
        let path = format!("/admin/users/{id}");
        self.send_with_token(reqwest::Method::DELETE, &path, Some(token), None)
            .await
    }

    pub async fn get_admin_user_sessions(&self, token: &str, id: &str) -> Response {
        let path = format!("/admin/users/{id}/sessions");
        self.send_with_token(reqwest::Method::GET, &path, Some(token), None)
            .await
    }

    pub async fn delete_admin_user_sessions(&self, token: &str, id: &str) -> Response {
        let path = format!("/admin/users/{id}/sessions");
        self.send_with_token(reqwest::Method::DELETE, &path, Some(token), None)
            .await
    }

    pub async fn post_ws_ticket(&self, token: Option<&str>) -> Response {
        self.send_with_token(reqwest::Method::POST, "/auth/ws-ticket", token, None)
            .await
    }

    /// `POST /internal/tickets/redeem` with `Authorization: Bearer <key>` when `key` is given.
    pub async fn post_ticket_redeem(&self, key: Option<&str>, ticket: &str) -> Response {
        let body = json!({ "ticket": ticket });
        let path = "/internal/tickets/redeem";
        self.send_with_token(reqwest::Method::POST, path, key, Some(&body))
            .await
    }

    /// Creates a user through `tessera user create … --role R…`, returning their id.
    pub async fn cli_create_user(&self, email: &str, password: &str, roles: &[&str]) -> String {
        let mut args = vec!["user", "create", "--email", email, "--password", password];
        for role in roles {
            args.extend(["--role", role]);
        }
        let output = self.cli(&args).await;
        assert!(output.status.success(), "{output:?}");
        output.stdout.trim().to_owned()
    }
}
