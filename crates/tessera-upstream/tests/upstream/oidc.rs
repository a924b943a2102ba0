//! OpenID Connect: the authorization URL, the code exchange, and every forged or misdirected
//! ID token refused.

use serde_json::json;
use tessera_core::Clock;
use tessera_core::social::{AuthorizationRequest, Provider, ProviderTokens, UpstreamError};

use crate::fake::{CLIENT_ID, CLIENT_SECRET, FakeProvider, REDIRECT_URI, TestKey, VERIFIER};
use crate::fake::{sign_hs256, unsigned};
use crate::{clock, exchange, oidc_provider, rejection};

#[tokio::test]
async fn the_authorization_url_carries_state_pkce_nonce_and_scopes() {
    // Arrange
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock());

    // Act
    let url = provider
        .authorization_url(AuthorizationRequest {
            state: "state-1",
            code_challenge: "challenge-1",
            nonce: "nonce-1",
            redirect_uri: REDIRECT_URI,
        })
        .await
        .unwrap();

    // Assert
    let url = reqwest::Url::parse(&url).unwrap();
    assert_eq!(url.path(), "/authorize");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["state"], "state-1");
    assert_eq!(query["code_challenge"], "challenge-1");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["nonce"], "nonce-1");
    assert_eq!(query["scope"], "openid email profile");
}

#[tokio::test]
async fn a_valid_id_token_gives_the_profile_and_the_tokens() {
    // Arrange
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_tokens(Some(key.sign(&fake.claims("nonce-1", clock.unix()))));

    // Act
    let (profile, tokens) = exchange(&provider, "nonce-1").await.unwrap();

    // Assert
    assert_eq!(profile.subject, "user-248289761001");
    assert_eq!(profile.email.as_deref(), Some("ann@example.com"));
    assert!(profile.email_verified);
    assert_eq!(profile.name.as_deref(), Some("Ann Example"));
    assert_eq!(
        tokens,
        ProviderTokens {
            access_token: "upstream-access".to_owned(),
            refresh_token: Some("upstream-refresh".to_owned()),
            expires_at: Some(clock.unix() + 3600),
        }
    );
    let sent = &fake.requests_to("/token")[0];
    assert_eq!(sent.form["grant_type"], "authorization_code");
    assert_eq!(sent.form["code"], "code-1");
    assert_eq!(sent.form["code_verifier"], VERIFIER);
    assert_eq!(sent.form["redirect_uri"], REDIRECT_URI);
    assert!(!sent.form.contains_key("client_secret"));
    let basic = sent.headers["authorization"].to_str().unwrap();
    assert!(basic.starts_with("Basic "), "client_secret_basic: {basic}");
}

#[tokio::test]
async fn an_rs256_id_token_is_accepted() {
    let clock = clock();
    let key = TestKey::rsa("rsa-1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_tokens(Some(key.sign(&fake.claims("nonce-1", clock.unix()))));

    let (profile, _) = exchange(&provider, "nonce-1").await.unwrap();

    assert_eq!(profile.subject, "user-248289761001");
}

#[tokio::test]
async fn discovery_is_read_once_and_kept() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);

    for _ in 0..2 {
        fake.answer_tokens(Some(key.sign(&fake.claims("n", clock.unix()))));
        exchange(&provider, "n").await.unwrap();
    }

    assert_eq!(
        fake.requests_to("/.well-known/openid-configuration").len(),
        1
    );
    assert_eq!(fake.requests_to("/jwks").len(), 1);
}

#[tokio::test]
async fn a_failed_discovery_is_unavailable_and_tried_again_next_time() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.set_discovery_down(true);
    fake.answer_tokens(Some(key.sign(&fake.claims("n", clock.unix()))));

    let down = exchange(&provider, "n").await;
    fake.set_discovery_down(false);
    let up = exchange(&provider, "n").await;

    assert!(
        matches!(down, Err(UpstreamError::Unavailable(_))),
        "{down:?}"
    );
    assert!(up.is_ok(), "{up:?}");
}

#[tokio::test]
async fn a_token_signed_by_a_rotated_key_fetches_the_jwks_again() {
    let clock = clock();
    let old = TestKey::ed25519("old");
    let fake = FakeProvider::start(&old).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_tokens(Some(old.sign(&fake.claims("n", clock.unix()))));
    exchange(&provider, "n").await.unwrap();
    let new = TestKey::ed25519("new");
    fake.publish_key(&new);
    fake.answer_tokens(Some(new.sign(&fake.claims("n", clock.unix()))));

    let rotated = exchange(&provider, "n").await;

    assert!(rotated.is_ok(), "{rotated:?}");
    assert_eq!(fake.requests_to("/jwks").len(), 2);
}

