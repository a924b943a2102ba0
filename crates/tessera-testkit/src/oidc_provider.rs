//! A real OpenID Provider for social-login tests: `node oidc-provider/provider.mjs` (panva's
//! certified `oidc-provider`) as a child process on a free port, with one confidential client,
//! counters of what it was asked, and a sign-in through its own login and consent pages. Killed
//! when dropped; its output goes to a log file shown when a test fails.

mod browser;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use tempfile::TempDir;
use tokio::time::Instant;

use crate::{HARNESS_PATIENCE, free_port};
use browser::Browser;

/// The npm package directory: `provider.mjs`, `package.json` and the lockfile.
const PACKAGE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/oidc-provider");

/// The most redirects and form posts one sign-in may take (login, consent and the hops between
/// them take six).
const MAX_SIGN_IN_STEPS: usize = 12;

/// What an [`OidcProvider`] starts with.
pub struct OidcProviderBuilder {
    client_id: String,
    client_secret: String,
    redirect_uris: Vec<String>,
    access_token_ttl: Duration,
    id_token_signing_alg: String,
    email_in_id_token: bool,
}

impl OidcProviderBuilder {
    /// How long access tokens live (default 60 seconds; whole seconds).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// The ID tokens' signing algorithm: `RS256` (default) or `EdDSA` (Ed25519).
    pub fn id_token_signing_alg(mut self, alg: &str) -> Self {
        alg.clone_into(&mut self.id_token_signing_alg);
        self
    }

    /// Puts `email`, `email_verified` and `name` in the ID token, as Google does. By default
    /// they are at the userinfo endpoint only (OpenID Connect Core §5.4: the code flow issues an
    /// access token, so scope claims go to userinfo).
    pub fn email_in_id_token(mut self, yes: bool) -> Self {
        self.email_in_id_token = yes;
        self
    }

