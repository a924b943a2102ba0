//! The port to upstream identity providers (`tessera-upstream` implements it): what the social
//! login use cases ask of Google, GitHub or any OpenID provider, in terms free of HTTP and of
//! any OAuth crate.

use std::fmt;

use async_trait::async_trait;

/// What the provider says about the person who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The provider's stable id of the account (`sub`, or a mapped field; a JSON number as its
    /// decimal string).
    pub subject: String,
    /// The email the provider gives, if any.
    pub email: Option<String>,
    /// Whether the provider vouches that the person controls `email`: the ID token's or
    /// userinfo's `email_verified`, GitHub's verified flag, or a preset trusted for it.
    pub email_verified: bool,
    /// A display name, if the provider gives one.
    pub name: Option<String>,
}

/// The provider's tokens for one identity. Bearer secrets: `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProviderTokens {
    /// The provider's access token.
    pub access_token: String,
    /// The provider's refresh token, when it issued one.
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds), when the provider said.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What one authorization request carries; the core makes every value, the adapter only puts
/// them in the provider's URL.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// The `state` parameter.
    pub state: &'a str,
    /// The PKCE S256 challenge of the flow's verifier.
    pub code_challenge: &'a str,
    /// The OpenID `nonce` (ignored by plain OAuth 2.0 providers).
    pub nonce: &'a str,
    /// `{public_url}/auth/oauth/{provider}/callback`.
    pub redirect_uri: &'a str,
}

/// What the callback hands the provider to trade.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    /// The `code` of the callback.
    pub code: &'a str,
    /// The flow's PKCE verifier.
    pub code_verifier: &'a str,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
    /// The same redirect URI as the authorization request's.
    pub redirect_uri: &'a str,
}

/// An upstream call that failed. The strings are for the log: they never hold a token.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider refused the grant (`invalid_grant`): the code or refresh token is spent,
    /// revoked or not its own. For a refresh token, only a new login helps.
    #[error("the provider refused the grant")]
    InvalidGrant,
    /// The provider's answer broke the protocol or failed a check (an ID token with a wrong
    /// signature, `aud`, `iss`, `nonce`, or expired; a profile without an id).
    #[error("the provider's answer was refused: {0}")]
    Rejected(String),
    /// The provider could not be reached or answered with a server error.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// One configured upstream provider.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The URL to send the browser to.
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<String, UpstreamError>;
    /// Trades a callback's code for tokens and reads the profile: for OpenID Connect, from the
    /// validated ID token (signature through the provider's JWKS, `iss`, `aud`, `azp`, `exp`,
    /// `nonce`), completed by userinfo when it lacks the email.
    async fn exchange(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<(Profile, ProviderTokens), UpstreamError>;
    /// Spends `refresh_token` for new tokens. A provider that does not rotate its refresh
    /// tokens answers without one: the caller keeps the old.
    async fn refresh(&self, refresh_token: &str) -> Result<ProviderTokens, UpstreamError>;
    /// Revokes the tokens upstream (RFC 7009) when the provider supports it; whether it did.
    async fn revoke(&self, tokens: &ProviderTokens) -> Result<bool, UpstreamError>;
}
