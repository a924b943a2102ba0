//! The one API error: a stable `code` (API.md §1), rendered as RFC 9457 problem+json.
//!
//! Rendering is pure: the `source` of a server-side error never goes in the body, but rides in
//! the response's extensions to [`FailureCause::log`], which the request's observing service
//! calls, so it is logged once, inside the request's span.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::account::{AccountError, FieldError, PasswordError};
use tessera_core::grant::IssueError;
use tessera_core::limits::Limited;
use tessera_core::mfa::MfaError;
use tessera_core::passkey::PasskeyError;
use tessera_core::session::SessionError;
use tessera_core::social::{SocialError, UpstreamError};
use tessera_core::{StateError, StoreError};
use tessera_verify::Rejection;
use utoipa::ToSchema;

/// Machine-readable error codes; one per row of API.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 422
    ValidationError,
    /// 400
    CodeInvalid,
    /// 413
    PayloadTooLarge,
    /// 422
    WeakPassword,
    /// 409
    EmailTaken,
    /// 409
    LastLoginMethod,
    /// 409
    ProviderLoginRequired,
    /// 401
    InvalidCredentials,
    /// 401
    TokenMissing,
    /// 401
    TokenInvalid,
    /// 401
    TokenExpired,
    /// 401
    TokenRevoked,
    /// 401
    RefreshInvalid,
    /// 401
    RefreshReused,
    /// 401
    MfaInvalid,
    /// 403
    CsrfFailed,
    /// 403
    Forbidden,
    /// 403
    AccountDisabled,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 429
    RateLimited,
    /// 502
    UpstreamError,
    /// 503
    Unavailable,
    /// 500
    Internal,
}

impl Code {
    /// The stable string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "validation_error",
            Self::CodeInvalid => "code_invalid",
            Self::PayloadTooLarge => "payload_too_large",
            Self::WeakPassword => "weak_password",
            Self::EmailTaken => "email_taken",
            Self::LastLoginMethod => "last_login_method",
            Self::ProviderLoginRequired => "provider_login_required",
            Self::UpstreamError => "upstream_error",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TokenMissing => "token_missing",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::RefreshInvalid => "refresh_invalid",
            Self::RefreshReused => "refresh_reused",
            Self::MfaInvalid => "mfa_invalid",
            Self::CsrfFailed => "csrf_failed",
            Self::Forbidden => "forbidden",
            Self::AccountDisabled => "account_disabled",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::ValidationError | Self::WeakPassword => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::CodeInvalid => StatusCode::BAD_REQUEST,
            Self::EmailTaken | Self::LastLoginMethod | Self::ProviderLoginRequired => {
                StatusCode::CONFLICT
            }
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::InvalidCredentials
            | Self::TokenMissing
            | Self::TokenInvalid
            | Self::TokenExpired
            | Self::TokenRevoked
            | Self::RefreshInvalid
            | Self::RefreshReused
            | Self::MfaInvalid => StatusCode::UNAUTHORIZED,
            Self::CsrfFailed | Self::Forbidden | Self::AccountDisabled => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn default_detail(self) -> &'static str {
        match self {
            Self::ValidationError => "the request is malformed",
            Self::CodeInvalid => "the code is unknown, expired or was used already",
            Self::PayloadTooLarge => "the request body is larger than 64 KiB",
            Self::WeakPassword => "the password is too weak",
            Self::EmailTaken => "an account with this email exists",
            Self::LastLoginMethod => {
                "this is the account's last way to sign in; add another one first"
            }
            Self::ProviderLoginRequired => {
                "the provider no longer accepts the stored grant; the user must sign in with it again"
            }
            Self::UpstreamError => "the identity provider answered with an error",
            Self::InvalidCredentials => "wrong email or password",
            Self::TokenMissing => "an access token is required",
            Self::TokenInvalid => "the access token is invalid",
            Self::TokenExpired => "the access token has expired",
            Self::TokenRevoked => "the access token has been revoked",
            Self::RefreshInvalid => "the refresh token is unknown, expired or revoked",
            Self::RefreshReused => "the refresh token was already used; the session has been ended",
            // Front ends show it to people: no field names.
            Self::MfaInvalid => {
                "the code is wrong or was used already, or this sign-in has expired"
            }
            Self::CsrfFailed => "the request failed the CSRF check",
            Self::Forbidden => "you lack the role this needs",
            Self::AccountDisabled => "this account is disabled",
            Self::NotFound => "no such resource",
            Self::MethodNotAllowed => "this method is not allowed here",
            Self::RateLimited => "too many attempts; try again later",
            Self::Unavailable => "a required backend is unavailable; try again shortly",
            Self::Internal => "an internal error occurred",
        }
    }
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status reason.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable, safe to show.
    pub detail: String,
    /// The invalid fields, for `validation_error`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    detail: Cow<'static, str>,
    errors: Vec<FieldProblem>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The rule that refused a `rate_limited` answer, for its headers.
    limited: Option<Limited>,
}

