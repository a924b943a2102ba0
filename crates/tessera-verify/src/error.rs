//! Why a call to the Tessera server failed.

/// A failed request to the Tessera server (JWKS, revocation feed, ticket redemption).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request did not complete: connection refused, TLS, timeout.
    #[error("the Tessera server could not be reached")]
    Transport(#[source] reqwest::Error),
    /// The server answered with an unexpected status.
    #[error("the Tessera server answered with status {0}")]
    Status(u16),
    /// The answer is not the expected JSON.
    #[error("the Tessera server's answer is malformed")]
    Malformed(#[source] serde_json::Error),
}
