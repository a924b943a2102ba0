//! The RFC 6749 token endpoint and RFC 7009 revocation, and a standard OAuth2 client library
//! talking to them unchanged.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, TestUser, assert_problem, run_cli, spawn_app, text};

both_backends!(
    the_password_grant_returns_a_token_response,
    the_password_grant_with_a_wrong_password_is_invalid_grant,
    malformed_token_requests_get_rfc_6749_errors,
    the_refresh_token_grant_rotates_like_auth_refresh,
    reusing_a_refresh_token_on_the_token_endpoint_is_invalid_grant_and_ends_the_session,
    revoking_a_refresh_token_ends_its_session,
    revoking_an_access_token_ends_its_session,
    revoking_garbage_answers_200_and_ends_nothing,
    revoking_without_a_token_is_invalid_request,
    an_oauth2_client_library_logs_in_refreshes_and_revokes,
);

async fn the_password_grant_returns_a_token_response(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = password_grant(&app, &user.email, &user.password).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(text(&body, "refresh_token").len() >= 43);
    assert_eq!(body["refresh_expires_in"], 30 * 86_400);
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_ne!(
        body["session_id"],
        user.session_id.as_str(),
        "a new session"
    );
    assert_eq!(
        app.get_me(text(&body, "access_token")).await.status(),
        StatusCode::OK
    );
    app.refresh(text(&body, "refresh_token")).await;
}

async fn the_password_grant_with_a_wrong_password_is_invalid_grant(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let wrong = password_grant(&app, &user.email, "not the password").await;
    let unknown = password_grant(&app, "nobody@example.com", "not the password").await;

    // Assert
    let wrong = assert_oauth_error(wrong, "invalid_grant").await;
    let unknown = assert_oauth_error(unknown, "invalid_grant").await;
    assert_eq!(wrong, unknown, "unknown users look like wrong passwords");
    assert!(!wrong.to_string().contains("not the password"));
}

async fn malformed_token_requests_get_rfc_6749_errors(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    // (form, expected error, why)
    let cases: [(FormFields, &str, &str); 5] = [
        (
            &[("username", &user.email), ("password", &user.password)],
            "invalid_request",
            "no grant_type",
        ),
        (
            &[("grant_type", "client_credentials")],
            "unsupported_grant_type",
            "client_credentials",
        ),
        (
            &[("grant_type", "authorization_code"), ("code", "abc")],
            "unsupported_grant_type",
            "authorization_code",
        ),
        (
            &[("grant_type", "password"), ("username", &user.email)],
            "invalid_request",
            "no password",
        ),
        (
            &[("grant_type", "refresh_token")],
            "invalid_request",
            "no refresh_token",
        ),
    ];

    for (form, error, why) in cases {
        // Act
        let response = app.post_form("/oauth/token", form).await;

        // Assert
        assert_eq!(response.status().as_u16(), 400, "{why}");
        let body = assert_oauth_error(response, error).await;
        assert!(body["error_description"].is_string(), "{why}: {body}");
    }
    let json = app
        .post_json(
            "/oauth/token",
            &json!({ "grant_type": "password", "username": user.email, "password": user.password }),
        )
        .await;
    assert_oauth_error(json, "invalid_request").await;
}

async fn the_refresh_token_grant_rotates_like_auth_refresh(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = refresh_grant(&app, &user.refresh_token).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second: Value = response.json().await.unwrap();
    let successor = text(&second, "refresh_token");
    assert_ne!(successor, user.refresh_token);
    assert_eq!(second["session_id"], user.session_id.as_str());
    assert_eq!(
        app.get_me(text(&second, "access_token")).await.status(),
        StatusCode::OK
    );
    // Inside the grace window the previous token gets the same successor, on either endpoint.
    let again: Value = refresh_grant(&app, &user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["refresh_token"], successor);
    assert_eq!(
        app.refresh(&user.refresh_token).await["refresh_token"],
        successor
    );
    // The successor rotates on /auth/refresh too: one chain, two doors.
    let third = app.refresh(successor).await;
    assert_ne!(third["refresh_token"], successor);
}

