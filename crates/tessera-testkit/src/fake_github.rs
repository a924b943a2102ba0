//! A fake GitHub for social-login tests: its OAuth 2.0 endpoints (`/login/oauth/authorize`,
//! `/login/oauth/access_token`) and the two API calls a login needs (`/user`, `/user/emails`),
//! served in-process on a free port. GitHub is off the machine, so it is the one upstream the
//! suites fake; it checks what GitHub checks, and PKCE S256 besides, but knows nothing else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;

/// The client the fake knows unless told otherwise.
const DEFAULT_CLIENT_ID: &str = "fake-github-client";
const DEFAULT_CLIENT_SECRET: &str = "fake-github-secret";

/// A GitHub account as the fake serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGithubUser {
    /// GitHub's numeric id, served as a JSON number.
    pub id: u64,
    pub login: String,
    /// The profile name, `null` when `None` (GitHub allows an empty name).
    pub name: Option<String>,
    /// What `/user/emails` lists, in order.
    pub emails: Vec<GithubEmail>,
}

/// One entry of `/user/emails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubEmail {
    pub email: String,
    pub verified: bool,
    pub primary: bool,
}

impl FakeGithubUser {
    /// User `id` named `login`, with the one verified primary email `LOGIN@example.test`.
    pub fn new(id: u64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            name: Some(login.to_owned()),
            emails: vec![GithubEmail {
                email: format!("{login}@example.test"),
                verified: true,
                primary: true,
            }],
        }
    }
}

/// The running fake; its server stops when dropped.
pub struct FakeGithub {
    base_url: String,
    state: Shared,
    server: JoinHandle<()>,
}

impl FakeGithub {
    /// A fake that knows the client `fake-github-client` / `fake-github-secret` and signs in
    /// `FakeGithubUser::new(12345, "octocat")` until told otherwise.
    pub async fn start() -> Self {
        Self::start_with_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await
    }

