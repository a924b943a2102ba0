//! The in-memory deny-set a resource server checks after a token's signature and claims.
//!
//! It is fed by the revocation feed (`GET /auth/revocations` and its SSE stream) and never calls
//! out itself. Each entry lives only until the latest `exp` a token it affects can carry.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::AccessClaims;

/// How often, at most, [`DenySet::apply`] sweeps out entries past their `until`, in seconds.
const PURGE_EVERY_SECS: i64 = 60;

/// One item of the revocation feed (API.md §3 `GET /auth/revocations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Position in the feed; the SSE event id of the item.
    pub cursor: i64,
    /// Every token carrying this `sid` is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The token with this `jti` is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Every token of this user (`sub`) issued at or before `revoked_at` is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When the revocation happened, in seconds since the Unix epoch.
    pub revoked_at: i64,
    /// Seconds since the Unix epoch after which no affected token is valid anyway.
    pub until: i64,
}

/// Revoked sessions, tokens and users. Cheap to read; share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct DenySet {
    entries: RwLock<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// `sid` → until.
    sessions: HashMap<String, i64>,
    /// `jti` → until.
    tokens: HashMap<String, i64>,
    /// `sub` → (revoked_at, until).
    users: HashMap<String, (i64, i64)>,
    purged_at: i64,
}

