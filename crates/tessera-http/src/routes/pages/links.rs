//! The pages mail links open: confirm an address, choose a new password, sign in with a magic
//! link, confirm a new address. Each asks for one click (a form post) before the link's code
//! is spent, so a mail scanner that fetches links never consumes them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::account::AccountError;
use tessera_core::grant::LoginOutcome;
use tessera_core::mail::MailError;
use utoipa_axum::router::OpenApiRouter;

use super::sign_in::mfa_form;
use super::{PagePost, PageQuery, PageRequest, message, refused_form, render, signed_in, target};
use crate::browser::BrowserRequest;
use crate::extract::Query;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/ui/verify", axum::routing::get(verify_page).post(verify))
        .route("/ui/reset", axum::routing::get(reset_page).post(reset))
        .route("/ui/magic", axum::routing::get(magic_page).post(magic))
        .route(
            "/ui/email-change",
            axum::routing::get(email_change_page).post(email_change),
        )
}

/// What a link page says and where its button posts.
struct OneClick {
    path: &'static str,
    heading: &'static str,
    lead: &'static str,
    button: &'static str,
}

const VERIFY: OneClick = OneClick {
    path: "/ui/verify",
    heading: "verify_title",
    lead: "verify_lead",
    button: "verify_submit",
};
const MAGIC: OneClick = OneClick {
    path: "/ui/magic",
    heading: "magic_title",
    lead: "magic_lead",
    button: "magic_submit",
};
const RESET: OneClick = OneClick {
    path: "/ui/reset",
    heading: "reset_title",
    lead: "reset_lead",
    button: "reset_submit",
};
const EMAIL_CHANGE: OneClick = OneClick {
    path: "/ui/email-change",
    heading: "email_change_title",
    lead: "email_change_lead",
    button: "email_change_confirm_submit",
};

/// The page of `link` with a button that posts `token`; with `error`, the link's failure
/// instead (and no button).
fn one_click(
    state: &AppState,
    request: &PageRequest,
    link: &OneClick,
    token: &str,
    error: Option<String>,
) -> Response {
    let failed = error.is_some();
    let context = serde_json::json!({
        "heading": request.text(state, link.heading),
        "lead": if failed { String::new() } else { request.text(state, link.lead) },
        "error": error.unwrap_or_default(),
        "action": if failed { "" } else { link.path },
        "field": "token",
        "token": token,
        "redirect_to": "",
        "button": request.text(state, link.button),
        "csrf_token": request.csrf,
        "back_href": if failed { format!("/ui/login?lang={}", request.locale.as_str()) } else { String::new() },
        "back_label": request.text(state, "login_link"),
    });
    let query = [("token", token)];
    render(
        state,
        request,
        StatusCode::OK,
        "link",
        link.path,
        if failed { &[] } else { &query },
        context,
    )
}

/// A page of `link`, before its click.
fn opened(
    state: &AppState,
    browser: &BrowserRequest,
    query: &PageQuery,
    link: &OneClick,
) -> Response {
    let request = PageRequest::new(&state.ui, browser, query.lang.as_deref());
    one_click(state, &request, link, &query.token, None)
}

/// The link's failure, under the API's status for it.
fn link_failed(
    state: &AppState,
    request: &PageRequest,
    link: &OneClick,
    error: MailError,
) -> Response {
    refused_form(state, request, error, |_, text| {
        one_click(state, request, link, "", Some(text))
    })
}

async fn verify_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    opened(&state, &browser, &query, &VERIFY)
}

async fn verify(State(state): State<AppState>, post: PagePost) -> Response {
    let PagePost { request, form, .. } = post;
    match state.mail.confirm_verification(&form.token).await {
        Ok(user) => {
            let lead = request
                .text(&state, "verified_lead")
                .replace("{email}", user.email.as_str());
            message(&state, &request, StatusCode::OK, "verified_title", lead)
        }
        Err(error) => link_failed(&state, &request, &VERIFY, error),
    }
}

/// The new-password form of a reset link.
fn reset_form(
    state: &AppState,
    request: &PageRequest,
    token: &str,
    error: Option<String>,
) -> Response {
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "token": token,
        "error": error.unwrap_or_default(),
    });
    render(
        state,
        request,
        StatusCode::OK,
        "reset",
        "/ui/reset",
        &[("token", token)],
        context,
    )
}

async fn reset_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
    reset_form(&state, &request, &query.token, None)
}

/// Sets the new password; every session of the user ends. A password the policy refuses
/// leaves the code unspent, so the form asks again.
async fn reset(State(state): State<AppState>, post: PagePost) -> Response {
    let PagePost {
        browser,
        request,
        form,
        ..
    } = post;
    match state
        .mail
        .reset_password(&form.token, &form.new_password)
        .await
    {
        Ok(()) => {
            let lead = request.text(&state, "reset_done_lead");
            let mut response = message(&state, &request, StatusCode::OK, "reset_done_title", lead);
            // This browser's session ended with the others.
            for (name, value) in browser.cleared().0 {
                response.headers_mut().append(name, value);
            }
            response
        }
        Err(
            error @ MailError::Account(AccountError::WeakPassword(_) | AccountError::Validation(_)),
        ) => refused_form(&state, &request, error, |_, _| {
            let text = request.text(&state, "error_weak_password");
            reset_form(&state, &request, &form.token, Some(text))
        }),
        Err(error) => link_failed(&state, &request, &RESET, error),
    }
}

async fn magic_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    opened(&state, &browser, &query, &MAGIC)
}

/// The link's sign-in, in cookie mode: this server's pages and the apps under its origin
/// share the session.
async fn magic(State(state): State<AppState>, post: PagePost) -> Response {
    let PagePost {
        browser,
        client,
        request,
        form,
    } = post;
    let signed = match state
        .mail
        .sign_in_with_link(&form.token, client.device(None))
        .await
    {
        Ok(signed) => signed,
        Err(error) => return link_failed(&state, &request, &MAGIC, error),
    };
    // The app the link was asked for, if the allow-list still has it; else the account page.
    let back_to = signed
        .return_to
        .and_then(|asked| target(&state, &asked).ok().flatten());
    match signed.outcome {
        LoginOutcome::Granted(grant) => signed_in(&state, &browser, &request, &grant, back_to),
        LoginOutcome::SecondFactor(challenge) => {
            let redirect_to = back_to.as_deref().unwrap_or_default();
            mfa_form(&state, &request, &challenge.token, redirect_to, None)
        }
    }
}

async fn email_change_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    opened(&state, &browser, &query, &EMAIL_CHANGE)
}

async fn email_change(State(state): State<AppState>, post: PagePost) -> Response {
    let PagePost { request, form, .. } = post;
    match state.mail.confirm_email_change(&form.token).await {
        Ok(user) => {
            let lead = request
                .text(&state, "email_changed_lead")
                .replace("{email}", user.email.as_str());
            message(
                &state,
                &request,
                StatusCode::OK,
                "email_changed_title",
                lead,
            )
        }
        Err(error) => link_failed(&state, &request, &EMAIL_CHANGE, error),
    }
}
