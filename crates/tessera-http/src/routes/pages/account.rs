//! The account page: profile, email, password (or, for an account without one, a link by mail
//! to set it), two-step verification (set up with a QR code drawn on the server, recovery codes
//! shown once), passkeys (added by the page's script, renamed and removed by forms), devices
//! with a sign-out button each, and linked providers. Every form posts to its own path and answers 303 back to the page with
//! what it did (post/redirect/get), or the page again with the refusal next to its field.
//!
//! The page reads the access cookie. When it has expired, the page sends the browser through
//! `GET /auth/resume` (under `/auth`, where the refresh cookie is sent) to renew it, and on to
//! the sign-in page when the session is over.

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use tessera_core::SessionId;
use tessera_core::account::User;
use tessera_core::mail::Locale;
use tessera_core::session::Session;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;

use super::sign_in::{provider_label, social_page};
use super::{ACCOUNT_PAGE, PagePost, PageQuery, PageRequest, link, message_id, render};
use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code};
use crate::extract::{Caller, Query, authenticate};
use crate::state::AppState;
use crate::views::redirect;

pub(super) fn router() -> OpenApiRouter<AppState> {
    use axum::routing::{get, post};
    OpenApiRouter::new()
        .route(ACCOUNT_PAGE, get(account_page))
        .route("/ui/account/profile", post(profile))
        .route("/ui/account/email", post(email))
        .route("/ui/account/password", post(password))
        .route("/ui/account/password/link", post(password_link))
        .route("/ui/account/verify", post(verification))
        .route("/ui/account/sessions/end", post(end_session))
        .route("/ui/account/totp/setup", post(totp_setup))
        .route("/ui/account/totp/confirm", post(totp_confirm))
        .route("/ui/account/totp/disable", post(totp_disable))
        .route("/ui/account/recovery", post(recovery_codes))
        .route("/ui/account/identities/unlink", post(unlink))
        .route("/ui/account/passkeys/rename", post(rename_passkey))
        .route("/ui/account/passkeys/remove", post(remove_passkey))
        .route("/auth/resume", get(resume))
}

/// The signed-in browser's caller, from its access cookie.
fn signed_in_caller(state: &AppState, browser: &BrowserRequest) -> Option<Caller> {
    browser
        .access_cookie()
        .and_then(|token| authenticate(&state.keys, token).ok())
}

/// Renews the session, then back to the account page; without one, to the sign-in page.
fn renew(locale: Locale) -> Response {
    redirect(
        StatusCode::SEE_OTHER,
        &format!("/auth/resume?lang={}", locale.as_str()),
    )
}

fn sign_in_first(state: &AppState, locale: Locale) -> Response {
    let back = format!(
        "{}{ACCOUNT_PAGE}",
        state.site.public_url.trim_end_matches('/')
    );
    redirect(StatusCode::SEE_OTHER, &link("/ui/login", locale, &back))
}

/// `GET /auth/resume`: a cookie refresh made by a page navigation, for the account page.
async fn resume(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    let locale = state.ui.locale(query.lang.as_deref(), None);
    let renewed = match browser.navigation_refresh() {
        Ok((token, delivery)) => match state.grants.refresh(&token).await {
            Ok(grant) => Ok((grant, delivery)),
            Err(error) => Err(ApiError::from(error)),
        },
        Err(error) => Err(error),
    };
    match renewed {
        Ok((grant, delivery)) => {
            let back = format!("{ACCOUNT_PAGE}?lang={}&resumed=1", locale.as_str());
            delivery.with_page(&grant, redirect(StatusCode::SEE_OTHER, &back))
        }
        Err(error) => {
            let mut response = sign_in_first(&state, locale);
            if matches!(error.code(), Code::RefreshInvalid | Code::RefreshReused) {
                for (name, value) in browser.cleared().0 {
                    response.headers_mut().append(name, value);
                }
            }
            if let Some(cause) = error.into_cause() {
                response.extensions_mut().insert(cause);
            }
            response
        }
    }
}

/// A row of the devices list.
#[derive(Serialize)]
struct DeviceRow {
    id: String,
    device: String,
    detail: String,
    current: bool,
}

/// A row of the linked providers.
#[derive(Serialize)]
struct IdentityRow {
    provider: String,
    label: String,
    email: String,
}

/// A row of the passkeys.
#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    detail: String,
}

/// A provider that can be linked.
#[derive(Serialize)]
struct LinkButton {
    href: String,
    label: String,
}