    /// A fake that knows the client `client_id` with `client_secret`.
    pub async fn start_with_client(client_id: &str, client_secret: &str) -> Self {
        let state = Shared(Arc::new(Mutex::new(Github {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            user: FakeGithubUser::new(12345, "octocat"),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            token_requests: 0,
        })));
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/user/emails", get(user_emails))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a port for the fake GitHub");
        let address = listener.local_addr().expect("the fake GitHub's address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the fake GitHub serves");
        });
        Self {
            base_url: format!("http://{address}"),
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`: the authorize, token and API URLs are paths under it.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn client_id(&self) -> String {
        self.state.lock().client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.state.lock().client_secret.clone()
    }

    /// Who the next authorization signs in. Tokens issued before keep their user.
    pub fn set_user(&self, user: FakeGithubUser) {
        self.state.lock().user = user;
    }

    /// Requests to the token endpoint so far, refused ones included.
    pub fn token_requests(&self) -> u64 {
        self.state.lock().token_requests
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Github>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Github> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Github {
    client_id: String,
    client_secret: String,
    user: FakeGithubUser,
    codes: HashMap<String, IssuedCode>,
    tokens: HashMap<String, FakeGithubUser>,
    token_requests: u64,
}

/// What a code was issued for, to be checked when it is traded.
struct IssuedCode {
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    user: FakeGithubUser,
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    scope: Option<String>,
}

/// Signs the current user in at once (no login page, no consent) and redirects back.
async fn authorize(State(state): State<Shared>, Query(query): Query<AuthorizeQuery>) -> Response {
    let mut github = state.lock();
    if query.client_id != github.client_id {
        return (StatusCode::NOT_FOUND, "unknown client_id").into_response();
    }
    let Ok(back) = reqwest::Url::parse(&query.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is no URL").into_response();
    };
    let state_param = query.state.as_deref();
    // Stricter than GitHub, which makes PKCE optional: every Tessera flow must send it.
    let (Some(challenge), Some("S256")) =
        (query.code_challenge, query.code_challenge_method.as_deref())
    else {
        let error = [
            ("error", "invalid_request"),
            ("error_description", "PKCE S256 is required"),
        ];
        return redirect_back(back, &error, state_param);
    };
    let code = random_token();
    let issued = IssuedCode {
        redirect_uri: query.redirect_uri,
        code_challenge: challenge,
        scope: query.scope.unwrap_or_default(),
        user: github.user.clone(),
    };
    github.codes.insert(code.clone(), issued);
    redirect_back(back, &[("code", &code)], state_param)
}

/// A 302 Found (what GitHub answers) to `back` with `pairs` and `state` added to its query.
fn redirect_back(mut back: reqwest::Url, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    {
        let mut query = back.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    scope: String,
}

#[derive(Serialize)]
struct ErrorAnswer {
    error: &'static str,
    error_description: &'static str,
}

/// Trades a code. Errors take RFC 6749 §5.2's shape (400 `invalid_grant`, 401
/// `invalid_client`), not GitHub's 200 with `bad_verification_code`, so a client that ignores
/// the status fails loudly here. Any presentation spends the code, failed ones too.
async fn access_token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let json = wants_json(&headers);
    let mut github = state.lock();
    github.token_requests += 1;
    let (client_id, client_secret) = match basic_credentials(&headers) {
        Some(credentials) => credentials,
        None => (
            form.client_id.unwrap_or_default(),
            form.client_secret.unwrap_or_default(),
        ),
    };
    if client_id != github.client_id || !same_secret(&client_secret, &github.client_secret) {
        let error = token_error("invalid_client", "unknown client or wrong secret");
        return answer(StatusCode::UNAUTHORIZED, json, error);
    }
    let Some(issued) = form.code.and_then(|code| github.codes.remove(&code)) else {
        let error = token_error("invalid_grant", "the code is unknown or spent");
        return answer(StatusCode::BAD_REQUEST, json, error);
    };
    if form.redirect_uri.as_deref() != Some(issued.redirect_uri.as_str()) {
        let error = token_error(
            "invalid_grant",
            "redirect_uri differs from the authorization's",
        );
        return answer(StatusCode::BAD_REQUEST, json, error);
    }
    let verifier = form.code_verifier.unwrap_or_default();
    if !same_secret(
        &crate::pkce::s256_challenge(&verifier),
        &issued.code_challenge,
    ) {
        let error = token_error(
            "invalid_grant",
            "code_verifier does not match the challenge",
        );
        return answer(StatusCode::BAD_REQUEST, json, error);
    }
    let access_token = format!("gho_{}", random_token());
    github.tokens.insert(access_token.clone(), issued.user);
    let granted = TokenAnswer {
        access_token,
        token_type: "bearer",
        // GitHub lists the granted scopes comma-separated.
        scope: issued
            .scope
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(","),
    };
    answer(StatusCode::OK, json, granted)
}

/// `GET /user`: the account's public profile; `email` is the public email, which the fake
/// never sets, so clients must read `/user/emails` as they must for most GitHub accounts.
async fn user(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&state, &headers) else {
        return bad_credentials();
    };
    Json(json!({
        "id": user.id,
        "login": user.login,
        "name": user.name,
        "email": null,
    }))
    .into_response()
}

/// `GET /user/emails`: every address, with GitHub's `visibility` (`private` for the primary,
/// `null` for the others).
async fn user_emails(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&state, &headers) else {
        return bad_credentials();
    };
    let emails: Vec<_> = user
        .emails
        .iter()
        .map(|email| {
            json!({
                "email": email.email,
                "primary": email.primary,
                "verified": email.verified,
                "visibility": if email.primary { Some("private") } else { None },
            })
        })
        .collect();
    Json(emails).into_response()
}

/// GitHub answers the token endpoint in JSON only when asked; form-encoded otherwise.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

fn answer(status: StatusCode, json: bool, body: impl Serialize) -> Response {
    if json {
        (status, Json(body)).into_response()
    } else {
        (status, Form(body)).into_response()
    }
}

fn token_error(error: &'static str, error_description: &'static str) -> ErrorAnswer {
    ErrorAnswer {
        error,
        error_description,
    }
}

fn bad_credentials() -> Response {
    let body = json!({
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
    });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// The client id and secret of an `Authorization: Basic` header, if there is one.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn bearer_user(state: &Shared, headers: &HeaderMap) -> Option<FakeGithubUser> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // GitHub takes both `Bearer` and its older `token` scheme.
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))?;
    state.lock().tokens.get(token.trim()).cloned()
}

fn same_secret(given: &str, expected: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_ok()
}

fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}
