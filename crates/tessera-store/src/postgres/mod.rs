//! The PostgreSQL store, for several instances sharing one database. SQL for PostgreSQL
//! lives only under this module.

mod audit;
mod columns;
mod identities;
mod keys;
mod mail;
mod mfa;
mod passkeys;
mod revocations;
mod sessions;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tessera_core::StoreError;
use tessera_core::ports::Health;

use crate::OpenError;
use crate::error::store_error;
use crate::location::mask_url_password;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

const MAX_CONNECTIONS: u32 = 10;
/// A database that is down must fail a request quickly (503), never hang it.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Users, sessions, keys and the revocation feed in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database named by a `postgres://` URL and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, OpenError> {
        let target = mask_url_password(url);
        let options = PgConnectOptions::from_str(url).map_err(|source| OpenError::InvalidUrl {
            url: target.clone(),
            source: Box::new(source),
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| OpenError::Connect {
                target: target.clone(),
                source: Box::new(source),
            })?;
        migrate(&pool).await.map_err(|source| OpenError::Migrate {
            target: target.clone(),
            source: Box::new(source),
        })?;
        tracing::info!(database = %target, "postgres database ready, migrations applied");
        Ok(Self { pool })
    }
}

#[async_trait]
impl Health for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// sqlx holds a PostgreSQL advisory lock during the run, so instances migrate one at a time.
async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    let mut conn = pool.acquire().await?;
    // `run_direct` rather than `run`: `run`'s `Acquire` bound makes this future fail the
    // `Send` check ("Acquire is not general enough"), so `open` could not be spawned.
    MIGRATOR.run_direct(None, &mut *conn, false).await
}
