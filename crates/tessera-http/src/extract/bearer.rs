//! The caller of a protected endpoint, from `Authorization: Bearer <access token>`.
//!
//! Verification is in memory: signature, pinned algorithm, claims. No database call.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use std::sync::Arc;
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
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let keys = Arc::<KeyRing>::from_ref(state);
        let claims = keys.verify(token)?;
        let user_id = claims.sub.parse().map_err(|_| Code::TokenInvalid)?;
        let session_id = claims.sid.parse().map_err(|_| Code::TokenInvalid)?;
        tracing::Span::current().record("user_id", tracing::field::display(&claims.sub));
        Ok(Self {
            user_id,
            session_id,
            claims,
        })
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(Code::TokenMissing)?;
    let value = value.to_str().map_err(|_| Code::TokenInvalid)?;
    let (scheme, token) = value.split_once(' ').ok_or(Code::TokenMissing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Code::TokenMissing.into());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Code::TokenMissing.into());
    }
    Ok(token)
}
