//! A PostgreSQL database per test: created empty with a random name, dropped (`WITH (FORCE)`,
//! open connections and all) when the test ends, pass or fail.

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The server the suites use (trust authentication), and its maintenance database.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Points the suites at another server: a server URL, or one with a database to connect to.
const ADMIN_URL_VARIABLE: &str = "TESSERA_TEST_PG";

/// The URL the kit creates and drops databases through: `TESSERA_TEST_PG` when set (with
/// `/postgres` added when it names no database), else PostgreSQL on 127.0.0.1:5432 as `postgres`.
pub fn postgres_admin_url() -> String {
    match crate::environment::variable(ADMIN_URL_VARIABLE) {
        Some(url) if database_of(&url).is_empty() => with_database(&url, "postgres"),
        Some(url) => url,
        None => DEFAULT_ADMIN_URL.to_owned(),
    }
}

/// A fresh, empty database of one test, dropped when this value is.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Creates the database. Panics when the server does not answer: a missing backend must fail
    /// the suite, never skip it.
    pub async fn create() -> Self {
        let admin_url = postgres_admin_url();
        let name = format!("tessera_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| {
                panic!("PostgreSQL must run at {admin_url} (or set {ADMIN_URL_VARIABLE}): {err}")
            });
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("the test database can be created");
        admin.close().await.expect("the admin connection closes");
        Self { admin_url, name }
    }

    /// The URL of this database, with the admin URL's user, host and parameters.
    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now, cutting off open connections. Failures are reported on stderr,
    /// not raised: this also runs while a failed test unwinds.
    pub fn drop_now(&self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside the test's runtime, which cannot block on itself: use a thread
        // with a runtime of its own.
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

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// The part of `url` between the host and the query: the database name, or `""`.
fn database_of(url: &str) -> &str {
    let head = url.split_once('?').map_or(url, |(head, _)| head);
    let authority_start = head.find("://").map_or(0, |at| at + 3);
    head[authority_start..]
        .split_once('/')
        .map_or("", |(_, database)| database)
}

/// `url` with its database replaced by (or set to) `name`, query parameters kept.
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

#[cfg(test)]
mod tests {
    use super::{database_of, with_database};

    #[test]
    fn a_server_url_gets_the_database_added() {
        let url = "postgres://postgres@127.0.0.1:5432";
        assert_eq!(database_of(url), "");
        assert_eq!(
            with_database(url, "postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
    }

    #[test]
    fn a_url_with_a_database_has_it_replaced_and_keeps_its_parameters() {
        let url = "postgres://u:p@db:5433/admin?sslmode=disable";
        assert_eq!(database_of(url), "admin");
        assert_eq!(
            with_database(url, "tessera_test_1"),
            "postgres://u:p@db:5433/tessera_test_1?sslmode=disable"
        );
    }
}
