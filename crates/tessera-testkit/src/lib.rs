//! What Tessera's test suites share, and nothing they do not: a fresh PostgreSQL database per
//! test ([`PgDatabase`]), Redis key prefixes, servers and a Cluster ([`redis`]), `tessera` child
//! processes on free ports ([`TesseraProcess`], [`tessera_command`]), upstream identity
//! providers for social login (a real OpenID provider, [`OidcProvider`], and a fake GitHub,
//! [`FakeGithub`]), bounded polling ([`eventually`]), [`free_port`], quiet test logs
//! ([`init_logs`]), TOTP codes ([`totp`]) and PKCE values ([`pkce`]).
//!
//! It knows no Tessera crate: the suites pass in what only they know, such as the path of the
//! `tessera` binary (`env!("CARGO_BIN_EXE_tessera")` in the server's own tests). A missing backend
//! (PostgreSQL, `redis-server`, `node` and the provider's npm packages) fails the test that
//! needs it; nothing is skipped silently.

pub mod authenticator;
mod command;
mod environment;
mod fake_github;
mod logs;
mod oidc_provider;
pub mod pkce;
mod polling;
mod ports;
mod postgres;
pub mod redis;
mod server;
pub mod totp;

use std::time::Duration;

pub use command::{CliOutput, Running, run_cli, tessera_command};
pub use fake_github::{FakeGithub, FakeGithubUser, GithubEmail};
pub use logs::{CapturedLogs, init_logs};
pub use oidc_provider::{OidcProvider, OidcProviderBuilder, ProviderStats};
pub use polling::eventually;
pub use ports::free_port;
pub use postgres::{PgDatabase, postgres_admin_url};
pub use server::{TesseraProcess, TesseraProcessBuilder};

/// The longest a harness step (a process starting or stopping, a cluster forming) may take. A
/// bound for failing, not a wait: steps end as soon as they are done. Generous, since the whole
/// suite shares two cores: a Node process loading oidc-provider was once seen to need more than
/// 20 s while hundreds of tests ran beside it, and once more than 60 s.
pub const HARNESS_PATIENCE: Duration = Duration::from_secs(120);
