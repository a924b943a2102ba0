//! Access tokens: their shape, interoperability with an independent verifier, forgeries the
//! server must refuse, claim checks, and key rotation while serving.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::Clock;
use tessera_core::secret::MasterKey;
use tessera_token::SigningAlgorithm;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, eventually, run_cli, spawn_app, spawn_app_with, text};

both_backends!(
    a_signup_token_is_an_at_jwt_with_the_contract_claims,
    pyjwt_verifies_eddsa_tokens_knowing_only_the_jwks_url,
    pyjwt_verifies_es256_tokens_knowing_only_the_jwks_url,
    pyjwt_verifies_rs256_tokens_knowing_only_the_jwks_url,
    hs256_tokens_verify_with_the_shared_secret_and_the_jwks_is_empty,
    an_unsigned_alg_none_token_is_invalid,
    an_hs256_token_keyed_with_the_public_key_is_invalid,
    a_token_whose_kid_is_unknown_or_missing_is_invalid,
    a_token_pointing_at_its_own_key_url_is_invalid_and_nothing_is_fetched,
    a_token_carrying_its_own_jwk_is_invalid,
    truncated_and_garbage_tokens_are_invalid,
    a_token_with_the_signature_of_another_token_is_invalid,
    wrong_audience_issuer_or_type_signed_with_the_real_key_is_invalid,
    a_token_not_yet_valid_beyond_the_leeway_is_invalid,
    a_token_expires_after_its_lifetime_plus_the_leeway,
    a_key_rotated_by_the_cli_is_published_then_signs_and_old_tokens_keep_working,
    switching_to_hs256_retires_the_key_pairs_which_leave_the_jwks_once_their_tokens_expire,
    the_jwks_is_cached_no_longer_than_a_rotated_key_is_published_before_it_signs,
);

// ---------------------------------------------------------------------------------------------
// Shape and interoperability

async fn a_signup_token_is_an_at_jwt_with_the_contract_claims(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let user = app.signup_test_user().await;

    // Assert
    let (header, payload) = (
        header_of(&user.access_token),
        payload_of(&user.access_token),
    );
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], "EdDSA", "{header}");
    let kid = header["kid"].as_str().expect("a kid");
    let jwks = app.get_jwks().await;
    let published = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS {jwks}"));
    assert_eq!(published["alg"], "EdDSA");
    assert!(published.get("d").is_none(), "no private part: {published}");

    let now = app.clock.unix();
    assert_eq!(payload["iss"], app.address, "{payload}");
    assert_eq!(payload["sub"], user.id);
    assert_eq!(payload["aud"], "tessera");
    assert_eq!(payload["iat"], now);
    assert_eq!(payload["exp"], now + 15 * 60);
    assert_eq!(payload["sid"], user.session_id);
    assert_eq!(payload["roles"], json!([]));
    assert_eq!(payload["email"], user.email);
    let jti = payload["jti"].as_str().expect("a jti");
    assert!(uuid::Uuid::parse_str(jti).is_ok(), "jti {jti}");
    let other = app.signup_test_user().await;
    assert_ne!(payload_of(&other.access_token)["jti"], jti, "jti is unique");
}

async fn pyjwt_verifies_eddsa_tokens_knowing_only_the_jwks_url(backend: Backend) {
    pyjwt_verifies(backend, "EdDSA").await;
}

async fn pyjwt_verifies_es256_tokens_knowing_only_the_jwks_url(backend: Backend) {
    pyjwt_verifies(backend, "ES256").await;
}

async fn pyjwt_verifies_rs256_tokens_knowing_only_the_jwks_url(backend: Backend) {
    pyjwt_verifies(backend, "RS256").await;
}

async fn pyjwt_verifies(backend: Backend, algorithm: &str) {
    // Arrange
    let app = spawn_app_with(backend, |s| {
        s.tokens.signing_alg = algorithm.parse().unwrap()
    })
    .await;
    let user = app.signup_test_user().await;
    assert_eq!(header_of(&user.access_token)["alg"], algorithm);

    // Act
    let verified = pyjwt_verify(&app, &user.access_token, &app.address).await;

    // Assert
    assert!(
        verified.status.success(),
        "PyJWT refused the {algorithm} token: {}",
        verified.stderr
    );
    assert_eq!(verified.stdout.trim(), user.id);
    // The verifier is not a rubber stamp: the wrong issuer makes it refuse.
    let refused = pyjwt_verify(&app, &user.access_token, "https://elsewhere.example").await;
    assert!(!refused.status.success(), "{}", refused.stdout);
}

