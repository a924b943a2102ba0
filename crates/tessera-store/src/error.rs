//! The one place where driver errors become core's `StoreError`.
//!
//! Callers above the store never see `sqlx::Error` (only as an opaque `source`): conflicts
//! become `Conflict`, decoding problems `Corrupt`, and everything else `Unavailable` (503).

use sqlx::error::{DatabaseError, ErrorKind};
use tessera_core::{Conflict, StoreError};

/// PostgreSQL names the users' email constraints explicitly (see the migrations): the
/// address as typed, and its identity key.
const EMAIL_CONSTRAINTS: [&str; 2] = ["users_email_key", "users_email_identity_key"];
/// SQLite reports the columns, not the constraint: "UNIQUE constraint failed: users.email"
/// (or `users.email_key`, which this also matches).
const EMAIL_COLUMN: &str = "users.email";
/// PostgreSQL names the identities' uniqueness rules explicitly: a provider's subject, and a
/// user's identity of a provider.
const IDENTITY_CONSTRAINTS: [&str; 2] = ["identities_subject_key", "identities_user_provider_key"];
/// SQLite names both rules' columns, `identities.provider` among them, but not the primary
/// key's, whose violation stays an id conflict.
const IDENTITY_COLUMN: &str = "identities.provider";
/// PostgreSQL names the passkeys' uniqueness rule explicitly: an authenticator's credential id.
const PASSKEY_CONSTRAINTS: [&str; 1] = ["passkeys_credential_id_key"];
/// SQLite reports "UNIQUE constraint failed: passkeys.credential_id"; the primary key's
/// violation names `passkeys.id` and stays an id conflict.
const PASSKEY_COLUMN: &str = "passkeys.credential_id";

/// PostgreSQL SQLSTATEs for damaged storage: data_corrupted, index_corrupted.
const CORRUPT_SQLSTATES: [&str; 2] = ["XX001", "XX002"];
/// SQLite primary result codes for a damaged file: SQLITE_CORRUPT, SQLITE_NOTADB.
const CORRUPT_SQLITE_CODES: [i32; 2] = [11, 26];

/// Translates a driver error.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Database(db) => database_error(db),
        sqlx::Error::RowNotFound
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_) => StoreError::Corrupt(err.to_string()),
        // Io, Tls, Protocol, PoolTimedOut, PoolClosed, WorkerCrashed, Configuration, …
        other => StoreError::unavailable(other),
    }
}

/// A stored value that decoded but is not valid in the domain.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn database_error(db: Box<dyn DatabaseError>) -> StoreError {
    if db.kind() == ErrorKind::UniqueViolation {
        return StoreError::Conflict(conflict_of(db.as_ref()));
    }
    if is_corruption(db.code().as_deref()) {
        return StoreError::Corrupt(db.to_string());
    }
    // PostgreSQL SQLSTATE classes 08 (connection), 53 (resources) and 57 (shutdown,
    // cancelled query), SQLite BUSY after the busy timeout, I/O and full disks all land here.
    // So do foreign-key, check and syntax errors: those are bugs a caller cannot act on, and
    // they cannot be served either, so they share the 503 path.
    StoreError::unavailable(sqlx::Error::Database(db))
}

/// Which uniqueness rule a unique violation broke.
fn conflict_of(db: &dyn DatabaseError) -> Conflict {
    let broke = |constraints: &[&str], column: &str| {
        db.constraint()
            .is_some_and(|name| constraints.contains(&name))
            || db.message().contains(column)
    };
    if broke(&EMAIL_CONSTRAINTS, EMAIL_COLUMN) {
        Conflict::Email
    } else if broke(&IDENTITY_CONSTRAINTS, IDENTITY_COLUMN) {
        Conflict::Identity
    } else if broke(&PASSKEY_CONSTRAINTS, PASSKEY_COLUMN) {
        Conflict::Passkey
    } else {
        Conflict::Id
    }
}

fn is_corruption(code: Option<&str>) -> bool {
    let Some(code) = code else {
        return false;
    };
    // SQLite reports extended result codes; the primary code is the low byte.
    match code.parse::<i32>() {
        Ok(sqlite_code) => CORRUPT_SQLITE_CODES.contains(&(sqlite_code & 0xff)),
        Err(_) => CORRUPT_SQLSTATES.contains(&code),
    }
}
