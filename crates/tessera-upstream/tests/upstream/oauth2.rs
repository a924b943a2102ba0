//! Plain OAuth 2.0 providers: GitHub- and Kakao-shaped fakes, the profile read from userinfo
//! and the verified email from GitHub's emails list.

use std::sync::Arc;

use serde_json::json;
use tessera_core::ManualClock;
use tessera_core::social::{Provider, ProviderTokens, UpstreamError};
use tessera_upstream::{ProviderSettings, UpstreamProvider, http_client};

use crate::fake::{CLIENT_ID, CLIENT_SECRET, FakeProvider, TestKey, VERIFIER};
use crate::{clock, exchange};

/// The `github` preset pointed at `fake`.
fn github(fake: &FakeProvider, clock: &Arc<ManualClock>) -> UpstreamProvider {
    let base = &fake.base;
    let settings = ProviderSettings {
        preset: "github".to_owned(),
        authorize_url: format!("{base}/login/oauth/authorize"),
        token_url: format!("{base}/login/oauth/access_token"),
        userinfo_url: format!("{base}/user"),
        emails_url: format!("{base}/user/emails"),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.into(),
        ..ProviderSettings::default()
    };
    UpstreamProvider::new("github", settings, http_client().unwrap())
        .unwrap()
        .with_clock(clock.clone())
}

