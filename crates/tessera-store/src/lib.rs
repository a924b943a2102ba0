//! Tessera's SQL stores: SQLite (the embedded default) and PostgreSQL behind the core's ports.
//!
//! Each backend has its own module and migrations; callers only ever see [`Stores`] of trait
//! objects and core's `StoreError`, never a driver type.

/// The `users` columns every backend reads into a `User`, in one place so queries agree.
macro_rules! user_columns {
    () => {
        "id, email, name, roles, email_verified, mfa_enabled, disabled, created_at, security_epoch"
    };
}

/// The `users` columns joined to a session row, renamed where `sessions` has the same names.
/// The user's id is the session's `user_id`. See [`UserColumns::JOINED`].
macro_rules! joined_user_columns {
    () => {
        "users.email AS user_email, users.name AS user_name, users.roles AS user_roles, \
         users.email_verified AS user_email_verified, users.mfa_enabled AS user_mfa_enabled, \
         users.disabled AS user_disabled, users.created_at AS user_created_at, \
         users.security_epoch AS user_security_epoch"
    };
}

/// The `sessions` columns every backend reads into a `Session`.
macro_rules! session_columns {
    () => {
        "id, user_id, device_name, user_agent, ip, created_at, last_used_at, idle_expires_at, \
         absolute_expires_at, refresh_generation, refresh_digest, previous_refresh_digest, \
         refresh_rotated_at, revoked_at, revoke_reason, amr"
    };
}

/// The `revocations` columns every backend reads into a `Revocation` (`revoked_at` is in
/// milliseconds since migration 0004).
macro_rules! revocation_columns {
    () => {
        "cursor, session_id, user_id, revoked_at, until_at"
    };
}

/// The `identities` columns every backend reads into a `StoredIdentity` (not the lease, which
/// only the lease's conditional writes use).
macro_rules! identity_columns {
    () => {
        "id, user_id, provider, subject, email, linked_at, sealed_tokens, tokens_version, \
         needs_login, email_proven"
    };
}

/// The `passkeys` columns every backend reads into a `StoredPasskey`.
macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, credential, name, created_at, last_used_at"
    };
}

/// Where a row keeps a `User`'s fields: the names of `user_columns!()` or of
/// `joined_user_columns!()`.
pub(crate) struct UserColumns {
    pub(crate) id: &'static str,
    pub(crate) email: &'static str,
    pub(crate) name: &'static str,
    pub(crate) roles: &'static str,
    pub(crate) email_verified: &'static str,
    pub(crate) mfa_enabled: &'static str,
    pub(crate) disabled: &'static str,
    pub(crate) created_at: &'static str,
    pub(crate) security_epoch: &'static str,
}

impl UserColumns {
    /// A row of `users` alone.
    pub(crate) const PLAIN: Self = Self {
        id: "id",
        email: "email",
        name: "name",
        roles: "roles",
        email_verified: "email_verified",
        mfa_enabled: "mfa_enabled",
        disabled: "disabled",
        created_at: "created_at",
        security_epoch: "security_epoch",
    };

    /// A row of `sessions` joined with `users`.
    pub(crate) const JOINED: Self = Self {
        id: "user_id",
        email: "user_email",
        name: "user_name",
        roles: "user_roles",
        email_verified: "user_email_verified",
        mfa_enabled: "user_mfa_enabled",
        disabled: "user_disabled",
        created_at: "user_created_at",
        security_epoch: "user_security_epoch",
    };
}

mod credential;
mod decode;
mod error;
mod location;
mod postgres;
mod private;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_core::ports::{
    AuditStore, Health, IdentityStore, KeyStore, MailStore, MfaStore, PasskeyStore,
    RevocationStore, SessionStore, UserStore,
};

pub use location::{Engine, PASSWORD_MASK, mask_url_password};
pub use postgres::PgStore;
pub use private::{create_private_dir, restrict_database_files};
pub use sqlite::SqliteStore;

use location::Location;

/// The file name of the embedded database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "tessera.db";

/// Every port the core needs from storage, backed by one database.
#[derive(Clone)]
pub struct Stores {
    /// Accounts and passwords.
    pub users: Arc<dyn UserStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The revocation feed.
    pub revocations: Arc<dyn RevocationStore>,
    /// Signing keys.
    pub keys: Arc<dyn KeyStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditStore>,
    /// Two-factor credentials.
    pub mfa: Arc<dyn MfaStore>,
    /// The mail outbox and one-time codes.
    pub mail: Arc<dyn MailStore>,
    /// Upstream identities and their sealed provider tokens.
    pub identities: Arc<dyn IdentityStore>,
    /// Passkeys (WebAuthn credentials).
    pub passkeys: Arc<dyn PasskeyStore>,
    /// Database liveness.
    pub health: Arc<dyn Health>,
}