async fn reusing_a_refresh_token_on_the_token_endpoint_is_invalid_grant_and_ends_the_session(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let second: Value = refresh_grant(&app, &user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    app.advance(Duration::from_secs(11));

    // Act
    let reuse = refresh_grant(&app, &user.refresh_token).await;

    // Assert
    assert_oauth_error(reuse, "invalid_grant").await;
    let current = refresh_grant(&app, text(&second, "refresh_token")).await;
    assert_oauth_error(current, "invalid_grant").await;
    assert_problem(
        app.get_me(text(&second, "access_token")).await,
        401,
        "token_revoked",
    )
    .await;
}

async fn revoking_a_refresh_token_ends_its_session(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;

    // Act
    let response = app
        .post_form(
            "/oauth/revoke",
            &[
                ("token", user.refresh_token.as_str()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_session_ended(&app, &user.access_token, &user.refresh_token).await;
    assert_eq!(
        app.get_me(text(&other, "access_token")).await.status(),
        StatusCode::OK,
        "only that session ends"
    );
}

async fn revoking_an_access_token_ends_its_session(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.login_again(&user).await;

    // Act
    let response = app
        .post_form("/oauth/revoke", &[("token", user.access_token.as_str())])
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_session_ended(&app, &user.access_token, &user.refresh_token).await;
    assert_eq!(
        app.get_me(text(&other, "access_token")).await.status(),
        StatusCode::OK,
        "only that session ends"
    );
}

async fn revoking_garbage_answers_200_and_ends_nothing(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let mut forged = URL_SAFE_NO_PAD.decode(&user.refresh_token).unwrap();
    *forged.last_mut().unwrap() ^= 1;
    let forged = URL_SAFE_NO_PAD.encode(&forged);
    let truncated = &user.access_token[..user.access_token.len() - 3];

    for token in ["garbage", "", forged.as_str(), truncated] {
        // Act
        let response = app.post_form("/oauth/revoke", &[("token", token)]).await;

        // Assert
        assert_eq!(response.status(), StatusCode::OK, "{token}");
    }
    assert_still_live(&app, &user).await;
}

async fn revoking_without_a_token_is_invalid_request(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let response = app
        .post_form("/oauth/revoke", &[("token_type_hint", "refresh_token")])
        .await;

    // Assert
    assert_oauth_error(response, "invalid_request").await;
    assert_still_live(&app, &user).await;
}

async fn an_oauth2_client_library_logs_in_refreshes_and_revokes(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/oauth_client.py");
    let mut command = std::process::Command::new("python3");
    command.args([
        script,
        &app.url("/oauth/token"),
        &app.url("/oauth/revoke"),
        &user.email,
        &user.password,
    ]);

    // Act
    let output = run_cli(command).await;

    // Assert
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_str(output.stdout.trim())
        .unwrap_or_else(|e| panic!("the script prints one JSON object ({e}): {output:?}"));
    assert_eq!(report["fetched_sub"], user.id.as_str(), "{report}");
    assert_eq!(report["refreshed_sub"], user.id.as_str(), "{report}");
    assert_eq!(report["refresh_token_rotated"], true, "{report}");
    assert_eq!(report["access_token_changed"], true, "{report}");
    assert_eq!(report["revoke_status"], 200, "{report}");
    assert_eq!(
        report["refresh_after_revoke"], "invalid_grant",
        "the revoked session cannot refresh: {report}"
    );
    let refreshed_access = text(&report, "refreshed_access_token");
    assert_problem(app.get_me(refreshed_access).await, 401, "token_revoked").await;
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK,
        "the signup session is another one"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The fields of a form body.
type FormFields<'a> = &'a [(&'a str, &'a str)];

async fn password_grant(app: &TestApp, username: &str, password: &str) -> Response {
    app.post_form(
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn refresh_grant(app: &TestApp, refresh_token: &str) -> Response {
    app.post_form(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Asserts an RFC 6749 §5.2 error: 400, JSON, `error` as given, never cached.
async fn assert_oauth_error(response: Response, error: &str) -> Value {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{error}");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

async fn assert_session_ended(app: &TestApp, access_token: &str, refresh_token: &str) {
    assert_problem(app.get_me(access_token).await, 401, "token_revoked").await;
    let refresh = app
        .post_refresh(&json!({ "refresh_token": refresh_token }))
        .await;
    assert_problem(refresh, 401, "refresh_invalid").await;
}

async fn assert_still_live(app: &TestApp, user: &TestUser) {
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
    let next = app.refresh(&user.refresh_token).await;
    assert_eq!(
        app.get_me(text(&next, "access_token")).await.status(),
        StatusCode::OK
    );
}
