//! A PostgreSQL database of one test, created empty and dropped with it (like the API tests').

use sqlx::Connection;

/// A fresh database, dropped (connections and all) when this is dropped.
pub struct PgDatabase {
    name: String,
}

/// The server's base URL for the admin connection; override with `TESSERA_TEST_PG`.
pub fn pg_server_url() -> String {
    std::env::vars()
        .find(|(k, _)| k == "TESSERA_TEST_PG")
        .map_or_else(
            || "postgres://postgres@127.0.0.1:5432".to_owned(),
            |(_, v)| v,
        )
}

impl PgDatabase {
    pub async fn create() -> Self {
        let name = format!("tessera_test_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server_url()))
            .await
            .expect(
                "PostgreSQL must run on 127.0.0.1:5432 for the tests (scripts/test.sh starts it)",
            );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", pg_server_url(), self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a runtime of our own on a thread of our own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) =
                    sqlx::PgConnection::connect(&format!("{}/postgres", pg_server_url())).await
                {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}
