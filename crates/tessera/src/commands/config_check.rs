//! `tessera config check`: the effective configuration with secrets masked.

use crate::config::{Masked, Settings};

/// Prints warnings, then the configuration.
pub fn run(settings: &Settings, warnings: &[String]) -> anyhow::Result<()> {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    print!("{}", Masked(settings));
    Ok(())
}
