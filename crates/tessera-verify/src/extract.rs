//! axum extractors: [`AuthUser`] for any valid access token, [`RequireRole`] for one with a role,
//! and [`request_credential`], the one reading of a request's token (bearer header, or the
//! access cookie under the CSRF rules) that Tessera's own server uses too.
//!
//! Refusals are RFC 9457 problem documents with the codes of Tessera's own API (API.md §1), so
//! a client handles a resource server exactly like Tessera: refresh on `token_expired`, and so on.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, ORIGIN, WWW_AUTHENTICATE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{
    AccessClaims, Authenticator, CSRF_HEADER, CookiePolicy, CsrfFailure, Rejection, RequestOrigin,
    find_cookie, is_unsafe_method,
};

/// The claims of the request's valid access token: from `Authorization: Bearer`, or from
/// Tessera's access cookie when the [`Authenticator`] accepts cookies
/// ([`Authenticator::with_cookies`]).
///
/// The [`Authenticator`] comes from the router's state through [`FromRef`]: use it as the state,
/// or implement `FromRef<YourState> for Authenticator`. `Option<AuthUser>` is `None` without a
/// token but still refuses a bad one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser(pub AccessClaims);

/// Why [`AuthUser`] or [`RequireRole`] refused a request; answers 401 or 403 problem+json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthRejection {
    /// No bearer token: 401 `token_missing`, `WWW-Authenticate: Bearer`.
    #[error("an access token is required")]
    Missing,
    /// A bad token: 401 `token_invalid`, `token_expired` or `token_revoked`, with
    /// `WWW-Authenticate: Bearer error="invalid_token"`.
    #[error(transparent)]
    Token(#[from] Rejection),
    /// A valid token without the required role: 403 `forbidden`.
    #[error("you lack the role this needs")]
    Forbidden,
    /// A cookie-authenticated unsafe request that fails the CSRF rules: 403 `csrf_failed`.
    #[error(transparent)]
    Csrf(#[from] CsrfFailure),
}

/// Where a request's access token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// The access cookie (browser mode); the CSRF rules held.
    Cookie,
}

/// A request's access token, not yet verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The compact JWT.
    pub token: &'a str,
    /// Where it came from.
    pub source: TokenSource,
}

/// The access token of a request: the bearer header when there is one (it never needs CSRF);
/// else, with `cookies`, the access cookie, refused as [`AuthRejection::Csrf`] when the method
/// is unsafe and the CSRF rules fail. `None` without either.
pub fn request_credential<'a>(
    parts: &'a Parts,
    cookies: Option<&CookiePolicy>,
) -> Result<Option<Credential<'a>>, AuthRejection> {
    if let Some(token) = bearer_token(&parts.headers)? {
        return Ok(Some(Credential {
            token,
            source: TokenSource::Bearer,
        }));
    }
    let Some(policy) = cookies else {
        return Ok(None);
    };
    let jar = || parts.headers.get_all(COOKIE).iter().map(|v| v.as_bytes());
    let Some(token) = find_cookie(jar(), policy.names().access).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if is_unsafe_method(parts.method.as_str()) {
        policy.check_unsafe(
            request_origin(&parts.headers),
            parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()),
            find_cookie(jar(), policy.names().csrf),
        )?;
    }
    Ok(Some(Credential {
        token,
        source: TokenSource::Cookie,
    }))
}

/// The `Origin` and `Sec-Fetch-Site` of a request.
pub fn request_origin(headers: &HeaderMap) -> RequestOrigin<'_> {
    RequestOrigin {
        origin: headers.get(ORIGIN).map(|v| v.as_bytes()),
        fetch_site: headers.get("sec-fetch-site").map(|v| v.as_bytes()),
    }
}

/// A valid token lacks a role: 403 problem+json `forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("you lack the role this needs")]
pub struct Forbidden;

/// A role, named at the type level for [`RequireRole`].
///
/// ```
/// use tessera_verify::RoleName;
///
/// struct Editor;
/// impl RoleName for Editor {
///     const NAME: &'static str = "editor";
/// }
/// ```
pub trait RoleName {
    /// The role as it appears in the token's `roles` claim.
    const NAME: &'static str;
}

/// Tessera's `admin` role.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl RoleName for Admin {
    const NAME: &'static str = "admin";
}

