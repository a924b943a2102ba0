//! `tessera keys list|rotate`.

use time::format_description::well_known::Rfc3339;

use crate::cli::KeysCommand;
use crate::startup::Core;

/// Runs one keys command.
pub async fn run(core: &Core, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::List => {
            let signing = core.keys.signing_kid();
            println!(
                "{:<44}  {:<6}  {:<20}  {:<20}  state",
                "kid", "alg", "created", "retired"
            );
            for key in core.keys.summaries() {
                let state = if key.kid == signing {
                    "signing"
                } else if key.retired_at.is_none() {
                    // Published, and signing once every instance has had time to load it.
                    "next"
                } else if key.published {
                    "verifying"
                } else {
                    "expired"
                };
                let retired = key
                    .retired_at
                    .map(|t| t.format(&Rfc3339))
                    .transpose()?
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<44}  {:<6}  {:<20}  {:<20}  {state}",
                    key.kid,
                    key.algorithm,
                    key.created_at.format(&Rfc3339)?,
                    retired
                );
            }
        }
        KeysCommand::Rotate => {
            let key = core.keys.rotate().await?;
            println!(
                "new signing key {} ({}); running servers sign with it within 10 s",
                key.kid, key.algorithm
            );
        }
    }
    Ok(())
}