async fn hs256_tokens_verify_with_the_shared_secret_and_the_jwks_is_empty(backend: Backend) {
    // Arrange
    let secret = "0123456789abcdef0123456789abcdef-shared";
    let app = spawn_app_with(backend, |s| {
        s.tokens.signing_alg = SigningAlgorithm::HS256;
        s.tokens.hs256_secret = secret.into();
    })
    .await;

    // Act
    let user = app.signup_test_user().await;

    // Assert
    assert_eq!(header_of(&user.access_token)["alg"], "HS256");
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_audience(&["tessera"]);
    validation.set_issuer(&[&app.address]);
    let decoded = jsonwebtoken::decode::<Value>(
        &user.access_token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("the token is HMAC-signed with the configured secret");
    assert_eq!(decoded.claims["sub"], user.id);
    assert_eq!(app.get_jwks().await, json!({ "keys": [] }));
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = header_of(&user.access_token)["kid"]
        .as_str()
        .map(str::to_owned);
    let other_secret = EncodingKey::from_secret(b"another secret of more than 32 bytes!!");
    let forged = sign(&header, &payload_of(&user.access_token), &other_secret);
    assert_token_invalid(&app, &forged, "HS256 with another secret").await;
}

// ---------------------------------------------------------------------------------------------
// Forgeries

async fn an_unsigned_alg_none_token_is_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let real_header = header_of(&user.access_token);
    let payload = payload_of(&user.access_token);

    for alg in ["none", "None", "NONE"] {
        let mut header = real_header.clone();
        header["alg"] = json!(alg);
        let unsigned = compact(&header, &payload, "");
        let with_old_signature = compact(&header, &payload, signature_of(&user.access_token));

        // Act + Assert
        assert_token_invalid(&app, &unsigned, &format!("alg {alg}, empty signature")).await;
        assert_token_invalid(
            &app,
            &with_old_signature,
            &format!("alg {alg}, old signature"),
        )
        .await;
    }
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );
}

async fn an_hs256_token_keyed_with_the_public_key_is_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let kid = header_of(&user.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks = app.get_jwks().await;
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let x = public["x"].as_str().unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("raw public key", URL_SAFE_NO_PAD.decode(x).unwrap()),
        ("base64url public key", x.as_bytes().to_vec()),
        ("public JWK JSON", public.to_string().into_bytes()),
    ];
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid);

    for (what, secret) in secrets {
        let forged = sign(
            &header,
            &payload_of(&user.access_token),
            &EncodingKey::from_secret(&secret),
        );

        // Act + Assert
        assert_token_invalid(&app, &forged, &format!("HS256 keyed with the {what}")).await;
    }
}

async fn a_token_whose_kid_is_unknown_or_missing_is_invalid(backend: Backend) {
    // Arrange: signed with the server's real key, so only the kid is wrong.
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let (kid, key) = server_signing_key(&app).await;
    let claims = payload_of(&user.access_token);
    let control = sign(&access_header(&kid), &claims, &key);
    assert_eq!(
        app.get_me(&control).await.status(),
        StatusCode::OK,
        "re-signing with the real key is accepted"
    );
    let unknown = sign(&access_header("an-unknown-kid"), &claims, &key);
    let mut no_kid_header = access_header(&kid);
    no_kid_header.kid = None;
    let missing = sign(&no_kid_header, &claims, &key);
    let mut swapped_header = header_of(&user.access_token);
    swapped_header["kid"] = json!("an-unknown-kid");
    let swapped = compact(&swapped_header, &claims, signature_of(&user.access_token));

    // Act + Assert
    assert_token_invalid(&app, &unknown, "unknown kid, real key").await;
    assert_token_invalid(&app, &missing, "no kid, real key").await;
    assert_token_invalid(&app, &swapped, "kid swapped in the header").await;
}

