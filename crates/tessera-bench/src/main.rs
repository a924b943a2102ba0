//! `tessera-bench`: the load driver and machine-limit probes behind `bench/run.sh`.
//!
//! Each subcommand prints one JSON object on stdout so the script can compute ratios from
//! numbers measured in the same run.

mod hash_rate;
mod propagation;
mod runner;
mod scenarios;

use clap::{Parser, Subcommand};

/// Benchmark driver.
#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Raw argon2id hashes per second (m=19456 KiB, t=2, p=1) on N threads: the login ceiling.
    HashRate {
        /// Threads hashing in parallel.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Measurement time in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Creates the users the scenarios log in as (`bench-<i>@example.com`).
    Seed(scenarios::SeedArgs),
    /// Logins per second.
    Login(scenarios::LoadArgs),
    /// Refresh chains: each virtual user holds and rotates its own refresh token.
    Refresh(scenarios::LoadArgs),
    /// `GET /users/me` with a bearer token (each client reusing its token, or `--distinct`).
    Verify(scenarios::VerifyArgs),
    /// How long a logout on one instance takes to refuse the token on another.
    Propagation(propagation::PropagationArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = match Cli::parse().command {
        Command::HashRate { threads, seconds } => hash_rate::run(threads, seconds)?,
        Command::Seed(args) => scenarios::seed(args).await?,
        Command::Login(args) => scenarios::login(args).await?,
        Command::Refresh(args) => scenarios::refresh(args).await?,
        Command::Verify(args) => scenarios::verify(args).await?,
        Command::Propagation(args) => propagation::run(args).await?,
    };
    println!("{report}");
    Ok(())
}
