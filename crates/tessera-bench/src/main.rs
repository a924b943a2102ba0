//! `tessera-bench`: the load driver and machine-limit probes behind `bench/run.sh`.
//!
//! Each subcommand prints one JSON object on stdout so the script can compute ratios from
//! numbers measured in the same run.

mod abuse;
mod ceiling;
mod failover;
mod hammer;
mod hash_rate;
mod mixed;
mod pages;
mod propagation;
mod runner;
mod scenarios;
mod social;
mod startup;

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
    /// Signups per second, each with a new email.
    Signup(scenarios::LoadArgs),
    /// Logins per second.
    Login(scenarios::LoadArgs),
    /// Refresh chains: each virtual user holds and rotates its own refresh token.
    Refresh(scenarios::LoadArgs),
    /// `GET /users/me` with a bearer token (each client reusing its token, or `--distinct`).
    Verify(scenarios::VerifyArgs),
    /// 90% verify, 8% refresh, 2% login, each virtual user with its own session.
    Mixed(scenarios::LoadArgs),
    /// A long paced run of verify, refresh, logout and login, reported window by window.
    Soak(mixed::SoakArgs),
    /// Logins at a fixed rate (above capacity) while verify latency is measured.
    Flood(mixed::FloodArgs),
    /// Wrong passwords from a few addresses far above capacity, while other people log in and
    /// API clients verify tokens (the rate limits at work).
    Abuse(abuse::AbuseArgs),
    /// Milliseconds from starting `tessera serve` on an existing data directory to ready.
    Startup(startup::StartupArgs),
    /// `GET /users/me` from one thread with prepared requests: a driver that is not the limit,
    /// reporting the server's CPU time per request.
    Hammer(hammer::HammerArgs),
    /// Serves the machine's ceilings for the verify scenario (bare HTTP, Ed25519 verify).
    Ceiling(ceiling::CeilingArgs),
    /// Refresh chains and verifies over two instances while one is killed (`bench/faults.sh`).
    Failover(failover::FailoverArgs),
    /// How long a logout on one instance takes to refuse the token on another.
    Propagation(propagation::PropagationArgs),
    /// Sign-ins through a provider this process serves, then the vault's hit path.
    Social(social::SocialArgs),
    /// `GET /ui/login` (a first visit and a returning browser) against `GET /healthz`, with
    /// the efficient driver, round by round.
    Pages(pages::PagesArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = match Cli::parse().command {
        Command::HashRate { threads, seconds } => hash_rate::run(threads, seconds)?,
        Command::Seed(args) => scenarios::seed(args).await?,
        Command::Signup(args) => scenarios::signup(args).await?,
        Command::Mixed(args) => mixed::mixed(args).await?,
        Command::Soak(args) => mixed::soak(args).await?,
        Command::Flood(args) => mixed::flood(args).await?,
        Command::Abuse(args) => abuse::abuse(args).await?,
        Command::Startup(args) => startup::run(args).await?,
        Command::Social(args) => social::run(args).await?,
        Command::Pages(args) => pages::run(args).await?,
        Command::Login(args) => scenarios::login(args).await?,
        Command::Refresh(args) => scenarios::refresh(args).await?,
        Command::Verify(args) => scenarios::verify(args).await?,
        Command::Hammer(args) => hammer::run(args).await?,
        Command::Ceiling(args) => ceiling::serve(args).await?,
        Command::Failover(args) => failover::run(args).await?,
        Command::Propagation(args) => propagation::run(args).await?,
    };
    println!("{report}");
    Ok(())
}
