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
    /// Every token of this user (`sub`) issued at or before the revocation is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When the revocation happened, in seconds since the Unix epoch.
    pub revoked_at: i64,
    /// When the revocation happened, in milliseconds since the Unix epoch: the exact boundary
    /// of a user-level revocation. Absent from older servers: then the whole second of
    /// `revoked_at` counts as before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
    /// Seconds since the Unix epoch after which no affected token is valid anyway.
    pub until: i64,
}

impl Revocation {
    /// The revocation's instant in milliseconds: `revoked_at_ms`, or, from an older server, the
    /// last millisecond of `revoked_at` (its whole second counts as before it).
    pub fn instant_ms(&self) -> i64 {
        self.revoked_at_ms
            .unwrap_or_else(|| self.revoked_at.saturating_mul(1000).saturating_add(999))
    }
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
    /// `sub` → (revoked at, in milliseconds; until).
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
            let revoked_ms = revocation.instant_ms();
            let entry = entries
                .users
                .entry(user.clone())
                .or_insert((revoked_ms, until));
            *entry = (entry.0.max(revoked_ms), entry.1.max(until));
        }
    }

    /// Whether the token with `claims` is revoked at `now`: its `sid` or `jti` is listed, or its
    /// user is listed with a revocation at or after the token's issue (see [`issued_ms`]).
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
            || entries.users.get(sub).is_some_and(|(revoked_ms, until)| {
                live(until) && issued_ms(jti, iat) <= *revoked_ms
            })
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

/// When a token with `jti` and `iat` was issued, in milliseconds since the Unix epoch.
///
/// `iat` has whole seconds only. Tessera's `jti` is a UUIDv7 whose timestamp is the issue
/// instant to the millisecond; when it agrees with `iat`, it is the instant. Otherwise (another
/// issuer's token) the token counts as issued at the first millisecond of its second, so any
/// revocation within that second covers it: never admitting a token issued before a revocation
/// matters more than admitting one issued just after.
pub fn issued_ms(jti: &str, iat: i64) -> i64 {
    uuid_v7_millis(jti)
        .filter(|ms| ms.div_euclid(1000) == iat)
        .unwrap_or_else(|| iat.saturating_mul(1000))
}

/// The timestamp of a hyphenated UUIDv7 (`tttttttt-tttt-7xxx-…`): its first 48 bits.
fn uuid_v7_millis(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 || bytes[8] != b'-' || bytes[13] != b'-' || bytes[14] != b'7' {
        return None;
    }
    let high = std::str::from_utf8(&bytes[..8]).ok()?;
    let low = std::str::from_utf8(&bytes[9..13]).ok()?;
    let millis = u64::from_str_radix(high, 16).ok()? << 16 | u64::from_str_radix(low, 16).ok()?;
    i64::try_from(millis).ok()
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
            revoked_at_ms: None,
            until: revoked_at + 900,
        }
    }

    /// A UUIDv7 text whose timestamp is `ms`, as Tessera makes `jti`s.
    fn v7_at(ms: i64) -> String {
        let hex = format!("{ms:012x}");
        format!("{}-{}-7abc-8def-0123456789ab", &hex[..8], &hex[8..])
    }

    fn claims_at_ms(sub: &str, ms: i64) -> AccessClaims {
        AccessClaims {
            jti: v7_at(ms),
            ..claims("s-any", sub, ms.div_euclid(1000))
        }
    }

    #[test]
    fn a_user_revocation_to_the_millisecond_splits_tokens_of_the_same_second() {
        let deny = DenySet::new();
        let at_ms = NOW * 1000 + 400;
        deny.apply(
            &Revocation {
                revoked_at_ms: Some(at_ms),
                ..revocation(None, Some("u1"), NOW)
            },
            NOW,
        );

        assert!(deny.is_revoked(&claims_at_ms("u1", at_ms - 1), NOW));
        assert!(deny.is_revoked(&claims_at_ms("u1", at_ms), NOW));
        assert!(!deny.is_revoked(&claims_at_ms("u1", at_ms + 1), NOW));
        assert!(!deny.is_revoked(&claims_at_ms("u1", NOW * 1000 + 999), NOW));
        // A jti that is not a UUIDv7 of the token's second counts as the start of that second.
        assert!(deny.is_revoked(&claims("s1", "u1", NOW - 1), NOW));
        assert!(deny.is_revoked(&claims("s1", "u1", NOW), NOW));
        assert!(!deny.is_revoked(&claims("s1", "u1", NOW + 1), NOW));
        let lying = AccessClaims {
            jti: v7_at(NOW * 1000 + 1_000),
            ..claims("s1", "u1", NOW - 1)
        };
        assert!(deny.is_revoked(&lying, NOW));
    }

    #[test]
    fn issue_instants_come_from_uuid_v7_jtis_that_agree_with_iat() {
        assert_eq!(
            issued_ms(&v7_at(1_700_000_000_123), 1_700_000_000),
            1_700_000_000_123
        );
        assert_eq!(
            issued_ms(&v7_at(1_700_000_000_123), 1_700_000_001),
            1_700_000_001_000
        );
        assert_eq!(issued_ms("not-a-uuid", 5), 5_000);
        let v4 = "0190f5a2-7b3c-4def-8123-456789abcdef";
        assert_eq!(issued_ms(v4, 5), 5_000);
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
