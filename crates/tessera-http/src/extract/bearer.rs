//! The caller of a protected endpoint, from `Authorization: Bearer <access token>` or, in
//! browser mode, the access cookie under the CSRF rules.
//!
//! The hot path, all in memory and through `tessera-verify`, the code resource servers run:
//! the header parsed one way, the signature with the key's pinned algorithm, the claims, then
//! the deny-set of revoked sessions, tokens and users. No database or network call.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use tessera_core::{SessionId, UserId};
use tessera_token::{AccessClaims, KeyRing};
use tessera_verify::{AuthRejection, TokenSource, request_credential};

use crate::browser::Browser;
use crate::error::{ApiError, Code};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user (`sub`).
    pub user_id: UserId,
    /// The session (`sid`).
    pub session_id: SessionId,
    /// Every claim of the token, shared with the cache of verified tokens.
    pub claims: Arc<AccessClaims>,
    /// Whether the token came in the access cookie (browser mode).
    pub by_cookie: bool,
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Arc<KeyRing>: FromRef<S>,
    Arc<Browser>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let browser = Arc::<Browser>::from_ref(state);
        let credential = request_credential(parts, Some(browser.policy()))
            .map_err(ApiError::from)?
            .ok_or(Code::TokenMissing)?;
        let mut caller = authenticate(&Arc::<KeyRing>::from_ref(state), credential.token)?;
        caller.by_cookie = credential.source == TokenSource::Cookie;
        let span = tracing::Span::current();
        span.record("user_id", tracing::field::display(&caller.user_id));
        span.record("session_id", tracing::field::display(&caller.session_id));
        Ok(caller)
    }
}

/// Verifies `token`, revocations included.
pub fn authenticate(keys: &KeyRing, token: &str) -> Result<Caller, ApiError> {
    let claims = keys.verify(token)?;
    let user_id = claims.sub.parse().map_err(|_| Code::TokenInvalid)?;
    let session_id = claims.sid.parse().map_err(|_| Code::TokenInvalid)?;
    Ok(Caller {
        user_id,
        session_id,
        claims,
        by_cookie: false,
    })
}

impl From<AuthRejection> for ApiError {
    fn from(rejection: AuthRejection) -> Self {
        match rejection {
            AuthRejection::Missing => Code::TokenMissing.into(),
            AuthRejection::Token(rejection) => rejection.into(),
            AuthRejection::Forbidden => Code::Forbidden.into(),
            AuthRejection::Csrf(failure) => failure.into(),
        }
    }
}