    /// Starts the provider and waits until its discovery document answers; panics when the npm
    /// packages are missing, or when it exits or is not ready within
    /// [`HARNESS_PATIENCE`](crate::HARNESS_PATIENCE).
    pub async fn start(self) -> OidcProvider {
        let package_dir = Path::new(PACKAGE_DIR);
        assert!(
            package_dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci` in crates/tessera-testkit/oidc-provider \
             (scripts/test.sh does)"
        );
        let log_dir = tempfile::tempdir().expect("a temp dir for the provider's log");
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = self.launch(package_dir, log_dir.path(), port).await {
                return OidcProvider {
                    base_url: format!("http://127.0.0.1:{port}"),
                    child,
                    log_dir,
                    client: plain_client(),
                };
            }
        }
        panic!("oidc-provider: no free port after 5 attempts");
    }

    /// One start on `port`: the running child, or `None` when the port was taken meanwhile.
    async fn launch(&self, package_dir: &Path, log_dir: &Path, port: u16) -> Option<Child> {
        let log = File::create(log_path(log_dir)).expect("the provider's log file");
        let mut command = Command::new("node");
        command
            .arg("provider.mjs")
            .current_dir(package_dir)
            // Development mode: production mode refuses some of what a loopback test needs.
            .env_remove("NODE_ENV")
            .env("PORT", port.to_string())
            .env("CLIENT_ID", &self.client_id)
            .env("CLIENT_SECRET", &self.client_secret)
            .env("REDIRECT_URIS", self.redirect_uris.join(","))
            .env(
                "ACCESS_TOKEN_TTL",
                self.access_token_ttl.as_secs().to_string(),
            )
            .env("ID_TOKEN_SIGNING_ALG", &self.id_token_signing_alg)
            .env(
                "EMAIL_IN_ID_TOKEN",
                if self.email_in_id_token { "1" } else { "0" },
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the provider's log file"))
            .stderr(log);
        if crate::environment::wants_logs() {
            command.env("DEBUG", "oidc-provider:*");
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("node runs (Node.js 20 or later): {err}"));
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let client = plain_client();
        let deadline = Instant::now() + HARNESS_PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for node") {
                let log = read_log(log_dir);
                if log.contains("cannot listen") {
                    return None;
                }
                panic!("oidc-provider exited with {status} before it was ready:\n{log}");
            }
            if let Ok(response) = client.get(&discovery).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Some(child);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "oidc-provider was not ready within {HARNESS_PATIENCE:?}:\n{}",
                    read_log(log_dir)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What the provider counted since it started or was last [reset](OidcProvider::reset).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderStats {
    /// Successful `authorization_code` grants.
    pub code_grants: u64,
    /// Successful `refresh_token` grants.
    pub refresh_grants: u64,
    /// Refused `refresh_token` grants (spent, revoked or unknown tokens).
    pub refresh_grants_refused: u64,
    /// Successful requests to the revocation endpoint (RFC 7009).
    pub revocations: u64,
    /// Refresh token presentations of a token presented before (even before a reset).
    pub reused_refresh_tokens: u64,
    /// SHA-256 (hex) of each refresh token presented to the token endpoint, in order.
    pub refresh_tokens_presented: Vec<String>,
}

/// One running provider. It knows one client; its issuer is `http://127.0.0.1:PORT`.
///
/// Its behaviour, as Tessera sees it: PKCE S256 is required; a refresh token comes with every
/// code grant (`offline_access` is not needed) and each refresh rotates it; presenting a spent
/// refresh token is refused with `invalid_grant` and revokes the whole grant, so the newest
/// refresh token stops working too. The authorization response carries `iss` (RFC 9207).
pub struct OidcProvider {
    base_url: String,
    child: Child,
    log_dir: TempDir,
    client: reqwest::Client,
}

impl OidcProvider {
    /// A provider with one confidential client (`client_secret_basic`, `client_secret_post`
    /// accepted too) that may redirect to `redirect_uris`.
    pub fn builder(
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
    ) -> OidcProviderBuilder {
        OidcProviderBuilder {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: redirect_uris.to_vec(),
            access_token_ttl: Duration::from_secs(60),
            id_token_signing_alg: "RS256".to_owned(),
            email_in_id_token: false,
        }
    }

    /// [`builder`](Self::builder) with the defaults, started.
    pub async fn start(client_id: &str, client_secret: &str, redirect_uris: &[String]) -> Self {
        Self::builder(client_id, client_secret, redirect_uris)
            .start()
            .await
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash, as in its discovery document.
    pub fn issuer(&self) -> &str {
        &self.base_url
    }

    /// `path` on the provider: `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Where the discovery document is.
    pub fn discovery_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }

    /// What the provider wrote to stdout and stderr.
    pub fn log(&self) -> String {
        read_log(self.log_dir.path())
    }

    /// The counters (`GET /_test/stats`).
    pub async fn stats(&self) -> ProviderStats {
        self.client
            .get(self.url("/_test/stats"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the provider answers /_test/stats")
            .json()
            .await
            .expect("the provider's stats as JSON")
    }

    /// Zeroes the counters (`POST /_test/reset`); grants and tokens stay valid.
    pub async fn reset(&self) {
        self.client
            .post(self.url("/_test/reset"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the provider answers /_test/reset");
    }

    /// Signs `login` in at `authorize_url` (an authorization request to this provider, such as
    /// the `Location` of Tessera's redirect) the way a person would: the provider's login form
    /// (any login, any password), then its consent page, all with a fresh cookie jar. Returns
    /// the redirect to the client, carrying `code`, `state` and `iss` (or `error` when the
    /// provider refused the request), without requesting it.
    ///
    /// Login names: with an `@` the name is the email, without one the email is
    /// `NAME@example.test`; names starting with `unverified` have `email_verified: false`. The
    /// `sub` and `name` claims are the login name.
    pub async fn sign_in(&self, authorize_url: &str, login: &str) -> Url {
        let provider = Url::parse(&self.base_url).expect("the provider's URL parses");
        let mut browser = Browser::new();
        let start = Url::parse(authorize_url)
            .unwrap_or_else(|err| panic!("the authorize URL {authorize_url:?} parses: {err}"));
        let mut page = browser.get(&start).await;
        for _ in 0..MAX_SIGN_IN_STEPS {
            if let Some(location) = page.location.take() {
                if location.origin() != provider.origin() {
                    return location;
                }
                page = browser.get(&location).await;
                continue;
            }
            let form = page.form();
            let fields: &[(&str, &str)] = match form.prompt.as_str() {
                "login" => &[("prompt", "login"), ("login", login), ("password", "any")],
                "consent" => &[("prompt", "consent")],
                other => panic!("an unexpected interaction {other:?} at {}", page.url),
            };
            page = browser.post_form(&form.action, fields).await;
        }
        panic!("no redirect to the client within {MAX_SIGN_IN_STEPS} steps of {authorize_url}");
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail = crate::logs::tail(&log);
            eprintln!("---- log of oidc-provider ({}) ----\n{tail}", self.base_url);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client without redirects and with short timeouts, so a dead provider fails fast.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("oidc-provider.log")
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(log_path(dir)).unwrap_or_default()
}
