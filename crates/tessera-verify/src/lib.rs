//! Verification of Tessera access tokens (RFC 9068 JWTs) for resource servers and the server itself.
//!
//! Every key carries the one algorithm it may be used with; header fields that point at other
//! keys (`jku`, `x5u`, `jwk`, `x5c`) are refused rather than followed.
#![warn(missing_docs)]

mod claims;
mod keys;
mod verifier;

pub use claims::AccessClaims;
pub use jsonwebtoken::Algorithm;
pub use keys::{KeySet, VerificationKey};
pub use verifier::{Expectations, Rejection, Verifier};

/// The `typ` header value of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
