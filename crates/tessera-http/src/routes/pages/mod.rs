//! The hosted pages (API.md §3 "Hosted pages"), server-rendered by `tessera-ui` and working
//! with JavaScript off. Every form posts back here with a hidden `csrf_token` (the CSRF
//! cookie's value, checked with the origin rules of cookie mode); a success answers 303
//! (post/redirect/get) or a page, and a refusal shows the form again with the message of the
//! API's problem code, next to its field, under the status the API answers with.
//!
//! - [`sign_in`]: sign-in (password, provider buttons, two-step), sign-up, sign-out, the
//!   forgotten password, and the landing of a provider login;
//! - [`links`]: the pages mail links open (verify, reset, magic link, email change);
//! - [`account`]: the signed-in account page and its forms.

mod account;
mod links;
mod sign_in;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::grant::Grant;
use tessera_core::mail::Locale;
use tessera_ui::Ui;
use utoipa_axum::router::OpenApiRouter;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code};
use crate::extract::{ClientInfo, Form};
use crate::state::AppState;
use crate::views::{html_page, redirect};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(sign_in::router())
        .merge(links::router())
        .merge(account::router())
        .route("/ui/assets/{file}", axum::routing::get(asset))
}

/// Where a signed-in browser goes when no app asked for it back (API.md §3).
const ACCOUNT_PAGE: &str = "/ui/account";

/// `?lang=`, `?redirect_to=` and the other parameters pages are opened with.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
    redirect_to: Option<String>,
    /// A mail link's code.
    #[serde(default)]
    token: String,
    /// A provider login's answers (the social callback's redirect).
    login_code: Option<String>,
    mfa_token: Option<String>,
    linked: Option<String>,
    error: Option<String>,
    /// Where a provider login that began on the sign-in page returns to.
    next: Option<String>,
    /// What the account page's last form did, and to which provider.
    done: Option<String>,
    provider: Option<String>,
    /// Set by `/auth/resume`: the session was just renewed, so a page that still finds none
    /// sends the browser to sign in instead of renewing again.
    resumed: Option<String>,
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
    /// A mail link's code.
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    mfa_token: String,
    /// A TOTP or recovery code.
    #[serde(default)]
    code: String,
    /// The `otpauth://` URI being set up, to show it again after a wrong code.
    #[serde(default)]
    otpauth_uri: String,
    #[serde(default)]
    login_code: String,
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    passkey_id: String,
    lang: Option<String>,
}

/// What a request brings to every page: its language and CSRF token.
struct PageRequest {
    locale: Locale,
    csrf: String,
    /// The `Set-Cookie` of a CSRF token made for this page.
    new_csrf: Option<HeaderValue>,
}

impl PageRequest {
    fn new(ui: &Ui, browser: &BrowserRequest, lang: Option<&str>) -> Self {
        let (csrf, new_csrf) = browser.page_csrf();
        Self {
            locale: ui.locale(lang, browser.accept_language()),
            csrf,
            new_csrf,
        }
    }

    /// The form's request after its CSRF check, or the page refusing it.
    fn checked(
        state: &AppState,
        browser: &BrowserRequest,
        form: &PageForm,
    ) -> Result<Self, Box<Response>> {
        let request = Self::new(&state.ui, browser, form.lang.as_deref());
        match browser.check_page_form(&form.csrf_token) {
            Ok(()) => Ok(request),
            Err(error) => Err(Box::new(csrf_refused(state, &request, &error))),
        }
    }

    fn text(&self, state: &AppState, id: &str) -> String {
        state.ui.message(self.locale, id)
    }
}

/// A page form's post: its fields and its request, once its CSRF token passed (the page
/// refusing it otherwise); and the browser and client it came from.
struct PagePost {
    browser: BrowserRequest,
    client: ClientInfo,
    request: PageRequest,
    form: PageForm,
}

impl FromRequest<AppState> for PagePost {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Ok(browser) = BrowserRequest::from_request_parts(&mut parts, state).await;
        let Ok(client) = ClientInfo::from_request_parts(&mut parts, state).await;
        let Form(form) = Form::<PageForm>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let request = PageRequest::checked(state, &browser, &form).map_err(|page| *page)?;
        Ok(Self {
            browser,
            client,
            request,
            form,
        })
    }
}