/// What a re-shown page keeps of a refused form.
#[derive(Default)]
struct Shown {
    notice: Option<String>,
    /// Field (or section) → message.
    errors: serde_json::Map<String, serde_json::Value>,
    new_email: String,
}

impl Shown {
    fn error(field: &str, text: String) -> Self {
        let mut errors = serde_json::Map::new();
        errors.insert(field.to_owned(), text.into());
        Self {
            errors,
            ..Self::default()
        }
    }
}

/// The page for `caller`.
async fn account_view(
    state: &AppState,
    request: &PageRequest,
    caller: &Caller,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let loaded = async {
        let user = state.accounts.profile(caller.user_id).await?;
        let has_password = state.accounts.has_password(caller.user_id).await?;
        let sessions = state.sessions.list(caller.user_id).await?;
        let identities = state.social.identities(caller.user_id).await?;
        let passkeys = match &state.passkeys {
            Some(passkeys) => passkeys.list(caller.user_id).await?,
            None => Vec::new(),
        };
        Ok::<_, ApiError>((user, has_password, sessions, identities, passkeys))
    }
    .await;
    let (user, has_password, sessions, identities, passkeys) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return super::refused_page(state, request, error),
    };
    let devices: Vec<DeviceRow> = sessions
        .iter()
        .map(|session| device_row(state, request, session, caller.session_id))
        .collect();
    let linked: Vec<IdentityRow> = identities
        .iter()
        .map(|identity| IdentityRow {
            provider: identity.provider.clone(),
            label: provider_label(&identity.provider),
            email: identity.email.clone().unwrap_or_default(),
        })
        .collect();
    let back = format!(
        "{}{ACCOUNT_PAGE}",
        state.site.public_url.trim_end_matches('/')
    );
    let linkable: Vec<LinkButton> = state
        .social
        .provider_names()
        .filter(|name| !linked.iter().any(|row| row.provider == *name))
        .map(|name| LinkButton {
            href: format!(
                "/auth/oauth/{name}/authorize?{}",
                tessera_ui::encode_query(&[("link", "true"), ("redirect_to", back.as_str())])
            ),
            label: provider_label(name),
        })
        .collect();
    let passkey_rows: Vec<PasskeyRow> = passkeys
        .iter()
        .map(|passkey| PasskeyRow {
            id: passkey.id.to_string(),
            name: passkey.name.clone(),
            detail: request
                .text(state, "passkey_detail")
                .replace("{created}", &when(passkey.created_at))
                .replace(
                    "{used}",
                    &passkey
                        .last_used_at
                        .map_or_else(|| request.text(state, "passkey_never_used"), when),
                ),
        })
        .collect();
    // A new passkey is named after the browser it is made in, as the devices list names it.
    let passkey_name = sessions
        .iter()
        .find(|session| session.id == caller.session_id)
        .and_then(|session| session.user_agent.as_deref())
        .map_or_else(|| "Passkey".to_owned(), browser_name);
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "passkeys": state.passkeys.is_some(),
        "passkey_rows": passkey_rows,
        "passkey_name": passkey_name,
        "passkey_done": format!("{ACCOUNT_PAGE}?lang={}&done=passkey_added", request.locale.as_str()),
        "user": user_view(&user, has_password),
        "notice": shown.notice.unwrap_or_default(),
        "errors": shown.errors,
        "new_email": shown.new_email,
        "sessions": devices,
        "identities": linked,
        "linkable": linkable,
    });
    render(
        state,
        request,
        status,
        "account",
        ACCOUNT_PAGE,
        &[],
        context,
    )
}

fn user_view(user: &User, has_password: bool) -> serde_json::Value {
    serde_json::json!({
        "email": user.email.as_str(),
        "name": user.name.clone().unwrap_or_default(),
        "email_verified": user.email_verified,
        "mfa_enabled": user.mfa_enabled,
        "has_password": has_password,
    })
}

fn device_row(
    state: &AppState,
    request: &PageRequest,
    session: &Session,
    current: SessionId,
) -> DeviceRow {
    let device = session
        .device_name
        .clone()
        .or_else(|| session.user_agent.as_deref().map(browser_name))
        .unwrap_or_else(|| request.text(state, "unknown_device"));
    let mut detail = request
        .text(state, "device_detail")
        .replace("{time}", &when(session.last_used_at));
    if let Some(ip) = &session.ip {
        detail.push_str(" · ");
        detail.push_str(ip);
    }
    DeviceRow {
        id: session.id.to_string(),
        device,
        detail,
        current: session.id == current,
    }
}

