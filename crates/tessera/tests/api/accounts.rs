//! Signup, login, profile, password change and deletion.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, assert_problem, spawn_app};

both_backends!(
    signup_returns_a_token_response_and_a_session,
    emails_are_unique_case_insensitively_after_trimming,
    login_with_unknown_email_looks_like_wrong_password,
    login_accepts_the_oauth2_password_form,
    me_returns_the_caller,
);

async fn signup_returns_a_token_response_and_a_session(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app
        .post_signup(&json!({ "email": "  Ada@Example.COM ", "password": "correct horse battery", "name": "Ada" }))
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["session_id"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token until sessions land"
    );
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["roles"], json!([]));
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["mfa_enabled"], false);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
}

async fn emails_are_unique_case_insensitively_after_trimming(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .post_signup(&json!({ "email": "bob@example.com", "password": "correct horse battery" }))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let second = app
        .post_signup(&json!({ "email": " BOB@example.com", "password": "another good password" }))
        .await;

    assert_problem(second, 409, "email_taken").await;
}

async fn login_with_unknown_email_looks_like_wrong_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    let wrong_password = app
        .post_login(&json!({ "email": user.email, "password": "not the password" }))
        .await;
    let unknown_email = app
        .post_login(&json!({ "email": "nobody@example.com", "password": "not the password" }))
        .await;

    let headers = (
        wrong_password.headers().clone(),
        unknown_email.headers().clone(),
    );
    let a = assert_problem(wrong_password, 401, "invalid_credentials").await;
    let b = assert_problem(unknown_email, 401, "invalid_credentials").await;
    assert_eq!(a, b, "identical bodies");
    assert_eq!(headers.0["www-authenticate"], headers.1["www-authenticate"]);
    assert!(
        headers.0["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

async fn login_accepts_the_oauth2_password_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    let response = app
        .post_login_form(&user.email.to_uppercase(), &user.password)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_ne!(
        body["session_id"],
        user.session_id.as_str(),
        "each login is a new session"
    );
}

async fn me_returns_the_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    let response = app.get_me(&user.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], user.id.as_str());
    assert_eq!(body["email"], user.email.as_str());
}
