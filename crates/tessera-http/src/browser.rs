//! Browser (cookie) mode on the server (API.md §3): grants delivered as cookies instead of a
//! body, the CSRF rules of cookie-authenticated requests (shared with resource servers through
//! `tessera-verify`), and CORS for the configured origins.
//!
//! Every cookie lives as long as the refresh token, the access cookie included: an expired
//! access token must still reach the server to be answered `token_expired`, the client's one
//! cue to refresh; a cookie that vanished at `exp` would read as `token_missing`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{self, COOKIE, HeaderName};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Serialize;
use tessera_core::grant::Grant;
use tessera_core::secret::random_token;
use tessera_verify::{
    CSRF_HEADER, CookieNames, CookiePolicy, CsrfFailure, find_cookie, origin_of, request_origin,
};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::ToSchema;

use crate::error::{ApiError, Code};
use crate::views::{NoStore, TokenResponse, UserView};

/// The browser settings of this server.
#[derive(Debug)]
pub struct Browser {
    policy: CookiePolicy,
    secure: bool,
    cors_origins: Vec<String>,
}

impl Browser {
    /// Cookies with the `Secure` attribute and prefixes unless `dev_insecure`; pages of
    /// `public_url`'s origin and of `cors_origins` may use them; only `cors_origins` get CORS.
    pub fn new(dev_insecure: bool, public_url: &str, cors_origins: &[String]) -> Self {
        let names = if dev_insecure {
            CookieNames::DEV_INSECURE
        } else {
            CookieNames::SECURE
        };
        let cors_origins: Vec<String> = cors_origins.iter().filter_map(|o| origin_of(o)).collect();
        let mut allowed = cors_origins.clone();
        allowed.extend(origin_of(public_url));
        Self {
            policy: CookiePolicy::new(names, &allowed),
            secure: !dev_insecure,
            cors_origins,
        }
    }

    /// The CSRF and cookie-name rules, as resource servers apply them.
    pub fn policy(&self) -> &CookiePolicy {
        &self.policy
    }

    /// The CORS layer: the configured origins only, with credentials; `None` without any
    /// (then browsers keep other origins' pages from reading any answer).
    pub fn cors(&self) -> Option<CorsLayer> {
        if self.cors_origins.is_empty() {
            return None;
        }
        let origins = self
            .cors_origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok());
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_credentials(true)
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    HeaderName::from_static(CSRF_HEADER),
                ])
                .expose_headers([
                    header::RETRY_AFTER,
                    header::WWW_AUTHENTICATE,
                    HeaderName::from_static("x-request-id"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }

    /// The `Set-Cookie` values delivering `grant`, with `csrf` as the CSRF token.
    fn grant_cookies(&self, grant: &Grant, csrf: &str) -> [HeaderValue; 3] {
        let names = self.policy.names();
        let max_age = grant.refresh_expires_in().max(0);
        [
            self.cookie(
                names.access,
                grant.access_token.as_str(),
                Kind::Access,
                max_age,
            ),
            self.cookie(
                names.refresh,
                &grant.refresh_token.encode(),
                Kind::Refresh,
                max_age,
            ),
            self.cookie(names.csrf, csrf, Kind::Csrf, max_age),
        ]
    }

    /// The `Set-Cookie` values that remove all three cookies.
    pub fn cleared(&self) -> AppendHeaders<[(HeaderName, HeaderValue); 3]> {
        let names = self.policy.names();
        AppendHeaders([
            (
                header::SET_COOKIE,
                self.cookie(names.access, "", Kind::Access, 0),
            ),
            (
                header::SET_COOKIE,
                self.cookie(names.refresh, "", Kind::Refresh, 0),
            ),
            (
                header::SET_COOKIE,
                self.cookie(names.csrf, "", Kind::Csrf, 0),
            ),
        ])
    }

    /// The `tessera_oauth` cookie binding a provider login's `state` to this browser, for as
    /// long as the flow lives.
    pub fn flow_cookie(&self, binding: &str, max_age: i64) -> HeaderValue {
        self.cookie(FLOW_COOKIE, binding, Kind::Flow, max_age)
    }

    /// A session-long CSRF cookie holding `csrf`.
    fn csrf_cookie(&self, csrf: &str) -> HeaderValue {
        self.cookie(self.policy.names().csrf, csrf, Kind::Csrf, -1)
    }

    /// One `Set-Cookie` value; `max_age` < 0 makes a session cookie. Values are base64url or
    /// JWTs, which need no quoting.
    fn cookie(&self, name: &str, value: &str, kind: Kind, max_age: i64) -> HeaderValue {
        let (path, same_site, http_only) = match kind {
            Kind::Access => ("/", "Lax", "; HttpOnly"),
            Kind::Refresh => ("/auth", "Strict", "; HttpOnly"),
            Kind::Csrf => ("/", "Lax", ""),
            // Lax: the provider's redirect back is a top-level navigation from its site.
            Kind::Flow => ("/auth/oauth", "Lax", "; HttpOnly"),
        };
        let secure = if self.secure { "; Secure" } else { "" };
        let age = if max_age >= 0 {
            format!("; Max-Age={max_age}")
        } else {
            String::new()
        };
        let text =
            format!("{name}={value}; Path={path}{age}; SameSite={same_site}{http_only}{secure}");
        HeaderValue::from_str(&text).expect("cookie names and base64url values are visible ASCII")
    }
}

/// tower-http answers a preflight from an origin it does not allow with its other CORS headers
/// all the same; an unknown origin gets none at all, so nothing about the policy shows.
pub(crate) fn no_cors_for_strangers<B>(
    mut response: axum::http::Response<B>,
) -> axum::http::Response<B> {
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_MAX_AGE,
        ] {
            headers.remove(name);
        }
    }
    response
}

