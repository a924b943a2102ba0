//! Passkeys over HTTP with a software authenticator: registration, both login styles, the
//! management endpoints, and each refusal (wrong origin, wrong relying party, a counter that
//! goes backwards, a replayed ceremony, another user's credential, no user verification).

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_testkit::authenticator::SoftAuthenticator;

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, TestUser, assert_problem, jwt_claims, spawn_app_with, text,
};
use crate::mfa::user_with_totp;
use crate::social::{PUBLIC_URL, app_with_provider, sign_in_through_provider, unlink};

/// The pages' origin: the relying party is its host.
const ORIGIN: &str = "https://app.example.com";

both_backends!(
    a_registered_passkey_signs_in_email_first_and_discoverable,
    each_refusal_of_the_ceremony_is_refused,
);

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| settings.public_url = ORIGIN.into()).await
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Registers a passkey for `user` on `authenticator`; the passkey's view.
async fn register(
    app: &TestApp,
    user: &TestUser,
    authenticator: &mut SoftAuthenticator,
    name: &str,
) -> Value {
    register_with(app, &user.access_token, authenticator, name).await
}

/// Registers a passkey for the holder of `token`; the passkey's view.
pub async fn register_with(
    app: &TestApp,
    token: &str,
    authenticator: &mut SoftAuthenticator,
    name: &str,
) -> Value {
    let options = post(
        app,
        "/users/me/passkeys/register/options",
        Some(token),
        &json!({}),
    )
    .await;
    assert_eq!(options.status(), StatusCode::OK);
    let options: Value = options.json().await.unwrap();
    let credential = authenticator.register(&json!({ "publicKey": options["publicKey"] }));
    let registered = post(
        app,
        "/users/me/passkeys/register",
        Some(token),
        &json!({ "ceremony_id": options["ceremony_id"], "credential": credential, "name": name }),
    )
    .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    registered.json().await.unwrap()
}

/// Login options for `email` (or discoverable), and the authenticator's answer to them.
async fn assertion(
    app: &TestApp,
    email: Option<&str>,
    authenticator: &mut SoftAuthenticator,
) -> (String, Value) {
    let body = match email {
        Some(email) => json!({ "email": email }),
        None => json!({}),
    };
    let options = post(app, "/auth/passkey/options", None, &body).await;
    assert_eq!(options.status(), StatusCode::OK);
    let options: Value = options.json().await.unwrap();
    let credential = authenticator.login(&json!({ "publicKey": options["publicKey"] }));
    (text(&options, "ceremony_id").to_owned(), credential)
}

async fn login(app: &TestApp, ceremony_id: &str, credential: &Value) -> reqwest::Response {
    post(
        app,
        "/auth/passkey/login",
        None,
        &json!({ "ceremony_id": ceremony_id, "credential": credential }),
    )
    .await
}

async fn a_registered_passkey_signs_in_email_first_and_discoverable(backend: Backend) {
    // Arrange
    let app = app(backend).await;
    let user = app.signup_test_user().await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let registered = register(&app, &user, &mut authenticator, "Laptop").await;

    // Act
    let (ceremony, credential) = assertion(&app, Some(&user.email), &mut authenticator).await;
    let email_first = login(&app, &ceremony, &credential).await;
    let (ceremony, credential) = assertion(&app, None, &mut authenticator).await;
    let discoverable = login(&app, &ceremony, &credential).await;
    let listed: Value = app
        .client
        .get(app.url("/users/me/passkeys"))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = text(&registered, "id");
    let renamed = app
        .client
        .patch(app.url(&format!("/users/me/passkeys/{id}")))
        .bearer_auth(&user.access_token)
        .json(&json!({ "name": "Work laptop" }))
        .send()
        .await
        .unwrap();
    let bad_name = app
        .client
        .patch(app.url(&format!("/users/me/passkeys/{id}")))
        .bearer_auth(&user.access_token)
        .json(&json!({ "name": "" }))
        .send()
        .await
        .unwrap();
    let removed = app
        .client
        .delete(app.url(&format!("/users/me/passkeys/{id}")))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .unwrap();
    let (ceremony, credential) = assertion(&app, None, &mut authenticator).await;
    let after_removal = login(&app, &ceremony, &credential).await;

    // Assert
    assert_eq!(registered["name"], "Laptop");
    assert!(registered["last_used_at"].is_null());
    for response in [email_first, discoverable] {
        assert_eq!(response.status(), StatusCode::OK);
        let grant: Value = response.json().await.unwrap();
        let claims = jwt_claims(text(&grant, "access_token"));
        assert_eq!(claims["sub"], user.id.as_str(), "{claims}");
        let amr = claims["amr"].as_array().unwrap();
        assert!(amr.contains(&json!("hwk")), "{claims}");
    }
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        renamed.json::<Value>().await.unwrap()["name"],
        "Work laptop"
    );
    assert_problem(bad_name, 422, "validation_error").await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_problem(after_removal, 401, "invalid_credentials").await;
}

