//! Request bodies: at most 64 KiB, checked before parsing, and parse errors as
//! `validation_error` naming the field (never axum's plain-text rejections).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

/// An `application/x-www-form-urlencoded` body (RFC 6749 and RFC 7009 endpoints).
#[derive(Debug, Clone)]
pub struct Form<T>(pub T);

/// A JSON body, or an `application/x-www-form-urlencoded` one (the OAuth2 password form).
#[derive(Debug, Clone)]
pub struct JsonOrForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request).await?;
        parse_json(&bytes).map(Json)
    }
}

/// `Option<Json<T>>`: `None` for an empty body (`POST /auth/refresh` by cookie), else as
/// [`Json`].
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Option<Self>, Self::Rejection> {
        let bytes = json_bytes(request).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse_json(&bytes).map(|body| Some(Json(body)))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let form = is_form(request.headers());
        let length = declared_length(request.headers());
        let bytes = read_limited(request.into_body(), length).await?;
        if form {
            serde_urlencoded::from_bytes(&bytes)
                .map(JsonOrForm)
                .map_err(|e| field_error(".".into(), e.to_string()))
        } else {
            parse_json(&bytes).map(JsonOrForm)
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        if !is_form(request.headers()) {
            return Err(ApiError::validation([(
                "body".into(),
                "expected application/x-www-form-urlencoded".into(),
            )]));
        }
        let length = declared_length(request.headers());
        let bytes = read_limited(request.into_body(), length).await?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Form)
            .map_err(|e| field_error(".".into(), e.to_string()))
    }
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`]: at once when `Content-Length` says
/// so, otherwise as soon as the limit is crossed.
pub async fn read_limited(body: Body, declared: Option<u64>) -> Result<Bytes, ApiError> {
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(Code::PayloadTooLarge.into());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| Code::PayloadTooLarge.into())
}

/// The bytes of a body that must be JSON (a form is refused), within the limit.
async fn json_bytes(request: Request) -> Result<Bytes, ApiError> {
    if is_form(request.headers()) {
        return Err(ApiError::validation([(
            "body".into(),
            "expected application/json".into(),
        )]));
    }
    let length = declared_length(request.headers());
    read_limited(request.into_body(), length).await
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let message = e.inner().to_string();
        // serde_json appends " at line L column C": position, not meaning.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        field_error(e.path().to_string(), message)
    })?;
    deserializer.end().map_err(|_| {
        field_error(
            ".".into(),
            "trailing characters after the JSON value".into(),
        )
    })?;
    Ok(value)
}

fn field_error(path: String, message: String) -> ApiError {
    let message = without_value(message);
    // A missing field is reported at its parent; name the field itself.
    let field = match message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        Some(missing) => missing.to_owned(),
        None if path == "." => "body".to_owned(),
        None => path,
    };
    ApiError::validation([(field, message)])
}

/// serde quotes the offending value in type errors ("invalid type: integer `86753091`,
/// expected a string"), and that value may be a password: keep only what was expected.
fn without_value(message: String) -> String {
    for kind in ["invalid type", "invalid value", "unknown variant"] {
        if message.starts_with(kind)
            && let Some((_, expected)) = message.rsplit_once(", expected ")
        {
            return format!("{kind}: expected {expected}");
        }
    }
    message
}