/// A short name for a `User-Agent`: the browser and the system, as people call them.
fn browser_name(agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} · {system}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => agent.chars().take(40).collect(),
    }
}

/// `2026-12-04 14:05 UTC`.
fn when(at: OffsetDateTime) -> String {
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

async fn account_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    browser: BrowserRequest,
) -> Response {
    // A provider login begun without `redirect_to` comes back here (API.md §3).
    if query.login_code.is_some() || query.mfa_token.is_some() {
        return social_page(State(state), Query(query), browser).await;
    }
    let request = PageRequest::new(&state.ui, &browser, query.lang.as_deref());
    let Some(caller) = signed_in_caller(&state, &browser) else {
        return if query.resumed.is_some() {
            sign_in_first(&state, request.locale)
        } else {
            renew(request.locale)
        };
    };
    let provider = |name: Option<&str>| {
        name.filter(|name| state.social.provider_names().any(|known| known == *name))
            .map(provider_label)
    };
    let mut shown = Shown::default();
    if let Some(error) = query.error.as_deref() {
        let id = match error {
            "identity_taken" => "error_identity_taken",
            "access_denied" => "error_access_denied",
            "upstream_error" => "error_upstream",
            _ => "error_unavailable",
        };
        shown = Shown::error("identities", request.text(&state, id));
    } else if let Some(label) = provider(query.linked.as_deref()) {
        shown.notice = Some(
            request
                .text(&state, "notice_linked")
                .replace("{provider}", &label),
        );
    } else {
        shown.notice = match query.done.as_deref() {
            Some("profile") => Some(request.text(&state, "notice_profile")),
            Some("email") => Some(request.text(&state, "notice_email_sent")),
            Some("verify") => Some(request.text(&state, "notice_verify_sent")),
            Some("password") => Some(request.text(&state, "notice_password")),
            Some("password_link") => Some(request.text(&state, "notice_password_link")),
            Some("session") => Some(request.text(&state, "notice_session_ended")),
            Some("mfa_off") => Some(request.text(&state, "notice_mfa_off")),
            Some("passkey_added") => Some(request.text(&state, "notice_passkey_added")),
            Some("passkey_renamed") => Some(request.text(&state, "notice_passkey_renamed")),
            Some("passkey_removed") => Some(request.text(&state, "notice_passkey_removed")),
            Some("unlinked") => provider(query.provider.as_deref()).map(|label| {
                request
                    .text(&state, "notice_unlinked")
                    .replace("{provider}", &label)
            }),
            _ => None,
        };
    }
    account_view(&state, &request, &caller, StatusCode::OK, shown).await
}

/// A form of the account page: the page form's post and the signed-in caller. A form of a
/// session that is over goes to the page, which renews it.
struct AccountPost {
    post: PagePost,
    caller: Caller,
}

impl FromRequest<AppState> for AccountPost {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let post = PagePost::from_request(request, state).await?;
        match signed_in_caller(state, &post.browser) {
            Some(caller) => Ok(Self { post, caller }),
            None => Err(redirect(
                StatusCode::SEE_OTHER,
                &link(ACCOUNT_PAGE, post.request.locale, ""),
            )),
        }
    }
}

/// 303 back to the page, saying what was `done`.
fn done(request: &PageRequest, done: &str, extra: &[(&str, &str)]) -> Response {
    let mut query = vec![("lang", request.locale.as_str()), ("done", done)];
    query.extend_from_slice(extra);
    redirect(
        StatusCode::SEE_OTHER,
        &format!("{ACCOUNT_PAGE}?{}", tessera_ui::encode_query(&query)),
    )
}

/// [`refused`] with the message next to one `field`, whatever the code.
async fn refused_at(
    state: &AppState,
    request: &PageRequest,
    caller: &Caller,
    error: impl Into<ApiError>,
    field: &'static str,
) -> Response {
    refused(state, request, caller, error, |_| field, "").await
}

/// The page again with `error`'s message next to `field` (the code picks the field when
/// `field` is given per code), under the API's status for it.
async fn refused(
    state: &AppState,
    request: &PageRequest,
    caller: &Caller,
    error: impl Into<ApiError>,
    field: impl FnOnce(Code) -> &'static str,
    new_email: &str,
) -> Response {
    let error = error.into();
    let code = error.code();
    let id = match code {
        // The signed-in person typed their own password: it is the password that is wrong.
        Code::InvalidCredentials => "error_wrong_password",
        code => message_id(code),
    };
    let mut shown = Shown::error(field(code), request.text(state, id));
    shown.new_email = new_email.to_owned();
    refused_showing(state, request, caller, error, shown).await
}

