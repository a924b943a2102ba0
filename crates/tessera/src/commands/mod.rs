//! Commands. Each loads the configuration, applies pending migrations by opening the store,
//! and exits non-zero with a one-line reason on bad input.

mod config_check;
mod import;
mod keys;
mod serve;
mod user;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::config::{Loaded, Settings, Strictness};
use crate::startup::{Core, Overrides};
use crate::telemetry;

/// Runs the command `cli` names, with `env` as the process environment.
pub async fn run(cli: Cli, env: Vec<(String, String)>) -> anyhow::Result<()> {
    let strictness = match cli.command {
        Command::Config(_) => Strictness::Strict,
        _ => Strictness::Lenient,
    };
    let file = config_file(cli.config.as_deref());
    let log_directives = env
        .iter()
        .find(|(name, _)| name == telemetry::LOG_ENV)
        .map(|(_, value)| value.clone());
    let Loaded {
        mut settings,
        warnings,
    } = Settings::load(file.as_deref(), env, strictness).context("invalid configuration")?;
    let level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    telemetry::init(cli.log_format, log_directives, level);
    // `config check` prints its warnings itself, with the configuration.
    if !matches!(cli.command, Command::Config(_)) {
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
    }
    match cli.command {
        Command::Serve { listen, data_dir } => {
            settings.listen = listen.unwrap_or(settings.listen);
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            serve::run(&settings).await
        }
        Command::Migrate => {
            open(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(command) => user::run(&open(&settings).await?, command).await,
        Command::Keys(command) => keys::run(&open(&settings).await?, command).await,
        Command::Import { file } => import::run(&open(&settings).await?, &file).await,
        Command::Config(_) => config_check::run(&settings, &warnings),
    }
}

/// `--config`, else `./tessera.toml` when it exists.
fn config_file(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from("tessera.toml")).filter(|p| p.is_file()),
    }
}

/// Opens the stores and keys for an administrative command.
async fn open(settings: &Settings) -> anyhow::Result<Core> {
    tessera_store::create_private_dir(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let issuer = settings.effective_issuer(settings.listen);
    Core::open(settings, Overrides::default(), issuer).await
}
