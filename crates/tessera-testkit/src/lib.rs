//! What Tessera's test suites share, and nothing they do not: a fresh PostgreSQL database per
//! test ([`PgDatabase`]), Redis key prefixes, servers and a Cluster ([`redis`]), `tessera` child
//! processes on free ports ([`TesseraProcess`], [`tessera_command`]), bounded polling
//! ([`eventually`]), [`free_port`], quiet test logs ([`init_logs`]) and TOTP codes ([`totp`]).
//!
//! It knows no Tessera crate: the suites pass in what only they know, such as the path of the
//! `tessera` binary (`env!("CARGO_BIN_EXE_tessera")` in the server's own tests). A missing backend
//! (PostgreSQL, `redis-server`) fails the test that needs it; nothing is skipped silently.

mod command;
mod environment;
mod logs;
mod polling;
mod ports;
mod postgres;
pub mod redis;
mod server;
pub mod totp;

use std::time::Duration;

pub use command::{CliOutput, Running, run_cli, tessera_command};
pub use logs::init_logs;
pub use polling::eventually;
pub use ports::free_port;
pub use postgres::{PgDatabase, postgres_admin_url};
pub use server::{TesseraProcess, TesseraProcessBuilder};

/// The longest a harness step (a process starting or stopping, a cluster forming) may take.
pub const HARNESS_PATIENCE: Duration = Duration::from_secs(20);
