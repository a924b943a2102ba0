//! Social login (API.md §3): the authorization redirect, the provider's callback, the trade of
//! a login code for tokens, the caller's identities, and the vault for back ends.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::social::{CallbackParams, CallbackResult, FLOW_TTL, LinkRequest, SocialError};
use time::format_description::well_known::Rfc3339;
use url::Url;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::browser::BrowserRequest;
use crate::error::{ApiError, Code, Problem};
use crate::extract::{Caller, ClientInfo, Json, Query, ServiceCaller};
use crate::state::AppState;
use crate::views::{NoStore, TokenResponse, redirect};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .routes(routes!(callback))
        .routes(routes!(exchange))
        .routes(routes!(list_identities))
        .routes(routes!(unlink))
        .routes(routes!(vault_token))
}

/// Query of `GET /auth/oauth/{provider}/authorize`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuthorizeQuery {
    /// Where the browser goes back to: under `public_url` or an entry of
    /// `oauth.redirect_allowlist`. Default: the hosted account page.
    redirect_to: Option<String>,
    /// `true`: link the provider's identity to the signed-in caller instead of signing in.
    #[serde(default)]
    link: bool,
}

/// The provider's authorization URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeView {
    url: String,
}

/// Begins a login (or a link) through `provider`: the URL to send the browser to, or with
/// `Accept: text/html` a 302 to it. Sets the `tessera_oauth` cookie the callback needs.
#[utoipa::path(get, path = "/auth/oauth/{provider}/authorize", tag = "social", params(AuthorizeQuery),
    responses(
        (status = 200, body = AuthorizeView),
        (status = 302, description = "to the provider, when the request accepts text/html"),
        (status = 401, description = "`link=true` without a signed-in caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such provider", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: redirect_to is not allowed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn authorize(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<AuthorizeQuery>,
    browser: BrowserRequest,
    mut parts: Parts,
) -> Result<Response, ApiError> {
    // The caller's token is checked only when it matters: a plain sign-in needs none.
    let link = if query.link {
        let caller = Caller::from_request_parts(&mut parts, &state).await?;
        // A cookie rides along on any navigation: a link must be asked for from our own pages.
        if caller.by_cookie {
            browser.same_site()?;
        }
        Some(LinkRequest::new(caller.user_id, caller.session_id))
    } else {
        None
    };
    let authorization = state
        .social
        .begin(&provider, query.redirect_to.as_deref(), link)
        .await?;
    let cookie = state
        .browser
        .flow_cookie(&authorization.binding, FLOW_TTL.as_secs() as i64);
    let wants_html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let mut response = if wants_html {
        redirect(StatusCode::FOUND, &authorization.url)
    } else {
        NoStore(
            StatusCode::OK,
            AuthorizeView {
                url: authorization.url,
            },
        )
        .into_response()
    };
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Query of the provider's redirect back.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The provider's refusal (`access_denied` when the person declined).
    error: Option<String>,
}

/// The provider's redirect back: a 302 to the flow's `redirect_to` with `login_code`,
/// `mfa_token` or `linked`, or with `error` when it failed; 400 `code_invalid` when the
/// `state` is unknown, spent or expired (the target is then unknown too).
#[utoipa::path(get, path = "/auth/oauth/{provider}/callback", tag = "social", params(CallbackQuery),
    responses(
        (status = 302, description = "to redirect_to with login_code, mfa_token, linked or error"),
        (status = 400, description = "code_invalid: unknown, spent or expired state", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such provider", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_error: a malformed query string", body = Problem, content_type = "application/problem+json"),
    ))]
async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    client: ClientInfo,
    browser: BrowserRequest,
) -> Result<Response, ApiError> {
    let params = CallbackParams {
        code: query.code.as_deref(),
        state: query.state.as_deref(),
        error: query.error.as_deref(),
        binding: browser.flow_binding(),
    };
    let outcome = state
        .social
        .callback(&provider, params, client.device(None))
        .await;
    let (mut target, pair) = match outcome {
        Ok(callback) => {
            let pair = match callback.result {
                CallbackResult::LoginCode(code) => ("login_code", code.code),
                CallbackResult::SecondFactor(challenge) => ("mfa_token", challenge.token),
                CallbackResult::Linked(provider) => ("linked", provider),
            };
            (callback.target, pair)
        }
        Err(SocialError::Redirect { target, reason }) => (target, ("error", reason.to_owned())),
        Err(error) => return Err(error.into()),
    };
    with_answer(&mut target, pair.0, &pair.1);
    let mut response = redirect(StatusCode::FOUND, target.as_str());
    let headers = response.headers_mut();
    // The flow is over either way: its binding is of no further use.
    headers.append(header::SET_COOKIE, state.browser.flow_cookie("", 0));
    // The target carries a single-use code: no page it leads to may pass it on.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// Body of `POST /auth/oauth/exchange`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginCodeExchange {
    /// The `login_code` of the callback's redirect.
    login_code: String,
    /// Browser mode: the tokens go into HttpOnly cookies, not the body.
    #[serde(default)]
    cookie: bool,
}

