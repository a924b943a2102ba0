//! Rate limits (API.md §4) and the client address behind proxies, over HTTP: each limit and
//! its reset, the headers, unknown emails, password checks of signed-in users, concurrency at
//! the limit, the OAuth form, forged and trusted forwarded headers, the metric and switching
//! limits off by file and by environment.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::TesseraProcess;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_with, text};

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "not the password at all";

both_backends!(
    the_eleventh_failed_login_is_refused_with_its_headers_even_with_the_right_password,
    the_limit_resets_one_attempt_per_interval_and_wholly_after_its_window,
    unknown_emails_are_counted_like_known_ones,
    a_successful_login_clears_the_failures_of_its_account_and_address,
    the_owner_logging_in_from_another_address_is_not_locked_out,
    attempts_per_address_are_limited_across_emails,
    signups_are_limited_per_address,
    guessing_the_current_password_while_signed_in_counts_with_the_logins,
    concurrent_wrong_logins_at_the_limit_let_exactly_the_allowed_number_through,
    the_password_grant_answers_429_rate_limited_with_the_same_headers,
    a_forged_forwarded_header_from_an_untrusted_peer_neither_dodges_nor_moves_the_count,
    behind_a_trusted_proxy_the_forwarded_client_is_counted_and_recorded,
);

/// A server whose client addresses come from `X-Forwarded-For` set by the tests (they reach it
/// from 127.0.0.1, which stands for the proxy).
async fn behind_proxy(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.trusted_proxies = vec!["127.0.0.1/32".into()]).await
}

fn login_request(app: &TestApp, email: &str, password: &str) -> RequestBuilder {
    app.client
        .post(app.url("/auth/login"))
        .json(&json!({ "email": email, "password": password }))
}

async fn login_from(app: &TestApp, email: &str, password: &str, forwarded: &str) -> Response {
    login_request(app, email, password)
        .header("x-forwarded-for", forwarded)
        .send()
        .await
        .unwrap()
}

/// Logs in `times` times with a wrong password, expecting a 401 each time.
async fn fail_logins(app: &TestApp, email: &str, times: usize) {
    for attempt in 0..times {
        let response = app
            .post_login(&json!({ "email": email, "password": WRONG }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt} is still within the limit"
        );
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn the_eleventh_failed_login_is_refused_with_its_headers_even_with_the_right_password(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;
    fail_logins(&app, &user.email, 10).await;

    // Act
    let refused = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;

    // Assert: one unit comes back every 30 s (10 per 5 minutes).
    assert_eq!(header(&refused, "retry-after"), "30");
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        r#""login_account_ip";q=10;w=300"#
    );
    assert_eq!(
        header(&refused, "ratelimit"),
        r#""login_account_ip";r=0;t=30"#
    );
    let body = assert_problem(refused, 429, "rate_limited").await;
    assert!(!body.to_string().contains(&user.email), "{body}");
}

async fn the_limit_resets_one_attempt_per_interval_and_wholly_after_its_window(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;
    fail_logins(&app, &user.email, 10).await;

    // Act + Assert: 29 s later still refused; at 30 s one more attempt.
    app.advance(Duration::from_secs(29));
    let early = app
        .post_login(&json!({ "email": user.email, "password": WRONG }))
        .await;
    assert_problem(early, 429, "rate_limited").await;
    app.advance(Duration::from_secs(1));
    fail_logins(&app, &user.email, 1).await;
    let again = app
        .post_login(&json!({ "email": user.email, "password": WRONG }))
        .await;
    assert_problem(again, 429, "rate_limited").await;

    // After a whole window of rest, the full quota and the right password work.
    app.advance(Duration::from_secs(300));
    fail_logins(&app, &user.email, 9).await;
    app.login_again(&user).await;
}

async fn unknown_emails_are_counted_like_known_ones(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |_| {}).await;
    let unknown = "nobody-here@example.com";
    fail_logins(&app, unknown, 10).await;

    // Act
    let refused = app
        .post_login(&json!({ "email": "NOBODY-here@example.com ", "password": WRONG }))
        .await;

    // Assert: the same answer a known account gets, and the email is normalised.
    assert_eq!(header(&refused, "retry-after"), "30");
    assert_problem(refused, 429, "rate_limited").await;
}

