//! A back end authenticated with a configured service key (`Authorization: Bearer <key>`).
//! A missing or wrong key is answered like a bearer token: `token_missing` / `token_invalid`.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::error::{ApiError, Code};
use crate::state::ServiceKeys;

/// Proof that the caller presented a service key.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCaller;

impl<S> FromRequestParts<S> for ServiceCaller
where
    S: Send + Sync,
    Arc<ServiceKeys>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let key = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => tessera_verify::bearer_token(value.as_bytes())?,
            None => None,
        }
        .ok_or(Code::TokenMissing)?;
        if Arc::<ServiceKeys>::from_ref(state).accepts(key) {
            Ok(Self)
        } else {
            Err(Code::TokenInvalid.into())
        }
    }
}
