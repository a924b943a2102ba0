//! The server refuses revoked tokens with the code resource servers run. (A token that cannot
//! be signed is tested in `tests/signing_failure.rs`, a process of its own for its logs.)

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::Clock;
use tessera_testkit::TesseraProcess;
use tessera_verify::{Authenticator, DenySet, Expectations, KeySet, Rejection, Revocation};

use crate::helpers::{Backend, TestApp, assert_problem, jwt_claims, spawn_app_with_deny_set, text};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_revoked_jti_exactly_as_tessera_verify_does() {
    // Arrange
    let (app, server_deny) = spawn_app_with_deny_set(Backend::Sqlite, |_| {}).await;
    let user = app.signup_test_user().await;
    let refreshed = app.refresh(&user.refresh_token).await;
    let (revoked, other) = (user.access_token.as_str(), text(&refreshed, "access_token"));
    let claims = jwt_claims(revoked);
    assert_eq!(claims["sid"], jwt_claims(other)["sid"], "one session");
    let verify_deny = Arc::new(DenySet::new());
    let resource_server = resource_server(&app, &claims, Arc::clone(&verify_deny)).await;
    let item = Revocation {
        cursor: 1,
        sid: None,
        jti: Some(claims["jti"].as_str().unwrap().to_owned()),
        user_id: None,
        revoked_at: claims["iat"].as_i64().unwrap(),
        revoked_at_ms: None,
        until: claims["exp"].as_i64().unwrap() + 60,
    };

    // Act
    let now = app.clock.now().unix_timestamp();
    server_deny.apply(&item, now);
    verify_deny.apply(&item, now);

    // Assert
    assert_problem(app.get_me(revoked).await, 401, "token_revoked").await;
    assert_eq!(
        resource_server.verify(revoked).await,
        Err(Rejection::Revoked)
    );
    assert_eq!(app.get_me(other).await.status(), StatusCode::OK);
    assert!(resource_server.verify(other).await.is_ok());
}

/// An authenticator as a resource server builds one: the server's JWKS, its `iss` and `aud`.
async fn resource_server(app: &TestApp, claims: &Value, deny: Arc<DenySet>) -> Authenticator {
    let jwks = app
        .get("/.well-known/jwks.json")
        .await
        .bytes()
        .await
        .unwrap();
    let keys = KeySet::from_jwks_json(&jwks).unwrap();
    let expect = Expectations::new(
        claims["iss"].as_str().unwrap(),
        claims["aud"].as_str().unwrap(),
    );
    Authenticator::new(keys, expect).with_deny_set(deny)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_through_the_password_grant_are_counted_like_any_other() {
    // Arrange: a process of its own, since the metrics registry is per process and the other
    // tests of this one log in too.
    let server = TesseraProcess::builder(env!("CARGO_BIN_EXE_tessera"))
        .start()
        .await;
    let client = server.client();
    let credentials = json!({ "email": "grant@example.com", "password": PASSWORD });
    let signup = client.post(server.url("/auth/signup")).json(&credentials);
    assert_eq!(signup.send().await.unwrap().status(), StatusCode::CREATED);

    // Act
    for password in [PASSWORD, PASSWORD, "not the password"] {
        let form = [
            ("grant_type", "password"),
            ("username", "grant@example.com"),
            ("password", password),
        ];
        client
            .post(server.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
    }
    let login = client.post(server.url("/auth/login")).json(&credentials);
    assert_eq!(login.send().await.unwrap().status(), StatusCode::OK);

    // Assert
    let metrics = client.get(server.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let count = |labels: &str| {
        let name = format!("tessera_logins_total{{{labels}}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&name)?.parse::<u64>().ok())
    };
    assert_eq!(count(r#"result="success""#), Some(3), "{metrics}");
    assert_eq!(
        count(r#"result="invalid_credentials""#),
        Some(1),
        "{metrics}"
    );
}