impl ApiError {
    /// An error with the code's default detail.
    pub fn new(code: Code) -> Self {
        Self {
            code,
            detail: Cow::Borrowed(code.default_detail()),
            errors: Vec::new(),
            source: None,
            limited: None,
        }
    }

    /// A `rate_limited` answer for the rule that refused the attempt.
    pub fn rate_limited(limited: Limited) -> Self {
        Self {
            limited: Some(limited),
            ..Self::new(Code::RateLimited)
        }
    }

    /// Replaces the detail.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// A `validation_error` listing `errors`.
    pub fn validation(errors: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut error = Self::new(Code::ValidationError);
        error.errors = errors
            .into_iter()
            .map(|(field, message)| FieldProblem { field, message })
            .collect();
        if let Some(first) = error.errors.first() {
            error.detail = Cow::Owned(format!("{}: {}", first.field, first.message));
        }
        error
    }

    /// A 503 caused by `source`, which is logged but not shown.
    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..Self::new(Code::Unavailable)
        }
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// A 500 caused by `source`, which is logged but not shown.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..Self::new(Code::Internal)
        }
    }

    /// The cause to log when this error is answered, for responses rendered another way
    /// (the OAuth2 endpoints' RFC 6749 errors).
    pub fn into_cause(self) -> Option<FailureCause> {
        FailureCause::of(self.code, self.source)
    }
}

/// Why a request failed on the server's side, carried from the response to [`FailureCause::log`].
#[derive(Clone)]
pub struct FailureCause {
    code: &'static str,
    source: Arc<dyn std::error::Error + Send + Sync>,
}

