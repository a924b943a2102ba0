//! Two-factor authentication: TOTP with recovery codes, and the second step of a login.

mod challenge;
mod recovery;
mod service;
mod totp;

pub use challenge::{CHALLENGE_TTL, MfaChallenge, MfaChallenges, WRONG_CODES_ALLOWED};
pub use recovery::RECOVERY_CODES;
pub use service::{MfaError, TotpSetup, TwoFactor};
pub use totp::TotpSecret;