async fn a_successful_login_clears_the_failures_of_its_account_and_address(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;
    fail_logins(&app, &user.email, 9).await;

    // Act
    app.login_again(&user).await;

    // Assert: ten more failures before the limit.
    fail_logins(&app, &user.email, 10).await;
    let refused = app
        .post_login(&json!({ "email": user.email, "password": WRONG }))
        .await;
    assert_problem(refused, 429, "rate_limited").await;
}

async fn the_owner_logging_in_from_another_address_is_not_locked_out(backend: Backend) {
    // Arrange: an attacker at 203.0.113.66 spends the account's quota from its address.
    let app = behind_proxy(backend).await;
    let user = app.signup_test_user().await;
    for _ in 0..10 {
        let response = login_from(&app, &user.email, WRONG, "203.0.113.66").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let attacker = login_from(&app, &user.email, WRONG, "203.0.113.66").await;
    assert_problem(attacker, 429, "rate_limited").await;

    // Act
    let owner = login_from(&app, &user.email, &user.password, "198.51.100.7").await;

    // Assert
    assert_eq!(owner.status(), StatusCode::OK);
}

async fn attempts_per_address_are_limited_across_emails(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.rate_limits.login_per_ip =
            tessera_core::limits::Quota::new(5, Duration::from_secs(60)).unwrap();
    })
    .await;
    for n in 0..5 {
        let email = format!("spray-{n}@example.com");
        fail_logins(&app, &email, 1).await;
    }

    // Act
    let refused = app
        .post_login(&json!({ "email": "spray-5@example.com", "password": WRONG }))
        .await;

    // Assert
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        r#""login_ip";q=5;w=60"#
    );
    assert_eq!(header(&refused, "retry-after"), "12");
    assert_problem(refused, 429, "rate_limited").await;
}

async fn signups_are_limited_per_address(backend: Backend) {
    // Arrange
    let app = behind_proxy(backend).await;
    let signup_from = |n: u32, address: &'static str| {
        app.client
            .post(app.url("/auth/signup"))
            .header("x-forwarded-for", address)
            .json(&json!({ "email": format!("new-{n}@example.com"), "password": PASSWORD }))
            .send()
    };
    for n in 0..20 {
        let response = signup_from(n, "203.0.113.1").await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "signup {n}");
    }

    // Act
    let refused = signup_from(20, "203.0.113.1").await.unwrap();
    let elsewhere = signup_from(21, "203.0.113.2").await.unwrap();

    // Assert: 20 an hour, so one comes back every 3 minutes.
    assert_eq!(header(&refused, "retry-after"), "180");
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        r#""signup_ip";q=20;w=3600"#
    );
    assert_problem(refused, 429, "rate_limited").await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
}

async fn guessing_the_current_password_while_signed_in_counts_with_the_logins(backend: Backend) {
    // Arrange: a stolen access token.
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;
    let guess = |n: usize| json!({ "current_password": format!("guess number {n}"), "new_password": "a brand new password" });
    for n in 0..10 {
        let response = app.post_password(&user.access_token, &guess(n)).await;
        assert_problem(response, 401, "invalid_credentials").await;
    }

    // Act
    let eleventh = app.post_password(&user.access_token, &guess(10)).await;
    let deletion = app
        .delete_me(&user.access_token, &json!({ "password": user.password }))
        .await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;

    // Assert: the guesses, account deletion and the login form share one limit.
    assert_eq!(
        header(&eleventh, "ratelimit-policy"),
        r#""login_account_ip";q=10;w=300"#
    );
    assert_problem(eleventh, 429, "rate_limited").await;
    assert_problem(deletion, 429, "rate_limited").await;
    assert_problem(login, 429, "rate_limited").await;
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
}

async fn concurrent_wrong_logins_at_the_limit_let_exactly_the_allowed_number_through(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;

    // Act
    let attempts = (0..30).map(|_| login_request(&app, &user.email, WRONG).send());
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .into_iter()
        .map(|response| response.unwrap().status().as_u16())
        .collect();

    // Assert
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!((count(401), count(429)), (10, 20), "{statuses:?}");
}

async fn the_password_grant_answers_429_rate_limited_with_the_same_headers(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;
    fail_logins(&app, &user.email, 10).await;

    // Act
    let refused = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", &user.email),
                ("password", &user.password),
            ],
        )
        .await;

    // Assert
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), "30");
    assert_eq!(
        header(&refused, "ratelimit"),
        r#""login_account_ip";r=0;t=30"#
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
}