async fn each_refusal_of_the_ceremony_is_refused(backend: Backend) {
    // Arrange: Ann and Bo each with a passkey.
    let app = app(backend).await;
    let ann = app.signup_test_user().await;
    let bo = app.signup_test_user().await;
    let mut anns = SoftAuthenticator::new(ORIGIN);
    let mut bos = SoftAuthenticator::new(ORIGIN);
    register(&app, &ann, &mut anns, "Ann's key").await;
    register(&app, &bo, &mut bos, "Bo's key").await;

    // Act and assert, one refusal at a time.
    // A page of another origin.
    let mut phishing = SoftAuthenticator::new(ORIGIN);
    register(&app, &ann, &mut phishing, "Ann's phone").await;
    let mut phishing = phishing.with_origin("https://app.example.com.evil.example");
    let (ceremony, credential) = assertion(&app, Some(&ann.email), &mut phishing).await;
    assert_problem(
        login(&app, &ceremony, &credential).await,
        401,
        "invalid_credentials",
    )
    .await;

    // Another relying party's credential.
    anns.rp_id_override(Some("evil.example"));
    let (ceremony, credential) = assertion(&app, Some(&ann.email), &mut anns).await;
    assert_problem(
        login(&app, &ceremony, &credential).await,
        401,
        "invalid_credentials",
    )
    .await;
    anns.rp_id_override(None);

    // A replayed ceremony: the first answer signs in, the same again is refused.
    let (ceremony, credential) = assertion(&app, Some(&ann.email), &mut anns).await;
    assert_eq!(
        login(&app, &ceremony, &credential).await.status(),
        StatusCode::OK
    );
    assert_problem(
        login(&app, &ceremony, &credential).await,
        400,
        "code_invalid",
    )
    .await;

    // A counter that goes backwards: a cloned authenticator.
    let id = anns.credential_ids()[0].clone();
    anns.set_counter(&id, 0);
    let (ceremony, credential) = assertion(&app, Some(&ann.email), &mut anns).await;
    assert_problem(
        login(&app, &ceremony, &credential).await,
        401,
        "invalid_credentials",
    )
    .await;
    anns.set_counter(&id, 1_000);

    // Bo's credential answering a ceremony for Ann.
    let options = post(
        &app,
        "/auth/passkey/options",
        None,
        &json!({ "email": ann.email }),
    )
    .await;
    let options: Value = options.json().await.unwrap();
    let mut for_bo = options["publicKey"].clone();
    for_bo["allowCredentials"] = json!([]);
    let credential = bos.login(&json!({ "publicKey": for_bo }));
    let ceremony = text(&options, "ceremony_id");
    assert_problem(
        login(&app, ceremony, &credential).await,
        401,
        "invalid_credentials",
    )
    .await;

    // No user verification.
    anns.user_verified(false);
    let (ceremony, credential) = assertion(&app, Some(&ann.email), &mut anns).await;
    assert_problem(
        login(&app, &ceremony, &credential).await,
        401,
        "invalid_credentials",
    )
    .await;
    anns.user_verified(true);

    // And still fine afterwards.
    let (ceremony, credential) = assertion(&app, Some(&ann.email), &mut anns).await;
    assert_eq!(
        login(&app, &ceremony, &credential).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_address_gets_options_of_the_same_shape_every_time() {
    let app = app(Backend::Sqlite).await;
    let user = app.signup_test_user().await;
    register(&app, &user, &mut SoftAuthenticator::new(ORIGIN), "Key").await;

    let options = |email: String| {
        let app = &app;
        async move {
            let response = post(
                app,
                "/auth/passkey/options",
                None,
                &json!({ "email": email }),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let known = options(user.email.clone()).await;
    let unknown = options("nobody@example.test".into()).await;
    let again = options("nobody@example.test".into()).await;

    let keys = |value: &Value| {
        let mut keys: Vec<String> = value["publicKey"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&known), keys(&unknown), "{known}\n{unknown}");
    assert_eq!(known.get("mediation"), unknown.get("mediation"));
    let allowed = |value: &Value| {
        value["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((allowed(&known), allowed(&unknown)), (1, 1));
    assert_eq!(
        unknown["publicKey"]["allowCredentials"], again["publicKey"]["allowCredentials"],
        "the same decoy each time"
    );
    assert_ne!(
        unknown["publicKey"]["challenge"],
        again["publicKey"]["challenge"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_login_skips_the_second_step_and_tells_the_user_of_the_new_passkey() {
    // Arrange: two-factor on.
    let app = app(Backend::Sqlite).await;
    let (user, _secret, _codes) = user_with_totp(&app).await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    register(&app, &user, &mut authenticator, "Phone").await;

    // Act
    let (ceremony, credential) = assertion(&app, Some(&user.email), &mut authenticator).await;
    let signed_in = login(&app, &ceremony, &credential).await;

    // Assert: tokens at once, no mfa_token.
    assert_eq!(signed_in.status(), StatusCode::OK);
    let grant: Value = signed_in.json().await.unwrap();
    assert!(grant.get("mfa_token").is_none(), "{grant}");
    assert!(grant["access_token"].is_string());
    let mails = crate::mail::wait_for_mails(&app, 1).await;
    assert!(
        mails.iter().any(|mail| mail.contains("passkey")),
        "a passkey-added notice: {mails:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_an_ip_address_has_no_passkeys_and_says_so() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let user = app.signup_test_user().await;

    let options = post(&app, "/auth/passkey/options", None, &json!({})).await;
    let register = post(
        &app,
        "/users/me/passkeys/register/options",
        Some(&user.access_token),
        &json!({}),
    )
    .await;

    assert_problem(options, 404, "not_found").await;
    assert_problem(register, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_way_in_stays_whether_it_is_a_passkey_or_a_provider() {
    // Arrange: an account made by a provider login has no password.
    let (app, provider) = app_with_provider(Backend::Sqlite).await;
    let grant = sign_in_through_provider(&app, &provider, "noor").await;
    let token = text(&grant, "access_token").to_owned();
    let mut authenticator = SoftAuthenticator::new(PUBLIC_URL);
    let passkey = register_with(&app, &token, &mut authenticator, "Phone").await;
    let id = text(&passkey, "id").to_owned();
    let remove = |app: &TestApp| {
        app.client
            .delete(app.url(&format!("/users/me/passkeys/{id}")))
            .bearer_auth(&token)
            .send()
    };

    // Act: the provider can go while the passkey stays; then the passkey cannot.
    let unlinked = unlink(&app, &token, "op").await;
    let refused = remove(&app).await.unwrap();
    let (ceremony, credential) = assertion(&app, None, &mut authenticator).await;
    let still_signs_in = login(&app, &ceremony, &credential).await;

    // Assert
    assert_eq!(unlinked.status(), StatusCode::NO_CONTENT);
    assert_problem(refused, 409, "last_login_method").await;
    assert_eq!(still_signs_in.status(), StatusCode::OK);
}
