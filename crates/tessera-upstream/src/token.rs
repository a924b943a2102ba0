//! Token endpoint answers: a lenient token response (Naver sends `expires_in` as a string, and
//! some providers omit `token_type`), its mapping to the port's `ProviderTokens`, and the
//! mapping of token endpoint failures to `UpstreamError` without any token text.

use std::fmt;
use std::time::Duration;

use oauth2::{
    AccessToken, ErrorResponseType, RefreshToken, RequestTokenError, Scope, StandardErrorResponse,
    TokenResponse, TokenType,
};
use serde::{Deserialize, Deserializer, Serialize};
use tessera_core::social::{ProviderTokens, UpstreamError};

use crate::http::HttpFailure;

/// A token endpoint's answer (RFC 6749 §5.1, plus OpenID's `id_token`).
#[derive(Clone, Deserialize, Serialize)]
pub(crate) struct TokenAnswer {
    access_token: AccessToken,
    #[serde(default)]
    token_type: AnyTokenType,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default)]
    id_token: Option<String>,
    // The granted scope is not read; the trait wants a place for it.
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

impl TokenAnswer {
    /// The raw ID token, when the provider sent one.
    pub(crate) fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }

    /// As the port's tokens; `expires_at` counts from `now` (Unix seconds).
    pub(crate) fn to_provider_tokens(&self, now: i64) -> ProviderTokens {
        ProviderTokens {
            access_token: self.access_token.secret().clone(),
            refresh_token: self.refresh_token.as_ref().map(|t| t.secret().clone()),
            expires_at: self
                .expires_in
                .map(|seconds| now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX))),
        }
    }
}

impl fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("id_token", &self.id_token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl TokenResponse for TokenAnswer {
    type TokenType = AnyTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &AnyTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// `token_type` as sent (`Bearer`, `bearer`, …); only bearer tokens are ever used.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub(crate) struct AnyTokenType(String);

impl TokenType for AnyTokenType {}

/// Seconds as a JSON number or a string of digits.
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(deserializer)? {
        Some(Seconds::Number(seconds)) => Some(seconds),
        Some(Seconds::Text(text)) => text.trim().parse().ok(),
        None => None,
    })
}

/// What a token or revocation endpoint call failed with.
pub(crate) type EndpointError<T> = RequestTokenError<HttpFailure, StandardErrorResponse<T>>;

/// Maps a failed call to `what` (e.g. "token endpoint"). `invalid_grant`, and GitHub's
/// spellings of it sent with status 200, become `InvalidGrant`.
pub(crate) fn endpoint_error<T>(err: EndpointError<T>, what: &str) -> UpstreamError
where
    T: ErrorResponseType + fmt::Display,
{
    match err {
        RequestTokenError::ServerResponse(response) => {
            code_error(&response.error().to_string(), what)
        }
        RequestTokenError::Request(failure) => failure.into_upstream(what),
        RequestTokenError::Parse(_, body) => match error_code(&body) {
            Some(code) => code_error(&code, what),
            None => UpstreamError::Rejected(format!("{what}: malformed answer")),
        },
        RequestTokenError::Other(_) => {
            UpstreamError::Rejected(format!("{what}: unexpected answer"))
        }
    }
}

pub(crate) fn code_error(code: &str, what: &str) -> UpstreamError {
    match code {
        "invalid_grant" | "bad_verification_code" | "bad_refresh_token" => {
            UpstreamError::InvalidGrant
        }
        code => UpstreamError::Rejected(format!("{what} answered {}", printable(code))),
    }
}

/// The `error` member of an error body.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|body| body.error)
}

/// An error code fit for a log line: RFC 6749 codes are short and plain; anything else is cut.
fn printable(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use oauth2::basic::BasicErrorResponseType;

    use super::*;

    fn answer(json: serde_json::Value) -> TokenAnswer {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn expires_in_becomes_an_instant_whether_number_or_string() {
        let numeric = answer(serde_json::json!({
            "access_token": "a", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r"
        }));
        let naver = answer(serde_json::json!({
            "access_token": "a", "token_type": "bearer", "expires_in": "3600"
        }));
        let none = answer(serde_json::json!({ "access_token": "a" }));

        let tokens = numeric.to_provider_tokens(1_000);
        assert_eq!(tokens.expires_at, Some(4_600));
        assert_eq!(tokens.refresh_token.as_deref(), Some("r"));
        assert_eq!(naver.to_provider_tokens(1_000).expires_at, Some(4_600));
        assert_eq!(none.to_provider_tokens(1_000).expires_at, None);
    }

    #[test]
    fn debug_shows_no_token() {
        let tokens = answer(serde_json::json!({
            "access_token": "secret-a", "refresh_token": "secret-r", "id_token": "secret-i"
        }));
        assert!(!format!("{tokens:?}").contains("secret"));
    }

    #[test]
    fn github_errors_sent_with_200_count_as_spent_grants() {
        let err: EndpointError<BasicErrorResponseType> = RequestTokenError::Parse(
            serde_path_to_error_stub(),
            br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#.to_vec(),
        );
        assert!(matches!(
            endpoint_error(err, "token endpoint"),
            UpstreamError::InvalidGrant
        ));
    }

    #[test]
    fn other_error_codes_are_rejections_without_the_description() {
        let err: EndpointError<BasicErrorResponseType> = RequestTokenError::Parse(
            serde_path_to_error_stub(),
            br#"{"error":"invalid_client<script>","error_description":"token abc"}"#.to_vec(),
        );
        let UpstreamError::Rejected(reason) = endpoint_error(err, "token endpoint") else {
            panic!("a rejection");
        };
        assert_eq!(reason, "token endpoint answered invalid_clientscript");
    }

    fn serde_path_to_error_stub() -> serde_path_to_error::Error<serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str("{}");
        serde_path_to_error::deserialize::<_, TokenAnswer>(&mut deserializer).unwrap_err()
    }
}
