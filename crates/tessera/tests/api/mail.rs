//! Email verification and password reset through the default file transport (`.eml` files in
//! `data_dir/mail/`): the links, their single use, scanners that fetch links, the reset's
//! effect on sessions, the answers for unknown addresses, and the mail limit.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::browser::Browser;
use tessera_testkit::totp::totp;

use crate::helpers::{
    Backend, TestApp, assert_problem, eventually, jwt_claims, spawn_app, spawn_app_with, text,
};
use crate::mfa::{now, user_with_totp};

both_backends!(
    a_verification_link_confirms_the_email_once_and_survives_a_scanner,
    a_reset_link_sets_a_new_password_and_signs_out_every_device,
    a_weak_new_password_does_not_spend_the_reset_link,
    a_reset_link_expires_after_thirty_minutes,
    forgot_answers_the_same_for_unknown_addresses_and_mails_nobody,
    mails_to_one_address_are_limited,
    the_reset_page_asks_for_a_click_and_works_without_script,
    a_password_change_is_told_to_the_user_by_mail_without_the_password,
    notices_not_in_mail_notify_are_not_sent,
    a_magic_link_signs_in_once_and_survives_a_scanner,
    a_magic_link_leads_to_the_second_step_when_two_factor_is_on,
    a_magic_link_expires_after_fifteen_minutes_and_unknown_addresses_get_none,
    the_magic_link_page_signs_in_with_cookies_after_a_click,
    an_email_change_is_confirmed_from_the_new_address_and_told_to_the_old,
    an_email_change_needs_the_password_and_a_free_address,
    a_login_from_a_new_device_is_told_once,
    a_reused_refresh_token_is_told,
    mails_speak_the_language_the_request_asked_for,
    forgot_and_magic_links_take_the_same_time_for_unknown_addresses,
);

/// The `.eml` files written so far, oldest first.
fn mails(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("mail")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| std::fs::read_to_string(path).unwrap())
        // A file still being written is not a mail yet: a whole one ends with its closing
        // MIME boundary.
        .filter(|eml| eml.trim_end().ends_with("--"))
        .collect()
}

/// Waits for the `count`-th mail; all of them.
pub async fn wait_for_mails(app: &TestApp, count: usize) -> Vec<String> {
    eventually(Duration::from_secs(10), "the mail is written", || async {
        let mails = mails(app.data_dir.path());
        (mails.len() >= count).then_some(mails)
    })
    .await
}

/// The code of the `/ui/{page}?token=` link in `eml` (quoted-printable undone).
pub fn link_code(eml: &str, page: &str) -> String {
    let decoded = eml
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let marker = format!("/ui/{page}?token=");
    let start = decoded
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} link in {decoded}"))
        + marker.len();
    decoded[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

pub async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/auth/password/forgot", &json!({ "email": email }))
        .await
}

pub async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/password/reset",
        &json!({ "token": token, "new_password": password }),
    )
    .await
}

async fn a_verification_link_confirms_the_email_once_and_survives_a_scanner(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let request = app
        .client
        .post(app.url("/auth/email/verify/request"))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), StatusCode::ACCEPTED);
    let mail = wait_for_mails(&app, 1).await.remove(0);
    assert!(mail.contains(&format!("To: {}", user.email)), "{mail}");
    assert!(
        mail.contains("text/html") && mail.contains("text/plain"),
        "{mail}"
    );
    let code = link_code(&mail, "verify");

    // Act: a mail scanner fetches the link, then the person clicks.
    let page = format!("/ui/verify?token={code}");
    let head = app.client.head(app.url(&page)).send().await.unwrap();
    let get = app.client.get(app.url(&page)).send().await.unwrap();
    let confirmed = app
        .post_json("/auth/email/verify/confirm", &json!({ "token": code }))
        .await;
    let again = app
        .post_json("/auth/email/verify/confirm", &json!({ "token": code }))
        .await;

    // Assert
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["email_verified"], true, "{confirmed}");
    assert_problem(again, 400, "code_invalid").await;
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
}