impl FailureCause {
    /// The cause of an answer with `code`; only server-side errors with a source have one
    /// (a 4xx is the client's doing, not something to log as an error).
    fn of(code: Code, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Option<Self> {
        let source = source.filter(|_| code.status().is_server_error())?;
        Some(Self {
            code: code.as_str(),
            source: Arc::from(source),
        })
    }

    /// Attaches the cause to `response`, for [`take_failure`].
    pub fn attach(self, response: &mut Response) {
        response.extensions_mut().insert(self);
    }

    /// Logs the cause with its whole chain. Called once per request, inside its span; nothing
    /// else logs errors that become responses.
    pub(crate) fn log(&self) {
        tracing::error!(code = self.code, error = %error_chain(self.source.as_ref()), "request failed");
    }
}

/// Takes the cause `response` carries, if any, off it, for [`FailureCause::log`].
pub(crate) fn take_failure(response: &mut Response) -> Option<FailureCause> {
    response.extensions_mut().remove::<FailureCause>()
}

impl From<Code> for ApiError {
    fn from(code: Code) -> Self {
        Self::new(code)
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::Invalid => Code::TokenInvalid.into(),
            Rejection::Expired => Code::TokenExpired.into(),
            Rejection::Revoked => Code::TokenRevoked.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::unavailable(error),
            other => Self::internal(other),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Validation(errors) => {
                Self::validation(errors.into_iter().map(field_pair))
            }
            AccountError::WeakPassword(reason) => {
                Self::new(Code::WeakPassword).with_detail(weak_detail(&reason))
            }
            AccountError::EmailTaken => Code::EmailTaken.into(),
            AccountError::InvalidCredentials => Code::InvalidCredentials.into(),
            AccountError::AccountDisabled => Code::AccountDisabled.into(),
            AccountError::AccountGone => Code::TokenRevoked.into(),
            AccountError::RateLimited(limited) => Self::rate_limited(limited),
            AccountError::Busy => {
                Self::new(Code::Unavailable).with_detail("the server is busy; try again shortly")
            }
            AccountError::Store(error) => error.into(),
            AccountError::State(error) => Self::unavailable(error),
            AccountError::Token(error) => error.into(),
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(error: MfaError) -> Self {
        match error {
            MfaError::Invalid => Code::MfaInvalid.into(),
            MfaError::State(on) => {
                let message = if on {
                    "two-factor is already on; turn it off first"
                } else {
                    "two-factor is not on"
                };
                Self::validation([("totp".to_owned(), message.to_owned())])
            }
            MfaError::Account(error) => error.into(),
            MfaError::Store(error) => error.into(),
            MfaError::Unavailable(error) => Self::unavailable(error),
            MfaError::Sealed => Self::internal(error),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::RefreshInvalid => Code::RefreshInvalid.into(),
            SessionError::RefreshReused { .. } => Code::RefreshReused.into(),
            SessionError::NotFound => Code::NotFound.into(),
            SessionError::Store(error) => error.into(),
            SessionError::State(error) => error.into(),
            SessionError::Token(error) => error.into(),
            SessionError::Contended => Self::new(Code::Unavailable)
                .with_detail("the session is changing right now; try again shortly"),
        }
    }
}

impl From<SocialError> for ApiError {
    fn from(error: SocialError) -> Self {
        match error {
            SocialError::UnknownProvider | SocialError::NotLinked => Code::NotFound.into(),
            SocialError::RedirectNotAllowed => Self::validation([(
                "redirect_to".to_owned(),
                "must be under public_url or an entry of oauth.redirect_allowlist".to_owned(),
            )]),
            SocialError::StateInvalid | SocialError::CodeInvalid => Code::CodeInvalid.into(),
            SocialError::LastMethod => Code::LastLoginMethod.into(),
            SocialError::ProviderLoginRequired => Code::ProviderLoginRequired.into(),
            SocialError::Redirect { reason, .. } | SocialError::Refused(reason) => {
                Self::new(Code::CodeInvalid).with_detail(reason)
            }
            SocialError::Upstream(UpstreamError::Unavailable(_)) => Self::unavailable(error),
            SocialError::Upstream(_) => Self {
                source: Some(Box::new(error)),
                ..Self::new(Code::UpstreamError)
            },
            SocialError::Sealed => Self::internal(error),
            SocialError::Account(error) => error.into(),
            SocialError::Store(error) => error.into(),
            SocialError::State(error) => error.into(),
        }
    }
}

impl From<PasskeyError> for ApiError {
    fn from(error: PasskeyError) -> Self {
        let invalid =
            |field: &str, message: &str| Self::validation([(field.to_owned(), message.to_owned())]);
        match error {
            PasskeyError::CeremonyInvalid => Code::CodeInvalid.into(),
            PasskeyError::Malformed => invalid("credential", "not a WebAuthn credential"),
            PasskeyError::Refused(reason) => {
                // Which check failed helps whoever debugs a front end; it names no secret.
                tracing::info!(%reason, "passkey registration refused");
                invalid("credential", "the authenticator's answer did not pass")
            }
            PasskeyError::Taken => invalid("credential", "this passkey is registered already"),
            PasskeyError::Name => invalid("name", "1 to 64 characters"),
            PasskeyError::LastMethod => Code::LastLoginMethod.into(),
            PasskeyError::NotFound => Code::NotFound.into(),
            PasskeyError::Settings(_) => Self::internal(error),
            PasskeyError::Account(error) => error.into(),
            PasskeyError::Store(error) => error.into(),
            PasskeyError::Unavailable(error) => error.into(),
        }
    }
}

impl From<IssueError> for ApiError {
    fn from(error: IssueError) -> Self {
        Self::internal(error)
    }
}

impl From<StateError> for ApiError {
    fn from(error: StateError) -> Self {
        Self::unavailable(error)
    }
}

fn field_pair(error: FieldError) -> (String, String) {
    (error.field.to_owned(), error.message)
}

fn weak_detail(reason: &PasswordError) -> String {
    reason.to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code: self.code.as_str(),
            detail: self.detail.into_owned(),
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = challenge(self.code) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if matches!(self.code, Code::Unavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(limited) = self.limited {
            rate_limit_headers(&limited, headers);
        }
        if let Some(cause) = FailureCause::of(self.code, self.source) {
            cause.attach(&mut response);
        }
        response
    }
}

/// `Retry-After` in whole seconds (rounded up, so a client that waits that long succeeds), and
/// the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy's quota `q` per
/// window `w`, and what is left `r` with the seconds `t` until it changes.
pub fn rate_limit_headers(limited: &Limited, headers: &mut axum::http::HeaderMap) {
    let retry_after = limited.retry_after.as_millis().div_ceil(1000).max(1);
    let name = limited.rule.as_str();
    let policy = format!(
        "\"{name}\";q={};w={}",
        limited.quota.limit(),
        limited.quota.window().as_secs().max(1)
    );
    let state = format!("\"{name}\";r=0;t={retry_after}");
    for (header, value) in [
        (header::RETRY_AFTER, retry_after.to_string()),
        (HeaderName::from_static("ratelimit-policy"), policy),
        (HeaderName::from_static("ratelimit"), state),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header, value);
        }
    }
}

/// RFC 6750 §3: token errors name `invalid_token`; a missing token and wrong credentials get
/// the bare scheme.
fn challenge(code: Code) -> Option<&'static str> {
    match code {
        Code::TokenInvalid | Code::TokenExpired | Code::TokenRevoked => {
            Some(r#"Bearer realm="tessera", error="invalid_token""#)
        }
        Code::TokenMissing
        | Code::InvalidCredentials
        | Code::RefreshInvalid
        | Code::RefreshReused
        | Code::MfaInvalid => Some(r#"Bearer realm="tessera""#),
        _ => None,
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
