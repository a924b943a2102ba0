//! `tessera-bench`: the load driver and machine-limit probes behind `bench/run.sh`.
//!
//! Each subcommand prints one JSON object on stdout so the script can compute ratios from
//! numbers measured in the same run.

mod hash_rate;
mod load;

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
    /// Logins per second against a running server with users `bench-<i>@example.com`.
    Login(load::LoginArgs),
    /// Creates the users the login scenario logs in as.
    Seed(load::SeedArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::HashRate { threads, seconds } => hash_rate::run(threads, seconds),
        Command::Login(args) => load::login(args).await,
        Command::Seed(args) => load::seed(args).await,
    }
}