async fn a_reset_link_sets_a_new_password_and_signs_out_every_device(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other_device = app.login_again(&user).await;
    assert_eq!(
        forgot(&app, &user.email.to_uppercase()).await.status(),
        StatusCode::ACCEPTED
    );
    let code = link_code(&wait_for_mails(&app, 1).await[0], "reset");

    // Act
    let done = reset(&app, &code, "an entirely new passphrase").await;

    // Assert
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    let refused = app
        .post_refresh(&json!({ "refresh_token": other_device["refresh_token"] }))
        .await;
    assert_problem(refused, 401, "refresh_invalid").await;
    assert_problem(app.get_me(&user.access_token).await, 401, "token_revoked").await;
    let old = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(old, 401, "invalid_credentials").await;
    let new = app
        .post_login(&json!({ "email": user.email, "password": "an entirely new passphrase" }))
        .await;
    assert_eq!(new.status(), StatusCode::OK);
    assert_problem(
        reset(&app, &code, "yet another passphrase").await,
        400,
        "code_invalid",
    )
    .await;
}

async fn a_weak_new_password_does_not_spend_the_reset_link(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    forgot(&app, &user.email).await;
    let code = link_code(&wait_for_mails(&app, 1).await[0], "reset");

    // Act
    let weak = reset(&app, &code, "password").await;
    let strong = reset(&app, &code, "an entirely new passphrase").await;

    // Assert
    assert_problem(weak, 422, "weak_password").await;
    assert_eq!(strong.status(), StatusCode::NO_CONTENT);
}

async fn a_reset_link_expires_after_thirty_minutes(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    forgot(&app, &user.email).await;
    let code = link_code(&wait_for_mails(&app, 1).await[0], "reset");

    // Act
    app.advance(Duration::from_secs(30 * 60 + 1));
    let late = reset(&app, &code, "an entirely new passphrase").await;

    // Assert
    assert_problem(late, 400, "code_invalid").await;
    assert_problem(
        reset(&app, "made-up", "an entirely new passphrase").await,
        400,
        "code_invalid",
    )
    .await;
}

async fn forgot_answers_the_same_for_unknown_addresses_and_mails_nobody(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    let unknown = forgot(&app, "nobody-here@example.com").await;
    let known = forgot(&app, &user.email).await;

    // Assert: the same status and body; one mail, to the account.
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap());
    let written = wait_for_mails(&app, 1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let written_later = mails(app.data_dir.path());
    assert_eq!(
        written_later.len(),
        1,
        "only the account's address gets a mail"
    );
    assert!(written[0].contains(&format!("To: {}", user.email)));
    assert_problem(
        forgot(&app, "not an address").await,
        422,
        "validation_error",
    )
    .await;
}

async fn mails_to_one_address_are_limited(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    for _ in 0..5 {
        assert_eq!(
            forgot(&app, "someone@example.com").await.status(),
            StatusCode::ACCEPTED
        );
    }

    // Act
    let refused = forgot(&app, "Someone@example.com").await;

    // Assert
    assert_eq!(
        refused.headers()["ratelimit-policy"],
        r#""forgot_email";q=5;w=3600"#
    );
    assert_problem(refused, 429, "rate_limited").await;
    assert_eq!(
        forgot(&app, "someone-else@example.com").await.status(),
        StatusCode::ACCEPTED
    );
}

