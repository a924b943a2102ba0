//! The command line (API.md §6). `--config` is global: it may come before or after the
//! subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// Tessera: accounts, tokens and sessions for your app, in one binary.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// TOML configuration file (default: ./tessera.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (overrides `listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory (overrides `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import users from JSON lines: {email, password_hash, name?, roles?, email_verified?}.
    Import {
        /// The file; `-` reads standard input.
        file: PathBuf,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `tessera user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// Email.
        #[arg(long)]
        email: String,
        /// Password (checked against the password policy).
        #[arg(long)]
        password: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// A role; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List users.
    List,
    /// Replace a user's roles.
    SetRoles {
        /// User id.
        id: String,
        /// The new roles (none: no roles).
        roles: Vec<String>,
    },
    /// Disable a user and end their sessions.
    Disable {
        /// User id.
        id: String,
    },
}

/// `tessera keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List,
    /// Make a new signing key, published at once and signing after
    /// `tokens.key_publish_ahead`; older keys verify until their tokens expire.
    Rotate {
        /// Sign with it at once (an emergency: resource servers refetch the JWKS on the new
        /// kid).
        #[arg(long)]
        now: bool,
    },
    /// Withdraw a compromised key: it leaves the JWKS and its tokens are refused everywhere
    /// within a second; if it signed, a new key signs at once.
    Retire {
        /// The key's id (`tessera keys list`).
        kid: String,
    },
}

/// `tessera config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with secrets masked.
    Check,
}