impl Stores {
    /// Every port served by the one `store`.
    pub fn from_store<S>(store: S) -> Self
    where
        S: UserStore
            + SessionStore
            + RevocationStore
            + KeyStore
            + AuditStore
            + MfaStore
            + MailStore
            + IdentityStore
            + PasskeyStore
            + Health
            + 'static,
    {
        let store = Arc::new(store);
        Self {
            users: store.clone(),
            sessions: store.clone(),
            revocations: store.clone(),
            keys: store.clone(),
            audit: store.clone(),
            mfa: store.clone(),
            mail: store.clone(),
            identities: store.clone(),
            passkeys: store.clone(),
            health: store,
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names a database Tessera does not support.
    #[error(
        "unsupported database URL `{url}`: use `sqlite://path`, `postgres://…`, or leave it empty for SQLite in the data directory"
    )]
    UnsupportedScheme {
        /// The URL, password masked.
        url: String,
    },
    /// The URL could not be parsed.
    #[error("invalid database URL `{url}`")]
    InvalidUrl {
        /// The URL, password masked.
        url: String,
        /// What was wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The data directory for the embedded database could not be created.
    #[error("cannot create data directory {}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to database `{target}`")]
    Connect {
        /// The URL or file, password masked.
        target: String,
        /// The driver's failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Pending migrations could not be applied.
    #[error("cannot apply migrations to database `{target}`")]
    Migrate {
        /// The URL or file, password masked.
        target: String,
        /// The driver's failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Opens the database named by `database_url` and applies pending migrations.
///
/// An empty `database_url` means the SQLite file `<data_dir>/tessera.db` (created with its
/// directory if missing); otherwise `sqlite://path`, `postgres://…` or `postgresql://…`.
/// Error messages never contain the URL's password.
pub async fn open(database_url: &str, data_dir: &Path) -> Result<Stores, OpenError> {
    match Location::parse(database_url, data_dir)? {
        Location::DataDir(dir) => {
            let data_dir_error = |source| OpenError::DataDir {
                path: dir.clone(),
                source,
            };
            create_private_dir(&dir).map_err(data_dir_error)?;
            let file = dir.join(SQLITE_FILE_NAME);
            let store = SqliteStore::open_file(&file).await?;
            restrict_database_files(&file).map_err(data_dir_error)?;
            Ok(Stores::from_store(store))
        }
        Location::Sqlite(url) => Ok(Stores::from_store(SqliteStore::open_url(&url).await?)),
        Location::Postgres(url) => Ok(Stores::from_store(PgStore::connect(&url).await?)),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn error_chain(err: &OpenError) -> String {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            chain.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        chain
    }

    #[tokio::test]
    async fn an_empty_url_creates_the_data_directory_and_the_database_file() {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("nested").join("data");

        let stores = open("", &data_dir).await.unwrap();

        assert!(data_dir.join(SQLITE_FILE_NAME).is_file());
        stores.health.ping().await.unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_data_directory_and_the_database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        std::fs::create_dir(&data_dir).unwrap();
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();

        let _stores = open("", &data_dir).await.unwrap();

        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data_dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&data_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(
            files.len() >= 3,
            "the database, its -wal and -shm: {files:?}"
        );
        for file in files {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[tokio::test]
    async fn a_data_directory_that_cannot_be_created_is_reported() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("not-a-directory");
        std::fs::write(&file, b"").unwrap();

        let err = open("", &file.join("data")).await.err().unwrap();

        assert!(matches!(err, OpenError::DataDir { .. }), "{err:?}");
        assert!(err.to_string().starts_with("cannot create data directory"));
    }

    #[tokio::test]
    async fn an_unsupported_scheme_is_refused() {
        let err = open("mysql://root@db/app", Path::new("unused"))
            .await
            .err()
            .unwrap();

        assert!(
            matches!(err, OpenError::UnsupportedScheme { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_postgres_server_fails_without_revealing_the_password() {
        // Port 1 on loopback refuses connections at once.
        let url = "postgres://tessera:hunter2@127.0.0.1:1/tessera";

        let err = open(url, Path::new("unused")).await.err().unwrap();

        assert!(matches!(err, OpenError::Connect { .. }), "{err:?}");
        let chain = error_chain(&err);
        assert!(
            chain.contains("postgres://tessera:********@127.0.0.1:1/tessera"),
            "{chain}"
        );
        assert!(!chain.contains("hunter2"), "{chain}");
        assert!(!format!("{err:?}").contains("hunter2"));
    }
}