async fn a_token_pointing_at_its_own_key_url_is_invalid_and_nothing_is_fetched(backend: Backend) {
    // Arrange: the attacker serves a JWKS with their own key and signs with it.
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let real_kid = header_of(&user.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (attacker_key, attacker_jwk) = attacker_key();
    let mut real_kid_jwk = attacker_jwk.clone();
    real_kid_jwk.common.key_id = Some(real_kid.clone());
    let (url, hits) = serve_jwks(json!({ "keys": [attacker_jwk, real_kid_jwk] })).await;
    let claims = payload_of(&user.access_token);

    for kid in ["attacker", real_kid.as_str()] {
        let mut jku = access_header(kid);
        jku.jku = Some(url.clone());
        let mut x5u = access_header(kid);
        x5u.x5u = Some(url.clone());

        // Act + Assert
        let token = sign(&jku, &claims, &attacker_key);
        assert_token_invalid(&app, &token, &format!("jku with kid {kid}")).await;
        let token = sign(&x5u, &claims, &attacker_key);
        assert_token_invalid(&app, &token, &format!("x5u with kid {kid}")).await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the server fetched the jku");
}

async fn a_token_carrying_its_own_jwk_is_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let real_kid = header_of(&user.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (attacker_key, attacker_jwk) = attacker_key();
    let claims = payload_of(&user.access_token);

    for kid in ["attacker", real_kid.as_str()] {
        let mut header = access_header(kid);
        let mut jwk = attacker_jwk.clone();
        jwk.common.key_id = Some(kid.to_owned());
        header.jwk = Some(jwk);
        let token = sign(&header, &claims, &attacker_key);

        // Act + Assert
        assert_token_invalid(&app, &token, &format!("embedded jwk with kid {kid}")).await;
    }
}

async fn truncated_and_garbage_tokens_are_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let token = app.signup_test_user().await.access_token;
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        ("last characters cut", token[..token.len() - 4].to_owned()),
        ("signature removed", format!("{}.{}.", parts[0], parts[1])),
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("one segment", parts[0].to_owned()),
        ("header cut", token[10..].to_owned()),
        ("four segments", format!("{token}.{}", parts[2])),
        ("garbage", "garbage".to_owned()),
        ("dots", "...".to_owned()),
        ("three random segments", "a.b.c".to_owned()),
        ("not base64", format!("{}.{}.!!!", parts[0], parts[1])),
        (
            "json that is no jwt",
            compact(&json!({"x": 1}), &json!({"y": 2}), "c2ln"),
        ),
    ];

    for (what, forged) in cases {
        // Act + Assert
        assert_token_invalid(&app, &forged, what).await;
    }
}

async fn a_token_with_the_signature_of_another_token_is_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let victim = app.signup_test_user().await;
    let attacker = app.signup_test_user().await;
    let mut parts: Vec<&str> = victim.access_token.split('.').collect();
    parts[2] = signature_of(&attacker.access_token);
    let spliced = parts.join(".");
    let mut claims = payload_of(&attacker.access_token);
    claims["sub"] = json!(victim.id);
    let edited = compact(
        &header_of(&attacker.access_token),
        &claims,
        signature_of(&attacker.access_token),
    );

    // Act + Assert
    assert_token_invalid(&app, &spliced, "another token's signature").await;
    assert_token_invalid(&app, &edited, "edited payload, original signature").await;
    assert_eq!(
        app.get_me(&victim.access_token).await.status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Claims, signed with the server's real key

async fn wrong_audience_issuer_or_type_signed_with_the_real_key_is_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let (kid, key) = server_signing_key(&app).await;
    let claims = payload_of(&user.access_token);
    let control = sign(&access_header(&kid), &claims, &key);
    assert_eq!(app.get_me(&control).await.status(), StatusCode::OK);

    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("another-api");
    let mut no_aud = claims.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    let mut jwt_typ = access_header(&kid);
    jwt_typ.typ = Some("JWT".into());
    let mut no_typ = access_header(&kid);
    no_typ.typ = None;
    let cases = [
        ("wrong aud", sign(&access_header(&kid), &wrong_aud, &key)),
        ("no aud", sign(&access_header(&kid), &no_aud, &key)),
        ("wrong iss", sign(&access_header(&kid), &wrong_iss, &key)),
        ("typ JWT", sign(&jwt_typ, &claims, &key)),
        ("no typ", sign(&no_typ, &claims, &key)),
    ];

    for (what, token) in cases {
        // Act + Assert
        assert_token_invalid(&app, &token, what).await;
    }
}

async fn a_token_not_yet_valid_beyond_the_leeway_is_invalid(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let (kid, key) = server_signing_key(&app).await;
    let now = app.clock.unix();
    let mut within_leeway = payload_of(&user.access_token);
    within_leeway["nbf"] = json!(now + 10);
    let mut beyond_leeway = payload_of(&user.access_token);
    beyond_leeway["nbf"] = json!(now + 120);

    // Act
    let early = app
        .get_me(&sign(&access_header(&kid), &within_leeway, &key))
        .await;
    let too_early = sign(&access_header(&kid), &beyond_leeway, &key);

    // Assert
    assert_eq!(early.status(), StatusCode::OK, "nbf within the 30 s leeway");
    assert_token_invalid(&app, &too_early, "nbf two minutes ahead").await;
}

