//! Passkey ceremonies across instances (API.md §3): each half of a registration and of a login
//! may reach a different instance on PostgreSQL + Redis, and a ceremony spent on one is spent
//! on every other.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_testkit::authenticator::SoftAuthenticator;
use tessera_testkit::redis::shared_redis_url;

use crate::support::server::{Deployment, ISSUER, Instance, assert_problem};

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

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceremony_begun_on_one_instance_finishes_on_another_once() {
    // Arrange
    let deployment = Deployment::new(&shared_redis_url()).await;
    let instances = deployment.start_all(&["a", "b"]).await;
    let (a, b) = (&instances[0], &instances[1]);
    let email = format!("pia-{:08x}@example.com", rand::random::<u32>());
    let signed_up = a
        .post_signup(&json!({ "email": email, "password": "correct horse battery staple" }))
        .await;
    let token = signed_up.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The pages run on the deployment's public URL: the relying party is its host.
    let mut authenticator = SoftAuthenticator::new(ISSUER);

    // Act: registration options on a, its answer on b; login options on b, its answer on a,
    // then the same answer again on b.
    let options = json(
        post(
            a,
            "/users/me/passkeys/register/options",
            Some(&token),
            &json!({}),
        )
        .await,
    )
    .await;
    let credential = authenticator.register(&json!({ "publicKey": options["publicKey"] }));
    let registered = post(
        b,
        "/users/me/passkeys/register",
        Some(&token),
        &json!({ "ceremony_id": options["ceremony_id"], "credential": credential }),
    )
    .await;
    let options =
        json(post(b, "/auth/passkey/options", None, &json!({ "email": email })).await).await;
    let assertion = authenticator.login(&json!({ "publicKey": options["publicKey"] }));
    let login = json!({ "ceremony_id": options["ceremony_id"], "credential": assertion });
    let signed_in = post(a, "/auth/passkey/login", None, &login).await;
    let replayed = post(b, "/auth/passkey/login", None, &login).await;

    // Assert
    assert_eq!(registered.status(), StatusCode::CREATED, "{}", b.log());
    assert_eq!(signed_in.status(), StatusCode::OK, "{}", a.log());
    assert_problem(replayed, 400, "code_invalid").await;
}
