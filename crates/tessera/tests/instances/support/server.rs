//! Real `tessera serve` processes: a [`Deployment`] is what several instances share (one fresh
//! PostgreSQL database, a Redis, a key prefix, the issuer and the master key), an [`Instance`] is
//! one test-kit `TesseraProcess` with its own port and data directory, killed when dropped.

use std::process::ExitStatus;
use std::time::Duration;

use base64::Engine;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::redis::unique_prefix;
use tessera_testkit::{CliOutput, PgDatabase, TesseraProcess, run_cli, tessera_command};
use tokio::time::Instant;

/// What every instance of a deployment is given: API.md §5 asks for the same issuer, public URL
/// and master key on every instance sharing a database.
pub const ISSUER: &str = "http://tessera.instances.test";

/// Instances sharing one database and one Redis.
pub struct Deployment {
    env: Vec<(String, String)>,
    // Dropped last (fields drop in order): instances are usually dropped before it anyway.
    _database: PgDatabase,
}

impl Deployment {
    /// A fresh database, `redis_url` with a prefix of its own, a random master key.
    pub async fn new(redis_url: &str) -> Self {
        let database = PgDatabase::create().await;
        let master_key =
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let env = vec![
            ("TESSERA_ISSUER".to_owned(), ISSUER.to_owned()),
            ("TESSERA_PUBLIC_URL".to_owned(), ISSUER.to_owned()),
            ("TESSERA_MASTER_KEY".to_owned(), master_key),
            ("TESSERA_DATABASE_URL".to_owned(), database.url()),
            ("TESSERA_REDIS_URL".to_owned(), redis_url.to_owned()),
            ("TESSERA_REDIS_PREFIX".to_owned(), unique_prefix()),
        ];
        Self {
            env,
            _database: database,
        }
    }

    /// Sets one more `TESSERA_*` variable for the instances started from now on.
    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(key, _)| key != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// The Redis key and channel prefix of this deployment.
    pub fn redis_prefix(&self) -> &str {
        self.env
            .iter()
            .find(|(key, _)| key == "TESSERA_REDIS_PREFIX")
            .map(|(_, value)| value.as_str())
            .expect("a prefix is always set")
    }

    /// Runs a `tessera` command with this deployment's settings, as an operator would.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        let mut command = tessera_command(env!("CARGO_BIN_EXE_tessera"));
        let data_dir = tempfile::tempdir().expect("a data directory");
        command
            .args(args)
            .env("TESSERA_DATA_DIR", data_dir.path())
            .envs(self.env.iter().map(|(key, value)| (key, value)));
        run_cli(command).await
    }

    /// An administrator made with `tessera user create --role admin`, as the first admin is,
    /// logged in on `instance`: their access token.
    pub async fn admin_token(&self, instance: &Instance) -> String {
        let password = "a sturdy admin passphrase";
        let email = format!("admin-{:08x}@example.com", rand::random::<u32>());
        let created = self
            .cli(&[
                "user",
                "create",
                "--email",
                &email,
                "--password",
                password,
                "--role",
                "admin",
            ])
            .await;
        assert!(created.status.success(), "{created:?}");
        let login = instance.login(&email, password).await;
        login["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Starts one instance and waits until it is ready.
    pub async fn start(&self, name: &str) -> Instance {
        Instance::start(name, self.env.clone()).await
    }

    /// Starts the first instance alone (it migrates the empty database and makes the signing
    /// key), then the others at once; waits until all are ready.
    pub async fn start_all(&self, names: &[&str]) -> Vec<Instance> {
        let (first, rest) = names.split_first().expect("at least one instance");
        let mut instances = vec![self.start(first).await];
        instances.extend(self.start_together(rest).await);
        instances
    }

    /// Starts every instance at once, like a first deploy of several replicas; waits until all
    /// are ready.
    pub async fn start_together(&self, names: &[&str]) -> Vec<Instance> {
        let mut starting = tokio::task::JoinSet::new();
        for (index, name) in names.iter().enumerate() {
            let (name, env) = ((*name).to_owned(), self.env.clone());
            starting.spawn(async move { (index, Instance::start(&name, env).await) });
        }
        let mut started: Vec<(usize, Instance)> = starting.join_all().await;
        started.sort_by_key(|(index, _)| *index);
        started.into_iter().map(|(_, instance)| instance).collect()
    }
}

/// The tokens of a token response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
}

impl Tokens {
    pub fn from_body(body: &Value) -> Self {
        let text = |field: &str| {
            body[field]
                .as_str()
                .unwrap_or_else(|| panic!("a token response has {field}: {body}"))
                .to_owned()
        };
        Self {
            access_token: text("access_token"),
            refresh_token: text("refresh_token"),
            session_id: text("session_id"),
        }
    }
}

/// One `tessera serve` child process of a deployment, with methods named after endpoints.
pub struct Instance {
    pub name: String,
    process: TesseraProcess,
}

impl Instance {
    async fn start(name: &str, env: Vec<(String, String)>) -> Self {
        let process = TesseraProcess::builder(env!("CARGO_BIN_EXE_tessera"))
            .name(name)
            .envs(env)
            .start()
            .await;
        Self {
            name: name.to_owned(),
            process,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    /// The HTTP client the instance's methods use.
    pub fn process_client(&self) -> &reqwest::Client {
        self.process.client()
    }

    /// SIGKILL, like a crash or an OOM kill: no request gets finished.
    pub fn kill(&self) {
        self.process.kill();
    }

    /// SIGTERM, like an orchestrator stopping a pod; waits (bounded) for the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.process.terminate().await
    }

    /// Starts the process again with the same data directory and settings (on a new port), and
    /// waits until it is ready.
    pub async fn restart(&mut self) {
        self.process.restart().await;
    }

    /// What the process wrote to stdout and stderr, in every run so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    fn client(&self) -> &reqwest::Client {
        self.process.client()
    }

