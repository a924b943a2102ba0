//! The real OpenID provider: sign-in through its pages, the code grant, rotation, reuse,
//! revocation and its counters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tessera_testkit::{OidcProvider, pkce};

use crate::{REDIRECT_URI, query_param};

const CLIENT_ID: &str = "tessera-test";
const CLIENT_SECRET: &str = "tessera-test-secret";

#[tokio::test]
async fn signing_in_at_the_provider_gives_a_code_that_trades_for_id_access_and_refresh_tokens() {
    // Arrange
    let provider = start_provider().await;
    let verifier = pkce::new_verifier();

    // Act
    let callback = provider
        .sign_in(&authorize_url(&provider, &verifier).await, "alice")
        .await;
    let tokens = trade_code(&provider, &callback, &verifier).await;

    // Assert
    assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some("state-1"));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(provider.issuer())
    );
    for field in ["id_token", "access_token", "refresh_token"] {
        assert!(tokens[field].is_string(), "{field} in {tokens}");
    }
    // By default the scope claims are at userinfo only (OpenID Connect Core §5.4).
    let claims = jwt_part(tokens["id_token"].as_str().expect("an ID token"), 1);
    assert_eq!(claims["nonce"], "nonce-1");
    assert!(claims["email"].is_null(), "{claims}");
    let userinfo = get_userinfo(&provider, &tokens).await;
    assert_eq!(userinfo["sub"], "alice");
    assert_eq!(userinfo["email"], "alice@example.test");
    assert_eq!(userinfo["email_verified"], true);
    assert_eq!(provider.stats().await.code_grants, 1);
}

#[tokio::test]
async fn the_id_token_can_carry_the_email_and_be_signed_with_eddsa_and_client_secret_post_works() {
    // Arrange
    let provider = OidcProvider::builder(CLIENT_ID, CLIENT_SECRET, &[REDIRECT_URI.to_owned()])
        .id_token_signing_alg("EdDSA")
        .email_in_id_token(true)
        .start()
        .await;
    let verifier = pkce::new_verifier();
    let callback = provider
        .sign_in(
            &authorize_url(&provider, &verifier).await,
            "frank@example.org",
        )
        .await;
    let code = query_param(&callback, "code").expect("a code in the callback");

    // Act
    let tokens: Value = reqwest::Client::new()
        .post(provider.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .expect("the token endpoint answers")
        .json()
        .await
        .expect("JSON from the token endpoint");

    // Assert
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let (header, claims) = (jwt_part(id_token, 0), jwt_part(id_token, 1));
    assert_eq!(header["alg"], "EdDSA");
    let jwks = get_json(&provider.url("/jwks")).await;
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| &key["kid"])
        .collect();
    assert!(kids.contains(&&header["kid"]), "{header} in {jwks}");
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["sub"], "frank@example.org");
    assert_eq!(claims["email"], "frank@example.org");
    assert_eq!(claims["email_verified"], true);
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_the_spent_one_is_refused_and_counted_as_reuse() {
    // Arrange
    let provider = start_provider().await;
    let first = sign_in_tokens(&provider, "bob").await;
    let first_refresh = first["refresh_token"].as_str().expect("a refresh token");

    // Act
    let second = post_refresh(&provider, first_refresh).await;
    let reuse = post_refresh(&provider, first_refresh).await;

    // Assert
    assert_eq!(second["token_type"], "Bearer", "{second}");
    let second_refresh = second["refresh_token"]
        .as_str()
        .expect("a rotated refresh token");
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(reuse["error"], "invalid_grant", "{reuse}");
    let stats = provider.stats().await;
    assert_eq!(stats.refresh_grants, 1);
    assert_eq!(stats.refresh_grants_refused, 1);
    assert_eq!(stats.reused_refresh_tokens, 1);
    assert_eq!(stats.refresh_tokens_presented.len(), 2);
    // The reuse revoked the whole grant: the newest refresh token is dead as well.
    let after_reuse = post_refresh(&provider, second_refresh).await;
    assert_eq!(after_reuse["error"], "invalid_grant", "{after_reuse}");
}

