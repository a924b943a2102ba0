//! Signing in and out: the sign-in page (password, provider buttons), its second step, the
//! landing of a provider login, sign-up, sign-out and the forgotten password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::account::{AccountError, Login, Signup};
use tessera_core::grant::LoginOutcome;
use tessera_core::mail::MailError;
use utoipa_axum::router::OpenApiRouter;

use super::{
    PageForm, PagePost, PageQuery, PageRequest, link, message, refused_form, refused_target,
    render, signed_in, target, with_redirect,
};
use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code};
use crate::extract::{Query, authenticate};
use crate::state::AppState;
use crate::views::redirect;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/ui/login", axum::routing::get(login_page).post(login))
        .route("/ui/mfa", axum::routing::get(mfa_page).post(mfa))
        .route("/ui/magic-link", axum::routing::post(magic_link))
        .route("/ui/social", axum::routing::get(social_page).post(social))
        .route("/ui/signup", axum::routing::get(signup_page).post(signup))
        .route("/ui/logout", axum::routing::get(logout_page).post(logout))
        .route("/ui/forgot", axum::routing::get(forgot_page).post(forgot))
}

/// A provider button.
#[derive(Serialize)]
pub(super) struct ProviderButton {
    pub(super) href: String,
    pub(super) label: String,
}

/// A button per configured provider. The provider login comes back to `/ui/social`, which
/// signs this browser in and then goes on to `redirect_to`.
fn providers(state: &AppState, request: &PageRequest, redirect_to: &str) -> Vec<ProviderButton> {
    let mut landing = vec![("lang", request.locale.as_str())];
    if !redirect_to.is_empty() {
        landing.push(("next", redirect_to));
    }
    let landing = format!(
        "{}/ui/social?{}",
        state.site.public_url.trim_end_matches('/'),
        tessera_ui::encode_query(&landing)
    );
    state
        .social
        .provider_names()
        .map(|name| ProviderButton {
            href: format!(
                "/auth/oauth/{name}/authorize?{}",
                tessera_ui::encode_query(&[("redirect_to", landing.as_str())])
            ),
            label: provider_label(name),
        })
        .collect()
}

/// How a provider's button names it: the brand for the presets' usual names.
pub(super) fn provider_label(name: &str) -> String {
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

/// The sign-in form, refilled with `email` and `error` after a refusal.
fn login_form(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    redirect_to: &str,
    email: &str,
    error: Option<String>,
) -> Response {
    let context = login_context(state, request, &request.csrf, redirect_to, email, error);
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

fn login_context(
    state: &AppState,
    request: &PageRequest,
    csrf_token: &str,
    redirect_to: &str,
    email: &str,
    error: Option<String>,
) -> serde_json::Value {
    // A passkey sign-in (by the page's script) goes where the form would.
    let next = if redirect_to.is_empty() {
        link(super::ACCOUNT_PAGE, request.locale, "")
    } else {
        redirect_to.to_owned()
    };
    serde_json::json!({
        "csrf_token": csrf_token,
        "redirect_to": redirect_to,
        "email": email,
        "error": error.unwrap_or_default(),
        "providers": providers(state, request, redirect_to),
        "signup_href": link("/ui/signup", request.locale, redirect_to),
        "passkeys": state.passkeys.is_some(),
        "passkey_next": next,
    })
}

async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
    let redirect_to = query.redirect_to.unwrap_or_default();
    if target(&state, &redirect_to).is_err() {
        return refused_target(&state, &request);
    }
    if !redirect_to.is_empty() {
        return login_form(&state, &request, StatusCode::OK, &redirect_to, "", None);
    }
    // The page most often asked for, the same for everyone but the token: rendered once.
    let html = state.ui.render_with_token(
        "login",
        request.locale,
        "/ui/login",
        |token| login_context(&state, &request, token, "", "", None),
        &request.csrf,
    );
    super::respond(&state, &request, StatusCode::OK, html)
}

async fn login(State(state): State<AppState>, post: PagePost) -> Response {
    let target = match post.target(&state) {
        Ok(target) => target,
        Err(refused) => return *refused,
    };
    let PagePost {
        browser,
        client,
        request,
        form,
    } = post;
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
            mfa_form(&state, &request, &challenge.token, &form.redirect_to, None)
        }
        Err(error) => refused_form(&state, &request, error, |_, text| {
            login_form(
                &state,
                &request,
                StatusCode::OK,
                &form.redirect_to,
                &form.email,
                Some(text),
            )
        }),
    }
}