async fn a_forged_forwarded_header_from_an_untrusted_peer_neither_dodges_nor_moves_the_count(
    backend: Backend,
) {
    // Arrange: no trusted proxies, so the peer (127.0.0.1) is the client whatever it claims.
    let app = spawn_app_with(backend, |_| {}).await;
    let user = app.signup_test_user().await;
    for n in 0..10 {
        let forged = format!("198.51.100.{n}");
        let response = login_from(&app, &user.email, WRONG, &forged).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    // Act
    let dodging = login_from(&app, &user.email, WRONG, "192.0.2.200").await;
    let login = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;

    // Assert
    assert_problem(dodging, 429, "rate_limited").await;
    let body = assert_problem(login, 429, "rate_limited").await;
    assert!(!body.to_string().contains("198.51.100"), "{body}");
}

async fn behind_a_trusted_proxy_the_forwarded_client_is_counted_and_recorded(backend: Backend) {
    // Arrange: the attacker writes the victim's address first; its proxy appends the real one.
    let app = behind_proxy(backend).await;
    let user = app.signup_test_user().await;
    let forged_chain = "198.51.100.7, 203.0.113.66";
    for _ in 0..10 {
        let response = login_from(&app, &user.email, WRONG, forged_chain).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let attacker = login_from(&app, &user.email, WRONG, forged_chain).await;
    assert_problem(attacker, 429, "rate_limited").await;

    // Act: the victim, whose proxy reports its real address.
    let victim = login_from(&app, &user.email, &user.password, "198.51.100.7").await;

    // Assert: the victim's bucket was untouched, and its session records its address.
    assert_eq!(victim.status(), StatusCode::OK);
    let grant: Value = victim.json().await.unwrap();
    let sessions: Value = app
        .get_sessions(text(&grant, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    let current = sessions
        .as_array()
        .or_else(|| sessions["sessions"].as_array())
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap_or_else(|| panic!("no current session in {sessions}"))
        .clone();
    assert_eq!(current["ip"], "198.51.100.7", "{current}");
}

/// Tessera as a process (metrics and logs are per process): the limit shows in
/// `tessera_rate_limited_total{rule}`, `TESSERA_RATE_LIMITS__ENABLED=false` or `enabled = false`
/// in the file turns every limit off, and ignored forwarded headers are logged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_rule_and_limits_turn_off_by_file_and_by_environment() {
    // Arrange
    let limited = TesseraProcess::builder(env!("CARGO_BIN_EXE_tessera"))
        .env("TESSERA_RATE_LIMITS__LOGIN_PER_ACCOUNT_IP", "2/1m")
        .start()
        .await;
    let by_env = TesseraProcess::builder(env!("CARGO_BIN_EXE_tessera"))
        .env("TESSERA_RATE_LIMITS__ENABLED", "false")
        .env("TESSERA_RATE_LIMITS__LOGIN_PER_ACCOUNT_IP", "2/1m")
        .start()
        .await;
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("tessera.toml");
    std::fs::write(
        &file,
        "[rate_limits]\nenabled = false\nlogin_per_account_ip = \"2/1m\"\n",
    )
    .unwrap();
    // The process runs in its data directory, where `./tessera.toml` is read by default.
    let by_file = TesseraProcess::builder(env!("CARGO_BIN_EXE_tessera"))
        .data_dir(config.path())
        .start()
        .await;

    // Act
    let limited_statuses = four_wrong_logins(&limited).await;
    for _ in 0..2 {
        let response = limited
            .client()
            .post(limited.url("/auth/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({ "email": "who@example.com", "password": WRONG }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "not dodged"
        );
    }
    let env_statuses = four_wrong_logins(&by_env).await;
    let file_statuses = four_wrong_logins(&by_file).await;

    // Assert
    assert_eq!(limited_statuses, vec![401, 401, 429, 429]);
    assert_eq!(env_statuses, vec![401; 4]);
    assert_eq!(file_statuses, vec![401; 4]);
    let metrics = limited
        .client()
        .get(limited.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line == r#"tessera_rate_limited_total{rule="login_account_ip"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|line| line == r#"tessera_logins_total{result="rate_limited"} 4"#),
        "{metrics}"
    );
    // Forwarded headers without trusted proxies: told once, not on every request.
    let log = limited.log();
    assert_eq!(log.matches("trusted_proxies is empty").count(), 1, "{log}");
    assert!(!log.contains("203.0.113.9"), "{log}");
}

async fn four_wrong_logins(server: &TesseraProcess) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = server
            .client()
            .post(server.url("/auth/login"))
            .json(&json!({ "email": "who@example.com", "password": WRONG }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    statuses
}