async fn the_reset_page_asks_for_a_click_and_works_without_script(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    forgot(&app, &user.email).await;
    let code = link_code(&wait_for_mails(&app, 1).await[0], "reset");

    let mut browser = page_browser(&app);

    // Act
    let page = browser.get(&format!("/ui/reset?token={code}")).await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let referrer = page.headers()["referrer-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let csrf = browser.cookie("tessera_csrf").unwrap().to_owned();
    let forged = app
        .client
        .post(app.url("/ui/reset"))
        .form(&[
            ("token", code.as_str()),
            ("new_password", "a forged new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    let weak = browser
        .post_form(
            "/ui/reset",
            &[
                ("csrf_token", &csrf),
                ("token", &code),
                ("new_password", "password"),
            ],
        )
        .await;
    let weak_html = weak.text().await.unwrap();
    let new_password = [
        ("csrf_token", csrf.as_str()),
        ("token", code.as_str()),
        ("new_password", "an entirely new passphrase"),
    ];
    let done = browser.post_form("/ui/reset", &new_password).await;
    let done_status = done.status();
    let done_html = done.text().await.unwrap();
    // The reset signed every device out, this one too: its cookies are gone.
    let signed_out = browser.cookie("tessera_csrf").is_none();
    browser.get(&format!("/ui/reset?token={code}")).await;
    let csrf = browser.cookie("tessera_csrf").unwrap().to_owned();
    let again = [
        ("csrf_token", csrf.as_str()),
        ("token", code.as_str()),
        ("new_password", "yet another new passphrase"),
    ];
    let used = browser.post_form("/ui/reset", &again).await;

    // Assert
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(referrer, "no-referrer");
    assert!(html.contains("autocomplete=\"new-password\""), "{html}");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert!(!html.contains("<script"), "{html}");
    assert!(weak_html.contains("role=\"alert\""), "{weak_html}");
    assert_eq!(done_status, StatusCode::OK);
    assert!(done_html.contains("Password changed"), "{done_html}");
    assert!(signed_out);
    assert_eq!(used.status(), StatusCode::BAD_REQUEST);
    let new = app
        .post_login(&json!({ "email": user.email, "password": "an entirely new passphrase" }))
        .await;
    assert_eq!(new.status(), StatusCode::OK);
}

async fn change_password(app: &TestApp, token: &str, current: &str) {
    let response = app
        .post_password(
            token,
            &json!({ "current_password": current, "new_password": "an entirely new passphrase" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

async fn a_password_change_is_told_to_the_user_by_mail_without_the_password(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act
    change_password(&app, &user.access_token, &user.password).await;

    // Assert
    let notice = wait_for_mails(&app, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    assert!(notice.contains("password was changed"), "{notice}");
    assert!(!notice.contains(&user.password), "{notice}");
    assert!(!notice.contains("an entirely new passphrase"), "{notice}");
    assert!(!notice.contains("token="), "{notice}");
}

async fn notices_not_in_mail_notify_are_not_sent(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| s.mail.notify = vec!["mfa_disabled".into()]).await;
    let user = app.signup_test_user().await;

    // Act
    change_password(&app, &user.access_token, &user.password).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    // Assert
    assert!(mails(app.data_dir.path()).is_empty());
}

async fn magic_link(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/auth/magic-link", &json!({ "email": email }))
        .await
}

async fn magic_verify(app: &TestApp, code: &str) -> reqwest::Response {
    app.post_json("/auth/magic-link/verify", &json!({ "token": code }))
        .await
}

async fn a_magic_link_signs_in_once_and_survives_a_scanner(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    assert_eq!(
        magic_link(&app, &user.email).await.status(),
        StatusCode::ACCEPTED
    );
    let mail = wait_for_mails(&app, 1).await.remove(0);
    let code = link_code(&mail, "magic");

    // Act
    let page = format!("/ui/magic?token={code}");
    let head = app.client.head(app.url(&page)).send().await.unwrap();
    let get = app.client.get(app.url(&page)).send().await.unwrap();
    let signed_in = magic_verify(&app, &code).await;
    let again = magic_verify(&app, &code).await;

    // Assert
    assert_eq!(
        (head.status(), get.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(signed_in.status(), StatusCode::OK);
    let grant: Value = signed_in.json().await.unwrap();
    assert_eq!(
        jwt_claims(text(&grant, "access_token"))["amr"],
        json!(["email"])
    );
    assert_problem(again, 400, "code_invalid").await;
}

async fn a_magic_link_leads_to_the_second_step_when_two_factor_is_on(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let (user, secret, _) = user_with_totp(&app).await;
    magic_link(&app, &user.email).await;
    let code = link_code(&wait_for_mails(&app, 1).await[0], "magic");

    // Act
    let first: Value = magic_verify(&app, &code).await.json().await.unwrap();
    let second = app
        .post_json(
            "/auth/login/mfa",
            &json!({ "mfa_token": text(&first, "mfa_token"), "code": totp(&secret, now(&app)) }),
        )
        .await;

    // Assert
    assert_eq!(first["mfa_required"], true, "{first}");
    assert!(first.get("access_token").is_none());
    let grant: Value = second.json().await.unwrap();
    let amr = jwt_claims(text(&grant, "access_token"))["amr"].clone();
    assert_eq!(amr, json!(["otp", "email", "mfa"]), "{amr}");
}

async fn a_magic_link_expires_after_fifteen_minutes_and_unknown_addresses_get_none(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    assert_eq!(
        magic_link(&app, "nobody-here@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    magic_link(&app, &user.email).await;
    let mails = wait_for_mails(&app, 1).await;
    let code = link_code(&mails[0], "magic");

    // Act
    app.advance(Duration::from_secs(15 * 60 + 1));
    let late = magic_verify(&app, &code).await;

    // Assert
    assert_problem(late, 400, "code_invalid").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains(&format!("To: {}", user.email)));
}

async fn the_magic_link_page_signs_in_with_cookies_after_a_click(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    magic_link(&app, &user.email).await;
    let code = link_code(&wait_for_mails(&app, 1).await[0], "magic");

    let mut browser = page_browser(&app);
    browser.get(&format!("/ui/magic?token={code}")).await;
    let csrf = browser.cookie("tessera_csrf").unwrap().to_owned();

    // Act
    let clicked = browser
        .post_form("/ui/magic", &[("csrf_token", &csrf), ("token", &code)])
        .await;
    let account = browser
        .get(clicked.headers()["location"].to_str().unwrap())
        .await;

    // Assert
    assert_eq!(clicked.status(), StatusCode::SEE_OTHER);
    assert_eq!(clicked.headers()["location"], "/ui/account?lang=en");
    let cookies: Vec<String> = clicked
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        cookies,
        vec!["__Host-tessera_at", "__Secure-tessera_rt", "tessera_csrf"]
    );
    assert_eq!(account.status(), StatusCode::OK);
    let html = account.text().await.unwrap();
    assert!(html.contains(&user.email), "{html}");
    assert!(!html.contains(&code), "the page does not repeat the code");
}

/// A browser on this server's own pages: their forms post from the same origin.
fn page_browser(app: &TestApp) -> Browser<'_> {
    let mut browser = Browser::new(app);
    browser.origin = None;
    browser.fetch_site = Some("same-origin");
    browser
}

async fn request_change(
    app: &TestApp,
    token: &str,
    new_email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/users/me/email"))
        .bearer_auth(token)
        .json(&json!({ "new_email": new_email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn an_email_change_is_confirmed_from_the_new_address_and_told_to_the_old(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let new_email = format!("moved-{}", user.email);
    let asked = request_change(&app, &user.access_token, &new_email, &user.password).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let link = wait_for_mails(&app, 1).await.remove(0);
    assert!(link.contains(&format!("To: {new_email}")), "{link}");
    let code = link_code(&link, "email-change");
    // Nothing changes before the link is followed.
    let me: Value = app.get_me(&user.access_token).await.json().await.unwrap();
    assert_eq!(me["email"], user.email.as_str());

    // Act
    let scanned = app.get(&format!("/ui/email-change?token={code}")).await;
    let confirmed = app
        .post_json("/auth/email/change/confirm", &json!({ "token": code }))
        .await;

    // Assert
    assert_eq!(scanned.status(), StatusCode::OK);
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["email"], new_email.as_str());
    assert_eq!(confirmed["email_verified"], true);
    let old = app
        .post_login(&json!({ "email": user.email, "password": user.password }))
        .await;
    assert_problem(old, 401, "invalid_credentials").await;
    let new = app
        .post_login(&json!({ "email": new_email, "password": user.password }))
        .await;
    assert_eq!(new.status(), StatusCode::OK);
    let notice = wait_for_mails(&app, 2).await.remove(1);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    assert!(notice.contains("email was changed"), "{notice}");
    let again = app
        .post_json("/auth/email/change/confirm", &json!({ "token": code }))
        .await;
    assert_problem(again, 400, "code_invalid").await;
}

async fn an_email_change_needs_the_password_and_a_free_address(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let other = app.signup_test_user().await;

    // Act
    let wrong = request_change(
        &app,
        &user.access_token,
        "free@example.com",
        "not the password",
    )
    .await;
    let taken = request_change(&app, &user.access_token, &other.email, &user.password).await;
    let malformed = request_change(&app, &user.access_token, "nope", &user.password).await;

    // Assert
    assert_problem(wrong, 401, "invalid_credentials").await;
    assert_problem(taken, 409, "email_taken").await;
    assert_problem(malformed, 422, "validation_error").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(mails(app.data_dir.path()).is_empty());
}

async fn login_as(app: &TestApp, email: &str, password: &str, agent: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/login"))
        .header("user-agent", agent)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn a_login_from_a_new_device_is_told_once(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;

    // Act: a phone twice, then a laptop.
    for agent in ["Phone A", "Phone A", "Laptop B"] {
        let response = login_as(&app, &user.email, &user.password, agent).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Assert: two notices, the phone's and the laptop's.
    let notices = wait_for_mails(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(mails(app.data_dir.path()).len(), 2);
    assert!(
        notices.iter().all(|n| n.contains("New sign-in")),
        "{notices:?}"
    );
}

async fn a_reused_refresh_token_is_told(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    app.refresh(&user.refresh_token).await;
    app.advance(Duration::from_secs(11));

    // Act
    let reused = app
        .post_refresh(&json!({ "refresh_token": user.refresh_token }))
        .await;

    // Assert
    assert_problem(reused, 401, "refresh_reused").await;
    let notice = wait_for_mails(&app, 1).await.remove(0);
    assert!(notice.contains(&format!("To: {}", user.email)), "{notice}");
    assert!(notice.contains("session was ended"), "{notice}");
    assert!(!notice.contains(&user.refresh_token), "{notice}");
}

async fn mails_speak_the_language_the_request_asked_for(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, |s| s.ui.default_locale = "en".into()).await;
    let korean = app.signup_test_user().await;
    let english = app.signup_test_user().await;

    // Act
    let asked = app
        .client
        .post(app.url("/auth/password/forgot"))
        .header("accept-language", "ko-KR,ko;q=0.9,en;q=0.8")
        .json(&json!({ "email": korean.email }))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let first = wait_for_mails(&app, 1).await.remove(0);
    forgot(&app, &english.email).await;
    let second = wait_for_mails(&app, 2).await.remove(1);

    // Assert
    assert!(first.contains(&format!("To: {}", korean.email)), "{first}");
    assert_eq!(subject(&first), "Tessera 비밀번호 재설정");
    assert_eq!(subject(&second), "Reset your Tessera password");
}

/// The `Subject` of `eml`, its RFC 2047 base64 words decoded.
fn subject(eml: &str) -> String {
    use base64::Engine;
    let line = eml
        .lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .expect("a subject");
    line.split(' ')
        .map(|word| {
            match word
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
            {
                Some(encoded) => String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .unwrap(),
                )
                .unwrap(),
                None => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn forgot_and_magic_links_take_the_same_time_for_unknown_addresses(backend: Backend) {
    // Arrange: ten accounts and ten addresses without one (each address is asked for once per
    // endpoint, well inside its mail limit).
    let app = spawn_app(backend).await;
    let mut known = Vec::new();
    for _ in 0..10 {
        known.push(app.signup_test_user().await.email);
    }
    let unknown: Vec<String> = (0..10)
        .map(|n| format!("nobody-{n}-{:08x}@example.com", rand::random::<u32>()))
        .collect();

    // Act: alternating, so drift affects both sides alike.
    let mut times = (Vec::new(), Vec::new());
    for path in ["/auth/password/forgot", "/auth/magic-link"] {
        for (known, unknown) in known.iter().zip(&unknown) {
            for (email, into) in [(known, &mut times.0), (unknown, &mut times.1)] {
                let started = std::time::Instant::now();
                let response = app.post_json(path, &json!({ "email": email })).await;
                into.push(started.elapsed());
                assert_eq!(response.status(), StatusCode::ACCEPTED);
            }
        }
    }

    // Assert: the request does the same steps either way (the worker looks the address up),
    // so the medians differ by noise only.
    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (known, unknown) = (median(&mut times.0), median(&mut times.1));
    let gap = known.abs_diff(unknown);
    assert!(
        gap < Duration::from_millis(20),
        "known {known:?} against unknown {unknown:?}"
    );
}