    // Endpoints. Each returns the raw response (or the transport error where a test needs to
    // see it); the typed helpers below assert the happy path for arranging.

    pub async fn get_readyz(&self) -> reqwest::Result<Response> {
        self.client().get(self.url("/readyz")).send().await
    }

    pub async fn post_signup(&self, body: &Value) -> Response {
        self.client()
            .post(self.url("/auth/signup"))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /auth/signup on {}: {e}", self.name))
    }

    pub async fn post_login(&self, body: &Value) -> Response {
        self.client()
            .post(self.url("/auth/login"))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /auth/login on {}: {e}", self.name))
    }

    pub async fn try_post_refresh(&self, refresh_token: &str) -> reqwest::Result<Response> {
        self.client()
            .post(self.url("/auth/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
    }

    pub async fn post_refresh(&self, refresh_token: &str) -> Response {
        self.try_post_refresh(refresh_token)
            .await
            .unwrap_or_else(|e| panic!("POST /auth/refresh on {}: {e}", self.name))
    }

    pub async fn get_me(&self, access_token: &str) -> Response {
        self.client()
            .get(self.url("/users/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /users/me on {}: {e}", self.name))
    }

    pub async fn post_logout(&self, access_token: &str) -> Response {
        self.client()
            .post(self.url("/auth/logout"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /auth/logout on {}: {e}", self.name))
    }

    /// `PATCH /admin/users/{id}` with an admin's token, asserting 200.
    pub async fn patch_user(&self, admin_token: &str, id: &str, body: &Value) {
        let response = self
            .process
            .client()
            .patch(self.url(&format!("/admin/users/{id}")))
            .bearer_auth(admin_token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PATCH /admin/users on {}: {e}", self.name));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "PATCH on {}: {text}", self.name);
    }

    /// Logs in with `email` and `password`, asserting 200; the token response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let response = self
            .post_login(&json!({ "email": email, "password": password }))
            .await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, StatusCode::OK, "login on {}: {body}", self.name);
        body
    }

    /// Signs up a fresh user with a unique email; their first session's tokens.
    pub async fn signup(&self) -> Tokens {
        let email = format!("user-{:016x}@example.com", rand::random::<u64>());
        let response = self
            .post_signup(&json!({ "email": email, "password": "correct horse battery staple" }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "signup on {}",
            self.name
        );
        Tokens::from_body(&response.json().await.expect("a JSON token response"))
    }

    /// Refreshes, asserting success.
    pub async fn refresh(&self, refresh_token: &str) -> Tokens {
        let response = self.post_refresh(refresh_token).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, StatusCode::OK, "refresh on {}: {body}", self.name);
        Tokens::from_body(&body)
    }

    /// Logs out, asserting 204.
    pub async fn logout(&self, access_token: &str) {
        let response = self.post_logout(access_token).await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "logout on {}",
            self.name
        );
    }

    /// Asserts that `access_token` is accepted here.
    pub async fn assert_accepts(&self, access_token: &str) {
        let response = self.get_me(access_token).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "{} accepts the token: {body}",
            self.name
        );
    }

    /// Asserts that `access_token` is accepted here within `within` (a key another instance just
    /// made is known here once the keys are re-read).
    pub async fn assert_accepts_within(&self, access_token: &str, within: Duration) {
        let since = Instant::now();
        while self.get_me(access_token).await.status() != StatusCode::OK {
            assert!(
                since.elapsed() < within,
                "{} does not accept the token after {within:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `GET /users/me` about every 5 ms until it answers `token_revoked`; returns how long
    /// after `since` that was. Panics on any other answer, or after `patience`.
    pub async fn time_until_revoked(
        &self,
        access_token: &str,
        since: Instant,
        patience: Duration,
    ) -> Duration {
        times_until_revoked(&[self], access_token, since, patience).await[0]
    }

    /// Logs out here while `watchers` are polled; how long after the request was sent the
    /// logout answered 204, and each watcher answered `token_revoked`.
    pub async fn log_out_and_watch(
        &self,
        access_token: &str,
        watchers: &[&Instance],
        patience: Duration,
    ) -> (Duration, Vec<Duration>) {
        let since = Instant::now();
        tokio::join!(
            async {
                self.logout(access_token).await;
                since.elapsed()
            },
            times_until_revoked(watchers, access_token, since, patience),
        )
    }
}

/// Polls `GET /users/me` on each of `instances` about every 5 ms until each answers
/// `token_revoked`; returns how long after `since` each did. Panics on any answer other than
/// 200 or that, or after `patience`.
pub async fn times_until_revoked(
    instances: &[&Instance],
    access_token: &str,
    since: Instant,
    patience: Duration,
) -> Vec<Duration> {
    let mut refused: Vec<Option<Duration>> = vec![None; instances.len()];
    loop {
        for (instance, refused) in instances.iter().zip(&mut refused) {
            if refused.is_some() {
                continue;
            }
            let response = instance.get_me(access_token).await;
            if response.status() != StatusCode::OK {
                let at = since.elapsed();
                assert_problem(response, 401, "token_revoked").await;
                *refused = Some(at);
            }
        }
        if let Some(all) = refused.iter().copied().collect::<Option<Vec<Duration>>>() {
            return all;
        }
        for (instance, refused) in instances.iter().zip(&refused) {
            assert!(
                refused.is_some() || since.elapsed() < patience,
                "{} still accepts a revoked token after {patience:?}",
                instance.name
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "status: {body}");
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    body
}