#[derive(Clone, Copy)]
enum Kind {
    Access,
    Refresh,
    Csrf,
    Flow,
}

/// The name of the cookie that binds a provider login to the browser that began it (API.md §3).
const FLOW_COOKIE: &str = "tessera_oauth";

/// What a request carries for browser mode: its origin headers and Tessera's cookies.
pub struct BrowserRequest {
    browser: Arc<Browser>,
    headers: HeaderMap,
}

impl<S> FromRequestParts<S> for BrowserRequest
where
    S: Send + Sync,
    Arc<Browser>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            browser: Arc::<Browser>::from_ref(state),
            headers: parts.headers.clone(),
        })
    }
}

impl BrowserRequest {
    fn cookie(&self, name: &str) -> Option<&str> {
        find_cookie(
            self.headers.get_all(COOKIE).iter().map(|v| v.as_bytes()),
            name,
        )
        .filter(|value| !value.is_empty())
    }

    /// How a login or signup answers: in cookie mode (`cookie`), after checking that a page of
    /// ours sent it (a foreign page must not sign the browser into an account of its choice),
    /// with a new CSRF token.
    pub fn login_delivery(&self, cookie: bool) -> Result<Delivery, ApiError> {
        if !cookie {
            return Ok(Delivery::Body);
        }
        self.same_site()?;
        Ok(self.cookies(random_token()))
    }

    /// Refuses a request a page of another site made (`Sec-Fetch-Site: cross-site`, or an
    /// `Origin` not ours): for requests whose cookies must not act for a foreign page.
    pub fn same_site(&self) -> Result<(), ApiError> {
        Ok(self
            .browser
            .policy
            .check_origin(request_origin(&self.headers))?)
    }

    /// The refresh cookie of a refresh by cookie, and how it answers. The request must pass the
    /// CSRF rules; it keeps its CSRF token, so other tabs' requests in flight stay valid.
    pub fn cookie_refresh(&self) -> Result<(String, Delivery), ApiError> {
        let names = self.browser.policy.names();
        let csrf = self.cookie(names.csrf);
        self.browser.policy.check_unsafe(
            request_origin(&self.headers),
            self.headers.get(CSRF_HEADER).map(|v| v.as_bytes()),
            csrf,
        )?;
        let token = self.cookie(names.refresh).ok_or(Code::RefreshInvalid)?;
        let csrf = csrf.unwrap_or_default().to_owned();
        Ok((token.to_owned(), self.cookies(csrf)))
    }

    /// The refresh cookie of a page navigation that renews the hosted pages' session (`GET
    /// /auth/resume`), and how it answers. A navigation carries no CSRF header: the refresh
    /// cookie is `SameSite=Strict`, so only this site's navigations bring it, and the origin
    /// rules refuse the rest.
    pub fn navigation_refresh(&self) -> Result<(String, Delivery), ApiError> {
        self.same_site()?;
        let names = self.browser.policy.names();
        let token = self.cookie(names.refresh).ok_or(Code::RefreshInvalid)?;
        let csrf = self
            .cookie(names.csrf)
            .map_or_else(random_token, str::to_owned);
        Ok((token.to_owned(), self.cookies(csrf)))
    }

    /// The `Set-Cookie` values that remove this browser's cookies.
    pub fn cleared(&self) -> AppendHeaders<[(HeaderName, HeaderValue); 3]> {
        self.browser.cleared()
    }

    /// The CSRF token a hosted page's form carries (`csrf_token`): this browser's, or a new
    /// one with the `Set-Cookie` that gives it to the browser.
    pub fn page_csrf(&self) -> (String, Option<HeaderValue>) {
        match self.cookie(self.browser.policy.names().csrf) {
            Some(token) => (token.to_owned(), None),
            None => {
                let token = random_token();
                let cookie = self.browser.csrf_cookie(&token);
                (token, Some(cookie))
            }
        }
    }

