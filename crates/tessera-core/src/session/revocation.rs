//! Revocations: the entries of the feed every instance and resource server builds its deny-set
//! from ([`crate::ports::DenyList`]).
//!
//! A revocation names a session (every token with that `sid`) or a user (every token of that
//! user issued at or before the revocation, to the millisecond). It matters only until the latest `exp` a token it
//! affects can carry, so deny-sets stay small.

use crate::{SessionId, UserId};

/// One entry of the revocation feed (API.md §3 `GET /auth/revocations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// Position in the feed; increases with every revocation recorded.
    pub cursor: i64,
    /// What is revoked.
    pub target: RevocationTarget,
    /// When, in milliseconds since the Unix epoch.
    pub revoked_at_ms: i64,
    /// The latest `exp` (plus leeway) an affected token can carry; after it the entry is moot.
    pub until: i64,
}

impl Revocation {
    /// When, in whole seconds since the Unix epoch (for readers that predate milliseconds).
    pub fn revoked_at_secs(&self) -> i64 {
        self.revoked_at_ms.div_euclid(1000)
    }
}

/// What a revocation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationTarget {
    /// Every token carrying this `sid`.
    Session(SessionId),
    /// Every token of this user issued at or before `revoked_at_ms` (a disabled or deleted
    /// user, a removed role).
    User(UserId),
}
