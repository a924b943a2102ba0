//! A fresh database per test: a SQLite file in a temp dir, or a PostgreSQL database with a
//! random name that is dropped (`WITH (FORCE)`) when the test ends, pass or fail.

use std::path::Path;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tempfile::TempDir;
use tessera_store::Stores;

/// The server the PostgreSQL half of the suite uses (trust authentication).
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Overrides [`DEFAULT_POSTGRES`].
const POSTGRES_VARIABLE: &str = "TESSERA_TEST_PG";

/// One test's database.
pub struct TestDatabase {
    /// The URL to give `tessera_store::open`; empty for SQLite (the file in `data_dir`).
    pub url: String,
    data_dir: TempDir,
    postgres: Option<DropDatabase>,
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
        let admin_url = admin_url();
        let name = format!("tessera_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| {
                panic!("PostgreSQL must run at {admin_url} (or set {POSTGRES_VARIABLE}): {err}")
            });
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("the test database can be created");
        admin.close().await.expect("the admin connection closes");
        Self {
            url: with_database(&admin_url, &name),
            data_dir: tempfile::tempdir().expect("a temp dir can be created"),
            postgres: Some(DropDatabase { admin_url, name }),
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

/// Drops a test database when the test ends, even when it panicked.
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl DropDatabase {
    fn drop_now(&self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread
        // with its own runtime. FORCE ends the store's pooled connections.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                admin.execute(AssertSqlSafe(sql)).await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop test database {}: {err}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}

#[allow(clippy::disallowed_methods)] // test harness setting, like sqlx's DATABASE_URL
fn admin_url() -> String {
    std::env::var(POSTGRES_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES.to_owned())
}

/// `url` with its database path replaced by `name`, query parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = head.find("://").map_or(0, |at| at + 3);
    let server = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    format!("{server}/{name}{query}")
}
