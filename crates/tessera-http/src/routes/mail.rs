//! Email verification and password reset (API.md §3): the JSON endpoints, and the pages mail
//! links open. A page asks for one click (a form POST) before the link's code is spent, so a
//! mail scanner that fetches links never consumes them.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::account::AccountError;
use tessera_core::grant::{Grant, LoginOutcome};
use tessera_core::mail::{MailError, escape_html};
use tessera_core::mfa::MfaError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, ClientInfo, Form, Json, Language};
use crate::routes::auth::login_answer;
use crate::state::AppState;
use crate::views::{TokenResponse, UserView, html_page};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_verification))
        .routes(routes!(confirm_verification))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(request_magic_link))
        .routes(routes!(request_email_change))
        .routes(routes!(confirm_email_change))
        .routes(routes!(magic_link_sign_in))
        .route(
            "/ui/verify",
            axum::routing::get(verify_page).post(verify_submit),
        )
        .route(
            "/ui/reset",
            axum::routing::get(reset_page).post(reset_submit),
        )
        .route(
            "/ui/magic",
            axum::routing::get(magic_page).post(magic_submit),
        )
        .route(
            "/ui/email-change",
            axum::routing::get(email_change_page).post(email_change_submit),
        )
        .route("/ui/mfa", axum::routing::post(mfa_submit))
        .route("/ui/page.css", axum::routing::get(stylesheet))
}

impl From<MailError> for ApiError {
    fn from(error: MailError) -> Self {
        match error {
            MailError::CodeInvalid => Code::CodeInvalid.into(),
            MailError::Account(error) => error.into(),
        }
    }
}

/// Body with a link's code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// The `token` of the link.
    token: String,
}

/// Body of `POST /auth/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotRequest {
    email: String,
}

/// Body of `POST /auth/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The `token` of the link.
    token: String,
    new_password: String,
}

/// Mails a verification link (24 hours, single-use) to the caller's address.
#[utoipa::path(post, path = "/auth/email/verify/request", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, description = "queued; the mail leaves within a second or so"),
        (status = 429, description = "rate_limited: mails to this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_verification(
    State(state): State<AppState>,
    caller: Caller,
    Language(locale): Language,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .request_verification(caller.user_id, locale)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Spends a verification code.
#[utoipa::path(post, path = "/auth/email/verify/confirm", tag = "auth", request_body = CodeRequest,
    responses(
        (status = 200, body = UserView),
        (status = 400, description = "code_invalid: unknown, expired or used", body = Problem, content_type = "application/problem+json"),
    ))]