#[tokio::test]
async fn a_revoked_refresh_token_is_counted_and_refused_and_reset_zeroes_the_counters() {
    // Arrange
    let provider = start_provider().await;
    let tokens = sign_in_tokens(&provider, "unverified-carol").await;
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let userinfo = get_userinfo(&provider, &tokens).await;
    assert_eq!(userinfo["email_verified"], false, "{userinfo}");

    // Act
    let revoked = reqwest::Client::new()
        .post(provider.url("/token/revocation"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", refresh), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .expect("the revocation endpoint answers");

    // Assert
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(provider.stats().await.revocations, 1);
    assert_eq!(
        post_refresh(&provider, refresh).await["error"],
        "invalid_grant"
    );
    // Revoking the refresh token revoked its grant: the access token is dead as well.
    let after = get_userinfo(&provider, &tokens).await;
    assert_eq!(after["error"], "invalid_token", "{after}");
    provider.reset().await;
    let stats = provider.stats().await;
    assert_eq!((stats.revocations, stats.code_grants), (0, 0));
}

#[tokio::test]
async fn an_authorization_without_pkce_comes_back_with_an_error() {
    // Arrange
    let provider = start_provider().await;
    let mut url = Url::parse(&provider.url("/auth")).expect("a URL");
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "state-2");

    // Act
    let callback = provider.sign_in(url.as_str(), "dave").await;

    // Assert
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("state-2"));
}

async fn start_provider() -> OidcProvider {
    OidcProvider::start(CLIENT_ID, CLIENT_SECRET, &[REDIRECT_URI.to_owned()]).await
}

/// An authorization request built from the discovery document, as a relying party builds it.
async fn authorize_url(provider: &OidcProvider, verifier: &str) -> String {
    let discovery = get_json(&provider.discovery_url()).await;
    assert_eq!(discovery["issuer"], provider.issuer());
    let endpoint = discovery["authorization_endpoint"]
        .as_str()
        .expect("an endpoint");
    let mut url = Url::parse(endpoint).expect("the authorization endpoint parses");
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email offline_access")
        .append_pair("state", "state-1")
        .append_pair("nonce", "nonce-1")
        .append_pair("code_challenge", &pkce::s256_challenge(verifier))
        .append_pair("code_challenge_method", "S256");
    url.into()
}

async fn sign_in_tokens(provider: &OidcProvider, login: &str) -> Value {
    let verifier = pkce::new_verifier();
    let url = authorize_url(provider, &verifier).await;
    let callback = provider.sign_in(&url, login).await;
    trade_code(provider, &callback, &verifier).await
}

async fn trade_code(provider: &OidcProvider, callback: &Url, verifier: &str) -> Value {
    let code = query_param(callback, "code").expect("a code in the callback");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ];
    post_token(provider, &form).await
}

async fn post_refresh(provider: &OidcProvider, refresh_token: &str) -> Value {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    post_token(provider, &form).await
}

/// The token endpoint's JSON answer, success or error, with `client_secret_basic`.
async fn post_token(provider: &OidcProvider, form: &[(&str, &str)]) -> Value {
    reqwest::Client::new()
        .post(provider.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .expect("the token endpoint answers")
        .json()
        .await
        .expect("JSON from the token endpoint")
}

async fn get_userinfo(provider: &OidcProvider, tokens: &Value) -> Value {
    let access_token = tokens["access_token"].as_str().expect("an access token");
    reqwest::Client::new()
        .get(provider.url("/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo answers")
        .json()
        .await
        .expect("JSON from userinfo")
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url)
        .await
        .expect("the URL answers")
        .json()
        .await
        .expect("a JSON body")
}

/// Part `index` (0 the header, 1 the claims) of a compact JWT, decoded without any check.
fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("a compact JWT");
    let json = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&json).expect("a JSON object")
}