async fn a_token_expires_after_its_lifetime_plus_the_leeway(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act + Assert: 15 minutes and 10 seconds on, the 30 s leeway still covers it.
    app.advance(Duration::from_secs(15 * 60 + 10));
    assert_eq!(
        app.get_me(&user.access_token).await.status(),
        StatusCode::OK
    );

    app.advance(Duration::from_secs(21));
    let response = app.get_me(&user.access_token).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    crate::helpers::assert_problem(response, 401, "token_expired").await;
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rotation

async fn switching_to_hs256_retires_the_key_pairs_which_leave_the_jwks_once_their_tokens_expire(
    backend: Backend,
) {
    // Arrange: a deployment signing with EdDSA, then restarted with a shared secret.
    let mut app = spawn_app(backend).await;
    let before = app.signup_test_user().await;
    let eddsa_kid = header_of(&before.access_token)["kid"].clone();
    app.settings.tokens.signing_alg = SigningAlgorithm::HS256;
    app.settings.tokens.hs256_secret = "0123456789abcdef0123456789abcdef-shared".into();

    // Act
    let app = app.restart().await;

    // Assert: HS256 signs; the key pair stays published (and verifying) only while a token it
    // signed can be live.
    let after = app.login_again(&before).await;
    assert_eq!(header_of(text(&after, "access_token"))["alg"], "HS256");
    assert_eq!(app.get_jwks().await["keys"][0]["kid"], eddsa_kid);
    assert_eq!(
        app.get_me(&before.access_token).await.status(),
        StatusCode::OK
    );
    app.advance(Duration::from_secs(15 * 60 + 31));
    eventually(
        Duration::from_secs(5),
        "the key pair out of the JWKS",
        || async { (app.get_jwks().await == json!({ "keys": [] })).then_some(()) },
    )
    .await;
}

async fn the_jwks_is_cached_no_longer_than_a_rotated_key_is_published_before_it_signs(
    backend: Backend,
) {
    // Arrange
    let default = spawn_app(backend).await;
    let quick = spawn_app_with(backend, |s| {
        s.tokens.key_publish_ahead = Duration::from_secs(10);
    })
    .await;

    // Act
    let default = default.get("/.well-known/jwks.json").await;
    let quick = quick.get("/.well-known/jwks.json").await;

    // Assert
    assert_eq!(default.headers()["cache-control"], "public, max-age=60");
    assert_eq!(quick.headers()["cache-control"], "public, max-age=10");
}

async fn a_key_rotated_by_the_cli_is_published_then_signs_and_old_tokens_keep_working(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;
    let old = app.signup_test_user().await;
    let old_kid = header_of(&old.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act
    let rotated = app.cli(&["keys", "rotate"]).await;

    // Assert
    assert!(rotated.status.success(), "{rotated:?}");
    let new_kid = rotated
        .stdout
        .split_whitespace()
        .skip_while(|w| *w != "key")
        .nth(1)
        .unwrap_or_else(|| panic!("no kid in {:?}", rotated.stdout))
        .to_owned();
    assert_ne!(new_kid, old_kid);

    // Published first: the running server serves the new key in its JWKS while it still signs
    // with the old one (its clock does not move by itself in these tests).
    eventually(Duration::from_secs(5), "the new key in the JWKS", || {
        let (app, new_kid) = (&app, new_kid.clone());
        async move {
            let jwks = app.get_jwks().await;
            jwks["keys"]
                .as_array()?
                .iter()
                .any(|k| k["kid"] == new_kid)
                .then_some(())
        }
    })
    .await;
    let meanwhile = app.signup_test_user().await;
    assert_eq!(header_of(&meanwhile.access_token)["kid"], old_kid.as_str());

    // Signing once it has been published for `tokens.key_publish_ahead` (60 s), counted from
    // the rotation (made with the wall clock, which the server's clock lags).
    app.catch_up_with_the_wall_clock();
    app.advance(Duration::from_secs(60));
    let new = eventually(
        Duration::from_secs(5),
        "the server signs with the new key",
        || {
            let (app, new_kid) = (&app, new_kid.clone());
            // Logging in again rather than signing up: signups are limited per address.
            let meanwhile = &meanwhile;
            async move {
                let login = app
                    .post_login(
                        &json!({ "email": meanwhile.email, "password": meanwhile.password }),
                    )
                    .await;
                let token = login.json::<Value>().await.ok()?["access_token"]
                    .as_str()?
                    .to_owned();
                (header_of(&token)["kid"] == new_kid.as_str()).then_some(token)
            }
        },
    )
    .await;
    assert_eq!(app.get_me(&new).await.status(), StatusCode::OK);
    assert_eq!(
        app.get_me(&old.access_token).await.status(),
        StatusCode::OK,
        "a token of the retired key still verifies"
    );
    let kids: Vec<Value> = app.get_jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert!(kids.contains(&json!(old_kid)), "{kids:?}");
    assert!(kids.contains(&json!(new_kid)), "{kids:?}");

    let listed = app.cli(&["keys", "list"]).await;
    assert!(listed.status.success(), "{listed:?}");
    let state_of = |kid: &str| {
        listed
            .stdout
            .lines()
            .find(|line| line.starts_with(kid))
            .and_then(|line| line.split_whitespace().last())
            .unwrap_or_else(|| panic!("{kid} not listed: {}", listed.stdout))
            .to_owned()
    };
    // The command line reads the real clock: within 5 s of the rotation the new key is next
    // and the old one still signs, after that the new one signs. Exactly one signs either way.
    let states = (state_of(&new_kid), state_of(&old_kid));
    assert!(
        matches!(
            (states.0.as_str(), states.1.as_str()),
            ("next", "signing") | ("signing", "verifying")
        ),
        "{states:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers of this module

impl TestApp {
    async fn get_jwks(&self) -> Value {
        let response = self.get("/.well-known/jwks.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn decode_segment(segment: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url segment");
    serde_json::from_slice(&bytes).expect("a JSON segment")
}

fn header_of(token: &str) -> Value {
    decode_segment(token.split('.').next().unwrap())
}

fn payload_of(token: &str) -> Value {
    decode_segment(token.split('.').nth(1).expect("a payload segment"))
}

fn signature_of(token: &str) -> &str {
    token.split('.').nth(2).expect("a signature segment")
}

/// A compact JWS from JSON parts and a signature segment, however bogus.
fn compact(header: &Value, payload: &Value, signature: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{payload}.{signature}")
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("signing")
}

/// The header the server puts on an EdDSA access token.
fn access_header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.to_owned());
    header
}

/// The server's current signing key, read from its database and unsealed with its master key.
async fn server_signing_key(app: &TestApp) -> (String, EncodingKey) {
    let stores = app.open_stores().await;
    let keys = stores.keys.signing_keys().await.unwrap();
    let key = keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .max_by_key(|k| k.created_at)
        .expect("a signing key");
    assert_eq!(key.algorithm, "EdDSA");
    let text = std::fs::read_to_string(app.settings.data_dir.join("master.key")).unwrap();
    let master = MasterKey::from_base64(&text).unwrap();
    let der = master.open(&key.kid, &key.sealed_private_key).unwrap();
    (key.kid.clone(), EncodingKey::from_ed_der(&der))
}

/// An Ed25519 key of the attacker's and its public JWK (kid "attacker").
fn attacker_key() -> (EncodingKey, Jwk) {
    use aws_lc_rs::signature::Ed25519KeyPair;
    let pkcs8 = Ed25519KeyPair::generate()
        .and_then(|pair| pair.to_pkcs8v1())
        .unwrap();
    let key = EncodingKey::from_ed_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some("attacker".into());
    (key, jwk)
}

/// Serves `jwks` on every path of a server of the attacker's; returns its URL and a hit count.
async fn serve_jwks(jwks: Value) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let router = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let jwks = jwks.clone();
        async move { axum::Json(jwks) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/jwks.json"), hits)
}

async fn assert_token_invalid(app: &TestApp, token: &str, case: &str) {
    let response = app.get_me(token).await;
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(body["code"], "token_invalid", "{case}: {body}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{case}: {challenge}"
    );
}

/// Runs the PyJWT verifier, which sees only the JWKS URL, the token, issuer and audience.
async fn pyjwt_verify(app: &TestApp, token: &str, issuer: &str) -> crate::helpers::CliOutput {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/verify_jwks.py");
    let mut command = std::process::Command::new("python3");
    command.args([
        script,
        &app.url("/.well-known/jwks.json"),
        token,
        issuer,
        "tessera",
    ]);
    run_cli(command).await
}