/// Like [`AuthUser`], but also refuses (403 `forbidden`) a token without role `R`.
/// Dereferences to the claims.
pub struct RequireRole<R> {
    claims: AccessClaims,
    role: PhantomData<fn() -> R>,
}

impl AuthUser {
    /// The token's claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.0
    }

    /// `Ok` if the token carries `role`, else [`Forbidden`], which a handler can return with `?`.
    pub fn require_role(&self, role: &str) -> Result<(), Forbidden> {
        if self.0.has_role(role) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }
}

impl Deref for AuthUser {
    type Target = AccessClaims;

    fn deref(&self) -> &AccessClaims {
        &self.0
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let auth = Authenticator::from_ref(state);
        let credential =
            request_credential(parts, auth.cookie_policy())?.ok_or(AuthRejection::Missing)?;
        Ok(Self(auth.verify(credential.token).await?))
    }
}

impl<S> OptionalFromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, AuthRejection> {
        let auth = Authenticator::from_ref(state);
        let Some(credential) = request_credential(parts, auth.cookie_policy())? else {
            return Ok(None);
        };
        Ok(Some(Self(auth.verify(credential.token).await?)))
    }
}

impl<R> RequireRole<R> {
    /// The token's claims.
    pub fn into_claims(self) -> AccessClaims {
        self.claims
    }
}

impl<R> Deref for RequireRole<R> {
    type Target = AccessClaims;

    fn deref(&self) -> &AccessClaims {
        &self.claims
    }
}

impl<R> std::fmt::Debug for RequireRole<R>
where
    R: RoleName,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireRole")
            .field("role", &R::NAME)
            .field("claims", &self.claims)
            .finish()
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
    R: RoleName,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let user = <AuthUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        user.require_role(R::NAME)?;
        Ok(Self {
            claims: user.0,
            role: PhantomData,
        })
    }
}

impl From<Forbidden> for AuthRejection {
    fn from(_: Forbidden) -> Self {
        Self::Forbidden
    }
}

impl AuthRejection {
    /// The HTTP status: 401, or 403 for [`AuthRejection::Forbidden`].
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Forbidden | Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::Missing | Self::Token(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// The problem's `code`, as in Tessera's API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "token_missing",
            Self::Token(Rejection::Invalid) => "token_invalid",
            Self::Token(Rejection::Expired) => "token_expired",
            Self::Token(Rejection::Revoked) => "token_revoked",
            Self::Forbidden => "forbidden",
            Self::Csrf(_) => "csrf_failed",
        }
    }

    fn detail(&self) -> &'static str {
        match self {
            Self::Missing => "an access token is required",
            Self::Token(Rejection::Invalid) => "the access token is invalid",
            Self::Token(Rejection::Expired) => "the access token has expired",
            Self::Token(Rejection::Revoked) => "the access token has been revoked",
            Self::Forbidden => "you lack the role this needs",
            Self::Csrf(_) => "the request failed the CSRF check",
        }
    }

    /// RFC 6750 §3: `invalid_token` for a bad token, the bare scheme for a missing one.
    fn challenge(&self) -> Option<&'static str> {
        match self {
            Self::Missing => Some("Bearer"),
            Self::Token(_) => Some(r#"Bearer error="invalid_token""#),
            Self::Forbidden | Self::Csrf(_) => None,
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or_default(),
            "status": status.as_u16(),
            "code": self.code(),
            "detail": self.detail(),
        });
        let mut response = (status, problem.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge() {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        AuthRejection::Forbidden.into_response()
    }
}

