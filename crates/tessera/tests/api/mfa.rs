//! Two-factor over HTTP (API.md §3 "Two-factor"): TOTP setup and confirmation, the login's
//! second step, replay, the ±1-step window, recovery codes, the wrong-code limit of an
//! `mfa_token`, removal, browser mode, and `amr` in the tokens. Codes are computed here by an
//! RFC 6238 implementation of the test's own, not by the server's library.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::Clock;
use tessera_core::UserId;
use tessera_testkit::totp::{base32_decode, totp};

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, TestUser, assert_problem, eventually, jwt_claims, spawn_app, text,
};

both_backends!(
    setup_then_confirm_turns_two_factor_on_and_login_asks_for_a_code,
    a_code_is_accepted_once_and_an_older_one_never_after_it,
    codes_one_step_away_are_accepted_and_two_steps_away_refused,
    each_recovery_code_works_once_and_new_ones_replace_the_old,
    five_wrong_codes_kill_the_mfa_token,
    turning_two_factor_off_needs_the_password,
    setup_confirmation_and_states_are_checked,
    browser_mode_sets_cookies_only_after_the_second_step,
    the_secret_is_sealed_at_rest,
    the_password_grant_refuses_an_account_with_two_factor,
);

/// A user with two-factor on; its secret and recovery codes. Confirmed with the code of the
/// step before the current one, so the current step's code is still unused.
pub async fn user_with_totp(app: &TestApp) -> (TestUser, String, Vec<String>) {
    let user = app.signup_test_user().await;
    let setup = app
        .client
        .post(app.url("/users/me/mfa/totp/setup"))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), StatusCode::OK);
    assert_eq!(setup.headers()["cache-control"], "no-store");
    let setup: Value = setup.json().await.unwrap();
    let secret = text(&setup, "secret").to_owned();
    let uri = text(&setup, "otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains(&user.email.replace('@', "%40")), "{uri}");
    let code = totp(&secret, now(app) - 30);
    let confirm = post_confirm(app, &user, &code).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let codes: Vec<String> = confirm.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (user, secret, codes)
}

pub fn now(app: &TestApp) -> i64 {
    app.clock.now().unix_timestamp()
}

async fn post_confirm(app: &TestApp, user: &TestUser, code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/users/me/mfa/totp/confirm"))
        .bearer_auth(&user.access_token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

/// Logs in with the password; the `mfa_token` of the answer.
async fn first_step(app: &TestApp, user: &TestUser) -> String {
    let response = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access_token").is_none(), "{body}");
    text(&body, "mfa_token").to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/auth/login/mfa",
        &json!({ "mfa_token": mfa_token, "code": code }),
    )
    .await
}

async fn setup_then_confirm_turns_two_factor_on_and_login_asks_for_a_code(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, secret, codes) = user_with_totp(&app).await;
    assert_eq!(codes.len(), 10);
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["mfa_enabled"], true, "{me}");

    // Act
    let mfa_token = first_step(&app, &user).await;
    let granted = second_step(&app, &mfa_token, &totp(&secret, now(&app))).await;

    // Assert
    assert_eq!(granted.status(), StatusCode::OK);
    let grant: Value = granted.json().await.unwrap();
    let claims = jwt_claims(text(&grant, "access_token"));
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
    // Refreshes keep how the session was started.
    let refreshed = app.refresh(text(&grant, "refresh_token")).await;
    assert_eq!(
        jwt_claims(text(&refreshed, "access_token"))["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    // The token is spent by the success.
    let again = second_step(&app, &mfa_token, &codes[0]).await;
    assert_problem(again, 401, "mfa_invalid").await;
    // A password-only session says so.
    assert_eq!(jwt_claims(&user.access_token)["amr"], json!(["pwd"]));
}

async fn a_code_is_accepted_once_and_an_older_one_never_after_it(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, secret, _) = user_with_totp(&app).await;
    let code = totp(&secret, now(&app));
    let first = first_step(&app, &user).await;
    assert_eq!(
        second_step(&app, &first, &code).await.status(),
        StatusCode::OK
    );

    // Act
    let replay = second_step(&app, &first_step(&app, &user).await, &code).await;
    let older = second_step(
        &app,
        &first_step(&app, &user).await,
        &totp(&secret, now(&app) - 30),
    )
    .await;

    // Assert
    assert_problem(replay, 401, "mfa_invalid").await;
    assert_problem(older, 401, "mfa_invalid").await;
    app.advance(Duration::from_secs(30));
    let next = second_step(
        &app,
        &first_step(&app, &user).await,
        &totp(&secret, now(&app)),
    )
    .await;
    assert_eq!(next.status(), StatusCode::OK);
}

