//! `tessera`: parse the command line and hand over to the command.

use std::process::ExitCode;

use clap::Parser;
use tessera::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
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