/// Runs one exchange whose ID token is `forge(fake, claims of a good token)`.
async fn exchange_forged(
    forge: impl FnOnce(&TestKey, serde_json::Value) -> String,
    edit: impl FnOnce(&mut serde_json::Value, i64),
) -> String {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    let mut claims = fake.claims("nonce-1", clock.unix());
    edit(&mut claims, clock.unix());
    fake.answer_tokens(Some(forge(&key, claims)));
    rejection(exchange(&provider, "nonce-1").await)
}

fn signed(key: &TestKey, claims: serde_json::Value) -> String {
    key.sign(&claims)
}

fn unchanged(_: &mut serde_json::Value, _: i64) {}

#[tokio::test]
async fn an_unsigned_id_token_is_refused() {
    let reason = exchange_forged(|_, claims| unsigned(&claims), unchanged).await;
    assert_eq!(reason, "id token signature algorithm not allowed");
}

#[tokio::test]
async fn an_id_token_signed_by_another_key_is_refused() {
    let reason = exchange_forged(
        // Same kid, another key.
        |key, claims| TestKey::ed25519(&key.kid).sign(&claims),
        unchanged,
    )
    .await;
    assert_eq!(reason, "id token signature");
}

#[tokio::test]
async fn an_id_token_signed_with_the_client_secret_is_refused() {
    let reason = exchange_forged(|_, claims| sign_hs256(&claims, CLIENT_SECRET), unchanged).await;
    assert_eq!(reason, "id token signature algorithm not allowed");
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() {
    let reason = exchange_forged(signed, |claims, _| claims["aud"] = json!("other-client")).await;
    assert_eq!(reason, "id token audience");
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    let reason = exchange_forged(signed, |claims, _| {
        claims["iss"] = json!("https://evil.example")
    })
    .await;
    assert_eq!(reason, "id token issuer");
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let reason = exchange_forged(signed, |claims, now| {
        claims["iat"] = json!(now - 600);
        claims["exp"] = json!(now - 1);
    })
    .await;
    assert_eq!(reason, "id token expired");
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let reason = exchange_forged(signed, |claims, _| claims["nonce"] = json!("nonce-2")).await;
    assert_eq!(reason, "id token nonce mismatch");
}

#[tokio::test]
async fn an_id_token_without_a_nonce_is_refused() {
    let reason = exchange_forged(signed, |claims, _| {
        claims.as_object_mut().unwrap().remove("nonce");
    })
    .await;
    assert_eq!(reason, "id token nonce mismatch");
}

#[tokio::test]
async fn an_id_token_authorized_for_another_client_is_refused() {
    let reason = exchange_forged(signed, |claims, _| {
        claims["aud"] = json!([CLIENT_ID, "other-client"]);
        claims["azp"] = json!("other-client");
    })
    .await;
    assert_eq!(reason, "id token authorized party (azp)");
}

#[tokio::test]
async fn an_id_token_with_several_audiences_needs_azp() {
    let without = exchange_forged(signed, |claims, _| {
        claims["aud"] = json!([CLIENT_ID, "other-client"]);
    })
    .await;
    assert_eq!(without, "id token audience (several, without azp)");
}

#[tokio::test]
async fn several_audiences_with_our_azp_are_accepted() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    let mut claims = fake.claims("n", clock.unix());
    claims["aud"] = json!([CLIENT_ID, "other-client"]);
    claims["azp"] = json!(CLIENT_ID);
    fake.answer_tokens(Some(key.sign(&claims)));

    assert!(exchange(&provider, "n").await.is_ok());
}

#[tokio::test]
async fn a_token_answer_without_an_id_token_is_refused() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_tokens(None);

    let reason = rejection(exchange(&provider, "n").await);

    assert_eq!(reason, "the token endpoint sent no id token");
}