async fn confirm_verification(
    State(state): State<AppState>,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<UserView>, ApiError> {
    let user = state.mail.confirm_verification(&body.token).await?;
    Ok(axum::Json(UserView::from(&user)))
}

/// Mails a reset link (30 minutes, single-use) if an account has this address; the answer is
/// the same either way.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotRequest,
    responses(
        (status = 202, description = "always, whether or not the address has an account"),
        (status = 422, description = "validation_error: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: mails to this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    Language(locale): Language,
    Json(body): Json<ForgotRequest>,
) -> Result<StatusCode, ApiError> {
    state.mail.forgot_password(&body.email, locale).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset code; every session of the user ends. A password the
/// policy refuses leaves the code unspent.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 204),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .reset_password(&body.token, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /users/me/email`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChangeRequest {
    new_email: String,
    password: String,
}

/// Mails a link (24 hours, single-use) to the new address; the address changes only when it is
/// followed, and the old address is told then.
#[utoipa::path(post, path = "/users/me/email", tag = "users", security(("bearer" = [])), request_body = EmailChangeRequest,
    responses(
        (status = 202, description = "queued"),
        (status = 401, description = "invalid_credentials: a wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_email_change(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Language(locale): Language,
    Json(body): Json<EmailChangeRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .mail
        .request_email_change(
            caller.user_id,
            &body.new_email,
            &body.password,
            client.ip.as_deref(),
            locale,
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Spends an email-change code: the account has the new, verified address.
#[utoipa::path(post, path = "/auth/email/change/confirm", tag = "auth", request_body = CodeRequest,
    responses(
        (status = 200, body = UserView),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken: another account took the address meanwhile", body = Problem, content_type = "application/problem+json"),
    ))]
async fn confirm_email_change(
    State(state): State<AppState>,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<UserView>, ApiError> {
    let user = state.mail.confirm_email_change(&body.token).await?;
    Ok(axum::Json(UserView::from(&user)))
}

async fn email_change_page(Query(query): Query<LinkQuery>) -> Response {
    one_click(
        "Confirm your new email",
        "Use this address for your account from now on.",
        "/ui/email-change",
        "Use this address",
        &query.token,
    )
}

async fn email_change_submit(
    State(state): State<AppState>,
    Form(form): Form<LinkForm>,
) -> Response {
    match state.mail.confirm_email_change(&form.token).await {
        Ok(user) => page(
            "Email changed",
            &format!(
                "<p role=\"status\">Your account now uses {}.</p>",
                escape_html(user.email.as_str())
            ),
        ),
        Err(error) => failure("Confirm your new email", &ApiError::from(error)),
    }
}

/// Body of `POST /auth/magic-link`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MagicLinkRequest {
    email: String,
}

/// Body of `POST /auth/magic-link/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MagicLinkSignIn {
    /// The `token` of the link.
    token: String,
    device_name: Option<String>,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// Mails a sign-in link (15 minutes, single-use) if an account has this address; the answer
/// is the same either way.
#[utoipa::path(post, path = "/auth/magic-link", tag = "auth", request_body = MagicLinkRequest,
    responses(
        (status = 202, description = "always, whether or not the address has an account"),
        (status = 422, description = "validation_error: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: mails to this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn request_magic_link(
    State(state): State<AppState>,
    Language(locale): Language,
    Json(body): Json<MagicLinkRequest>,
) -> Result<StatusCode, ApiError> {
    state.mail.request_magic_link(&body.email, locale).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Signs in with a link's code: a token response, or `mfa_required` when two-factor is on.
#[utoipa::path(post, path = "/auth/magic-link/verify", tag = "auth", request_body = MagicLinkSignIn,
    responses(
        (status = 200, description = "the token response (cookies with `\"cookie\": true`), or an `MfaRequiredView`", body = TokenResponse),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
    ))]
async fn magic_link_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    browser: BrowserRequest,
    Json(body): Json<MagicLinkSignIn>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let outcome = state
        .mail
        .sign_in_with_link(&body.token, client.device(body.device_name))
        .await?;
    Ok(login_answer(delivery, outcome))
}

/// `?token=` of a mail link.
#[derive(Debug, Deserialize)]
struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// The form a link page posts.
#[derive(Debug, Deserialize)]
struct LinkForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
}

async fn verify_page(Query(query): Query<LinkQuery>) -> Response {
    one_click(
        "Confirm your email",
        "Confirm that this address is yours.",
        "/ui/verify",
        "Confirm my email",
        &query.token,
    )
}

async fn verify_submit(State(state): State<AppState>, Form(form): Form<LinkForm>) -> Response {
    match state.mail.confirm_verification(&form.token).await {
        Ok(user) => page(
            "Email confirmed",
            &format!(
                "<p role=\"status\">{} is confirmed. You can close this page.</p>",
                escape_html(user.email.as_str())
            ),
        ),
        Err(error) => failure("Confirm your email", &ApiError::from(error)),
    }
}

async fn reset_page(Query(query): Query<LinkQuery>) -> Response {
    reset_form(&query.token, None)
}

async fn reset_submit(State(state): State<AppState>, Form(form): Form<LinkForm>) -> Response {
    match state
        .mail
        .reset_password(&form.token, &form.new_password)
        .await
    {
        Ok(()) => page(
            "Password changed",
            "<p role=\"status\">Your password is changed and every device was signed out. \
             Sign in again with the new password.</p>",
        ),
        // The code is still good: let the person try another password.
        Err(MailError::Account(AccountError::WeakPassword(_) | AccountError::Validation(_))) => {
            reset_form(
                &form.token,
                Some("That password is too weak: choose a longer, less common one."),
            )
        }
        Err(error) => failure("Choose a new password", &ApiError::from(error)),
    }
}

async fn magic_page(Query(query): Query<LinkQuery>) -> Response {
    one_click(
        "Sign in",
        "Sign in on this device with the link you asked for.",
        "/ui/magic",
        "Sign me in",
        &query.token,
    )
}

/// The link's sign-in, in cookie mode: this server's pages and the apps under its origin
/// share the session.
async fn magic_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    browser: BrowserRequest,
    Form(form): Form<LinkForm>,
) -> Response {
    let delivery = match browser.login_delivery(true) {
        Ok(delivery) => delivery,
        Err(error) => return failure("Sign in", &error),
    };
    match state
        .mail
        .sign_in_with_link(&form.token, client.device(None))
        .await
    {
        Ok(LoginOutcome::Granted(grant)) => delivery.with_page(&grant, signed_in(&grant)),
        Ok(LoginOutcome::SecondFactor(challenge)) => mfa_form(&challenge.token, None),
        Err(error) => failure("Sign in", &ApiError::from(error)),
    }
}

