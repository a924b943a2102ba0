//! The hosted pages (API.md §3 "Hosted pages"): sign-in, sign-up and sign-out, server-rendered
//! by `tessera-ui`, working with JavaScript off. Forms post back here with a hidden
//! `csrf_token` (the CSRF cookie's value, checked with the origin rules of cookie mode), a
//! success sets the cookie-mode cookies and answers 303 (post/redirect/get) to `redirect_to`
//! (the allow-list of social login) or to a signed-in page, and a refusal shows the page again
//! with its message and the status of the API's answer.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::account::{AccountError, Login, Signup};
use tessera_core::grant::{Grant, LoginOutcome};
use tessera_core::mail::Locale;
use tessera_ui::Ui;
use utoipa_axum::router::OpenApiRouter;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code};
use crate::extract::{ClientInfo, Form, authenticate};
use crate::state::AppState;
use crate::views::{html_page, redirect};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/ui/login", axum::routing::get(login_page).post(login))
        .route("/ui/signup", axum::routing::get(signup_page).post(signup))
        .route("/ui/logout", axum::routing::get(logout_page).post(logout))
        .route("/ui/forgot", axum::routing::get(forgot_page).post(forgot))
        .route("/ui/assets/{file}", axum::routing::get(asset))
}

/// `?lang=` and `?redirect_to=` of a page.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
    redirect_to: Option<String>,
}

/// Every field any page form posts; absent ones are empty.
#[derive(Debug, Default, Deserialize)]
struct PageForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    redirect_to: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
    lang: Option<String>,
}

/// A provider button.
#[derive(Serialize)]
struct ProviderButton {
    href: String,
    label: String,
}

/// What a request brings to every page: its language and CSRF token.
struct PageRequest {
    locale: Locale,
    csrf: String,
    /// The `Set-Cookie` of a CSRF token made for this page.
    new_csrf: Option<HeaderValue>,
}

impl PageRequest {
    fn new(ui: &Ui, browser: &BrowserRequest, headers: &HeaderMap, lang: Option<&str>) -> Self {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok());
        let (csrf, new_csrf) = browser.page_csrf();
        Self {
            locale: ui.locale(lang, accept),
            csrf,
            new_csrf,
        }
    }
}

/// `html` with the headers every page carries, and the CSRF cookie made for it, if any.
fn page(ui: &Ui, status: StatusCode, html: String, new_csrf: Option<HeaderValue>) -> Response {
    let policy = HeaderValue::from_str(&ui.content_security_policy())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    let mut response = html_page(status, html, policy);
    if let Some(cookie) = new_csrf {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Renders `name`, or a plain 500 when a (custom) template fails.
fn render(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    name: &str,
    path: &str,
    query: &[(&str, &str)],
    context: serde_json::Value,
) -> Response {
    match state.ui.render(name, request.locale, path, query, context) {
        Ok(html) => page(&state.ui, status, html, request.new_csrf.clone()),
        Err(error) => ApiError::internal(error).into_response(),
    }
}

/// A page saying `heading` and `lead`.
fn message(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    heading: &str,
    lead: String,
) -> Response {
    let heading = state.ui.message(request.locale, heading);
    render(
        state,
        request,
        status,
        "message",
        "/ui/login",
        &[],
        serde_json::json!({ "heading": heading, "lead": lead }),
    )
}

/// The allowed target of `redirect_to`; `Ok(None)` without one.
fn target(state: &AppState, redirect_to: &str) -> Result<Option<String>, ()> {
    if redirect_to.is_empty() {
        return Ok(None);
    }
    state
        .social
        .redirect_target(redirect_to)
        .map(|url| Some(url.into()))
        .ok_or(())
}

fn providers(state: &AppState, redirect_to: &str) -> Vec<ProviderButton> {
    state
        .social
        .provider_names()
        .map(|name| {
            let mut href = format!("/auth/oauth/{name}/authorize");
            if !redirect_to.is_empty() {
                href.push('?');
                href.push_str(&tessera_ui::encode_query(&[("redirect_to", redirect_to)]));
            }
            ProviderButton {
                href,
                label: provider_label(name),
            }
        })
        .collect()
}

/// How a provider's button names it: the brand for the presets' usual names.
fn provider_label(name: &str) -> String {
    match name {
        "google" => "Google".into(),
        "github" => "GitHub".into(),
        "microsoft" => "Microsoft".into(),
        "spotify" => "Spotify".into(),
        "kakao" => "Kakao".into(),
        "naver" => "Naver".into(),
        other => other.to_owned(),
    }
}

fn with_redirect(redirect_to: &str) -> Vec<(&str, &str)> {
    if redirect_to.is_empty() {
        Vec::new()
    } else {
        vec![("redirect_to", redirect_to)]
    }
}

fn link(path: &str, redirect_to: &str) -> String {
    let query = with_redirect(redirect_to);
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", tessera_ui::encode_query(&query))
    }
}

/// The sign-in form, refilled with `email` and `error` after a refusal.
fn login_form(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    redirect_to: &str,
    email: &str,
    error: Option<String>,
) -> Response {
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "redirect_to": redirect_to,
        "email": email,
        "error": error.unwrap_or_default(),
        "providers": providers(state, redirect_to),
        "signup_href": link("/ui/signup", redirect_to),
    });
    render(
        state,
        request,
        status,
        "login",
        "/ui/login",
        &with_redirect(redirect_to),
        context,
    )
}