async fn codes_one_step_away_are_accepted_and_two_steps_away_refused(backend: Backend) {
    // Arrange: confirmed with the previous step's code.
    let app = spawn_app(backend).await;
    let (user, secret, _) = user_with_totp(&app).await;

    // Act + Assert: a code two steps ahead is refused, one step ahead accepted (a phone
    // whose clock runs a little fast).
    let token = first_step(&app, &user).await;
    let too_far = second_step(&app, &token, &totp(&secret, now(&app) + 60)).await;
    assert_problem(too_far, 401, "mfa_invalid").await;
    let ahead = second_step(&app, &token, &totp(&secret, now(&app) + 30)).await;
    assert_eq!(ahead.status(), StatusCode::OK);
    // Two steps later, the code of the step just before is accepted (a slow phone), since it
    // is later than the last accepted one.
    app.advance(Duration::from_secs(90));
    let behind = second_step(
        &app,
        &first_step(&app, &user).await,
        &totp(&secret, now(&app) - 30),
    )
    .await;
    assert_eq!(behind.status(), StatusCode::OK);
    let too_old = second_step(
        &app,
        &first_step(&app, &user).await,
        &totp(&secret, now(&app) - 60),
    )
    .await;
    assert_problem(too_old, 401, "mfa_invalid").await;
}

async fn each_recovery_code_works_once_and_new_ones_replace_the_old(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, _, codes) = user_with_totp(&app).await;

    // Act: typed in upper case with spaces, as people do.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let first = second_step(&app, &first_step(&app, &user).await, &typed).await;
    let again = second_step(&app, &first_step(&app, &user).await, &codes[3]).await;

    // Assert
    assert_eq!(first.status(), StatusCode::OK);
    let grant: Value = first.json().await.unwrap();
    assert_eq!(
        jwt_claims(text(&grant, "access_token"))["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    assert_problem(again, 401, "mfa_invalid").await;

    // New codes need the password, and the old ones stop working.
    let renew = |password: &str| {
        app.client
            .post(app.url("/users/me/mfa/recovery-codes"))
            .bearer_auth(&user.access_token)
            .json(&json!({ "password": password }))
            .send()
    };
    assert_problem(
        renew("not the password").await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    let renewed: Value = renew(&user.password).await.unwrap().json().await.unwrap();
    let fresh = renewed["recovery_codes"].as_array().unwrap();
    assert_eq!(fresh.len(), 10);
    let old = second_step(&app, &first_step(&app, &user).await, &codes[4]).await;
    assert_problem(old, 401, "mfa_invalid").await;
    let new = second_step(
        &app,
        &first_step(&app, &user).await,
        fresh[0].as_str().unwrap(),
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
}

async fn five_wrong_codes_kill_the_mfa_token(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, secret, _) = user_with_totp(&app).await;
    let token = first_step(&app, &user).await;
    let right = totp(&secret, now(&app));
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };

    // Act
    for _ in 0..4 {
        assert_problem(second_step(&app, &token, wrong).await, 401, "mfa_invalid").await;
    }
    // The fourth wrong code leaves the token alive: the right one still works on another
    // login, and this one dies at the fifth.
    let other = first_step(&app, &user).await;
    assert_problem(second_step(&app, &token, wrong).await, 401, "mfa_invalid").await;
    let after_five = second_step(&app, &token, &right).await;

    // Assert
    assert_problem(after_five, 401, "mfa_invalid").await;
    assert_eq!(
        second_step(&app, &other, &right).await.status(),
        StatusCode::OK
    );
    // And a token lives five minutes.
    let late = first_step(&app, &user).await;
    app.advance(Duration::from_secs(5 * 60 + 1));
    let expired = second_step(&app, &late, &totp(&secret, now(&app))).await;
    assert_problem(expired, 401, "mfa_invalid").await;
}

async fn turning_two_factor_off_needs_the_password(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, _, _) = user_with_totp(&app).await;
    let disable = |password: &str| {
        app.client
            .delete(app.url("/users/me/mfa/totp"))
            .bearer_auth(&user.access_token)
            .json(&json!({ "password": password }))
            .send()
    };

    // Act
    let wrong = disable("not the password").await.unwrap();
    let still_on = first_step(&app, &user).await;
    let right = disable(&user.password).await.unwrap();

    // Assert
    assert_problem(wrong, 401, "invalid_credentials").await;
    assert!(!still_on.is_empty());
    assert_eq!(right.status(), StatusCode::NO_CONTENT);
    let notice = eventually(Duration::from_secs(10), "the notice is written", || async {
        let dir = app.data_dir.path().join("mail");
        let file = std::fs::read_dir(dir).ok()?.filter_map(Result::ok).next()?;
        // Whole once it ends with its closing MIME boundary.
        std::fs::read_to_string(file.path())
            .ok()
            .filter(|eml| eml.trim_end().ends_with("--"))
    })
    .await;
    assert!(
        notice.contains("Two-factor sign-in was turned off"),
        "{notice}"
    );
    let grant = app.login_again(&user).await;
    assert_eq!(
        jwt_claims(text(&grant, "access_token"))["amr"],
        json!(["pwd"])
    );
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["mfa_enabled"], false);
    let again = disable(&user.password).await.unwrap();
    assert_problem(again, 422, "validation_error").await;
}

