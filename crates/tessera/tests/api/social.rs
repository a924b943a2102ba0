//! Social login against a real OpenID provider (`oidc-provider`, run by the tests as its own
//! process) and a GitHub-shaped OAuth 2.0 fake: the whole authorization-code flow as a
//! browser makes it (the provider's own login and consent pages included), the linking rules,
//! unlinking, two-factor after a provider login, the attacks on the flow, and the vault.
//!
//! Tessera's `public_url` is `http://tessera.test` (as behind a proxy): the provider sends the
//! browser there, and the test carries the request on to the server's real address.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tessera::config::Settings;
use tessera_testkit::totp::totp;
use tessera_testkit::{FakeGithub, FakeGithubUser, GithubEmail, OidcProvider};
use tessera_upstream::ProviderSettings;
use url::Url;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem, jwt_claims, spawn_app_with};
use crate::mfa::{now, user_with_totp};

both_backends!(
    an_oidc_login_makes_an_account_and_hands_the_tokens_over_by_a_single_use_code,
    a_verified_email_joins_the_verified_account_with_it,
    an_unverified_email_on_either_side_never_joins_an_account,
    a_signed_in_user_links_a_provider_explicitly_and_unlinks_it,
    a_provider_login_of_a_user_with_two_factor_asks_for_the_second_factor,
);

pub const PUBLIC_URL: &str = "http://tessera.test";
const CLIENT_ID: &str = "tessera-tests";
const CLIENT_SECRET: &str = "a client secret of the tests";
pub const SERVICE_KEY: &str = "a service key of the social tests";

/// A server with the provider configured as `op`, and the provider.
pub async fn app_with_provider(backend: Backend) -> (TestApp, OidcProvider) {
    app_with_provider_ttl(backend, Duration::from_secs(60)).await
}

async fn app_with_provider_ttl(backend: Backend, ttl: Duration) -> (TestApp, OidcProvider) {
    let provider = OidcProvider::builder(CLIENT_ID, CLIENT_SECRET, &[callback_uri("op")])
        .access_token_ttl(ttl)
        .start()
        .await;
    let issuer = provider.issuer().to_owned();
    let app = spawn_app_with(backend, |settings| {
        configure(settings);
        settings
            .oauth
            .providers
            .insert("op".into(), oidc_settings(&issuer));
        // A second provider, for the mix-up attack.
        settings
            .oauth
            .providers
            .insert("op2".into(), oidc_settings(&issuer));
    })
    .await;
    (app, provider)
}

fn configure(settings: &mut Settings) {
    settings.public_url = PUBLIC_URL.into();
    settings.oauth.redirect_allowlist = vec!["https://app.example/app".into()];
    settings.service_keys = vec![SERVICE_KEY.into()];
}

pub fn oidc_settings(issuer: &str) -> ProviderSettings {
    ProviderSettings {
        issuer: issuer.into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        ..ProviderSettings::default()
    }
}

/// The settings of a GitHub-shaped provider at `github`.
pub fn github_settings(github: &FakeGithub) -> ProviderSettings {
    let base = github.base_url();
    ProviderSettings {
        preset: "github".into(),
        authorize_url: format!("{base}/login/oauth/authorize"),
        token_url: format!("{base}/login/oauth/access_token"),
        userinfo_url: format!("{base}/user"),
        emails_url: format!("{base}/user/emails"),
        client_id: github.client_id(),
        client_secret: github.client_secret().into(),
        ..ProviderSettings::default()
    }
}

pub fn callback_uri(provider: &str) -> String {
    format!("{PUBLIC_URL}/auth/oauth/{provider}/callback")
}

/// One browser's start of a flow: where the provider is, and the binding cookie.
pub struct Started {
    pub authorize_url: String,
    pub binding: String,
}

/// `GET /auth/oauth/{provider}/authorize`, with a bearer token when linking.
pub async fn authorize(
    app: &TestApp,
    provider: &str,
    query: &str,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(&format!("/auth/oauth/{provider}/authorize?{query}")));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub async fn start(app: &TestApp, provider: &str, query: &str, bearer: Option<&str>) -> Started {
    let response = authorize(app, provider, query, bearer).await;
    assert_eq!(response.status(), StatusCode::OK);
    let binding = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_oauth="))
        .expect("the binding cookie");
    assert!(binding.contains("HttpOnly"), "{binding}");
    assert!(binding.contains("SameSite=Lax"), "{binding}");
    let binding = binding
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("tessera_oauth=")
        .to_owned();
    let body: Value = response.json().await.unwrap();
    Started {
        authorize_url: body["url"].as_str().unwrap().to_owned(),
        binding,
    }
}

