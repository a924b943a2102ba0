//! The hosted sign-in, sign-up and sign-out pages over HTTP, as a browser with JavaScript off
//! uses them: forms with a hidden CSRF token, post/redirect/get, the cookie-mode cookies, the
//! allow-list of `redirect_to`, the languages, the strict policy, a template override and the
//! themed stylesheet.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use serde_json::json;
use tessera::config::Settings;

use crate::browser::{APP, Browser};
use crate::helpers::{Backend, TestApp, spawn_app_with};

pub const PASSWORD: &str = "correct horse battery";

pub async fn app() -> TestApp {
    spawn_app_with(Backend::Sqlite, pages_settings).await
}

/// The settings of [`app`]: plain-http cookies, the pages at [`APP`], a theme.
pub fn pages_settings(settings: &mut Settings) {
    settings.cookies.dev_insecure = true;
    settings.public_url = APP.into();
    settings.oauth.redirect_allowlist = vec!["https://app.example/app".into()];
    settings.ui.product_name = "Acme".into();
    settings.ui.accent_color = "#0a7d4f".into();
}

/// The CSRF token the pages gave `browser` (its cookie, which the forms carry).
pub fn csrf_of(browser: &Browser) -> String {
    browser
        .cookie("tessera_csrf")
        .expect("a CSRF cookie")
        .to_owned()
}

