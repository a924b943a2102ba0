//! `tessera`: parse the command line and hand over to the command.

use std::process::ExitCode;

use clap::Parser;
use tessera::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    // Everything this process creates (the SQLite file and its -wal/-shm, the master key,
    // mail files, their directories) is readable by its owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    match tessera::commands::run(cli, std::env::vars().collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the outermost context and its causes.
            eprintln!("tessera: {error:#}");
            ExitCode::FAILURE
        }
    }
}
