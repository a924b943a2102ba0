//! Browser (cookie) mode: the cookies and their attributes, the CSRF, Origin and Fetch-Metadata
//! rules on every cookie-authenticated unsafe request, refresh and logout by cookie, and CORS.
//! A small cookie jar plays the browser, so each rule is seen on the wire.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, assert_problem, run_cli, spawn_app_with, tessera_command, text,
};

/// The origin of the pages that call the server (its `public_url` in these tests).
pub const APP: &str = "https://app.example.com";
const PASSWORD: &str = "correct horse battery staple";

both_backends!(
    refresh_by_cookie_rotates_with_the_grace_window_and_reuse_ends_the_session,
    a_failed_csrf_check_changes_nothing,
);

/// One `Set-Cookie`, its attributes lower-cased.
#[derive(Debug, Clone)]
struct SetCookie {
    value: String,
    attributes: Vec<String>,
}

impl SetCookie {
    fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a == attribute)
    }
}

fn set_cookies(headers: &HeaderMap) -> BTreeMap<String, SetCookie> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| {
            let mut parts = value.to_str().unwrap().split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let attributes = parts.map(str::to_ascii_lowercase).collect();
            (
                name.to_owned(),
                SetCookie {
                    value: value.to_owned(),
                    attributes,
                },
            )
        })
        .collect()
}

/// A browser's cookies for the server, and the page it is on.
pub struct Browser<'a> {
    app: &'a TestApp,
    jar: BTreeMap<String, String>,
    /// `Origin` of its requests.
    pub origin: Option<String>,
    /// `Sec-Fetch-Site` of its requests.
    pub fetch_site: Option<&'static str>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            jar: BTreeMap::new(),
            origin: Some(APP.to_owned()),
            fetch_site: Some("same-site"),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// Sends a request with the jar's cookies; `csrf` adds `X-CSRF-Token` from the CSRF cookie.
    /// Keeps what `Set-Cookie` says, as a browser would.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> Response {
        let mut request = self.request(method, path, csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.finish(request).await
    }

    /// A page, as a navigation would fetch it.
    pub async fn get(&mut self, path: &str) -> Response {
        self.send(Method::GET, path, None, false).await
    }

    /// A form of a page, posted as the browser posts it (no CSRF header: the form carries it).
    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let request = self.request(Method::POST, path, false).form(form);
        self.finish(request).await
    }

    fn request(&self, method: Method, path: &str, csrf: bool) -> reqwest::RequestBuilder {
        let mut request = self.app.client.request(method, self.app.url(path));
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookies.join("; "));
        }
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = self.fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        if csrf && let Some(token) = self.jar.get("tessera_csrf") {
            request = request.header("x-csrf-token", token);
        }
        request
    }

    async fn finish(&mut self, request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.unwrap();
        for (name, cookie) in set_cookies(response.headers()) {
            if cookie.has("max-age=0") {
                self.jar.remove(&name);
            } else {
                self.jar.insert(name, cookie.value);
            }
        }
        response
    }

    /// A browser that has just signed up in cookie mode.
    async fn signed_up(app: &'a TestApp) -> Self {
        let mut browser = Self::new(app);
        browser.sign_up().await;
        browser
    }

    async fn sign_up(&mut self) -> Value {
        let email = format!("browser-{:08x}@example.com", rand::random::<u32>());
        let response = self
            .send(
                Method::POST,
                "/auth/signup",
                Some(json!({"email": email, "password": PASSWORD, "cookie": true})),
                false,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `POST /auth/refresh` by cookie (no body), with or without the CSRF header.
    async fn refresh(&mut self, csrf: bool) -> Response {
        self.send(Method::POST, "/auth/refresh", None, csrf).await
    }

    async fn me(&mut self) -> Response {
        self.send(Method::GET, "/users/me", None, false).await
    }
}

async fn browser_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.public_url = APP.into();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_mode_sets_the_three_cookies_with_their_attributes_and_no_tokens_in_the_body() {
    let app = browser_app(Backend::Sqlite).await;
    let email = "cookies@example.com";

    let signup = Browser::new(&app)
        .send(
            Method::POST,
            "/auth/signup",
            Some(json!({"email": email, "password": PASSWORD, "cookie": true})),
            false,
        )
        .await;
    let login = Browser::new(&app)
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"email": email, "password": PASSWORD, "cookie": true})),
            false,
        )
        .await;

    for (response, status) in [(signup, StatusCode::CREATED), (login, StatusCode::OK)] {
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let cookies = set_cookies(response.headers());
        let names: Vec<&str> = cookies.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["__Host-tessera_at", "__Secure-tessera_rt", "tessera_csrf"]
        );
        let access = &cookies["__Host-tessera_at"];
        let refresh = &cookies["__Secure-tessera_rt"];
        let csrf = &cookies["tessera_csrf"];
        for (cookie, path, same_site, http_only) in [
            (access, "path=/", "samesite=lax", true),
            (refresh, "path=/auth", "samesite=strict", true),
            (csrf, "path=/", "samesite=lax", false),
        ] {
            assert!(cookie.has(path), "{cookie:?}");
            assert!(cookie.has(same_site), "{cookie:?}");
            assert!(cookie.has("secure"), "{cookie:?}");
            assert_eq!(cookie.has("httponly"), http_only, "{cookie:?}");
            assert!(!cookie.attributes.iter().any(|a| a.starts_with("domain")));
        }
        // The access cookie outlives the access token, so an expired one still reaches the
        // server and reads as `token_expired`.
        assert!(access.has("max-age=2592000") || access.has("max-age=2591999"));
        assert_eq!(access.value.split('.').count(), 3, "a JWT");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("access_token").is_none(), "{body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["user"]["email"], email);
        assert_eq!(text(&body, "csrf_token"), csrf.value);
        assert!(!body.to_string().contains(&access.value));
        assert!(!body.to_string().contains(&refresh.value));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cookie_true_the_token_response_sets_no_cookie() {
    let app = browser_app(Backend::Sqlite).await;

    let response = Browser::new(&app)
        .send(
            Method::POST,
            "/auth/signup",
            Some(json!({"email": "plain@example.com", "password": PASSWORD})),
            false,
        )
        .await;

    assert!(response.headers().get(SET_COOKIE).is_none());
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_insecure_cookies_have_no_prefix_and_no_secure() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.public_url = APP.into();
        settings.cookies.dev_insecure = true;
    })
    .await;
    let mut browser = Browser::new(&app);

    browser.sign_up().await;

    let names: Vec<&str> = browser.jar.keys().map(String::as_str).collect();
    assert_eq!(names, ["tessera_at", "tessera_csrf", "tessera_rt"]);
    let response = browser.me().await;
    assert_eq!(response.status(), StatusCode::OK);
    let login = Browser::new(&app)
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"email": "nobody@example.com", "password": PASSWORD, "cookie": true})),
            false,
        )
        .await;
    assert_problem(login, 401, "invalid_credentials").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_cookie_authenticates_the_endpoints_that_take_a_bearer_token() {
    let app = browser_app(Backend::Sqlite).await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up().await;

    let me = browser.me().await;
    let sessions = browser
        .send(Method::GET, "/auth/sessions", None, false)
        .await;
    let renamed = browser
        .send(
            Method::PATCH,
            "/users/me",
            Some(json!({"name": "Ada"})),
            true,
        )
        .await;
    let ticket = browser
        .send(Method::POST, "/auth/ws-ticket", None, true)
        .await;

    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], signed_up["user"]["id"]);
    let sessions: Value = sessions.json().await.unwrap();
    assert_eq!(sessions[0]["id"], signed_up["session_id"]);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "Ada");
    assert_eq!(ticket.status(), StatusCode::OK);
}

