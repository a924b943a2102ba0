//! Revocations and the in-memory deny-set the hot path checks.
//!
//! A revocation names a session (every token with that `sid`) or a user (every token of that
//! user issued at or before the revocation). It is kept only until the latest `exp` a token it
//! affects can carry, so the set stays small.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::{SessionId, UserId};

/// One entry of the revocation feed (API.md §3 `GET /auth/revocations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// Position in the feed; increases with every revocation recorded.
    pub cursor: i64,
    /// What is revoked.
    pub target: RevocationTarget,
    /// When, in seconds since the Unix epoch.
    pub revoked_at: i64,
    /// The latest `exp` (plus leeway) an affected token can carry; after it the entry is moot.
    pub until: i64,
}

/// What a revocation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationTarget {
    /// Every token carrying this `sid`.
    Session(SessionId),
    /// Every token of this user issued at or before `revoked_at` (disabled or deleted users).
    User(UserId),
}

/// Revoked sessions and users, checked on every authenticated request.
#[derive(Debug, Default)]
pub struct DenySet {
    inner: RwLock<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    sessions: HashMap<SessionId, i64>,
    users: HashMap<UserId, (i64, i64)>,
}

impl DenySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `revocation`; applying the same one twice changes nothing.
    pub fn apply(&self, revocation: &Revocation) {
        let mut entries = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match revocation.target {
            RevocationTarget::Session(id) => {
                let until = entries.sessions.entry(id).or_insert(revocation.until);
                *until = (*until).max(revocation.until);
            }
            RevocationTarget::User(id) => {
                let entry = entries
                    .users
                    .entry(id)
                    .or_insert((revocation.revoked_at, revocation.until));
                *entry = (
                    entry.0.max(revocation.revoked_at),
                    entry.1.max(revocation.until),
                );
            }
        }
    }

    /// Whether a token of `user` in `session`, issued at `issued_at`, is revoked.
    pub fn is_revoked(&self, session: SessionId, user: UserId, issued_at: i64) -> bool {
        let entries = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.sessions.contains_key(&session)
            || entries
                .users
                .get(&user)
                .is_some_and(|(revoked_at, _)| issued_at <= *revoked_at)
    }

    /// Drops entries whose tokens have all expired by `now`.
    pub fn purge(&self, now: i64) {
        let mut entries = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.sessions.retain(|_, until| *until > now);
        entries.users.retain(|_, (_, until)| *until > now);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let entries = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.sessions.len() + entries.users.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(target: RevocationTarget, revoked_at: i64, until: i64) -> Revocation {
        Revocation {
            cursor: 1,
            target,
            revoked_at,
            until,
        }
    }

    #[test]
    fn a_revoked_session_refuses_every_token_until_purged() {
        let deny = DenySet::new();
        let (session, user) = (SessionId::new(), UserId::new());
        assert!(!deny.is_revoked(session, user, 100));
        deny.apply(&revocation(RevocationTarget::Session(session), 100, 1_000));
        assert!(deny.is_revoked(session, user, 50));
        assert!(deny.is_revoked(session, user, 150));
        assert!(!deny.is_revoked(SessionId::new(), user, 150));
        deny.purge(999);
        assert_eq!(deny.len(), 1);
        deny.purge(1_000);
        assert!(deny.is_empty());
    }

    #[test]
    fn a_revoked_user_refuses_only_tokens_issued_before() {
        let deny = DenySet::new();
        let user = UserId::new();
        deny.apply(&revocation(RevocationTarget::User(user), 100, 1_000));
        assert!(deny.is_revoked(SessionId::new(), user, 100));
        assert!(
            !deny.is_revoked(SessionId::new(), user, 101),
            "a token issued after re-enabling"
        );
    }
}