/// The second step of a sign-in: the code for the pending login of `mfa_token`.
pub(super) fn mfa_form(
    state: &AppState,
    request: &PageRequest,
    mfa_token: &str,
    redirect_to: &str,
    error: Option<String>,
) -> Response {
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "mfa_token": mfa_token,
        "redirect_to": redirect_to,
        "error": error.unwrap_or_default(),
        "login_href": link("/ui/login", request.locale, redirect_to),
    });
    render(
        state,
        request,
        StatusCode::OK,
        "mfa",
        "/ui/login",
        &with_redirect(redirect_to),
        context,
    )
}

/// The second step is reached only from a sign-in: opened on its own, it starts one.
async fn mfa_page(State(state): State<AppState>, Query(query): Query<PageQuery>) -> Response {
    let locale = state.ui.locale(query.lang.as_deref(), None);
    let redirect_to = query.redirect_to.unwrap_or_default();
    redirect(
        StatusCode::SEE_OTHER,
        &link("/ui/login", locale, &redirect_to),
    )
}

async fn mfa(State(state): State<AppState>, post: PagePost) -> Response {
    let target = match post.target(&state) {
        Ok(target) => target,
        Err(refused) => return *refused,
    };
    let PagePost {
        browser,
        request,
        form,
        ..
    } = post;
    match state
        .two_factor
        .complete(&form.mfa_token, form.code.trim())
        .await
    {
        Ok(grant) => signed_in(&state, &browser, &request, &grant, target),
        Err(error) => refused_form(&state, &request, error, |_, text| {
            mfa_form(
                &state,
                &request,
                &form.mfa_token,
                &form.redirect_to,
                Some(text),
            )
        }),
    }
}

/// Where a provider login that began on the sign-in page comes back: the login code asks for
/// one click before it is spent (a link of someone else's code must not sign this browser in
/// unasked), a second step shows its form, a refusal shows the sign-in page with its reason.
pub(super) async fn social_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
    let next = query.next.unwrap_or_default();
    if target(&state, &next).is_err() {
        return refused_target(&state, &request);
    }
    if let Some(code) = query.login_code {
        let context = serde_json::json!({
            "heading": request.text(&state, "social_title"),
            "lead": request.text(&state, "social_lead"),
            "action": "/ui/social",
            "field": "login_code",
            "token": code,
            "redirect_to": next,
            "button": request.text(&state, "social_submit"),
            "csrf_token": request.csrf,
        });
        return render(
            &state,
            &request,
            StatusCode::OK,
            "link",
            "/ui/social",
            &[],
            context,
        );
    }
    if let Some(mfa_token) = query.mfa_token {
        return mfa_form(&state, &request, &mfa_token, &next, None);
    }
    let reason = match query.error.as_deref() {
        Some("access_denied") => "error_access_denied",
        Some("account_exists") => "error_account_exists",
        Some("identity_taken") => "error_identity_taken",
        Some("email_required") => "error_email_required",
        Some("account_disabled") => "error_account_disabled",
        Some("upstream_error") => "error_upstream",
        Some("code_invalid") => "error_link",
        _ => "error_unavailable",
    };
    let text = request.text(&state, reason);
    login_form(&state, &request, StatusCode::OK, &next, "", Some(text))
}

/// Trades the login code of a provider login for this browser's session.
async fn social(State(state): State<AppState>, post: PagePost) -> Response {
    let target = match post.target(&state) {
        Ok(target) => target,
        Err(refused) => return *refused,
    };
    let PagePost {
        browser,
        request,
        form,
        ..
    } = post;
    match state.social.exchange(&form.login_code).await {
        Ok(grant) => signed_in(&state, &browser, &request, &grant, target),
        Err(error) => refused_form(&state, &request, error, |_, text| {
            login_form(
                &state,
                &request,
                StatusCode::OK,
                &form.redirect_to,
                "",
                Some(text),
            )
        }),
    }
}

/// Mails a sign-in link if the address has an account (the sign-in form's second button);
/// the page says the same either way.
async fn magic_link(State(state): State<AppState>, post: PagePost) -> Response {
    let target = match post.target(&state) {
        Ok(target) => target,
        Err(refused) => return *refused,
    };
    let PagePost { request, form, .. } = post;
    let queued = state
        .mail
        .request_magic_link(&form.email, Some(request.locale), target.as_deref())
        .await;
    let sent = ("magic_sent_title", "magic_sent_lead");
    mailed(&state, &request, queued, sent, &form.email, |text| {
        login_form(
            &state,
            &request,
            StatusCode::OK,
            &form.redirect_to,
            &form.email,
            Some(text),
        )
    })
}