async fn a_failed_csrf_check_changes_nothing(backend: Backend) {
    let app = browser_app(backend).await;
    let mut browser = Browser::signed_up(&app).await;
    let rename = || Some(json!({"name": "Mallory"}));

    // No header; a wrong one; a foreign page (even a same-site one) with the right token; a
    // request the browser marks cross-site; an Origin of `null`.
    let missing = browser
        .send(Method::PATCH, "/users/me", rename(), false)
        .await;
    browser.jar.insert("tessera_csrf".into(), "guessed".into());
    let wrong = browser
        .send(Method::PATCH, "/users/me", rename(), false)
        .await;
    let mut forged = app.client.patch(app.url("/users/me")).json(&rename());
    forged = forged.header("x-csrf-token", "not-the-cookie");
    let guessed_header = browser_cookies(forged, &browser).send().await.unwrap();
    let mut browser = Browser::signed_up(&app).await;
    browser.origin = Some("https://evil.example.com".into());
    let foreign = browser
        .send(Method::PATCH, "/users/me", rename(), true)
        .await;
    browser.origin = Some("https://app.example.com:8443".into());
    let other_port = browser
        .send(Method::PATCH, "/users/me", rename(), true)
        .await;
    browser.origin = Some("null".into());
    let null_origin = browser
        .send(Method::PATCH, "/users/me", rename(), true)
        .await;
    browser.origin = Some(APP.into());
    browser.fetch_site = Some("cross-site");
    let cross_site = browser
        .send(Method::PATCH, "/users/me", rename(), true)
        .await;
    let logout = browser.send(Method::POST, "/auth/logout", None, true).await;

    for refused in [
        missing,
        wrong,
        guessed_header,
        foreign,
        other_port,
        null_origin,
        cross_site,
        logout,
    ] {
        assert_problem(refused, 403, "csrf_failed").await;
    }
    browser.fetch_site = Some("same-origin");
    let me: Value = browser.me().await.json().await.unwrap();
    assert_eq!(me["name"], Value::Null, "nothing was renamed");
    let sessions = browser
        .send(Method::GET, "/auth/sessions", None, false)
        .await;
    assert_eq!(
        sessions.status(),
        StatusCode::OK,
        "the session was not ended"
    );
    // Without an Origin (same-origin GET-less clients such as curl), the token alone passes.
    browser.origin = None;
    browser.fetch_site = None;
    let renamed = browser
        .send(
            Method::PATCH,
            "/users/me",
            Some(json!({"name": "Ada"})),
            true,
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
}

fn browser_cookies(
    request: reqwest::RequestBuilder,
    browser: &Browser<'_>,
) -> reqwest::RequestBuilder {
    let cookies: Vec<String> = browser
        .jar
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    request.header("cookie", cookies.join("; "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_requests_never_need_csrf() {
    let app = browser_app(Backend::Sqlite).await;
    let user = app.signup_test_user().await;

    let response = app
        .client
        .patch(app.url("/users/me"))
        .bearer_auth(&user.access_token)
        .header("origin", "https://evil.example.com")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"name": "Native app"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_login_from_a_foreign_page_is_refused_and_starts_no_session() {
    let app = browser_app(Backend::Sqlite).await;
    let user = app.signup_test_user().await;
    let body = || Some(json!({"email": user.email, "password": PASSWORD, "cookie": true}));

    let mut foreign = Browser::new(&app);
    foreign.origin = Some("https://evil.example.com".into());
    let from_foreign_origin = foreign
        .send(Method::POST, "/auth/login", body(), false)
        .await;
    let mut cross_site = Browser::new(&app);
    cross_site.fetch_site = Some("cross-site");
    let from_cross_site = cross_site
        .send(Method::POST, "/auth/login", body(), false)
        .await;

    assert!(from_foreign_origin.headers().get(SET_COOKIE).is_none());
    assert_problem(from_foreign_origin, 403, "csrf_failed").await;
    assert_problem(from_cross_site, 403, "csrf_failed").await;
    let sessions: Value = app
        .get_sessions(&user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sessions.as_array().unwrap().len(),
        1,
        "only the signup's session"
    );
}

async fn refresh_by_cookie_rotates_with_the_grace_window_and_reuse_ends_the_session(
    backend: Backend,
) {
    let app = browser_app(backend).await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up().await;
    let first_refresh = browser.cookie("__Secure-tessera_rt").unwrap().to_owned();
    let csrf = browser.cookie("tessera_csrf").unwrap().to_owned();
    app.advance(Duration::from_secs(1));

    let refreshed = browser.refresh(true).await;

    assert_eq!(refreshed.status(), StatusCode::OK);
    let body: Value = refreshed.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["session_id"], signed_up["session_id"]);
    let second_refresh = browser.cookie("__Secure-tessera_rt").unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh, "rotated");
    assert_eq!(browser.cookie("tessera_csrf"), Some(csrf.as_str()), "kept");
    assert_eq!(browser.me().await.status(), StatusCode::OK);

    // Another tab still holding the previous cookie, inside the grace window: the same
    // successor, so the tabs do not fork the session.
    let mut other_tab = Browser::new(&app);
    other_tab.jar = browser.jar.clone();
    other_tab
        .jar
        .insert("__Secure-tessera_rt".into(), first_refresh.clone());
    let in_grace = other_tab
        .send(Method::POST, "/auth/refresh", Some(json!({})), true)
        .await;
    assert_eq!(in_grace.status(), StatusCode::OK);
    assert_eq!(
        other_tab.cookie("__Secure-tessera_rt"),
        Some(second_refresh.as_str())
    );

    // After the grace window the previous cookie is reuse: the session ends and the cookies go.
    app.advance(Duration::from_secs(11));
    let mut late_tab = Browser::new(&app);
    late_tab.jar = browser.jar.clone();
    late_tab
        .jar
        .insert("__Secure-tessera_rt".into(), first_refresh);
    let reused = late_tab.refresh(true).await;
    let cleared = set_cookies(reused.headers());
    assert_problem(reused, 401, "refresh_reused").await;
    assert!(cleared.values().all(|c| c.has("max-age=0")) && cleared.len() == 3);
    assert!(late_tab.jar.is_empty());
    assert_problem(browser.me().await, 401, "token_revoked").await;
    let after = browser.refresh(true).await;
    assert_problem(after, 401, "refresh_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_by_cookie_without_the_csrf_header_is_refused_and_rotates_nothing() {
    let app = browser_app(Backend::Sqlite).await;
    let mut browser = Browser::signed_up(&app).await;
    let refresh = browser.cookie("__Secure-tessera_rt").unwrap().to_owned();

    let refused = browser.refresh(false).await;
    let no_cookie = Browser::new(&app).refresh(false).await;

    assert!(refused.headers().get(SET_COOKIE).is_none());
    assert_problem(refused, 403, "csrf_failed").await;
    // Without a refresh cookie there is no CSRF cookie either: the CSRF check comes first.
    assert_problem(no_cookie, 403, "csrf_failed").await;
    app.advance(Duration::from_secs(60));
    let later = browser.refresh(true).await;
    assert_eq!(later.status(), StatusCode::OK, "the token was not spent");
    assert_ne!(
        browser.cookie("__Secure-tessera_rt"),
        Some(refresh.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_cookie_reads_as_token_expired_and_refresh_by_cookie_recovers() {
    let app = browser_app(Backend::Sqlite).await;
    let mut browser = Browser::signed_up(&app).await;
    app.advance(Duration::from_secs(15 * 60 + 31));

    assert_problem(browser.me().await, 401, "token_expired").await;
    let refreshed = browser.refresh(true).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(browser.me().await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_by_cookie_clears_the_three_cookies_and_ends_the_session() {
    let app = browser_app(Backend::Sqlite).await;
    let mut browser = Browser::signed_up(&app).await;
    let old_jar = browser.jar.clone();

    let logout = browser.send(Method::POST, "/auth/logout", None, true).await;

    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(logout.headers());
    let names: Vec<&str> = cleared.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["__Host-tessera_at", "__Secure-tessera_rt", "tessera_csrf"]
    );
    assert!(
        cleared
            .values()
            .all(|c| c.has("max-age=0") && c.value.is_empty())
    );
    assert!(cleared["__Secure-tessera_rt"].has("path=/auth"));
    // A browser that kept the old cookies gets nothing from them.
    browser.jar = old_jar;
    assert_problem(browser.me().await, 401, "token_revoked").await;
    let refresh = browser.refresh(true).await;
    assert_problem(refresh, 401, "refresh_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_endpoint_returns_the_cookie_or_sets_one() {
    let app = browser_app(Backend::Sqlite).await;
    let mut browser = Browser::new(&app);

    let first = browser.send(Method::GET, "/auth/csrf", None, false).await;
    let set = set_cookies(first.headers());
    let first: Value = first.json().await.unwrap();
    let second: Value = browser
        .send(Method::GET, "/auth/csrf", None, false)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(text(&first, "csrf_token"), set["tessera_csrf"].value);
    assert!(!set["tessera_csrf"].has("httponly"));
    assert!(text(&first, "csrf_token").len() >= 43, "256 bits");
    assert_eq!(first["csrf_token"], second["csrf_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_configured_origins_only_with_credentials() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.cors.allowed_origins = vec!["https://spa.example.com".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/auth/refresh"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-csrf-token",
            )
            .send()
    };

    let allowed = preflight("https://spa.example.com").await.unwrap();
    let stranger = preflight("https://evil.example.com").await.unwrap();
    let actual = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .header("origin", "https://spa.example.com")
        .send()
        .await
        .unwrap();
    let actual_stranger = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();

    assert!(allowed.status().is_success());
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "https://spa.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = h["access-control-allow-headers"].to_str().unwrap();
    assert!(headers.contains("x-csrf-token") && headers.contains("content-type"));
    assert_eq!(h["access-control-max-age"], "600");
    assert!(
        h.get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("origin"))
    );
    for response in [&stranger, &actual_stranger] {
        let cors: Vec<&str> = response
            .headers()
            .keys()
            .map(|k| k.as_str())
            .filter(|k| k.starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{cors:?}");
    }
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "https://spa.example.com"
    );
    assert_eq!(actual.headers()["access-control-allow-credentials"], "true");
    // A configured CORS origin may also use the cookies.
    let mut browser = Browser::new(&app);
    browser.origin = Some("https://spa.example.com".into());
    browser.sign_up().await;
    let ticket = browser
        .send(Method::POST, "/auth/ws-ticket", None, true)
        .await;
    assert_eq!(ticket.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_configured_origins_there_are_no_cors_headers() {
    let app = browser_app(Backend::Sqlite).await;

    let response = app
        .client
        .request(Method::OPTIONS, app.url("/auth/login"))
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();

    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_cors_origin_is_refused_by_the_configuration() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = tessera_command();
    command
        .args(["config", "check"])
        .env("TESSERA_DATA_DIR", data_dir.path())
        .env("TESSERA_CORS__ALLOWED_ORIGINS", "https://app.example.com,*");

    let check = run_cli(command).await;

    assert!(!check.status.success());
    assert!(
        check.stderr.contains("cors.allowed_origins"),
        "{}",
        check.stderr
    );
}