async fn setup_confirmation_and_states_are_checked(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act + Assert: nothing to confirm before setup.
    assert_problem(
        post_confirm(&app, &user, "123456").await,
        422,
        "validation_error",
    )
    .await;
    let setup = |app: &TestApp| {
        app.client
            .post(app.url("/users/me/mfa/totp/setup"))
            .bearer_auth(&user.access_token)
            .send()
    };
    let first: Value = setup(&app).await.unwrap().json().await.unwrap();
    // A second setup before confirming replaces the first secret.
    let second: Value = setup(&app).await.unwrap().json().await.unwrap();
    assert_ne!(first["secret"], second["secret"]);
    let stale = totp(text(&first, "secret"), now(&app));
    let confirm_stale = post_confirm(&app, &user, &stale).await;
    assert_problem(confirm_stale, 401, "mfa_invalid").await;
    // Until confirmed, login asks for no code.
    let grant = app.login_again(&user).await;
    assert!(grant.get("access_token").is_some(), "{grant}");
    let code = totp(text(&second, "secret"), now(&app));
    assert_eq!(
        post_confirm(&app, &user, &code).await.status(),
        StatusCode::OK
    );
    let on = setup(&app).await.unwrap();
    assert_problem(on, 422, "validation_error").await;
    assert_eq!(
        app.client
            .post(app.url("/users/me/mfa/totp/setup"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn browser_mode_sets_cookies_only_after_the_second_step(backend: Backend) {
    // Arrange
    let app = crate::helpers::spawn_app_with(backend, |s| s.cookies.dev_insecure = true).await;
    let (user, secret, _) = user_with_totp(&app).await;

    // Act
    let first = app
        .post_login(&json!({ "email": user.email, "password": user.password, "cookie": true }))
        .await;
    let first_cookies = first.headers().get_all("set-cookie").iter().count();
    let first: Value = first.json().await.unwrap();
    let second = app
        .post_json(
            "/auth/login/mfa",
            &json!({ "mfa_token": text(&first, "mfa_token"), "code": totp(&secret, now(&app)), "cookie": true }),
        )
        .await;

    // Assert
    assert_eq!(first_cookies, 0, "no cookie before the second factor");
    assert_eq!(second.status(), StatusCode::OK);
    let names: Vec<String> = second
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["tessera_at", "tessera_rt", "tessera_csrf"]);
    let body: Value = second.json().await.unwrap();
    assert!(body.get("access_token").is_none(), "{body}");
}

async fn the_secret_is_sealed_at_rest(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, secret, codes) = user_with_totp(&app).await;
    let id: UserId = user.id.parse().unwrap();

    // Act
    let stored = app.open_stores().await.mfa.totp(id).await.unwrap().unwrap();

    // Assert
    let raw = base32_decode(&secret);
    assert!(stored.confirmed);
    assert!(stored.sealed_secret.len() > raw.len());
    assert!(
        !stored.sealed_secret.windows(raw.len()).any(|w| w == raw),
        "the secret is stored in the clear"
    );
    // Recovery codes are spent by digest: spending a digest of another code changes nothing.
    assert!(
        !app.open_stores()
            .await
            .mfa
            .spend_recovery_code(id, &codes[0])
            .await
            .unwrap(),
        "codes are not stored as typed"
    );
}

async fn the_password_grant_refuses_an_account_with_two_factor(backend: Backend) {
    let app = spawn_app(backend).await;
    let (user, _, _) = user_with_totp(&app).await;
    let response = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", &user.email),
                ("password", &user.password),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body.get("access_token").is_none());
}
