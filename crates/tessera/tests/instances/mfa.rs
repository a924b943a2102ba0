//! Two-factor across instances: a login started on one instance finishes on another, and a
//! TOTP code accepted on one is refused on every other (API.md §3).

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::{Clock, SystemClock};
use tessera_testkit::redis::shared_redis_url;
use tessera_testkit::totp::totp;

use crate::support::server::{Deployment, Instance, assert_problem};

const PASSWORD: &str = "correct horse battery staple";

/// The instances' clock: the machine's.
fn now() -> i64 {
    SystemClock.now().unix_timestamp()
}

async fn post(
    instance: &Instance,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(instance.url(path)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Logs in on `instance` with the password; the `mfa_token`.
async fn first_step(instance: &Instance, email: &str) -> String {
    let response = post(
        instance,
        "/auth/login",
        None,
        &json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let body: Value = response.json().await.unwrap();
    body["mfa_token"].as_str().expect("an mfa_token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_accepted_on_one_instance_is_refused_on_the_other() {
    // Arrange: two-factor set up on a, confirmed with the previous step's code.
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let email = format!("mfa-{:016x}@example.com", rand::random::<u64>());
    let signup = post(
        a,
        "/auth/signup",
        None,
        &json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let access: Value = signup.json().await.unwrap();
    let access = access["access_token"].as_str().unwrap().to_owned();
    let setup: Value = post(a, "/users/me/mfa/totp/setup", Some(&access), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let confirm = post(
        b,
        "/users/me/mfa/totp/confirm",
        Some(&access),
        &json!({ "code": totp(&secret, now() - 30) }),
    )
    .await;
    assert_eq!(confirm.status(), StatusCode::OK);

    // Act: a login begun on a finishes on b; the same code then goes to a.
    let code = totp(&secret, now());
    let on_b = post(
        b,
        "/auth/login/mfa",
        None,
        &json!({ "mfa_token": first_step(a, &email).await, "code": code }),
    )
    .await;
    let replay_on_a = post(
        a,
        "/auth/login/mfa",
        None,
        &json!({ "mfa_token": first_step(a, &email).await, "code": code }),
    )
    .await;

    // Assert
    assert_eq!(on_b.status(), StatusCode::OK);
    assert_problem(replay_on_a, 401, "mfa_invalid").await;
}