/// The sign-up form, refilled after a refusal with the fields' messages.
fn signup_form(
    state: &AppState,
    request: &PageRequest,
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
        "login_href": link("/ui/login", request.locale, &form.redirect_to),
    });
    render(
        state,
        request,
        StatusCode::OK,
        "signup",
        "/ui/signup",
        &with_redirect(&form.redirect_to),
        context,
    )
}

async fn signup_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
    let form = PageForm {
        redirect_to: query.redirect_to.unwrap_or_default(),
        ..PageForm::default()
    };
    if target(&state, &form.redirect_to).is_err() {
        return refused_target(&state, &request);
    }
    signup_form(&state, &request, &form, serde_json::json!({}))
}

async fn signup(State(state): State<AppState>, post: PagePost) -> Response {
    let target = match post.target(&state) {
        Ok(target) => target,
        Err(refused) => return *refused,
    };
    let PagePost {
        browser,
        client,
        request,
        form,
    } = post;
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
        Ok(grant) => {
            // Someone signing up on these pages expects the mail that proves the address.
            // The account exists either way: a mail that cannot be queued now can be asked
            // for again from the account page.
            if let Err(error) = state
                .mail
                .request_verification(grant.user.id, Some(request.locale))
                .await
            {
                tracing::warn!(%error, "the verification mail of a new account was not queued");
            }
            signed_in(&state, &browser, &request, &grant, target)
        }
        Err(error) => {
            // Each message next to the field it concerns; a malformed address says what one
            // looks like.
            let field = match &error {
                AccountError::WeakPassword(_) => "password",
                AccountError::Validation(errors) => errors.first().map_or("email", |e| e.field),
                _ => "email",
            };
            let bad_address = matches!(error, AccountError::Validation(_)) && field == "email";
            refused_form(&state, &request, error, |_, text| {
                let text = if bad_address {
                    request.text(&state, "error_email")
                } else {
                    text
                };
                signup_form(&state, &request, &form, serde_json::json!({ field: text }))
            })
        }
    }
}

async fn logout_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
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
async fn logout(State(state): State<AppState>, post: PagePost) -> Response {
    let PagePost {
        browser, request, ..
    } = post;
    if let Some(caller) = browser
        .access_cookie()
        .and_then(|token| authenticate(&state.keys, token).ok())
        && let Err(error) = state.sessions.end_any(caller.session_id, "logout").await
    {
        return ApiError::from(error).into_response();
    }
    let lead = request.text(&state, "signed_out_lead");
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
    email: &str,
    error: Option<String>,
) -> Response {
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "email": email,
        "error": error.unwrap_or_default(),
        "login_href": link("/ui/login", request.locale, ""),
    });
    render(
        state,
        request,
        StatusCode::OK,
        "forgot",
        "/ui/forgot",
        &[],
        context,
    )
}

async fn forgot_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
    forgot_form(&state, &request, "", None)
}

/// Mails a reset link if the address has an account; the page says the same either way.
async fn forgot(State(state): State<AppState>, post: PagePost) -> Response {
    let PagePost { request, form, .. } = post;
    let queued = state
        .mail
        .forgot_password(&form.email, Some(request.locale))
        .await;
    let sent = ("forgot_sent_title", "forgot_sent_lead");
    mailed(&state, &request, queued, sent, &form.email, |text| {
        forgot_form(&state, &request, &form.email, Some(text))
    })
}

/// The answer to a form that mails a link to an address if it has an account: the page
/// saying so (`sent`: its title and lead), the same whether or not it has one, or the form
/// again (`again`) with the refusal; a malformed address says what one looks like.
fn mailed(
    state: &AppState,
    request: &PageRequest,
    queued: Result<(), MailError>,
    sent: (&str, &str),
    email: &str,
    again: impl FnOnce(String) -> Response,
) -> Response {
    match queued {
        Ok(()) => {
            let lead = request.text(state, sent.1).replace("{email}", email.trim());
            message(state, request, StatusCode::ACCEPTED, sent.0, lead)
        }
        Err(error) => refused_form(state, request, error, |code, text| {
            let text = if code == Code::ValidationError {
                request.text(state, "error_email")
            } else {
                text
            };
            again(text)
        }),
    }
}