async fn github_fake() -> FakeProvider {
    let fake = FakeProvider::start(&TestKey::ed25519("unused")).await;
    fake.answer_token_endpoint(
        200,
        json!({ "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "token_type": "bearer", "scope": "read:user,user:email" }),
    );
    fake.answer_userinfo(json!({
        "login": "octocat", "id": 583231, "name": "The Octocat", "email": "public@example.com"
    }));
    fake
}

#[tokio::test]
async fn github_gives_its_numeric_id_and_the_primary_verified_email() {
    // Arrange
    let fake = github_fake().await;
    fake.answer_emails(json!([
        { "email": "old@example.com", "primary": false, "verified": true, "visibility": null },
        { "email": "octocat@example.com", "primary": true, "verified": true, "visibility": "public" },
    ]));
    let provider = github(&fake, &clock());

    // Act
    let (profile, tokens) = exchange(&provider, "unused").await.unwrap();

    // Assert
    assert_eq!(profile.subject, "583231");
    assert_eq!(profile.email.as_deref(), Some("octocat@example.com"));
    assert!(profile.email_verified);
    assert_eq!(profile.name.as_deref(), Some("The Octocat"));
    assert_eq!(
        tokens,
        ProviderTokens {
            access_token: "gho_16C7e42F292c6912E7710c838347Ae178B4a".to_owned(),
            refresh_token: None,
            expires_at: None,
        }
    );
    let sent = &fake.requests_to("/login/oauth/access_token")[0];
    assert_eq!(sent.form["client_id"], CLIENT_ID);
    assert_eq!(
        sent.form["client_secret"], CLIENT_SECRET,
        "GitHub wants the secret in the body"
    );
    assert_eq!(sent.form["code_verifier"], VERIFIER);
    assert!(!sent.headers.contains_key("authorization"));
    for path in ["/user", "/user/emails"] {
        let read = &fake.requests_to(path)[0];
        assert_eq!(
            read.headers["authorization"],
            "Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a"
        );
        assert_eq!(read.headers["user-agent"], "tessera");
        assert_eq!(read.headers["accept"], "application/json");
    }
}

#[tokio::test]
async fn an_unverified_primary_email_is_not_verified() {
    let fake = github_fake().await;
    fake.answer_emails(json!([
        { "email": "other@example.com", "primary": false, "verified": true },
        { "email": "octocat@example.com", "primary": true, "verified": false },
    ]));
    let provider = github(&fake, &clock());

    let (profile, _) = exchange(&provider, "unused").await.unwrap();

    assert_eq!(profile.email.as_deref(), Some("octocat@example.com"));
    assert!(!profile.email_verified);
}

#[tokio::test]
async fn the_userinfo_email_is_not_verified_when_the_list_vouches_for_none() {
    let fake = github_fake().await;
    fake.answer_emails(json!([]));
    let provider = github(&fake, &clock());

    let (profile, _) = exchange(&provider, "unused").await.unwrap();

    assert_eq!(profile.email.as_deref(), Some("public@example.com"));
    assert!(!profile.email_verified);
}

#[tokio::test]
async fn githubs_spent_code_answered_with_200_is_an_invalid_grant() {
    let fake = github_fake().await;
    fake.answer_token_endpoint(
        200,
        json!({ "error": "bad_verification_code", "error_description": "The code passed is incorrect or expired." }),
    );
    let provider = github(&fake, &clock());

    let spent = exchange(&provider, "unused").await;

    assert!(
        matches!(spent, Err(UpstreamError::InvalidGrant)),
        "{spent:?}"
    );
}

#[tokio::test]
async fn revoke_is_a_no_op_without_a_revocation_url() {
    let fake = github_fake().await;
    let provider = github(&fake, &clock());
    let tokens = ProviderTokens {
        access_token: "gho_x".to_owned(),
        refresh_token: None,
        expires_at: None,
    };

    assert!(!provider.revoke(&tokens).await.unwrap());
}

#[tokio::test]
async fn kakao_maps_nested_fields_and_its_verified_flag() {
    // Arrange
    let clock = clock();
    let fake = FakeProvider::start(&TestKey::ed25519("unused")).await;
    let base = &fake.base;
    let settings = ProviderSettings {
        preset: "kakao".to_owned(),
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        userinfo_url: format!("{base}/userinfo"),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.into(),
        ..ProviderSettings::default()
    };
    let provider = UpstreamProvider::new("kakao", settings, http_client().unwrap())
        .unwrap()
        .with_clock(clock.clone());
    fake.answer_token_endpoint(
        200,
        json!({
            "access_token": "kakao-access", "token_type": "bearer", "expires_in": 21599,
            "refresh_token": "kakao-refresh", "refresh_token_expires_in": 5183999,
        }),
    );
    fake.answer_userinfo(json!({
        "id": 3735928559_u64,
        "kakao_account": {
            "email": "ann@kakao.example", "is_email_valid": true, "is_email_verified": true,
            "profile": { "nickname": "Ann" }
        }
    }));

    // Act
    let (profile, tokens) = exchange(&provider, "unused").await.unwrap();

    // Assert
    assert_eq!(profile.subject, "3735928559");
    assert_eq!(profile.email.as_deref(), Some("ann@kakao.example"));
    assert!(profile.email_verified);
    assert_eq!(profile.name.as_deref(), Some("Ann"));
    assert_eq!(
        tokens.expires_at,
        Some(tessera_core::Clock::unix(&*clock) + 21599)
    );
    assert_eq!(
        fake.requests_to("/token")[0].form["client_secret"],
        CLIENT_SECRET
    );
}

#[tokio::test]
async fn a_profile_without_the_id_field_is_refused() {
    let fake = github_fake().await;
    fake.answer_userinfo(json!({ "login": "octocat" }));
    fake.answer_emails(json!([]));
    let provider = github(&fake, &clock());

    let result = exchange(&provider, "unused").await;

    assert!(
        matches!(result, Err(UpstreamError::Rejected(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn revoke_posts_the_access_token_to_the_configured_url_with_the_secret_in_the_body() {
    // Arrange
    let fake = FakeProvider::start(&TestKey::ed25519("unused")).await;
    let base = &fake.base;
    let settings = ProviderSettings {
        preset: "naver".to_owned(),
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        userinfo_url: format!("{base}/userinfo"),
        revocation_url: format!("{base}/revoke"),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.into(),
        ..ProviderSettings::default()
    };
    let provider = UpstreamProvider::new("naver", settings, http_client().unwrap()).unwrap();
    let tokens = ProviderTokens {
        access_token: "naver-access".to_owned(),
        refresh_token: None,
        expires_at: None,
    };

    // Act
    let revoked = provider.revoke(&tokens).await.unwrap();

    // Assert
    assert!(revoked);
    let sent = &fake.requests_to("/revoke")[0];
    assert_eq!(sent.form["token"], "naver-access");
    assert_eq!(sent.form["token_type_hint"], "access_token");
    assert_eq!(sent.form["client_id"], CLIENT_ID);
    assert_eq!(sent.form["client_secret"], CLIENT_SECRET);
    assert!(!sent.headers.contains_key("authorization"));
}
