//! The signing algorithms Tessera offers.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;

/// A JWS algorithm for access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    /// Ed25519: the default, small and fast.
    #[default]
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSA PKCS#1 v1.5 with SHA-256, 2048-bit keys.
    RS256,
    /// HMAC-SHA-256 with a configured shared secret; no JWKS entry.
    HS256,
}

impl SigningAlgorithm {
    /// The JWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    /// The algorithm as the JWT library names it.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
            Self::RS256 => Algorithm::RS256,
            Self::HS256 => Algorithm::HS256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An algorithm name Tessera does not sign with.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown signing algorithm {0:?}: use EdDSA, ES256, RS256 or HS256")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for SigningAlgorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Self::EdDSA),
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            "HS256" => Ok(Self::HS256),
            other => Err(UnknownAlgorithm(other.to_owned())),
        }
    }
}