/// The provider's redirect to Tessera, carried to the server's real address with `cookie`.
pub async fn call_back(app: &TestApp, at: &Url, cookie: Option<&str>) -> reqwest::Response {
    let path = &at[url::Position::BeforePath..];
    let mut request = app.client.get(app.url(path));
    if let Some(binding) = cookie {
        request = request.header(COOKIE, format!("tessera_oauth={binding}"));
    }
    request.send().await.unwrap()
}

/// Where a callback's 302 sends the browser.
pub fn location(response: &reqwest::Response) -> Url {
    assert_eq!(response.status(), StatusCode::FOUND, "{response:?}");
    Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap()
}

pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A whole provider login as `login`: the callback's redirect back to the app.
pub async fn provider_login(app: &TestApp, provider: &OidcProvider, login: &str) -> Url {
    let started = start(app, "op", "redirect_to=https://app.example/app/done", None).await;
    let back = provider.sign_in(&started.authorize_url, login).await;
    let response = call_back(app, &back, Some(&started.binding)).await;
    location(&response)
}

/// The token response a login code buys.
pub async fn exchange(app: &TestApp, login_code: &str) -> reqwest::Response {
    app.post_json("/auth/oauth/exchange", &json!({ "login_code": login_code }))
        .await
}

pub async fn sign_in_through_provider(
    app: &TestApp,
    provider: &OidcProvider,
    login: &str,
) -> Value {
    let back = provider_login(app, provider, login).await;
    let code = param(&back, "login_code").unwrap_or_else(|| panic!("a login code: {back}"));
    let response = exchange(app, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A password account signed up as `email`: its token response.
async fn signup(app: &TestApp, email: &str) -> Value {
    let response = app
        .post_signup(&json!({"email": email, "password": "correct horse battery"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// Marks the email of user `id` verified, as its verification link would.
async fn verify_email(app: &TestApp, id: &str) {
    app.open_stores()
        .await
        .mail
        .mark_email_verified(id.parse().unwrap())
        .await
        .unwrap();
}

async fn identities(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/users/me/identities"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn an_oidc_login_makes_an_account_and_hands_the_tokens_over_by_a_single_use_code(
    backend: Backend,
) {
    // Arrange
    let (app, provider) = app_with_provider(backend).await;

    // Act
    let back = provider_login(&app, &provider, "alice@example.test").await;

    // Assert: back at the app with a code, never a token.
    assert_eq!(back.origin().ascii_serialization(), "https://app.example");
    assert_eq!(back.path(), "/app/done");
    let code = param(&back, "login_code").expect("a login code");
    assert!(param(&back, "access_token").is_none());
    let answer = exchange(&app, &code).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let tokens: Value = answer.json().await.unwrap();
    assert_eq!(tokens["user"]["email"], "alice@example.test");
    assert_eq!(tokens["user"]["email_verified"], true);
    let claims = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["fed"]));
    assert_problem(exchange(&app, &code).await, 400, "code_invalid").await;
    let linked = identities(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "op");
    assert_eq!(linked[0]["subject"], "alice@example.test");
    // The identity signs the same account in next time.
    let again = sign_in_through_provider(&app, &provider, "alice@example.test").await;
    assert_eq!(again["user"]["id"], tokens["user"]["id"]);
    assert_eq!(provider.stats().await.code_grants, 2);
}

async fn a_verified_email_joins_the_verified_account_with_it(backend: Backend) {
    // Arrange: a local account whose email was verified here.
    let (app, provider) = app_with_provider(backend).await;
    let local = signup(&app, "bob@example.test").await;
    verify_email(&app, local["user"]["id"].as_str().unwrap()).await;

    // Act
    let tokens = sign_in_through_provider(&app, &provider, "bob@example.test").await;

    // Assert
    assert_eq!(tokens["user"]["id"], local["user"]["id"]);
    let linked = identities(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(linked.len(), 1);
}

async fn an_unverified_email_on_either_side_never_joins_an_account(backend: Backend) {
    // Arrange: carol never verified her address here; dave did, but the provider does not
    // vouch for the address its user gives.
    let (app, provider) = app_with_provider(backend).await;
    let carol = signup(&app, "carol@example.test").await;
    let dave = signup(&app, "unverified-dave@example.test").await;
    verify_email(&app, dave["user"]["id"].as_str().unwrap()).await;

    // Act
    let for_carol = provider_login(&app, &provider, "carol@example.test").await;
    let for_dave = provider_login(&app, &provider, "unverified-dave@example.test").await;

    // Assert
    for (back, local) in [(for_carol, &carol), (for_dave, &dave)] {
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("account_exists"),
            "{back}"
        );
        assert!(param(&back, "login_code").is_none());
        let token = local["access_token"].as_str().unwrap();
        assert!(identities(&app, token).await.is_empty());
    }
}

async fn a_signed_in_user_links_a_provider_explicitly_and_unlinks_it(backend: Backend) {
    // Arrange: erin (password, unverified email) signed in.
    let (app, provider) = app_with_provider(backend).await;
    let erin = signup(&app, "erin@example.test").await;
    let token = erin["access_token"].as_str().unwrap();

    // Act: link the provider account "erin-at-op".
    let started = start(
        &app,
        "op",
        "link=true&redirect_to=https://app.example/app",
        Some(token),
    )
    .await;
    let back = provider.sign_in(&started.authorize_url, "erin-at-op").await;
    let linked = location(&call_back(&app, &back, Some(&started.binding)).await);

    // Assert: linked, and it signs erin in from now on.
    assert_eq!(param(&linked, "linked").as_deref(), Some("op"), "{linked}");
    assert_eq!(identities(&app, token).await.len(), 1);
    let by_provider = sign_in_through_provider(&app, &provider, "erin-at-op").await;
    assert_eq!(by_provider["user"]["id"], erin["user"]["id"]);

    // A provider-only account cannot unlink its only way in.
    let frank = sign_in_through_provider(&app, &provider, "frank@example.test").await;
    let frank_token = frank["access_token"].as_str().unwrap();
    let refused = unlink(&app, frank_token, "op").await;
    assert_problem(refused, 409, "last_login_method").await;
    assert_eq!(identities(&app, frank_token).await.len(), 1);

    // Another user cannot link erin's provider account.
    let started = start(&app, "op", "link=true", Some(frank_token)).await;
    let back = provider.sign_in(&started.authorize_url, "erin-at-op").await;
    let taken = location(&call_back(&app, &back, Some(&started.binding)).await);
    assert_eq!(param(&taken, "error").as_deref(), Some("identity_taken"));

    // Erin has a password: unlinking works, and revokes the provider's tokens upstream.
    let revocations = provider.stats().await.revocations;
    assert_eq!(
        unlink(&app, token, "op").await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(identities(&app, token).await.is_empty());
    assert_eq!(provider.stats().await.revocations, revocations + 1);
    assert_problem(unlink(&app, token, "op").await, 404, "not_found").await;
}

pub async fn unlink(app: &TestApp, token: &str, provider: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/users/me/identities/{provider}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn a_provider_login_of_a_user_with_two_factor_asks_for_the_second_factor(backend: Backend) {
    // Arrange: a verified local account with TOTP on, joined by its verified email.
    let (app, provider) = app_with_provider(backend).await;
    let (user, secret, _) = user_with_totp(&app).await;
    verify_email(&app, &user.id).await;

    // Act
    let back = provider_login(&app, &provider, &user.email).await;

    // Assert: no login code, the second step instead; it ends in tokens with both factors.
    assert!(param(&back, "login_code").is_none(), "{back}");
    let mfa_token = param(&back, "mfa_token").expect("an mfa_token");
    let code = totp(&secret, now(&app));
    let response = app
        .post_json(
            "/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": code}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["user"]["id"], user.id);
    let claims = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["otp", "fed", "mfa"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_flow_are_refused() {
    // Arrange
    let (app, provider) = app_with_provider(Backend::Sqlite).await;

    // A state works once: the same callback again is refused, and knows no target.
    let started = start(&app, "op", "", None).await;
    let back = provider.sign_in(&started.authorize_url, "mallory").await;
    let first = location(&call_back(&app, &back, Some(&started.binding)).await);
    assert!(param(&first, "login_code").is_some(), "{first}");
    assert_eq!(
        first.as_str().split('?').next(),
        Some("http://tessera.test/ui/account")
    );
    assert_problem(
        call_back(&app, &back, Some(&started.binding)).await,
        400,
        "code_invalid",
    )
    .await;

    // Without the binding cookie, or with another browser's, the flow fails (and is spent).
    for cookie in [None, Some("another-browsers-binding")] {
        let started = start(&app, "op", "redirect_to=https://app.example/app", None).await;
        let back = provider.sign_in(&started.authorize_url, "mallory").await;
        let refused = location(&call_back(&app, &back, cookie).await);
        assert_eq!(
            param(&refused, "error").as_deref(),
            Some("code_invalid"),
            "{cookie:?}"
        );
        assert_eq!(refused.path(), "/app");
        assert_problem(
            call_back(&app, &back, Some(&started.binding)).await,
            400,
            "code_invalid",
        )
        .await;
    }

    // A code injected into another flow: the code is bound to its own flow's PKCE verifier.
    let victim = start(&app, "op", "redirect_to=https://app.example/app", None).await;
    let attacker = start(&app, "op", "", None).await;
    let attackers_code = provider.sign_in(&attacker.authorize_url, "mallory").await;
    let victims_back = provider.sign_in(&victim.authorize_url, "victim").await;
    let mut injected = victims_back.clone();
    injected.set_query(Some(&format!(
        "code={}&state={}",
        param(&attackers_code, "code").unwrap(),
        param(&victims_back, "state").unwrap()
    )));
    let refused = location(&call_back(&app, &injected, Some(&victim.binding)).await);
    assert_eq!(param(&refused, "error").as_deref(), Some("upstream_error"));

    // Mix-up: the state of a flow sent to `op` comes back on another provider's callback.
    let started = start(&app, "op", "redirect_to=https://app.example/app", None).await;
    let back = provider.sign_in(&started.authorize_url, "mallory").await;
    let mut mixed = back.clone();
    mixed.set_path("/auth/oauth/op2/callback");
    let refused = location(&call_back(&app, &mixed, Some(&started.binding)).await);
    assert_eq!(param(&refused, "error").as_deref(), Some("code_invalid"));
    mixed.set_path("/auth/oauth/unknown/callback");
    assert_problem(
        call_back(&app, &mixed, Some(&started.binding)).await,
        404,
        "not_found",
    )
    .await;

    // A callback without state, or with an unknown one.
    let bare = Url::parse("http://tessera.test/auth/oauth/op/callback?code=x").unwrap();
    assert_problem(call_back(&app, &bare, None).await, 400, "code_invalid").await;
    let unknown = Url::parse("http://tessera.test/auth/oauth/op/callback?code=x&state=y").unwrap();
    assert_problem(call_back(&app, &unknown, None).await, 400, "code_invalid").await;

    // The person declines at the provider.
    let started = start(&app, "op", "redirect_to=https://app.example/app", None).await;
    let state = Url::parse(&started.authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let declined = Url::parse(&format!(
        "http://tessera.test/auth/oauth/op/callback?error=access_denied&state={state}"
    ))
    .unwrap();
    let back = location(&call_back(&app, &declined, Some(&started.binding)).await);
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_outside_the_allow_list_is_refused_before_anything_starts() {
    let (app, _provider) = app_with_provider(Backend::Sqlite).await;
    for target in [
        "https://app.example.evil.test/app",
        "https://evil.test/app",
        "https://app.example@evil.test/app",
        "https://evil.test%40app.example/app",
        "https://app.example\\@evil.test/app",
        "//evil.test/app",
        "https://app.example/app/../admin",
        "https://app.example/app/%2e%2e/admin",
        "https://app.example/application",
        "http://tessera.test.evil.test/",
    ] {
        let query = format!("redirect_to={}", urlencode(target));
        let refused = authorize(&app, "op", &query, None).await;
        assert!(refused.headers().get(SET_COOKIE).is_none(), "{target}");
        let problem = assert_problem(refused, 422, "validation_error").await;
        assert_eq!(problem["errors"][0]["field"], "redirect_to", "{target}");
    }
    assert_problem(authorize(&app, "nope", "", None).await, 404, "not_found").await;
    // Linking needs a signed-in caller.
    assert_problem(
        authorize(&app, "op", "link=true", None).await,
        401,
        "token_missing",
    )
    .await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_login_takes_the_primary_verified_email_from_user_emails() {
    // Arrange: a GitHub-shaped provider whose user has an unverified and a verified address.
    let github = FakeGithub::start().await;
    let mut user = FakeGithubUser::new(4_242, "octo");
    user.emails = vec![
        GithubEmail {
            email: "octo-old@example.test".into(),
            verified: false,
            primary: false,
        },
        GithubEmail {
            email: "octo@example.test".into(),
            verified: true,
            primary: true,
        },
    ];
    github.set_user(user);
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        configure(settings);
        let gh = github_settings(&github);
        settings.oauth.providers.insert("gh".into(), gh);
    })
    .await;

    // Act: the fake authorizes at once and redirects back.
    let started = start(&app, "gh", "redirect_to=https://app.example/app", None).await;
    let to_provider = app.client.get(&started.authorize_url).send().await.unwrap();
    let back = location(&to_provider);
    let back = location(&call_back(&app, &back, Some(&started.binding)).await);
    let code = param(&back, "login_code").unwrap_or_else(|| panic!("{back}"));
    let tokens: Value = exchange(&app, &code).await.json().await.unwrap();

    // Assert: the numeric id is the subject, the verified address the email.
    assert_eq!(tokens["user"]["email"], "octo@example.test");
    assert_eq!(tokens["user"]["email_verified"], true);
    let linked = identities(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(linked[0]["subject"], "4242");
    assert_eq!(github.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_hands_out_the_provider_token_and_refreshes_it_when_it_runs_out() {
    // Arrange: provider access tokens live 12 s; the vault refreshes below 10 s left.
    let (app, provider) = app_with_provider_ttl(Backend::Sqlite, Duration::from_secs(12)).await;
    let tokens = sign_in_through_provider(&app, &provider, "grace@example.test").await;
    let user = tokens["user"]["id"].as_str().unwrap().to_owned();

    // Act
    let first = vault(&app, &user, "op", Some(SERVICE_KEY)).await;
    app.advance(Duration::from_secs(3));
    let second = vault(&app, &user, "op", Some(SERVICE_KEY)).await;

    // Assert
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(second.0, StatusCode::OK);
    let (first, second) = (&first.1["access_token"], &second.1["access_token"]);
    assert_ne!(first, second, "the second call refreshed");
    assert_eq!(provider.stats().await.refresh_grants, 1);
    assert!(works_at_provider(&provider, second.as_str().unwrap()).await);
    // Only back ends with a service key, and only for linked identities.
    assert_eq!(
        vault(&app, &user, "op", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        vault(&app, &user, "op", Some("wrong")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        vault(&app, &user, "gh", Some(SERVICE_KEY)).await.0,
        StatusCode::NOT_FOUND
    );
    let stranger = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        vault(&app, &stranger, "op", Some(SERVICE_KEY)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_the_provider_refuses_marks_the_identity_until_the_next_provider_login() {
    // Arrange: a linked identity whose access at the provider the person then withdraws.
    let (app, provider) = app_with_provider_ttl(Backend::Sqlite, Duration::from_secs(12)).await;
    let tokens = sign_in_through_provider(&app, &provider, "heidi@example.test").await;
    let user = tokens["user"]["id"].as_str().unwrap().to_owned();
    let (status, body) = vault(&app, &user, "op", Some(SERVICE_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let revoked = reqwest::Client::new()
        .post(provider.url("/token/revocation"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", body["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    app.advance(Duration::from_secs(3));

    // Act
    let first = vault(&app, &user, "op", Some(SERVICE_KEY)).await;
    let second = vault(&app, &user, "op", Some(SERVICE_KEY)).await;

    // Assert: refused once upstream, then answered from the mark without asking again.
    for (status, body) in [&first, &second] {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "provider_login_required");
    }
    let stats = provider.stats().await;
    assert_eq!(stats.refresh_grants_refused, 1, "{stats:?}");
    // A new login through the provider brings working tokens back.
    sign_in_through_provider(&app, &provider, "heidi@example.test").await;
    let (status, body) = vault(&app, &user, "op", Some(SERVICE_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(works_at_provider(&provider, body["access_token"].as_str().unwrap()).await);
}

/// `POST /internal/users/{user}/providers/{provider}/token`: status and body.
pub async fn vault(
    app: &TestApp,
    user: &str,
    provider: &str,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url(&format!(
        "/internal/users/{user}/providers/{provider}/token"
    )));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap_or_default())
}

/// Whether the provider's userinfo endpoint accepts `token`.
pub async fn works_at_provider(provider: &OidcProvider, token: &str) -> bool {
    reqwest::Client::new()
        .get(provider.url("/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_begun_from_a_session_that_has_since_ended_links_nothing() {
    // Arrange: ivan asks to link, then signs out (say, on noticing the token was stolen).
    let (app, provider) = app_with_provider(Backend::Sqlite).await;
    let ivan = signup(&app, "ivan@example.test").await;
    let token = ivan["access_token"].as_str().unwrap();
    let started = start(&app, "op", "link=true", Some(token)).await;
    let back = provider.sign_in(&started.authorize_url, "intruder").await;
    assert_eq!(
        app.post_logout(token).await.status(),
        StatusCode::NO_CONTENT
    );

    // Act
    let refused = location(&call_back(&app, &back, Some(&started.binding)).await);

    // Assert
    assert_eq!(param(&refused, "error").as_deref(), Some("code_invalid"));
    let again = app
        .post_login(&json!({"email": "ivan@example.test", "password": "correct horse battery"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        identities(&app, again["access_token"].as_str().unwrap())
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_parameters_planted_in_redirect_to_are_replaced_not_repeated() {
    // Arrange: a target that already carries someone else's login code.
    let (app, provider) = app_with_provider(Backend::Sqlite).await;
    let planted = urlencode("https://app.example/app?keep=1&login_code=planted&error=planted");
    let started = start(&app, "op", &format!("redirect_to={planted}"), None).await;
    let back = provider.sign_in(&started.authorize_url, "judy").await;

    // Act
    let target = location(&call_back(&app, &back, Some(&started.binding)).await);

    // Assert
    let pairs: Vec<(String, String)> = target.query_pairs().into_owned().collect();
    assert_eq!(pairs.len(), 2, "{target}");
    assert_eq!(pairs[0], ("keep".to_owned(), "1".to_owned()));
    assert_eq!(pairs[1].0, "login_code");
    assert_ne!(pairs[1].1, "planted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_by_cookie_must_come_from_our_own_site() {
    // Arrange: a browser signed in by cookie.
    let (app, _provider) = app_with_provider(Backend::Sqlite).await;
    signup(&app, "kim@example.test").await;
    let login = app
        .post_login(&json!({"email": "kim@example.test", "password": "correct horse battery", "cookie": true}))
        .await;
    let access = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.contains("tessera_at="))
        .expect("the access cookie");
    let link = |site: &'static str| {
        app.client
            .get(app.url("/auth/oauth/op/authorize?link=true"))
            .header(COOKIE, &access)
            .header("Sec-Fetch-Site", site)
            .send()
    };

    // Act
    let cross_site = link("cross-site").await.unwrap();
    let same_origin = link("same-origin").await.unwrap();

    // Assert
    assert_problem(cross_site, 403, "csrf_failed").await;
    assert_eq!(same_origin.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_answers_nothing_for_a_disabled_account() {
    // Arrange
    let (app, provider) = app_with_provider(Backend::Sqlite).await;
    let tokens = sign_in_through_provider(&app, &provider, "leo@example.test").await;
    let user = tokens["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        vault(&app, &user, "op", Some(SERVICE_KEY)).await.0,
        StatusCode::OK
    );
    app.open_stores()
        .await
        .users
        .set_disabled(user.parse().unwrap(), true)
        .await
        .unwrap();

    // Act
    let (status, body) = vault(&app, &user, "op", Some(SERVICE_KEY)).await;

    // Assert
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "account_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_made_through_an_unvouched_address_loses_that_link_when_the_owner_resets() {
    // Arrange: someone signs up through the provider claiming an address the provider does
    // not vouch for (the account is theirs through that identity), then the address's owner
    // resets the password by mail.
    let (app, provider) = app_with_provider(Backend::Sqlite).await;
    let address = "unverified-mia@example.test";
    let claimant = sign_in_through_provider(&app, &provider, address).await;
    assert_eq!(claimant["user"]["email_verified"], false);
    assert_eq!(
        crate::mail::forgot(&app, address).await.status(),
        StatusCode::ACCEPTED
    );
    let mails = crate::mail::wait_for_mails(&app, 1).await;
    let token = crate::mail::link_code(&mails[0], "reset");

    // Act
    let reset = crate::mail::reset(&app, &token, "the owner's new password").await;

    // Assert: the claimant's identity and session are gone; the owner's password works.
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let claimant_token = claimant["access_token"].as_str().unwrap();
    assert_problem(app.get_me(claimant_token).await, 401, "token_revoked").await;
    // Tokens issued in the revocation's own instant are refused: the test clock moves on.
    app.advance(Duration::from_secs(1));
    let owner = app
        .post_login(&json!({"email": address, "password": "the owner's new password"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(owner["user"]["id"], claimant["user"]["id"]);
    assert!(
        identities(&app, owner["access_token"].as_str().unwrap())
            .await
            .is_empty()
    );
    let again = provider_login(&app, &provider, address).await;
    assert_eq!(
        param(&again, "error").as_deref(),
        Some("account_exists"),
        "{again}"
    );
}