pub async fn signed_up(app: &TestApp, email: &str) {
    let response = app
        .post_signup(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_is_a_plain_form_under_a_strict_policy() {
    let app = app().await;
    let response = app.client.get(app.url("/ui/login")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(part), "{policy}");
    }
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe"));
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert!(
        response.headers().get(SET_COOKIE).is_some(),
        "a CSRF cookie"
    );
    let html = response.text().await.unwrap();
    for needle in [
        "<html lang=\"en\">",
        "<form method=\"post\" action=\"/ui/login\"",
        "name=\"csrf_token\"",
        "autocomplete=\"current-password\"",
        "<label for=\"email\">",
        "Sign in to Acme.",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    // One script, a file of this server (passkeys; the form works without it), nothing inline.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(
        html.contains("<script src=\"/ui/assets/passkeys."),
        "{html}"
    );
    assert!(html.contains("autocomplete=\"username webauthn\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_password_sets_the_cookies_and_goes_back_to_the_app() {
    // Arrange
    let app = app().await;
    signed_up(&app, "nina@example.test").await;
    let mut browser = Browser::new(&app);
    browser
        .get("/ui/login?redirect_to=https://app.example/app/home")
        .await;

    // Act
    let csrf = csrf_of(&browser);
    let response = browser
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", &csrf),
                ("redirect_to", "https://app.example/app/home"),
                ("email", "nina@example.test"),
                ("password", PASSWORD),
            ],
        )
        .await;

    // Assert: post/redirect/get, signed in by cookie.
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "https://app.example/app/home");
    let access = browser
        .cookie("tessera_at")
        .expect("the access cookie")
        .to_owned();
    assert_eq!(app.get_me(&access).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_shows_the_form_again_with_the_message_and_no_session() {
    let app = app().await;
    signed_up(&app, "omar@example.test").await;
    let mut browser = Browser::new(&app);
    browser.get("/ui/login").await;
    let csrf = csrf_of(&browser);

    let response = browser
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", &csrf),
                ("email", "omar@example.test"),
                ("password", "wrong password"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("That email and password do not match an account."));
    assert!(
        html.contains("value=\"omar@example.test\""),
        "the email is kept"
    );
    assert!(browser.cookie("tessera_at").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_right_csrf_token_or_from_another_site_is_refused() {
    let app = app().await;
    signed_up(&app, "pia@example.test").await;
    let mut browser = Browser::new(&app);
    browser.get("/ui/login").await;
    let csrf = csrf_of(&browser);
    let login = [("email", "pia@example.test"), ("password", PASSWORD)];

    let wrong = browser
        .post_form(
            "/ui/login",
            &[&[("csrf_token", "forged")][..], &login].concat(),
        )
        .await;
    browser.fetch_site = Some("cross-site");
    let cross_site = browser
        .post_form(
            "/ui/login",
            &[&[("csrf_token", csrf.as_str())][..], &login].concat(),
        )
        .await;

    for response in [wrong, cross_site] {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("This form has expired.")
        );
    }
    assert!(browser.cookie("tessera_at").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_outside_the_allow_list_is_refused() {
    let app = app().await;
    for target in [
        "https://evil.test/app",
        "https://app.example.evil.test/app",
        "//evil.test",
    ] {
        let query = tessera_ui::encode_query(&[("redirect_to", target)]);
        let response = app
            .client
            .get(app.url(&format!("/ui/login?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{target}"
        );
        assert!(!response.text().await.unwrap().contains("<form"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_speak_korean_when_asked() {
    let app = app().await;
    let by_query = app.get("/ui/login?lang=ko").await.text().await.unwrap();
    let by_header = app
        .client
        .get(app.url("/ui/signup"))
        .header("Accept-Language", "ko-KR,ko;q=0.9,en;q=0.4")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(by_query.contains("<html lang=\"ko\">") && by_query.contains("로그인"));
    assert!(by_header.contains("<html lang=\"ko\">") && by_header.contains("계정 만들기"));
    assert!(
        by_query.contains("hreflang=\"en\""),
        "a way back to English"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_makes_the_account_and_a_taken_email_is_shown_next_to_its_field() {
    let app = app().await;
    let mut browser = Browser::new(&app);
    browser.get("/ui/signup").await;
    let csrf = csrf_of(&browser);

    let created = browser
        .post_form(
            "/ui/signup",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "quinn@example.test"),
                ("password", PASSWORD),
                ("name", "Quinn"),
            ],
        )
        .await;
    let mut second = Browser::new(&app);
    second.get("/ui/signup").await;
    let csrf2 = csrf_of(&second);
    let taken = second
        .post_form(
            "/ui/signup",
            &[
                ("csrf_token", csrf2.as_str()),
                ("email", "quinn@example.test"),
                ("password", PASSWORD),
            ],
        )
        .await;

    assert_eq!(
        created.status(),
        StatusCode::SEE_OTHER,
        "signed in, no redirect_to"
    );
    assert_eq!(created.headers()[LOCATION], "/ui/account?lang=en");
    assert!(browser.cookie("tessera_at").is_some());
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let html = taken.text().await.unwrap();
    assert!(html.contains("id=\"email-error\""), "{html}");
    assert!(html.contains("aria-describedby=\"email-error\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_and_removes_the_cookies() {
    let app = app().await;
    signed_up(&app, "rosa@example.test").await;
    let mut browser = Browser::new(&app);
    browser.get("/ui/login").await;
    let csrf = csrf_of(&browser);
    browser
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", &csrf),
                ("email", "rosa@example.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let access = browser.cookie("tessera_at").unwrap().to_owned();
    let page = browser.get("/ui/logout").await;
    let (status, page) = (page.status(), page.text().await.unwrap());
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/ui/logout\""));

    let csrf = csrf_of(&browser);
    let response = browser
        .post_form("/ui/logout", &[("csrf_token", &csrf)])
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(browser.cookie("tessera_at").is_none());
    assert_eq!(app.get_me(&access).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_in_templates_dir_replaces_the_built_in_one() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("login.html"),
        "{% extends \"base.html\" %}{% block title %}Custom{% endblock %}{% block content %}<p>Our own sign-in for {{ product }}</p>{% endblock %}",
    )
    .unwrap();
    let dir = templates.path().display().to_string();
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.ui.templates_dir = dir;
        settings.ui.product_name = "Acme".into();
    })
    .await;

    let html = app.get("/ui/login").await.text().await.unwrap();

    assert!(html.contains("<p>Our own sign-in for Acme</p>"), "{html}");
    let signup = app.get("/ui/signup").await.text().await.unwrap();
    assert!(
        signup.contains("Create your account"),
        "the others stay built in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stylesheet_carries_the_accent_and_is_cached_for_a_year_under_its_hash() {
    let app = app().await;
    let html = app.get("/ui/login").await.text().await.unwrap();
    let start = html
        .find("&#x2f;ui&#x2f;assets&#x2f;")
        .or_else(|| html.find("/ui/assets/"))
        .unwrap();
    let href: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let href = href.replace("&#x2f;", "/");

    let response = app.get(&href).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(response.text().await.unwrap().contains("--accent:#0a7d4f"));
    assert_eq!(
        app.get("/ui/assets/ui.0000.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forgot_page_mails_a_reset_link_and_answers_the_same_for_unknown_addresses() {
    let app = app().await;
    signed_up(&app, "sara@example.test").await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/ui/forgot").await;
    let (status, page) = (page.status(), page.text().await.unwrap());
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/ui/forgot\"") && page.contains("autocomplete=\"username\""));
    let csrf = csrf_of(&browser);

    let known = browser
        .post_form(
            "/ui/forgot",
            &[("csrf_token", &csrf), ("email", "sara@example.test")],
        )
        .await;
    let unknown = browser
        .post_form(
            "/ui/forgot",
            &[("csrf_token", &csrf), ("email", "nobody@example.test")],
        )
        .await;
    let malformed = browser
        .post_form(
            "/ui/forgot",
            &[("csrf_token", &csrf), ("email", "not an address")],
        )
        .await;

    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let (known, unknown) = (known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(
        known.replace("sara@example.test", "X"),
        unknown.replace("nobody@example.test", "X"),
        "no enumeration"
    );
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let malformed = malformed.text().await.unwrap();
    assert!(
        malformed.contains("Enter an email address, like name@example.com."),
        "{malformed}"
    );
    let mails = crate::mail::wait_for_mails(&app, 1).await;
    assert_eq!(mails.len(), 1, "one mail, to the known address");
    assert!(!crate::mail::link_code(&mails[0], "reset").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_answers_in_the_language_the_page_was_shown_in() {
    let app = app().await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/ui/login?lang=ko").await.text().await.unwrap();
    assert!(page.contains("name=\"lang\" value=\"ko\""), "{page}");
    let csrf = csrf_of(&browser);

    let refused = browser
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", csrf.as_str()),
                ("lang", "ko"),
                ("email", "nobody@example.test"),
                ("password", "wrong password"),
            ],
        )
        .await;

    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let html = refused.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\">"), "{html}");
    assert!(html.contains("이메일 또는 비밀번호가 올바르지 않습니다."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_as_chromium_posts_it_under_no_referrer_is_accepted() {
    // Under `Referrer-Policy: no-referrer` a browser posts a page's form with `Origin: null`;
    // its `Sec-Fetch-Site: same-origin` says the page was ours.
    let app = app().await;
    signed_up(&app, "tara@example.test").await;
    let mut browser = Browser::new(&app);
    browser.get("/ui/login").await;
    let csrf = csrf_of(&browser);
    browser.origin = Some("null".into());
    browser.fetch_site = Some("same-origin");

    let response = browser
        .post_form(
            "/ui/login",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "tara@example.test"),
                ("password", PASSWORD),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
    assert!(browser.cookie("tessera_at").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ui_enabled_off_no_page_is_served_and_the_api_still_is() {
    let app = spawn_app_with(Backend::Sqlite, |settings| settings.ui.enabled = false).await;

    let login = app.get("/ui/login").await;
    let account = app.get("/ui/account").await;
    let signup = app
        .post_signup(&json!({"email": "una@example.test", "password": PASSWORD}))
        .await;

    assert_eq!(login.status(), StatusCode::NOT_FOUND);
    assert_eq!(login.headers()["content-type"], "application/problem+json");
    assert_eq!(account.status(), StatusCode::NOT_FOUND);
    assert_eq!(signup.status(), StatusCode::CREATED);
}