    /// The CSRF check of a hosted page's form post: sent from our own site, with the form's
    /// `csrf_token` equal to the CSRF cookie.
    pub fn check_page_form(&self, csrf_token: &str) -> Result<(), ApiError> {
        let names = self.browser.policy.names();
        Ok(self.browser.policy.check_unsafe(
            request_origin(&self.headers),
            Some(csrf_token.as_bytes()),
            self.cookie(names.csrf),
        )?)
    }

    /// The request's `Accept-Language`, if it has a readable one.
    pub fn accept_language(&self) -> Option<&str> {
        self.headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
    }

    /// The access cookie's token, if the browser has one.
    pub fn access_cookie(&self) -> Option<&str> {
        self.cookie(self.browser.policy.names().access)
    }

    /// The `tessera_oauth` cookie's value: the binding of a provider login in progress.
    pub fn flow_binding(&self) -> Option<&str> {
        self.cookie(FLOW_COOKIE)
    }

    /// `error`, removing the cookies when it means the session they hold is over.
    pub fn refresh_failed(&self, error: ApiError) -> Response {
        if matches!(error.code(), Code::RefreshInvalid | Code::RefreshReused) {
            (self.cleared(), error).into_response()
        } else {
            error.into_response()
        }
    }

    /// The CSRF token of this browser, set as a cookie when it has none yet.
    pub fn csrf_token(&self) -> Response {
        let body = |token: &str| {
            NoStore(
                StatusCode::OK,
                CsrfView {
                    csrf_token: token.to_owned(),
                },
            )
        };
        match self.cookie(self.browser.policy.names().csrf) {
            Some(token) => body(token).into_response(),
            None => {
                let token = random_token();
                let set = self.browser.csrf_cookie(&token);
                (AppendHeaders([(header::SET_COOKIE, set)]), body(&token)).into_response()
            }
        }
    }

    fn cookies(&self, csrf: String) -> Delivery {
        Delivery::Cookies {
            browser: Arc::clone(&self.browser),
            csrf,
        }
    }
}

impl From<CsrfFailure> for ApiError {
    fn from(failure: CsrfFailure) -> Self {
        // The reason helps whoever debugs a front end; the client sees one code.
        tracing::info!(reason = %failure, "csrf check failed");
        Code::CsrfFailed.into()
    }
}

/// How a grant reaches the client: the token response body, or cookies (browser mode).
pub enum Delivery {
    /// The token response (API.md §2).
    Body,
    /// Three cookies, and a body without tokens.
    Cookies {
        /// The settings that name the cookies.
        browser: Arc<Browser>,
        /// The CSRF token to set.
        csrf: String,
    },
}

impl Delivery {
    /// `page` (HTML), with the grant's cookies in cookie mode: how a hosted page signs in.
    pub fn with_page(self, grant: &Grant, mut page: Response) -> Response {
        if let Self::Cookies { browser, csrf } = self {
            for cookie in browser.grant_cookies(grant, &csrf) {
                page.headers_mut().append(header::SET_COOKIE, cookie);
            }
        }
        page
    }

    /// The answer carrying `grant`, never cached.
    pub fn reply(self, status: StatusCode, grant: Grant) -> Response {
        match self {
            Self::Body => NoStore(status, TokenResponse::from(grant)).into_response(),
            Self::Cookies { browser, csrf } => {
                let [access, refresh, csrf_cookie] = browser.grant_cookies(&grant, &csrf);
                let body = CookieGrantView {
                    expires_in: grant.access_token.expires_in(),
                    refresh_expires_in: grant.refresh_expires_in(),
                    session_id: grant.session.id.to_string(),
                    csrf_token: csrf,
                    user: (&grant.user).into(),
                };
                let cookies = AppendHeaders([
                    (header::SET_COOKIE, access),
                    (header::SET_COOKIE, refresh),
                    (header::SET_COOKIE, csrf_cookie),
                ]);
                (cookies, NoStore(status, body)).into_response()
            }
        }
    }
}

/// The answer to a grant in cookie mode: the token response without its tokens, plus the
/// CSRF token for pages that cannot read the cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct CookieGrantView {
    /// Seconds until the access token (in its cookie) expires.
    pub expires_in: i64,
    /// Seconds until the refresh token (in its cookie) expires unused.
    pub refresh_expires_in: i64,
    /// The session the cookies belong to.
    pub session_id: String,
    /// The value of the CSRF cookie, to send as `X-CSRF-Token` on unsafe requests.
    pub csrf_token: String,
    /// The user.
    pub user: UserView,
}

/// The body of `GET /auth/csrf`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsrfView {
    /// The value of the CSRF cookie.
    pub csrf_token: String,
}
