//! The token vault across instances (API.md §3): once the provider's access token is about to
//! expire, many concurrent vault calls spread over two instances on PostgreSQL + Redis make
//! exactly one refresh at the provider (counted there), and every caller gets the new token.
//! The provider is a real OpenID provider (`oidc-provider`) that rotates refresh tokens and
//! revokes the whole grant when a spent one is presented again.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tessera_testkit::OidcProvider;
use tessera_testkit::redis::shared_redis_url;
use tokio::task::JoinSet;
use url::Url;

use crate::support::server::{Deployment, ISSUER, Instance};

const SERVICE_KEY: &str = "the vault test's service key";
const CALLS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_vault_calls_over_two_instances_refresh_once_at_the_provider() {
    // Arrange: provider access tokens live 12 s; the vault refreshes below 10 s left.
    let callback = format!("{ISSUER}/auth/oauth/op/callback");
    let provider = OidcProvider::builder("tessera", "the vault test's client secret", &[callback])
        .access_token_ttl(Duration::from_secs(12))
        .start()
        .await;
    let mut deployment = Deployment::new(&shared_redis_url()).await;
    for (name, value) in [
        ("TESSERA_SERVICE_KEYS", SERVICE_KEY),
        ("TESSERA_OAUTH__PROVIDERS__OP__ISSUER", provider.issuer()),
        ("TESSERA_OAUTH__PROVIDERS__OP__CLIENT_ID", "tessera"),
        (
            "TESSERA_OAUTH__PROVIDERS__OP__CLIENT_SECRET",
            "the vault test's client secret",
        ),
    ] {
        deployment.set(name, value);
    }
    let instances: Vec<Arc<Instance>> = deployment
        .start_all(&["a", "b"])
        .await
        .into_iter()
        .map(Arc::new)
        .collect();
    let user = sign_in(&instances[0], &provider, "vera@example.test").await;
    let before = vault(&instances[1], &user).await;
    assert_eq!(before.0, StatusCode::OK, "{:?}", before.1);
    let stale = before.1["access_token"].as_str().unwrap().to_owned();
    assert_eq!(provider.stats().await.refresh_grants, 0);

    // Act: past the refresh margin, every call at once, alternating instances.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut calls = JoinSet::new();
    for call in 0..CALLS {
        let instance = Arc::clone(&instances[call % 2]);
        let user = user.clone();
        calls.spawn(async move { vault(&instance, &user).await });
    }
    let answers = calls.join_all().await;

    // Assert: one refresh upstream, no refresh token presented twice, one new token for all.
    let stats = provider.stats().await;
    assert_eq!(stats.refresh_grants, 1, "{stats:?}");
    assert_eq!(stats.reused_refresh_tokens, 0, "{stats:?}");
    assert_eq!(stats.refresh_grants_refused, 0, "{stats:?}");
    let tokens: Vec<&str> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            body["access_token"].as_str().unwrap()
        })
        .collect();
    assert!(
        tokens.iter().all(|token| *token == tokens[0]),
        "one new token"
    );
    assert_ne!(tokens[0], stale);
    let works = reqwest::Client::new()
        .get(provider.url("/me"))
        .bearer_auth(tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(works.status(), StatusCode::OK);
}

/// A whole provider login through `instance`; the user's id.
async fn sign_in(instance: &Instance, provider: &OidcProvider, login: &str) -> String {
    let client = instance.process_client();
    let started = client
        .get(instance.url("/auth/oauth/op/authorize"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::OK);
    let binding = started
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_oauth="))
        .unwrap();
    let url: Value = started.json().await.unwrap();
    let back = provider.sign_in(url["url"].as_str().unwrap(), login).await;
    let callback = client
        .get(instance.url(&back[url::Position::BeforePath..]))
        .header(COOKIE, binding)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::FOUND);
    let target = Url::parse(callback.headers()[LOCATION].to_str().unwrap()).unwrap();
    let code = target
        .query_pairs()
        .find(|(k, _)| k == "login_code")
        .unwrap_or_else(|| panic!("a login code: {target}"))
        .1
        .into_owned();
    let tokens: Value = client
        .post(instance.url("/auth/oauth/exchange"))
        .json(&json!({ "login_code": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["user"]["id"].as_str().unwrap().to_owned()
}

async fn vault(instance: &Instance, user: &str) -> (StatusCode, Value) {
    let response = instance
        .process_client()
        .post(instance.url(&format!("/internal/users/{user}/providers/op/token")))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap_or_default())
}
