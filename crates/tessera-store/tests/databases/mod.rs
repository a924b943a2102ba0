//! A fresh database per test: a SQLite file in a temp dir, or a PostgreSQL database from the test
//! kit, with a random name and dropped (`WITH (FORCE)`) when the test ends, pass or fail.

use std::path::Path;

use tempfile::TempDir;
use tessera_store::Stores;
use tessera_testkit::PgDatabase;

/// One test's database.
pub struct TestDatabase {
    /// The URL to give `tessera_store::open`; empty for SQLite (the file in `data_dir`).
    pub url: String,
    data_dir: TempDir,
    postgres: Option<PgDatabase>,
}

impl TestDatabase {
    /// A SQLite database that does not exist yet, in a new temp dir.
    pub async fn sqlite() -> Self {
        Self {
            url: String::new(),
            data_dir: tempfile::tempdir().expect("a temp dir can be created"),
            postgres: None,
        }
    }

    /// A new, empty PostgreSQL database. Panics if the server is not running: a missing
    /// backend must fail the suite, never skip it.
    pub async fn postgres() -> Self {
        let database = PgDatabase::create().await;
        Self {
            url: database.url(),
            data_dir: tempfile::tempdir().expect("a temp dir can be created"),
            postgres: Some(database),
        }
    }

    /// The data directory (where SQLite keeps `tessera.db`).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Opens the database, applying migrations.
    pub async fn open(&self) -> Stores {
        tessera_store::open(&self.url, self.data_dir())
            .await
            .expect("the test database opens")
    }

    /// Drops the PostgreSQL database now, cutting off open connections; a no-op for SQLite.
    pub fn drop_postgres_database(&self) {
        if let Some(database) = &self.postgres {
            database.drop_now();
        }
    }
}