/// The page again showing `shown`, under the API's status for `error`.
async fn refused_showing(
    state: &AppState,
    request: &PageRequest,
    caller: &Caller,
    error: ApiError,
    shown: Shown,
) -> Response {
    let mut response = account_view(state, request, caller, error.code().status(), shown).await;
    if let Some(cause) = error.into_cause() {
        response.extensions_mut().insert(cause);
    }
    response
}

async fn profile(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, form, .. },
        caller,
    } = account;
    let name = form.name.trim();
    match state
        .accounts
        .rename(caller.user_id, (!name.is_empty()).then_some(name))
        .await
    {
        Ok(_) => done(&request, "profile", &[]),
        Err(error) => refused_at(&state, &request, &caller, error, "name").await,
    }
}

async fn email(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post:
            PagePost {
                client,
                request,
                form,
                ..
            },
        caller,
    } = account;
    let requested = state
        .mail
        .request_email_change(
            caller.user_id,
            &form.new_email,
            &form.password,
            client.ip.as_deref(),
            Some(request.locale),
        )
        .await;
    match requested {
        Ok(()) => done(&request, "email", &[]),
        Err(error) => {
            let field = |code| match code {
                Code::InvalidCredentials => "email_password",
                _ => "new_email",
            };
            refused(&state, &request, &caller, error, field, &form.new_email).await
        }
    }
}

/// Mails a verification link to the account's address.
async fn verification(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, .. },
        caller,
    } = account;
    match state
        .mail
        .request_verification(caller.user_id, Some(request.locale))
        .await
    {
        Ok(()) => done(&request, "verify", &[]),
        Err(error) => refused_at(&state, &request, &caller, error, "verify").await,
    }
}

async fn password(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post:
            PagePost {
                client,
                request,
                form,
                ..
            },
        caller,
    } = account;
    let changed = state
        .accounts
        .change_password(
            caller.user_id,
            caller.session_id,
            &form.current_password,
            &form.new_password,
            client.ip.as_deref(),
        )
        .await;
    match changed {
        Ok(_) => done(&request, "password", &[]),
        Err(error) => {
            let field = |code| match code {
                Code::WeakPassword | Code::ValidationError => "new_password",
                _ => "current_password",
            };
            refused(&state, &request, &caller, error, field, "").await
        }
    }
}

/// Mails a link to choose a password: how an account made through a provider or a sign-in link
/// gets one. It is the forgotten-password mail (counted with it), so the password is set only
/// by someone who can read the account's mail, not by whoever holds a session.
async fn password_link(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, .. },
        caller,
    } = account;
    let requested = match state.accounts.user(caller.user_id).await {
        Ok(user) => {
            state
                .mail
                .forgot_password(user.email.as_str(), Some(request.locale))
                .await
        }
        Err(error) => Err(error.into()),
    };
    match requested {
        Ok(()) => done(&request, "password_link", &[]),
        Err(error) => refused_at(&state, &request, &caller, error, "password_link").await,
    }
}

/// Signs out one device; signing out this one leaves the page for the sign-in page.
async fn end_session(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post:
            PagePost {
                browser,
                request,
                form,
                ..
            },
        caller,
    } = account;
    let Ok(id) = form.session_id.parse::<SessionId>() else {
        let error = ApiError::from(Code::NotFound);
        return refused_at(&state, &request, &caller, error, "sessions").await;
    };
    match state.sessions.end(caller.user_id, id, "logout").await {
        Ok(()) if id == caller.session_id => {
            let mut response = sign_in_first(&state, request.locale);
            for (name, value) in browser.cleared().0 {
                response.headers_mut().append(name, value);
            }
            response
        }
        Ok(()) => done(&request, "session", &[]),
        Err(error) => refused_at(&state, &request, &caller, error, "sessions").await,
    }
}