/// Trades a callback's `login_code` (single-use, 60 s) for the session's tokens.
#[utoipa::path(post, path = "/auth/oauth/exchange", tag = "social", request_body = LoginCodeExchange,
    responses(
        (status = 200, description = "the token response (cookies with `\"cookie\": true`)", body = TokenResponse),
        (status = 400, description = "code_invalid", body = Problem, content_type = "application/problem+json"),
    ))]
async fn exchange(
    State(state): State<AppState>,
    browser: BrowserRequest,
    Json(body): Json<LoginCodeExchange>,
) -> Result<Response, ApiError> {
    let delivery = browser.login_delivery(body.cookie)?;
    let grant = state.social.exchange(&body.login_code).await?;
    Ok(delivery.reply(StatusCode::OK, grant))
}

/// A linked provider identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    provider: String,
    subject: String,
    email: Option<String>,
    /// RFC 3339.
    linked_at: String,
}

/// The caller's linked provider identities, oldest first.
#[utoipa::path(get, path = "/users/me/identities", tag = "social", security(("bearer" = [])),
    responses((status = 200, body = [IdentityView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn list_identities(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<IdentityView>>, ApiError> {
    let identities = state.social.identities(caller.user_id).await?;
    Ok(axum::Json(
        identities
            .into_iter()
            .map(|identity| IdentityView {
                provider: identity.provider,
                subject: identity.subject,
                email: identity.email,
                linked_at: identity.linked_at.format(&Rfc3339).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// Unlinks the caller's identity of `provider` and revokes its tokens upstream where the
/// provider supports it.
#[utoipa::path(delete, path = "/users/me/identities/{provider}", tag = "social", security(("bearer" = [])),
    responses(
        (status = 204, description = "unlinked"),
        (status = 404, description = "not_found: no identity of that provider", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_login_method", body = Problem, content_type = "application/problem+json"),
    ))]
async fn unlink(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.social.unlink(caller.user_id, &provider).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A provider access token for the app's back end.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultTokenView {
    access_token: String,
    /// Seconds it lives, when the provider said.
    expires_in: Option<i64>,
}

/// A valid access token of the user's identity at `provider`, refreshed upstream when it is
/// about to expire (one refresh at a time per identity across every instance).
#[utoipa::path(post, path = "/internal/users/{id}/providers/{provider}/token", tag = "social", security(("service_key" = [])),
    responses(
        (status = 200, body = VaultTokenView),
        (status = 404, description = "not_found: no such user or identity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "provider_login_required: the provider refused the stored grant", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "upstream_error", body = Problem, content_type = "application/problem+json"),
    ))]
async fn vault_token(
    State(state): State<AppState>,
    _service: ServiceCaller,
    Path((id, provider)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user: UserId = id.parse().map_err(|_| ApiError::from(Code::NotFound))?;
    let token = state.vault.token(user, &provider).await?;
    Ok(NoStore(
        StatusCode::OK,
        VaultTokenView {
            access_token: token.access_token,
            expires_in: token.expires_in,
        },
    )
    .into_response())
}

/// The parameters a callback answers with.
const ANSWER_PARAMS: [&str; 4] = ["login_code", "mfa_token", "linked", "error"];

/// Sets `name=value` on `target`, dropping any answer parameter `redirect_to` already carried:
/// a target of `?login_code=<someone else's>` must not put that code before the real one.
fn with_answer(target: &mut Url, name: &str, value: &str) {
    let kept: Vec<(String, String)> = target
        .query_pairs()
        .filter(|(key, _)| !ANSWER_PARAMS.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    target.set_query(None);
    let mut query = target.query_pairs_mut();
    query.extend_pairs(kept);
    query.append_pair(name, value);
}