async fn mfa_submit(
    State(state): State<AppState>,
    browser: BrowserRequest,
    Form(form): Form<LinkForm>,
) -> Response {
    let delivery = match browser.login_delivery(true) {
        Ok(delivery) => delivery,
        Err(error) => return failure("Sign in", &error),
    };
    match state.two_factor.complete(&form.mfa_token, &form.code).await {
        Ok(grant) => delivery.with_page(&grant, signed_in(&grant)),
        Err(MfaError::Invalid) => mfa_form(
            &form.mfa_token,
            Some("That code is wrong or was used already. After five wrong codes, sign in again."),
        ),
        Err(error) => failure("Sign in", &ApiError::from(error)),
    }
}

fn signed_in(grant: &Grant) -> Response {
    page(
        "Signed in",
        &format!(
            "<p role=\"status\">You are signed in as {}. You can close this page.</p>",
            escape_html(grant.user.email.as_str())
        ),
    )
}

pub(crate) fn mfa_form(mfa_token: &str, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |message| {
        format!(
            "<p class=\"error\" id=\"code-error\" role=\"alert\">{}</p>",
            escape_html(message)
        )
    });
    page(
        "Two-factor code",
        &format!(
            "<form method=\"post\" action=\"/ui/mfa\">\
             <input type=\"hidden\" name=\"mfa_token\" value=\"{token}\">\
             <label for=\"code\">Code from your authenticator app, or a recovery code</label>\
             <input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" \
             autocomplete=\"one-time-code\" required aria-describedby=\"code-error\">\
             {error}<button type=\"submit\">Continue</button></form>",
            token = escape_html(mfa_token),
        ),
    )
}

fn reset_form(token: &str, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |message| {
        format!(
            "<p class=\"error\" id=\"password-error\" role=\"alert\">{}</p>",
            escape_html(message)
        )
    });
    page(
        "Choose a new password",
        &format!(
            "<form method=\"post\" action=\"/ui/reset\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <label for=\"new_password\">New password</label>\
             <input id=\"new_password\" name=\"new_password\" type=\"password\" \
             autocomplete=\"new-password\" minlength=\"8\" required aria-describedby=\"password-error\">\
             {error}<button type=\"submit\">Change my password</button></form>",
            token = escape_html(token),
        ),
    )
}

fn failure(title: &str, error: &ApiError) -> Response {
    let message = match error.code() {
        Code::CodeInvalid => {
            "This link is unknown, expired or was used already. Ask for a new one."
        }
        Code::Unavailable => "The service is busy or down; try the link again in a minute.",
        _ => "Something went wrong; try the link again.",
    };
    let mut response = page(
        title,
        &format!("<p class=\"error\" role=\"alert\">{message}</p>"),
    );
    *response.status_mut() = error.code().status();
    response
}

/// What every mail link opens: a button that posts the link's code to `action`, so that
/// fetching the link (a mail scanner) spends nothing.
fn one_click(title: &str, lead: &str, action: &str, button: &str, token: &str) -> Response {
    page(
        title,
        &format!(
            "<p>{lead}</p><form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button type=\"submit\">{button}</button></form>",
            lead = escape_html(lead),
            button = escape_html(button),
            token = escape_html(token),
        ),
    )
}

/// A page with a strict policy: no script at all, styles from this server only, no framing,
/// and no `Referer` (the URL carries a code).
fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/ui/page.css\"></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape_html(title),
    );
    html_page(
        StatusCode::OK,
        html,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

const STYLESHEET: &str = "\
:root{color-scheme:light dark}\
body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f5f5f7;color:#1d1d1f}\
main{max-width:26rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}\
h1{font-size:1.4rem;margin:0 0 1rem}\
label{display:block;font-weight:600;margin:.5rem 0 .25rem}\
input[type=password],input[type=text]{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;\
border:1px solid #8e8e93;border-radius:8px}\
button{margin-top:1rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;\
background:#4338ca;border:0;border-radius:8px;cursor:pointer}\
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}\
.error{color:#b42318}\
@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}}\
@media (prefers-color-scheme:dark){body{background:#000;color:#f2f2f7}\
main{background:#1c1c1e;box-shadow:none}\
input[type=password],input[type=text]{background:#2c2c2e;color:#f2f2f7;border-color:#8e8e93}\
button{background:#5b50e6}.error{color:#ff8a80}}";