impl PagePost {
    /// The allowed target of the form's `redirect_to`, or the page refusing it.
    fn target(&self, state: &AppState) -> Result<Option<String>, Box<Response>> {
        target(state, &self.form.redirect_to)
            .map_err(|()| Box::new(refused_target(state, &self.request)))
    }
}

/// Renders `name` with the headers every page carries and the CSRF cookie made for it, or a
/// plain 500 when a (custom) template fails.
fn render(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    name: &str,
    path: &str,
    query: &[(&str, &str)],
    context: serde_json::Value,
) -> Response {
    let html = state.ui.render(name, request.locale, path, query, context);
    respond(state, request, status, html)
}

/// A rendered page with the headers every page carries and the CSRF cookie made for it.
fn respond(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    html: Result<String, tessera_ui::UiError>,
) -> Response {
    let html = match html {
        Ok(html) => html,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    let mut response = html_page(status, html, state.page_policy.clone());
    if let Some(cookie) = request.new_csrf.clone() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A page saying `heading` (a message id) and `lead`.
fn message(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    heading: &str,
    lead: String,
) -> Response {
    let heading = request.text(state, heading);
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

/// The message id of a problem code, as a page shows it.
fn message_id(code: Code) -> &'static str {
    match code {
        Code::InvalidCredentials => "error_invalid_credentials",
        Code::AccountDisabled => "error_account_disabled",
        Code::EmailTaken => "error_email_taken",
        Code::WeakPassword => "error_weak_password",
        Code::ValidationError => "error_validation",
        Code::RateLimited => "error_rate_limited",
        Code::CodeInvalid => "error_link",
        Code::MfaInvalid => "error_mfa_code",
        Code::LastLoginMethod => "error_last_login_method",
        Code::CsrfFailed => "error_csrf",
        Code::UpstreamError => "error_upstream",
        _ => "error_unavailable",
    }
}

/// A refused form shown again by `show`, with the status the API answers the same failure
/// with, the message of its code, and its cause for the log as the API's answer carries it.
fn refused_form(
    state: &AppState,
    request: &PageRequest,
    error: impl Into<ApiError>,
    show: impl FnOnce(Code, String) -> Response,
) -> Response {
    let error = error.into();
    let code = error.code();
    let mut response = show(code, request.text(state, message_id(code)));
    *response.status_mut() = code.status();
    if let Some(cause) = error.into_cause() {
        response.extensions_mut().insert(cause);
    }
    response
}

/// A page saying what went wrong, under the API's status for it.
fn refused_page(state: &AppState, request: &PageRequest, error: impl Into<ApiError>) -> Response {
    refused_form(state, request, error, |_, text| {
        message(state, request, StatusCode::OK, "error_title", text)
    })
}

fn csrf_refused(state: &AppState, request: &PageRequest, error: &ApiError) -> Response {
    debug_assert_eq!(error.code(), Code::CsrfFailed);
    let lead = request.text(state, "error_csrf");
    message(state, request, StatusCode::FORBIDDEN, "error_title", lead)
}

fn refused_target(state: &AppState, request: &PageRequest) -> Response {
    let lead = request.text(state, "error_redirect");
    message(
        state,
        request,
        StatusCode::UNPROCESSABLE_ENTITY,
        "error_title",
        lead,
    )
}

/// `[("redirect_to", …)]`, or nothing without one.
fn with_redirect(redirect_to: &str) -> Vec<(&str, &str)> {
    if redirect_to.is_empty() {
        Vec::new()
    } else {
        vec![("redirect_to", redirect_to)]
    }
}

/// `path` with `lang` and, if any, `redirect_to`.
fn link(path: &str, locale: Locale, redirect_to: &str) -> String {
    let mut query = vec![("lang", locale.as_str())];
    query.extend(with_redirect(redirect_to));
    format!("{path}?{}", tessera_ui::encode_query(&query))
}

/// Signed in: the cookies, then 303 to the target, or to the account page.
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
    let target = target.unwrap_or_else(|| link(ACCOUNT_PAGE, request.locale, ""));
    delivery.with_page(grant, redirect(StatusCode::SEE_OTHER, &target))
}

/// The stylesheet and the passkey script, under their content hashes: cached for a year.
async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(asset) = state.ui.asset(&file) else {
        return ApiError::from(Code::NotFound).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type()),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        asset.body().to_owned(),
    )
        .into_response()
}