/// The setup page: the QR code of `otpauth_uri`, its key, and the code field.
fn totp_page(
    state: &AppState,
    request: &PageRequest,
    status: StatusCode,
    otpauth_uri: &str,
    error: Option<String>,
) -> Response {
    let secret = url::Url::parse(otpauth_uri)
        .ok()
        .and_then(|uri| {
            uri.query_pairs()
                .find(|(key, _)| key == "secret")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default();
    let context = serde_json::json!({
        "csrf_token": request.csrf,
        "otpauth_uri": otpauth_uri,
        "secret": secret,
        "error": error.unwrap_or_default(),
    });
    render(state, request, status, "totp", ACCOUNT_PAGE, &[], context)
}

async fn totp_setup(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, .. },
        caller,
    } = account;
    match state.two_factor.setup(caller.user_id).await {
        Ok(setup) => totp_page(&state, &request, StatusCode::OK, &setup.otpauth_uri, None),
        Err(error) => refused_at(&state, &request, &caller, error, "page").await,
    }
}

/// Turns two-step verification on with a code from the app, and shows the recovery codes.
async fn totp_confirm(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, form, .. },
        caller,
    } = account;
    match state
        .two_factor
        .confirm(caller.user_id, form.code.trim())
        .await
    {
        Ok(codes) => recovery_page(&state, &request, "mfa_enabled_lead", &codes),
        Err(error) => {
            let error = ApiError::from(error);
            if error.code() != Code::MfaInvalid {
                return refused_at(&state, &request, &caller, error, "page").await;
            }
            // The key the app holds is still the pending one: show it again with the refusal.
            let text = request.text(&state, "error_totp_code");
            totp_page(
                &state,
                &request,
                error.code().status(),
                &form.otpauth_uri,
                Some(text),
            )
        }
    }
}

fn recovery_page(
    state: &AppState,
    request: &PageRequest,
    lead: &str,
    codes: &[String],
) -> Response {
    let context = serde_json::json!({
        "lead": request.text(state, lead),
        "codes": codes,
    });
    render(
        state,
        request,
        StatusCode::OK,
        "recovery",
        ACCOUNT_PAGE,
        &[],
        context,
    )
}

async fn totp_disable(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post:
            PagePost {
                client,
                request,
                form,
                ..
            },
        caller,
    } = account;
    match state
        .two_factor
        .disable(caller.user_id, &form.password, client.ip.as_deref())
        .await
    {
        Ok(()) => done(&request, "mfa_off", &[]),
        Err(error) => refused_at(&state, &request, &caller, error, "recovery_password").await,
    }
}

async fn recovery_codes(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post:
            PagePost {
                client,
                request,
                form,
                ..
            },
        caller,
    } = account;
    match state
        .two_factor
        .renew_recovery_codes(caller.user_id, &form.password, client.ip.as_deref())
        .await
    {
        Ok(codes) => recovery_page(&state, &request, "recovery_renewed_lead", &codes),
        Err(error) => refused_at(&state, &request, &caller, error, "recovery_password").await,
    }
}

async fn unlink(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, form, .. },
        caller,
    } = account;
    match state.social.unlink(caller.user_id, &form.provider).await {
        Ok(()) => done(
            &request,
            "unlinked",
            &[("provider", form.provider.as_str())],
        ),
        Err(error) => refused_at(&state, &request, &caller, error, "identities").await,
    }
}

async fn rename_passkey(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, form, .. },
        caller,
    } = account;
    let renamed = match (&state.passkeys, form.passkey_id.parse()) {
        (Some(passkeys), Ok(id)) => passkeys
            .rename(caller.user_id, id, &form.name)
            .await
            .map_err(ApiError::from),
        _ => Err(ApiError::from(Code::NotFound)),
    };
    match renamed {
        Ok(_) => done(&request, "passkey_renamed", &[]),
        Err(error) if error.code() == Code::ValidationError => {
            let shown = Shown::error("passkeys", request.text(&state, "error_passkey_name"));
            refused_showing(&state, &request, &caller, error, shown).await
        }
        Err(error) => refused_at(&state, &request, &caller, error, "passkeys").await,
    }
}

async fn remove_passkey(State(state): State<AppState>, account: AccountPost) -> Response {
    let AccountPost {
        post: PagePost { request, form, .. },
        caller,
    } = account;
    let removed = match (&state.passkeys, form.passkey_id.parse()) {
        (Some(passkeys), Ok(id)) => passkeys
            .remove(caller.user_id, id)
            .await
            .map_err(ApiError::from),
        _ => Err(ApiError::from(Code::NotFound)),
    };
    match removed {
        Ok(()) => done(&request, "passkey_removed", &[]),
        Err(error) => refused_at(&state, &request, &caller, error, "passkeys").await,
    }
}
