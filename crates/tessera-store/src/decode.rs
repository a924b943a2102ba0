//! Domain values to and from the columns both backends share; a stored value the domain
//! refuses is `Corrupt`.

use tessera_core::account::{Email, Role};
use tessera_core::session::{Revocation, RevocationTarget};
use tessera_core::{SessionId, StoreError, UserId};
use uuid::Uuid;

use crate::error::corrupt;

/// The stored, already normalised email.
pub(crate) fn email(raw: &str) -> Result<Email, StoreError> {
    Email::parse(raw).map_err(|err| corrupt("users.email", err))
}

/// Stored role names, in stored order.
pub(crate) fn roles<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Role>, StoreError> {
    raw.iter()
        .map(|name| Role::parse(name.as_ref()).map_err(|err| corrupt("users.roles", err)))
        .collect()
}

/// A refresh generation as both backends store it: a signed 64-bit integer.
pub(crate) fn generation_column(generation: u64) -> Result<i64, StoreError> {
    // Generations grow by one per refresh, so this bound is never reached in practice.
    i64::try_from(generation).map_err(|err| corrupt("sessions.refresh_generation", err))
}

/// The stored refresh generation; the schema keeps it non-negative.
pub(crate) fn generation(raw: i64) -> Result<u64, StoreError> {
    u64::try_from(raw).map_err(|err| corrupt("sessions.refresh_generation", err))
}

/// The `(session_id, user_id)` columns of a feed entry revoking `target`.
pub(crate) fn target_columns(target: RevocationTarget) -> (Option<Uuid>, Option<Uuid>) {
    match target {
        RevocationTarget::Session(id) => (Some(id.0), None),
        RevocationTarget::User(id) => (None, Some(id.0)),
    }
}

/// A feed entry from its columns; exactly one of `session_id` and `user_id` is set.
pub(crate) fn revocation(
    cursor: i64,
    session_id: Option<Uuid>,
    user_id: Option<Uuid>,
    revoked_at_ms: i64,
    until: i64,
) -> Result<Revocation, StoreError> {
    let target = match (session_id, user_id) {
        (Some(session), None) => RevocationTarget::Session(SessionId(session)),
        (None, Some(user)) => RevocationTarget::User(UserId(user)),
        _ => {
            return Err(corrupt(
                "revocations",
                format!("entry {cursor} must name exactly one of a session and a user"),
            ));
        }
    };
    Ok(Revocation {
        cursor,
        target,
        revoked_at_ms,
        until,
    })
}