async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, &headers, query.lang.as_deref());
    let redirect_to = query.redirect_to.unwrap_or_default();
    if target(&state, &redirect_to).is_err() {
        return refused_target(&state, &request);
    }
    login_form(&state, &request, StatusCode::OK, &redirect_to, "", None)
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    browser: BrowserRequest,
    client: ClientInfo,
    Form(form): Form<PageForm>,
) -> Response {
    let (request, target) = match accepted(&state, &headers, &browser, &form) {
        Ok(accepted) => accepted,
        Err(refused) => return *refused,
    };
    let outcome = state
        .accounts
        .login(Login {
            email: form.email.clone(),
            password: form.password,
            device: client.device(None),
        })
        .await;
    match outcome {
        Ok(LoginOutcome::Granted(grant)) => signed_in(&state, &browser, &request, &grant, target),
        Ok(LoginOutcome::SecondFactor(challenge)) => {
            crate::routes::mail::mfa_form(&challenge.token, None)
        }
        Err(error) => refused_form(&state, &request, error, |status, text| {
            login_form(
                &state,
                &request,
                status,
                &form.redirect_to,
                &form.email,
                Some(text),
            )
        }),
    }
}

/// The checks every sign-in or sign-up post passes first: the CSRF token and an allowed
/// `redirect_to`; the page's request and target, or the page refusing it.
fn accepted(
    state: &AppState,
    headers: &HeaderMap,
    browser: &BrowserRequest,
    form: &PageForm,
) -> Result<(PageRequest, Option<String>), Box<Response>> {
    let request = PageRequest::new(&state.ui, browser, headers, form.lang.as_deref());
    if let Err(error) = browser.check_page_form(&form.csrf_token) {
        return Err(Box::new(csrf_refused(state, &request, &error)));
    }
    match target(state, &form.redirect_to) {
        Ok(target) => Ok((request, target)),
        Err(()) => Err(Box::new(refused_target(state, &request))),
    }
}

/// Signed in: the cookies, then 303 to the target, or a page saying so.
fn signed_in(
    state: &AppState,
    browser: &BrowserRequest,
    request: &PageRequest,
    grant: &Grant,
    target: Option<String>,
) -> Response {
    let delivery = match browser.login_delivery(true) {
        Ok(delivery) => delivery,
        Err(error) => return csrf_refused(state, request, &error),
    };
    let answer = match target {
        Some(target) => redirect(StatusCode::SEE_OTHER, &target),
        None => {
            let lead = state
                .ui
                .message(request.locale, "signed_in_lead")
                .replace("{email}", grant.user.email.as_str());
            message(state, request, StatusCode::OK, "signed_in_title", lead)
        }
    };
    delivery.with_page(grant, answer)
}

/// A refused form shown again by `show`, with the status the API answers the same failure
/// with, the message of its code, and its cause for the log as the API's answer carries it.
fn refused_form(
    state: &AppState,
    request: &PageRequest,
    error: impl Into<ApiError>,
    show: impl FnOnce(StatusCode, String) -> Response,
) -> Response {
    let error = error.into();
    let code = error.code();
    let id = match code {
        Code::InvalidCredentials => "error_invalid_credentials",
        Code::AccountDisabled => "error_account_disabled",
        Code::EmailTaken => "error_email_taken",
        Code::WeakPassword => "error_weak_password",
        Code::ValidationError => "error_validation",
        Code::RateLimited => "error_rate_limited",
        _ => "error_unavailable",
    };
    let mut response = show(code.status(), state.ui.message(request.locale, id));
    if let Some(cause) = error.into_cause() {
        response.extensions_mut().insert(cause);
    }
    response
}

fn csrf_refused(state: &AppState, request: &PageRequest, error: &ApiError) -> Response {
    debug_assert_eq!(error.code(), Code::CsrfFailed);
    let lead = state.ui.message(request.locale, "error_csrf");
    message(state, request, StatusCode::FORBIDDEN, "error_title", lead)
}

fn refused_target(state: &AppState, request: &PageRequest) -> Response {
    let lead = state.ui.message(request.locale, "error_redirect");
    message(
        state,
        request,
        StatusCode::UNPROCESSABLE_ENTITY,
        "error_title",
        lead,
    )
}