impl DenySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `revocation` as of `now` (seconds since the Unix epoch). Applying the same item twice
    /// changes nothing; an item already past its `until` is ignored.
    pub fn apply(&self, revocation: &Revocation, now: i64) {
        let mut entries = self.write();
        if now.saturating_sub(entries.purged_at) >= PURGE_EVERY_SECS {
            entries.purge(now);
        }
        if revocation.until <= now {
            return;
        }
        let until = revocation.until;
        if let Some(sid) = &revocation.sid {
            let entry = entries.sessions.entry(sid.clone()).or_insert(until);
            *entry = (*entry).max(until);
        }
        if let Some(jti) = &revocation.jti {
            let entry = entries.tokens.entry(jti.clone()).or_insert(until);
            *entry = (*entry).max(until);
        }
        if let Some(user) = &revocation.user_id {
            let entry = entries
                .users
                .entry(user.clone())
                .or_insert((revocation.revoked_at, until));
            *entry = (entry.0.max(revocation.revoked_at), entry.1.max(until));
        }
    }

    /// Whether the token with `claims` is revoked at `now`: its `sid` or `jti` is listed, or its
    /// user is listed with a `revoked_at` at or after the token's `iat`.
    pub fn is_revoked(&self, claims: &AccessClaims, now: i64) -> bool {
        self.denies(&claims.sid, &claims.jti, &claims.sub, claims.iat, now)
    }

    /// [`is_revoked`](Self::is_revoked) for what is left of a token elsewhere (e.g. a
    /// WebSocket ticket): its `sid`, `jti`, `sub` and `iat`.
    pub fn denies(&self, sid: &str, jti: &str, sub: &str, iat: i64, now: i64) -> bool {
        let entries = self.read();
        let live = |until: &i64| *until > now;
        entries.sessions.get(sid).is_some_and(live)
            || entries.tokens.get(jti).is_some_and(live)
            || entries
                .users
                .get(sub)
                .is_some_and(|(revoked_at, until)| live(until) && iat <= *revoked_at)
    }

    /// Drops the entries whose `until` is at or before `now`.
    pub fn purge(&self, now: i64) {
        self.write().purge(now);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let entries = self.read();
        entries.sessions.len() + entries.tokens.len() + entries.users.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        // The maps stay consistent even if a writer panicked: every update is a single insert.
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entries {
    fn purge(&mut self, now: i64) {
        self.sessions.retain(|_, until| *until > now);
        self.tokens.retain(|_, until| *until > now);
        self.users.retain(|_, (_, until)| *until > now);
        self.purged_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn claims(sid: &str, sub: &str, iat: i64) -> AccessClaims {
        AccessClaims {
            iss: "https://auth.test".into(),
            sub: sub.into(),
            aud: "api".into(),
            exp: iat + 900,
            iat,
            nbf: None,
            jti: format!("jti-{sid}-{iat}"),
            sid: sid.into(),
            roles: vec![],
            email: "a@example.test".into(),
            amr: vec!["pwd".into()],
        }
    }

    fn revocation(sid: Option<&str>, user: Option<&str>, revoked_at: i64) -> Revocation {
        Revocation {
            cursor: 1,
            sid: sid.map(Into::into),
            jti: None,
            user_id: user.map(Into::into),
            revoked_at,
            until: revoked_at + 900,
        }
    }

    #[test]
    fn a_revoked_session_denies_every_token_with_its_sid_and_no_other() {
        let deny = DenySet::new();
        deny.apply(&revocation(Some("s1"), None, NOW), NOW);

        assert!(deny.is_revoked(&claims("s1", "u1", NOW - 10), NOW));
        assert!(deny.is_revoked(&claims("s1", "u1", NOW + 5), NOW + 5));
        assert!(!deny.is_revoked(&claims("s2", "u1", NOW - 10), NOW));
    }

    #[test]
    fn a_revoked_user_denies_tokens_issued_at_or_before_the_revocation_only() {
        let deny = DenySet::new();
        deny.apply(&revocation(None, Some("u1"), NOW), NOW);

        assert!(deny.is_revoked(&claims("s1", "u1", NOW - 60), NOW));
        assert!(deny.is_revoked(&claims("s2", "u1", NOW), NOW));
        assert!(!deny.is_revoked(&claims("s3", "u1", NOW + 1), NOW + 1));
        assert!(!deny.is_revoked(&claims("s1", "u2", NOW - 60), NOW));
    }

    #[test]
    fn a_revoked_jti_denies_that_token_only() {
        let deny = DenySet::new();
        let token = claims("s1", "u1", NOW);
        deny.apply(
            &Revocation {
                jti: Some(token.jti.clone()),
                ..revocation(None, None, NOW)
            },
            NOW,
        );

        assert!(deny.is_revoked(&token, NOW));
        assert!(!deny.is_revoked(&claims("s1", "u1", NOW + 1), NOW));
    }

    #[test]
    fn entries_stop_denying_and_are_dropped_after_until() {
        let deny = DenySet::new();
        let item = revocation(Some("s1"), Some("u1"), NOW);
        deny.apply(&item, NOW);
        assert_eq!(deny.len(), 2);

        let later = item.until;
        assert!(!deny.is_revoked(&claims("s1", "u1", NOW - 10), later));
        deny.purge(later);
        assert!(deny.is_empty());
    }

    #[test]
    fn applying_sweeps_out_stale_entries_and_ignores_stale_items() {
        let deny = DenySet::new();
        deny.apply(&revocation(Some("old"), None, NOW), NOW);
        let much_later = NOW + 10_000;

        deny.apply(&revocation(Some("stale"), None, NOW), much_later);
        deny.apply(&revocation(Some("new"), None, much_later), much_later);

        assert_eq!(deny.len(), 1);
        assert!(deny.is_revoked(&claims("new", "u1", much_later), much_later));
    }

    #[test]
    fn applying_the_same_item_twice_changes_nothing_and_later_user_revocations_widen() {
        let deny = DenySet::new();
        deny.apply(&revocation(None, Some("u1"), NOW), NOW);
        deny.apply(&revocation(None, Some("u1"), NOW), NOW);
        assert_eq!(deny.len(), 1);

        deny.apply(&revocation(None, Some("u1"), NOW + 100), NOW + 100);
        assert!(deny.is_revoked(&claims("s9", "u1", NOW + 50), NOW + 100));
    }

    #[test]
    fn feed_items_parse_with_optional_targets() {
        let item: Revocation =
            serde_json::from_str(r#"{"cursor":7,"user_id":"u1","revoked_at":100,"until":1000}"#)
                .unwrap();

        assert_eq!(item.cursor, 7);
        assert_eq!(item.user_id.as_deref(), Some("u1"));
        assert_eq!(item.sid, None);
    }
}