#[tokio::test]
async fn a_missing_email_is_read_from_userinfo_for_the_same_subject() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    let mut claims = fake.claims("n", clock.unix());
    let claims_map = claims.as_object_mut().unwrap();
    claims_map.remove("email");
    claims_map.remove("email_verified");
    fake.answer_tokens(Some(key.sign(&claims)));
    fake.answer_userinfo(json!({
        "sub": "user-248289761001", "email": "ann@example.com", "email_verified": true
    }));

    let (profile, _) = exchange(&provider, "n").await.unwrap();

    assert_eq!(profile.email.as_deref(), Some("ann@example.com"));
    assert!(profile.email_verified);
    let userinfo = &fake.requests_to("/userinfo")[0];
    assert_eq!(userinfo.headers["authorization"], "Bearer upstream-access");
}

#[tokio::test]
async fn userinfo_about_another_subject_is_refused() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    let mut claims = fake.claims("n", clock.unix());
    claims.as_object_mut().unwrap().remove("email");
    fake.answer_tokens(Some(key.sign(&claims)));
    fake.answer_userinfo(json!({ "sub": "someone-else", "email": "eve@example.com" }));

    let reason = rejection(exchange(&provider, "n").await);

    assert_eq!(reason, "userinfo sub differs from the id token's");
}

#[tokio::test]
async fn a_spent_code_is_an_invalid_grant_and_a_server_error_is_unavailable() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);

    fake.answer_token_endpoint(400, json!({ "error": "invalid_grant" }));
    let spent = exchange(&provider, "n").await;
    fake.answer_token_endpoint(503, json!({ "error": "temporarily_unavailable" }));
    let down = exchange(&provider, "n").await;
    fake.answer_token_endpoint(401, json!({ "error": "invalid_client" }));
    let refused = exchange(&provider, "n").await;

    assert!(
        matches!(spent, Err(UpstreamError::InvalidGrant)),
        "{spent:?}"
    );
    assert!(
        matches!(down, Err(UpstreamError::Unavailable(_))),
        "{down:?}"
    );
    assert_eq!(rejection(refused), "token endpoint answered invalid_client");
}

#[tokio::test]
async fn refresh_returns_the_rotated_refresh_token() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_token_endpoint(
        200,
        json!({
            "access_token": "access-2", "token_type": "Bearer", "expires_in": 600,
            "refresh_token": "refresh-2",
        }),
    );

    let tokens = provider.refresh("refresh-1").await.unwrap();

    assert_eq!(tokens.access_token, "access-2");
    assert_eq!(tokens.refresh_token.as_deref(), Some("refresh-2"));
    assert_eq!(tokens.expires_at, Some(clock.unix() + 600));
    let sent = &fake.requests_to("/token")[0];
    assert_eq!(sent.form["grant_type"], "refresh_token");
    assert_eq!(sent.form["refresh_token"], "refresh-1");
}

#[tokio::test]
async fn refresh_without_rotation_returns_no_refresh_token() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_token_endpoint(
        200,
        json!({ "access_token": "access-2", "token_type": "Bearer" }),
    );

    let tokens = provider.refresh("refresh-1").await.unwrap();

    assert_eq!(tokens.refresh_token, None);
    assert_eq!(tokens.expires_at, None);
}

#[tokio::test]
async fn refresh_with_a_revoked_token_is_an_invalid_grant() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    fake.answer_token_endpoint(
        400,
        json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." }),
    );

    let refreshed = provider.refresh("refresh-1").await;

    assert!(
        matches!(refreshed, Err(UpstreamError::InvalidGrant)),
        "{refreshed:?}"
    );
}

#[tokio::test]
async fn revoke_posts_the_refresh_token_to_the_discovered_endpoint() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    let provider = oidc_provider(&fake, &clock);
    let tokens = ProviderTokens {
        access_token: "access-1".to_owned(),
        refresh_token: Some("refresh-1".to_owned()),
        expires_at: None,
    };

    let revoked = provider.revoke(&tokens).await.unwrap();

    assert!(revoked);
    let sent = &fake.requests_to("/revoke")[0];
    assert_eq!(sent.form["token"], "refresh-1");
    assert_eq!(sent.form["token_type_hint"], "refresh_token");
    assert!(
        sent.headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
}

#[tokio::test]
async fn revoke_without_a_revocation_endpoint_does_nothing() {
    let clock = clock();
    let key = TestKey::ed25519("k1");
    let fake = FakeProvider::start(&key).await;
    fake.set_revocation_endpoint(false);
    let provider = oidc_provider(&fake, &clock);
    let tokens = ProviderTokens {
        access_token: "access-1".to_owned(),
        refresh_token: None,
        expires_at: None,
    };

    assert!(!provider.revoke(&tokens).await.unwrap());
    assert!(fake.requests_to("/revoke").is_empty());
}