/// The sign-up form, refilled after a refusal with the fields' messages.
fn signup_form(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    form: &PageForm,
    field_errors: serde_json::Value,
) -> Response {
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "redirect_to": form.redirect_to,
        "email": form.email,
        "name": form.name,
        "error": "",
        "field_errors": field_errors,
        "login_href": link("/ui/login", &form.redirect_to),
    });
    render(
        state,
        request,
        status,
        "signup",
        "/ui/signup",
        &with_redirect(&form.redirect_to),
        context,
    )
}

async fn signup_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, &headers, query.lang.as_deref());
    let form = PageForm {
        redirect_to: query.redirect_to.unwrap_or_default(),
        ..PageForm::default()
    };
    if target(&state, &form.redirect_to).is_err() {
        return refused_target(&state, &request);
    }
    signup_form(
        &state,
        &request,
        StatusCode::OK,
        &form,
        serde_json::json!({}),
    )
}

async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    browser: BrowserRequest,
    client: ClientInfo,
    Form(form): Form<PageForm>,
) -> Response {
    let (request, target) = match accepted(&state, &headers, &browser, &form) {
        Ok(accepted) => accepted,
        Err(refused) => return *refused,
    };
    let created = state
        .accounts
        .signup(Signup {
            email: form.email.clone(),
            password: form.password.clone(),
            name: (!form.name.trim().is_empty()).then(|| form.name.clone()),
            device: client.device(None),
        })
        .await;
    match created {
        Ok(grant) => signed_in(&state, &browser, &request, &grant, target),
        Err(error) => {
            // Each message next to the field it concerns; a malformed address says what one
            // looks like.
            let field = match &error {
                AccountError::WeakPassword(_) => "password",
                AccountError::Validation(errors) => errors.first().map_or("email", |e| e.field),
                _ => "email",
            };
            let bad_address = matches!(error, AccountError::Validation(_)) && field == "email";
            refused_form(&state, &request, error, |status, text| {
                let text = if bad_address {
                    state.ui.message(request.locale, "error_email")
                } else {
                    text
                };
                signup_form(
                    &state,
                    &request,
                    status,
                    &form,
                    serde_json::json!({ field: text }),
                )
            })
        }
    }
}

async fn logout_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, &headers, query.lang.as_deref());
    let context = serde_json::json!({ "csrf_token": request.csrf });
    render(
        &state,
        &request,
        StatusCode::OK,
        "logout",
        "/ui/logout",
        &[],
        context,
    )
}

/// Ends the browser's session (if it has one) and removes its cookies.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    browser: BrowserRequest,
    Form(form): Form<PageForm>,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, &headers, form.lang.as_deref());
    if let Err(error) = browser.check_page_form(&form.csrf_token) {
        return csrf_refused(&state, &request, &error);
    }
    if let Some(caller) = browser
        .access_cookie()
        .and_then(|token| authenticate(&state.keys, token).ok())
        && let Err(error) = state.sessions.end_any(caller.session_id, "logout").await
    {
        return ApiError::from(error).into_response();
    }
    let lead = state.ui.message(request.locale, "signed_out_lead");
    let mut response = message(&state, &request, StatusCode::OK, "signed_out_title", lead);
    for (name, value) in browser.cleared().0 {
        response.headers_mut().append(name, value);
    }
    response
}

/// The form asking for a reset link.
fn forgot_form(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    email: &str,
    error: Option<String>,
) -> Response {
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "email": email,
        "error": error.unwrap_or_default(),
        "login_href": "/ui/login",
    });
    render(state, request, status, "forgot", "/ui/forgot", &[], context)
}

async fn forgot_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, &headers, query.lang.as_deref());
    forgot_form(&state, &request, StatusCode::OK, "", None)
}

/// Mails a reset link if the address has an account; the page says the same either way.
async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    browser: BrowserRequest,
    Form(form): Form<PageForm>,
) -> Response {
    let (request, _) = match accepted(&state, &headers, &browser, &form) {
        Ok(accepted) => accepted,
        Err(refused) => return *refused,
    };
    match state
        .mail
        .forgot_password(&form.email, Some(request.locale))
        .await
    {
        Ok(()) => {
            let lead = state
                .ui
                .message(request.locale, "forgot_sent_lead")
                .replace("{email}", form.email.trim());
            message(
                &state,
                &request,
                StatusCode::ACCEPTED,
                "forgot_sent_title",
                lead,
            )
        }
        // The address is the form's only field: a malformed one says what one looks like.
        Err(error) => refused_form(&state, &request, error, |status, text| {
            let text = if status == StatusCode::UNPROCESSABLE_ENTITY {
                state.ui.message(request.locale, "error_email")
            } else {
                text
            };
            forgot_form(&state, &request, status, &form.email, Some(text))
        }),
    }
}

/// The themed stylesheet, under its content hash: cached for a year.
async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let stylesheet = state.ui.stylesheet();
    if stylesheet.path().rsplit('/').next() != Some(file.as_str()) {
        return ApiError::from(Code::NotFound).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        stylesheet.body().to_owned(),
    )
        .into_response()
}
