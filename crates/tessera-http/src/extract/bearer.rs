//! The caller of a protected endpoint, from `Authorization: Bearer <access token>`.
//!
//! The hot path, all in memory: signature with the key's pinned algorithm, claims, then the
//! deny-set of revoked sessions and users. No database or network call.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tessera_core::session::Sessions;
use tessera_core::{SessionId, UserId};
use tessera_token::{AccessClaims, KeyRing};

use crate::error::{ApiError, Code};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user (`sub`).
    pub user_id: UserId,
    /// The session (`sid`).
    pub session_id: SessionId,
    /// Every claim of the token.
    pub claims: AccessClaims,
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Arc<KeyRing>: FromRef<S>,
    Arc<Sessions>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?.ok_or(Code::TokenMissing)?;
        let caller = authenticate(
            &Arc::<KeyRing>::from_ref(state),
            &Arc::<Sessions>::from_ref(state),
            token,
        )?;
        tracing::Span::current().record("user_id", tracing::field::display(&caller.user_id));
        Ok(caller)
    }
}

/// Verifies `token` and checks it against the deny-set.
pub fn authenticate(keys: &KeyRing, sessions: &Sessions, token: &str) -> Result<Caller, ApiError> {
    let claims = keys.verify(token)?;
    let user_id = claims.sub.parse().map_err(|_| Code::TokenInvalid)?;
    let session_id = claims.sid.parse().map_err(|_| Code::TokenInvalid)?;
    if sessions.is_revoked(session_id, user_id, claims.iat) {
        return Err(Code::TokenRevoked.into());
    }
    Ok(Caller {
        user_id,
        session_id,
        claims,
    })
}

/// The token of an `Authorization: Bearer` header; `None` without one.
pub fn bearer_token(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Code::TokenInvalid)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Ok(None);
    }
    Ok(Some(token))
}
