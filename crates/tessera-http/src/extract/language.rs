//! The language a request asks for (`Accept-Language`), for the mails it causes.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::request::Parts;
use tessera_core::mail::Locale;

/// English or Korean as the request prefers them; `None` when it names neither.
#[derive(Debug, Clone, Copy)]
pub struct Language(pub Option<Locale>);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok())
                .and_then(Locale::preferred),
        ))
    }
}
