//! The claims of a Tessera access token.

use serde::{Deserialize, Serialize};

/// Claims of an access token, as listed in the HTTP contract (API.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the server's configured `issuer`.
    pub iss: String,
    /// Subject: the user id.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Not before, seconds since the Unix epoch; Tessera does not set it, other issuers may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique id of this token.
    pub jti: String,
    /// Session id: revocation is keyed on it.
    pub sid: String,
    /// Roles of the user when the token was issued.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Email of the user when the token was issued.
    pub email: String,
    /// How the user proved who they are (RFC 8176): `pwd`, `otp`, `hwk` (a passkey), `fed` (an
    /// upstream provider), and `mfa` when two factors were used. Fixed at login.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl AccessClaims {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the session was started with two factors (`amr` holds `mfa`).
    pub fn is_multi_factor(&self) -> bool {
        self.amr.iter().any(|value| value == "mfa")
    }
}
