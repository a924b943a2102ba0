//! Two-factor authentication: TOTP with recovery codes, and the second step of a login.

mod challenge;
mod recovery;
mod service;
mod totp;

pub use challenge::{MfaChallenge, MfaChallenges, WRONG_CODES_ALLOWED};
pub use service::{MfaError, TotpSetup, TwoFactor};
