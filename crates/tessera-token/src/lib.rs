//! Tessera's key ring: signing keys generated on first start and sealed in the database so every
//! instance shares them, access-token signing, the JWKS document, and key rotation.
//!
//! Verification goes through `tessera-verify`, the same code resource servers use.

mod algorithm;
mod der;
mod keygen;
mod revoked;
mod ring;
mod signer;

pub use algorithm::SigningAlgorithm;
pub use algorithm::UnknownAlgorithm;
pub use revoked::{RevokedTokens, feed_item};
pub use ring::{Activation, KeyRing, KeySummary, TokenError, TokenSettings};
pub use tessera_verify::{AccessClaims, DenySet, Rejection};
