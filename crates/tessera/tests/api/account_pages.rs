//! The hosted account page and the second step of a hosted sign-in, over HTTP as a browser
//! with JavaScript off uses them: the session renewed on navigation, two-step set-up with the
//! recovery codes, a sign-in that asks for the code and returns to the app, devices signed out,
//! and refusals shown next to their fields.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use tessera_testkit::authenticator::SoftAuthenticator;
use tessera_testkit::totp::totp;
use tessera_testkit::{FakeGithub, FakeGithubUser};

use crate::browser::{APP, Browser};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::mail::{link_code, wait_for_mails};
use crate::mfa::now;
use crate::pages::{PASSWORD, app, csrf_of, pages_settings, signed_up};
use crate::passkeys::register_with;
use crate::social::{call_back, github_settings, param, start};

/// A browser signed in through the sign-in page as `email` (signed up first).
async fn signed_in<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    signed_up(app, email).await;
    let mut browser = Browser::new(app);
    browser.get("/ui/login").await;
    let csrf = csrf_of(&browser);
    let response = browser
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", &csrf),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/ui/account?lang=en");
    browser
}

/// Posts an account-page form with the browser's CSRF token.
async fn post(browser: &mut Browser<'_>, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = csrf_of(browser);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post_form(path, &form).await
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The text between `before` and the next `after` in `html`.
fn between<'h>(html: &'h str, before: &str, after: &str) -> &'h str {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {html}"))
        + before.len();
    let end = html[start..].find(after).unwrap() + start;
    &html[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_renews_an_expired_session_and_sends_a_stranger_to_sign_in() {
    // Arrange
    let app = app().await;
    let mut stranger = Browser::new(&app);
    let mut member = signed_in(&app, "ada@example.test").await;
    let first_access = member.cookie("tessera_at").unwrap().to_owned();

    // Act: a stranger follows the redirects; the member comes back after the access token
    // expired.
    let to_resume = stranger.get("/ui/account").await;
    let to_login = stranger.get(&location(&to_resume)).await;
    app.advance(Duration::from_secs(16 * 60));
    let expired = member.get("/ui/account").await;
    let renewed = member.get(&location(&expired)).await;
    let page = member.get(&location(&renewed)).await;

    // Assert
    assert_eq!(location(&to_resume), "/auth/resume?lang=en");
    assert_eq!(
        location(&to_login),
        format!(
            "/ui/login?lang=en&redirect_to={}",
            urlencoding(&format!("{APP}/ui/account"))
        )
    );
    assert_eq!(location(&expired), "/auth/resume?lang=en");
    assert_eq!(location(&renewed), "/ui/account?lang=en&resumed=1");
    assert_ne!(member.cookie("tessera_at").unwrap(), first_access);
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Signed in as ada@example.test."), "{html}");
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_set_up_shows_the_codes_once_and_the_next_sign_in_asks_for_a_code() {
    // Arrange
    let app = app().await;
    let mut browser = signed_in(&app, "bo@example.test").await;

    // Act: set up, a wrong code, the right one.
    let setup = post(&mut browser, "/ui/account/totp/setup", &[]).await;
    let setup_html = setup.text().await.unwrap();
    // The page escapes `/` and `&` in the attribute, as HTML allows.
    let uri = between(&setup_html, "name=\"otpauth_uri\" value=\"", "\"")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let secret = between(&setup_html, "<code>", "</code>").to_owned();
    let wrong = post(
        &mut browser,
        "/ui/account/totp/confirm",
        &[("otpauth_uri", &uri), ("code", "000000")],
    )
    .await;
    let wrong_status = wrong.status();
    let wrong_html = wrong.text().await.unwrap();
    let code = totp(&secret, now(&app));
    let confirmed = post(
        &mut browser,
        "/ui/account/totp/confirm",
        &[("otpauth_uri", &uri), ("code", &code)],
    )
    .await;
    let confirmed_html = confirmed.text().await.unwrap();

    // Act: sign in again on a new browser, for the app.
    let mut other = Browser::new(&app);
    let target = "https://app.example/app/after";
    other.get(&format!("/ui/login?redirect_to={target}")).await;
    let csrf = csrf_of(&other);
    let first = other
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", &csrf),
                ("redirect_to", target),
                ("email", "bo@example.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let first_html = first.text().await.unwrap();
    let mfa_token = between(&first_html, "name=\"mfa_token\" value=\"", "\"").to_owned();
    let refused = other
        .post_form(
            "/ui/mfa",
            &[
                ("csrf_token", &csrf),
                ("mfa_token", &mfa_token),
                ("redirect_to", target),
                ("code", "123456"),
            ],
        )
        .await;
    let refused_status = refused.status();
    let refused_html = refused.text().await.unwrap();
    let no_session_yet = other.cookie("tessera_at").is_none();
    app.advance(Duration::from_secs(30));
    let next_code = totp(&secret, now(&app));
    let second = other
        .post_form(
            "/ui/mfa",
            &[
                ("csrf_token", &csrf),
                ("mfa_token", &mfa_token),
                ("redirect_to", target),
                ("code", &next_code),
            ],
        )
        .await;

    // Assert
    assert!(
        setup_html.contains("<svg "),
        "a QR code drawn on the server"
    );
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&secret),
        "{uri}"
    );
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong_html.contains("That code does not match."),
        "{wrong_html}"
    );
    assert!(wrong_html.contains(&secret), "the same key is shown again");
    let codes = confirmed_html.matches("<li><code>").count();
    assert_eq!(codes, 10, "{confirmed_html}");
    assert!(
        first_html.contains("autocomplete=\"one-time-code\""),
        "{first_html}"
    );
    let carried = between(&first_html, "name=\"redirect_to\" value=\"", "\"");
    assert_eq!(carried.replace("&#x2f;", "/"), target);
    assert!(no_session_yet, "no session before the code");
    assert_eq!(refused_status, StatusCode::UNAUTHORIZED);
    assert!(refused_html.contains("role=\"alert\""), "{refused_html}");
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&second), target);
    assert!(other.cookie("tessera_at").is_some());
    let account = browser.get("/ui/account").await.text().await.unwrap();
    assert!(
        account.contains("New recovery codes"),
        "two-step is on: {account}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_signed_out_from_the_list_and_signing_out_this_one_leaves_the_page() {
    // Arrange
    let app = app().await;
    let mut browser = signed_in(&app, "cy@example.test").await;
    let phone = app
        .post_login(
            &json!({"email": "cy@example.test", "password": PASSWORD, "device_name": "Cy's phone"}),
        )
        .await;
    let phone: serde_json::Value = phone.json().await.unwrap();
    let phone_token = phone["access_token"].as_str().unwrap().to_owned();
    let phone_session = phone["session_id"].as_str().unwrap().to_owned();

    // Act
    let page = browser.get("/ui/account").await.text().await.unwrap();
    let ended = post(
        &mut browser,
        "/ui/account/sessions/end",
        &[("session_id", &phone_session)],
    )
    .await;
    let after = browser.get(&location(&ended)).await.text().await.unwrap();
    app.advance(Duration::from_secs(1));
    let phone_after = app.get_me(&phone_token).await;
    let own = between(&after, "name=\"session_id\" value=\"", "\"").to_owned();
    let left = post(
        &mut browser,
        "/ui/account/sessions/end",
        &[("session_id", &own)],
    )
    .await;

    // Assert
    assert!(
        page.contains("Cy&#x27;s phone") || page.contains("Cy's phone"),
        "{page}"
    );
    assert!(page.contains("this device"));
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(after.contains("That device is signed out."), "{after}");
    assert!(!after.contains("phone"), "{after}");
    assert_eq!(phone_after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(left.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&left).starts_with("/ui/login?"),
        "{}",
        location(&left)
    );
    assert!(browser.cookie("tessera_at").is_none(), "cookies removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_forms_show_refusals_next_to_their_fields_and_change_nothing() {
    // Arrange
    let app = app().await;
    let mut browser = signed_in(&app, "di@example.test").await;

    // Act
    let wrong = post(
        &mut browser,
        "/ui/account/password",
        &[
            ("current_password", "not my password"),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await;
    let wrong_status = wrong.status();
    let wrong_html = wrong.text().await.unwrap();
    let weak = post(
        &mut browser,
        "/ui/account/password",
        &[("current_password", PASSWORD), ("new_password", "short")],
    )
    .await;
    let weak_status = weak.status();
    let weak_html = weak.text().await.unwrap();
    let email_refused = post(
        &mut browser,
        "/ui/account/email",
        &[
            ("new_email", "di.new@example.test"),
            ("password", "not my password"),
        ],
    )
    .await;
    let email_status = email_refused.status();
    let email_html = email_refused.text().await.unwrap();
    let old_still_works = app
        .post_login(&json!({"email": "di@example.test", "password": PASSWORD}))
        .await;
    let renamed = post(&mut browser, "/ui/account/profile", &[("name", "Di Ng")]).await;
    let renamed_page = browser.get(&location(&renamed)).await.text().await.unwrap();
    let changed = post(
        &mut browser,
        "/ui/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await;
    let forged = app
        .client
        .post(app.url("/ui/account/profile"))
        .header(
            "cookie",
            format!("tessera_at={}", browser.cookie("tessera_at").unwrap()),
        )
        .form(&[("name", "Mallory")])
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong_html.contains("id=\"current_password-error\""),
        "{wrong_html}"
    );
    assert!(wrong_html.contains("That password is not right."));
    assert_eq!(weak_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak_html.contains("id=\"new_password-error\""),
        "{weak_html}"
    );
    assert_eq!(email_status, StatusCode::UNAUTHORIZED);
    assert!(
        email_html.contains("id=\"email_password-error\""),
        "{email_html}"
    );
    assert!(
        email_html.contains("value=\"di.new@example.test\""),
        "the address is kept"
    );
    assert_eq!(old_still_works.status(), StatusCode::OK);
    assert!(renamed_page.contains("Profile saved."), "{renamed_page}");
    assert!(renamed_page.contains("value=\"Di Ng\""));
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert!(location(&changed).contains("done=password"));
    let new = app
        .post_login(&json!({"email": "di@example.test", "password": "a brand new passphrase"}))
        .await;
    assert_eq!(new.status(), StatusCode::OK);
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let me: serde_json::Value = app
        .get_me(browser.cookie("tessera_at").unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "Di Ng");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_sign_up_mails_the_verification_and_sign_in_offers_a_magic_link() {
    // Arrange
    let app = app().await;
    let mut browser = Browser::new(&app);
    browser.get("/ui/signup").await;
    let csrf = csrf_of(&browser);

    // Act: sign up, follow the verification link; then ask for a sign-in link.
    let created = browser
        .post_form(
            "/ui/signup",
            &[
                ("csrf_token", &csrf),
                ("email", "eve@example.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let verification = wait_for_mails(&app, 1).await.remove(0);
    let code = link_code(&verification, "verify");
    browser.get(&format!("/ui/verify?token={code}")).await;
    let csrf = csrf_of(&browser);
    let confirmed = browser
        .post_form("/ui/verify", &[("csrf_token", &csrf), ("token", &code)])
        .await;
    let confirmed_html = confirmed.text().await.unwrap();
    let account = browser.get("/ui/account").await.text().await.unwrap();
    let mut stranger = Browser::new(&app);
    stranger.get("/ui/login").await;
    let csrf = csrf_of(&stranger);
    let asked = stranger
        .post_form(
            "/ui/magic-link",
            &[
                ("csrf_token", &csrf),
                ("email", "eve@example.test"),
                ("password", ""),
            ],
        )
        .await;
    let asked_status = asked.status();
    let asked_html = asked.text().await.unwrap();
    let malformed = stranger
        .post_form("/ui/magic-link", &[("csrf_token", &csrf), ("email", "eve")])
        .await;
    let magic = wait_for_mails(&app, 2).await.remove(1);

    // Assert
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert!(
        confirmed_html.contains("eve@example.test is confirmed."),
        "{confirmed_html}"
    );
    assert!(account.contains(">verified<"), "{account}");
    assert!(!account.contains("Send a verification link"));
    assert_eq!(asked_status, StatusCode::ACCEPTED);
    assert!(
        asked_html.contains("a sign-in link is on its way"),
        "{asked_html}"
    );
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        malformed
            .text()
            .await
            .unwrap()
            .contains("like name@example.com")
    );
    assert!(magic.contains("/ui/magic?token="), "{magic}");
}

/// Asks for a sign-in link for `email` as `browser`, on the sign-in page opened with
/// `redirect_to` (none when empty): the answer, and the mail that brings the link.
async fn ask_for_sign_in_link(
    app: &TestApp,
    browser: &mut Browser<'_>,
    email: &str,
    redirect_to: &str,
) -> (reqwest::Response, String) {
    browser
        .get(&format!("/ui/login?redirect_to={redirect_to}"))
        .await;
    let csrf = csrf_of(browser);
    let asked = browser
        .post_form(
            "/ui/magic-link",
            &[
                ("csrf_token", &csrf),
                ("redirect_to", redirect_to),
                ("email", email),
            ],
        )
        .await;
    (asked, wait_for_mails(app, 1).await.remove(0))
}

/// Opens the sign-in link of `mail` as `browser` and signs in with it.
async fn follow_sign_in_link(browser: &mut Browser<'_>, mail: &str) -> reqwest::Response {
    let code = link_code(mail, "magic");
    browser.get(&format!("/ui/magic?token={code}")).await;
    let csrf = csrf_of(browser);
    browser
        .post_form("/ui/magic", &[("csrf_token", &csrf), ("token", &code)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_asked_for_an_app_signs_in_and_returns_to_that_app() {
    // Arrange: a sign-in link asked for on the sign-in page an app sent the browser to.
    let app = app().await;
    signed_up(&app, "flo@example.test").await;
    let target = "https://app.example/app/inbox";
    let mut asking = Browser::new(&app);
    let (asked, mail) = ask_for_sign_in_link(&app, &mut asking, "flo@example.test", target).await;

    // Act: the mail opened in another browser.
    let mut reading = Browser::new(&app);
    let signed = follow_sign_in_link(&mut reading, &mail).await;

    // Assert
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    assert!(
        !mail.contains("app/inbox"),
        "the target is kept with the code, not in the link"
    );
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), target);
    assert!(reading.cookie("tessera_at").is_some(), "signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_asked_for_without_an_app_lands_on_the_account_page() {
    // Arrange
    let app = app().await;
    signed_up(&app, "gus@example.test").await;
    let mut browser = Browser::new(&app);
    let (_, mail) = ask_for_sign_in_link(&app, &mut browser, "gus@example.test", "").await;

    // Act
    let signed = follow_sign_in_link(&mut browser, &mail).await;

    // Assert
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), "/ui/account?lang=en");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_renamed_on_the_account_page_and_a_bad_name_changes_nothing() {
    // Arrange: a signed-in browser whose account has a passkey, and another account's passkey.
    let app = app().await;
    let mut browser = signed_in(&app, "pia@example.test").await;
    let token = browser.cookie("tessera_at").unwrap().to_owned();
    let mut authenticator = SoftAuthenticator::new(APP);
    let mine = register_with(&app, &token, &mut authenticator, "Chrome on Linux").await;
    let mine = mine["id"].as_str().unwrap();
    let other = app.signup_test_user().await;
    let theirs = register_with(&app, &other.access_token, &mut authenticator, "Theirs").await;
    let theirs = theirs["id"].as_str().unwrap();
    let rename = "/ui/account/passkeys/rename";

    // Act
    let page = browser.get("/ui/account").await.text().await.unwrap();
    let blank = post(
        &mut browser,
        rename,
        &[("passkey_id", mine), ("name", "  ")],
    )
    .await;
    let blank_status = blank.status();
    let blank_html = blank.text().await.unwrap();
    let foreign = post(
        &mut browser,
        rename,
        &[("passkey_id", theirs), ("name", "Mine")],
    )
    .await;
    let renamed = post(
        &mut browser,
        rename,
        &[("passkey_id", mine), ("name", " Work laptop ")],
    )
    .await;
    let back = browser.get(&location(&renamed)).await.text().await.unwrap();
    let passkeys = |token: String| {
        let app = &app;
        async move {
            let listed = app
                .client
                .get(app.url("/users/me/passkeys"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            listed.json::<Value>().await.unwrap()
        }
    };
    let (listed, their_list) = (passkeys(token).await, passkeys(other.access_token).await);

    // Assert: the form is there, with the name to edit.
    assert!(
        page.contains(r#"action="/ui/account/passkeys/rename""#),
        "{page}"
    );
    assert!(page.contains(r#"value="Chrome on Linux""#), "{page}");
    assert_eq!(blank_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank_html.contains("name is 1 to 64 characters"),
        "{blank_html}"
    );
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert!(location(&renamed).contains("done=passkey_renamed"));
    assert!(back.contains("Passkey renamed."), "{back}");
    assert!(back.contains("<strong>Work laptop</strong>"), "{back}");
    assert_eq!(listed[0]["name"], "Work laptop", "trimmed, renamed once");
    assert_eq!(
        their_list[0]["name"], "Theirs",
        "another account's passkey is untouched"
    );
}

/// A browser signed in on the sign-in page's provider button, through a GitHub-shaped provider
/// that authorizes at once: an account with no password.
async fn signed_in_through_github<'a>(app: &'a TestApp) -> Browser<'a> {
    let landing = format!("{APP}/ui/social?lang=en");
    let query = format!("redirect_to={}", urlencoding(&landing));
    let started = start(app, "gh", &query, None).await;
    let at_provider = app.client.get(&started.authorize_url).send().await.unwrap();
    let callback = url::Url::parse(at_provider.headers()[LOCATION].to_str().unwrap()).unwrap();
    let back = call_back(app, &callback, Some(&started.binding)).await;
    let back = url::Url::parse(back.headers()[LOCATION].to_str().unwrap()).unwrap();
    let code = param(&back, "login_code").unwrap_or_else(|| panic!("a login code: {back}"));
    let mut browser = Browser::new(app);
    browser.get(&back[url::Position::BeforePath..]).await;
    let signed = post(&mut browser, "/ui/social", &[("login_code", &code)]).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), "/ui/account?lang=en");
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_a_password_gets_one_through_a_mailed_link() {
    // Arrange: an account made by a provider login, signed in on the pages.
    let github = FakeGithub::start().await;
    github.set_user(FakeGithubUser::new(77, "hal"));
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        pages_settings(settings);
        let provider = github_settings(&github);
        settings.oauth.providers.insert("gh".into(), provider);
    })
    .await;
    let mut browser = signed_in_through_github(&app).await;

    // Act: ask for the link on the account page, follow it, choose a password.
    let before = browser.get("/ui/account").await.text().await.unwrap();
    let asked = post(&mut browser, "/ui/account/password/link", &[]).await;
    let notice = browser.get(&location(&asked)).await.text().await.unwrap();
    let mail = wait_for_mails(&app, 1).await.remove(0);
    let code = link_code(&mail, "reset");
    let mut reading = Browser::new(&app);
    reading.get(&format!("/ui/reset?token={code}")).await;
    let chosen = post(
        &mut reading,
        "/ui/reset",
        &[
            ("token", &code),
            ("new_password", "a password of hal's own"),
        ],
    )
    .await;
    let login = app
        .post_login(&json!({"email": "hal@example.test", "password": "a password of hal's own"}))
        .await;

    // Assert: no form asks for a password the account does not have; the link sets one.
    assert!(!before.contains(r#"name="current_password""#), "{before}");
    assert!(
        !before.contains(r#"action="/ui/account/email""#),
        "{before}"
    );
    assert!(
        before.contains(r#"action="/ui/account/password/link""#),
        "{before}"
    );
    assert!(before.contains("set one first"), "{before}");
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    assert!(
        notice.contains("A link to choose your password is on its way"),
        "{notice}"
    );
    assert!(mail.contains("To: hal@example.test"), "{mail}");
    assert_eq!(chosen.status(), StatusCode::OK);
    assert_eq!(login.status(), StatusCode::OK);
}