/// The token of an `Authorization: Bearer` header; `None` without one or with another scheme.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthRejection> {
    match headers.get(AUTHORIZATION) {
        Some(value) => Ok(crate::bearer_token(value.as_bytes())?),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::testkit::{ManualClock, NOW, TestKey, claims, expectations};
    use crate::{DenySet, Revocation};

    struct Fixture {
        key: TestKey,
        clock: Arc<ManualClock>,
        deny: Arc<DenySet>,
        router: Router,
    }

    async fn me(user: AuthUser) -> String {
        user.sub.clone()
    }

    async fn maybe_me(user: Option<AuthUser>) -> String {
        user.map_or_else(|| "anonymous".to_owned(), |user| user.sub.clone())
    }

    async fn admin(admin: RequireRole<Admin>) -> String {
        admin.email.clone()
    }

    async fn reader(user: AuthUser) -> Result<&'static str, Forbidden> {
        user.require_role("reader")?;
        Ok("read")
    }

    fn fixture() -> Fixture {
        let key = TestKey::ed25519("k1");
        let clock = ManualClock::at(NOW);
        let deny = Arc::new(DenySet::new());
        let auth = Authenticator::new(key.key_set(), expectations())
            .with_clock(clock.clone())
            .with_deny_set(Arc::clone(&deny));
        let router = Router::new()
            .route("/me", get(me))
            .route("/maybe-me", get(maybe_me))
            .route("/admin", get(admin))
            .route("/reader", get(reader))
            .with_state(auth);
        Fixture {
            key,
            clock,
            deny,
            router,
        }
    }

    async fn call(router: &Router, path: &str, authorization: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn problem(response: Response) -> (StatusCode, Option<String>, Value) {
        let status = response.status();
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        (status, challenge, serde_json::from_slice(&body).unwrap())
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[tokio::test]
    async fn a_valid_token_reaches_the_handler() {
        let f = fixture();
        let token = f.key.sign(&claims(NOW));

        let response = call(&f.router, "/me", Some(&bearer(&token))).await;

        assert_eq!(response.status(), StatusCode::OK);
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(body, claims(NOW).sub.as_bytes());
    }

    #[tokio::test]
    async fn no_token_is_token_missing_with_a_bare_bearer_challenge() {
        let f = fixture();
        for authorization in [None, Some("Basic dXNlcjpwdw=="), Some("Bearer ")] {
            let response = call(&f.router, "/me", authorization).await;

            let (status, challenge, body) = problem(response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(challenge.as_deref(), Some("Bearer"));
            assert_eq!(body["code"], "token_missing");
            assert_eq!(body["status"], 401);
            assert_eq!(body["type"], "about:blank");
        }
    }

    #[tokio::test]
    async fn bad_expired_and_revoked_tokens_are_refused_with_invalid_token() {
        let f = fixture();
        let good = f.key.sign(&claims(NOW));
        let expired = f.key.sign(&claims(NOW - 3_600));
        let revoked_claims = claims(NOW - 5);
        let revoked = f.key.sign(&revoked_claims);
        f.deny.apply(
            &Revocation {
                cursor: 1,
                sid: None,
                jti: Some(revoked_claims.jti),
                user_id: None,
                revoked_at: NOW,
                revoked_at_ms: None,
                until: NOW + 900,
            },
            NOW,
        );
        let cases = [
            (format!("{good}x"), "token_invalid"),
            ("not.a.jwt".to_owned(), "token_invalid"),
            (expired, "token_expired"),
            (revoked, "token_revoked"),
        ];

        for (token, code) in cases {
            let response = call(&f.router, "/me", Some(&bearer(&token))).await;

            let (status, challenge, body) = problem(response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{code}");
            assert_eq!(
                challenge.as_deref(),
                Some(r#"Bearer error="invalid_token""#)
            );
            assert_eq!(body["code"], code);
        }
    }

    #[tokio::test]
    async fn a_token_that_expires_is_refused_once_the_clock_passes_exp_and_leeway() {
        let f = fixture();
        let token = f.key.sign(&claims(NOW));
        f.clock.advance(900 + 30);

        let (status, _, body) = problem(call(&f.router, "/me", Some(&bearer(&token))).await).await;

        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "token_expired");
    }

    #[tokio::test]
    async fn optional_auth_is_none_without_a_token_but_refuses_a_bad_one() {
        let f = fixture();

        let anonymous = call(&f.router, "/maybe-me", None).await;
        let bad = call(&f.router, "/maybe-me", Some("Bearer nope")).await;

        assert_eq!(anonymous.status(), StatusCode::OK);
        assert_eq!(
            to_bytes(anonymous.into_body(), 64).await.unwrap(),
            "anonymous"
        );
        assert_eq!(problem(bad).await.2["code"], "token_invalid");
    }

    #[tokio::test]
    async fn a_missing_role_is_forbidden_without_a_challenge() {
        let f = fixture();
        let token = f.key.sign(&claims(NOW));

        let (status, challenge, body) =
            problem(call(&f.router, "/admin", Some(&bearer(&token))).await).await;

        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(challenge, None);
        assert_eq!(body["code"], "forbidden");
        assert_eq!(body["title"], "Forbidden");
    }

    #[tokio::test]
    async fn a_held_role_passes_both_guards() {
        let f = fixture();
        let mut admin_claims = claims(NOW);
        admin_claims.roles = vec!["admin".into(), "reader".into()];
        let token = f.key.sign(&admin_claims);

        let admin = call(&f.router, "/admin", Some(&bearer(&token))).await;
        let reader = call(&f.router, "/reader", Some(&bearer(&token))).await;

        assert_eq!(admin.status(), StatusCode::OK);
        assert_eq!(reader.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn require_role_answers_forbidden_for_a_role_the_token_lacks() {
        let f = fixture();
        let mut no_roles = claims(NOW);
        no_roles.roles.clear();
        let token = f.key.sign(&no_roles);

        let (status, _, body) =
            problem(call(&f.router, "/reader", Some(&bearer(&token))).await).await;

        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["code"], "forbidden");
    }

    fn cookie_router(key: &TestKey) -> Router {
        let auth = Authenticator::new(key.key_set(), expectations())
            .with_clock(ManualClock::at(NOW))
            .with_cookies(CookiePolicy::new(
                crate::CookieNames::SECURE,
                &["https://app.example.com"],
            ));
        Router::new()
            .route("/me", get(me).post(me))
            .with_state(auth)
    }

    async fn cookie_call(router: &Router, method: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::builder().method(method).uri("/me");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_access_cookie_authenticates_safe_requests_and_unsafe_ones_with_the_csrf_token() {
        let key = TestKey::ed25519("k1");
        let router = cookie_router(&key);
        let token = key.sign(&claims(NOW));
        let jar = format!("__Host-tessera_at={token}; tessera_csrf=c5rf");

        let read = cookie_call(&router, "GET", &[("cookie", &jar)]).await;
        let write = cookie_call(
            &router,
            "POST",
            &[
                ("cookie", &jar),
                ("x-csrf-token", "c5rf"),
                ("origin", "https://app.example.com"),
            ],
        )
        .await;

        assert_eq!(read.status(), StatusCode::OK);
        assert_eq!(write.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_unsafe_cookie_request_failing_the_csrf_rules_is_csrf_failed() {
        let key = TestKey::ed25519("k1");
        let router = cookie_router(&key);
        let token = key.sign(&claims(NOW));
        let jar = format!("__Host-tessera_at={token}; tessera_csrf=c5rf");
        let cases: [&[(&str, &str)]; 4] = [
            &[("cookie", &jar)],
            &[("cookie", &jar), ("x-csrf-token", "other")],
            &[
                ("cookie", &jar),
                ("x-csrf-token", "c5rf"),
                ("origin", "https://evil.example.net"),
            ],
            &[
                ("cookie", &jar),
                ("x-csrf-token", "c5rf"),
                ("sec-fetch-site", "cross-site"),
            ],
        ];

        for headers in cases {
            let (status, challenge, body) =
                problem(cookie_call(&router, "POST", headers).await).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
            assert_eq!(challenge, None);
            assert_eq!(body["code"], "csrf_failed");
        }
    }

    #[tokio::test]
    async fn a_bearer_token_needs_no_csrf_and_cookies_count_only_when_enabled() {
        let key = TestKey::ed25519("k1");
        let token = key.sign(&claims(NOW));
        let bearer_only =
            Authenticator::new(key.key_set(), expectations()).with_clock(ManualClock::at(NOW));
        let plain = Router::new().route("/me", get(me)).with_state(bearer_only);
        let jar = format!("__Host-tessera_at={token}");

        let by_bearer = cookie_call(
            &cookie_router(&key),
            "POST",
            &[
                ("authorization", &bearer(&token)),
                ("origin", "https://evil.example.net"),
            ],
        )
        .await;
        let cookie_ignored = cookie_call(&plain, "GET", &[("cookie", &jar)]).await;
        let wrong_name = cookie_call(
            &cookie_router(&key),
            "GET",
            &[("cookie", &format!("tessera_at={token}"))],
        )
        .await;

        assert_eq!(by_bearer.status(), StatusCode::OK);
        assert_eq!(problem(cookie_ignored).await.2["code"], "token_missing");
        assert_eq!(problem(wrong_name).await.2["code"], "token_missing");
    }

    #[tokio::test]
    async fn the_role_guard_checks_the_token_before_the_role() {
        let f = fixture();

        let (status, _, body) = problem(call(&f.router, "/admin", None).await).await;

        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "token_missing");
    }
}
