//! The JSON a revocation travels as on the Redis channel. Every instance of a deployment reads
//! what every other writes, so changes must stay readable by the previous release.

use serde::{Deserialize, Serialize};
use tessera_core::session::{Revocation, RevocationTarget};
use tessera_core::{SessionId, UserId};
use uuid::Uuid;

/// One revocation on the wire:
/// `{"cursor":1,"kind":"session","id":"…","revoked_at":…,"revoked_at_ms":…,"until":…}`.
// Unknown fields are accepted on purpose: during a rolling upgrade a newer instance may add one.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    cursor: i64,
    kind: Kind,
    id: Uuid,
    /// Seconds, for instances of releases before `revoked_at_ms`.
    revoked_at: i64,
    /// Milliseconds; absent from older releases, whose whole second then counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at_ms: Option<i64>,
    until: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Session,
    User,
}

/// The message for `revocation`.
pub(super) fn encode(revocation: &Revocation) -> String {
    let (kind, id) = match revocation.target {
        RevocationTarget::Session(id) => (Kind::Session, id.0),
        RevocationTarget::User(id) => (Kind::User, id.0),
    };
    let message = Message {
        cursor: revocation.cursor,
        kind,
        id,
        revoked_at: revocation.revoked_at_secs(),
        revoked_at_ms: Some(revocation.revoked_at_ms),
        until: revocation.until,
    };
    serde_json::to_string(&message).expect("numbers, a uuid and a unit enum always serialize")
}

/// The revocation in `payload`, or why it is not one.
pub(super) fn decode(payload: &[u8]) -> Result<Revocation, serde_json::Error> {
    let message: Message = serde_json::from_slice(payload)?;
    let target = match message.kind {
        Kind::Session => RevocationTarget::Session(SessionId(message.id)),
        Kind::User => RevocationTarget::User(UserId(message.id)),
    };
    Ok(Revocation {
        cursor: message.cursor,
        target,
        revoked_at_ms: message
            .revoked_at_ms
            .unwrap_or_else(|| message.revoked_at.saturating_mul(1000).saturating_add(999)),
        until: message.until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_revocation_is_written_as_compact_json() {
        let id = Uuid::parse_str("0190f5a2-7b3c-7def-8123-456789abcdef").expect("valid uuid");
        let revocation = Revocation {
            cursor: 42,
            target: RevocationTarget::Session(SessionId(id)),
            revoked_at_ms: 1_700_000_000_250,
            until: 1_700_000_930,
        };

        assert_eq!(
            encode(&revocation),
            r#"{"cursor":42,"kind":"session","id":"0190f5a2-7b3c-7def-8123-456789abcdef","revoked_at":1700000000,"revoked_at_ms":1700000000250,"until":1700000930}"#
        );
    }

    #[test]
    fn a_message_of_an_older_release_covers_its_whole_second() {
        let id = UserId::new();
        let older = format!(
            r#"{{"cursor":1,"kind":"user","id":"{id}","revoked_at":1700000000,"until":3}}"#
        );
        assert_eq!(
            decode(older.as_bytes())
                .expect("older message")
                .revoked_at_ms,
            1_700_000_000_999
        );
    }

    #[test]
    fn both_kinds_read_back_exactly() {
        for target in [
            RevocationTarget::Session(SessionId::new()),
            RevocationTarget::User(UserId::new()),
        ] {
            let revocation = Revocation {
                cursor: 7,
                target,
                revoked_at_ms: 100_123,
                until: 1_000,
            };
            let decoded = decode(encode(&revocation).as_bytes()).expect("own encoding");
            assert_eq!(decoded, revocation);
        }
    }

    #[test]
    fn unknown_fields_are_ignored_but_unknown_kinds_are_refused() {
        let id = UserId::new();
        let newer = format!(
            r#"{{"cursor":1,"kind":"user","id":"{id}","revoked_at":2,"until":3,"reason":"x"}}"#
        );
        assert_eq!(
            decode(newer.as_bytes()).expect("extra field").target,
            RevocationTarget::User(id)
        );

        let unknown =
            format!(r#"{{"cursor":1,"kind":"device","id":"{id}","revoked_at":2,"until":3}}"#);
        assert!(decode(unknown.as_bytes()).is_err());
        assert!(decode(b"not json").is_err());
    }
}
