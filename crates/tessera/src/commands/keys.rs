//! `tessera keys list|rotate|retire`.

use time::format_description::well_known::Rfc3339;

use tessera_token::{Activation, TokenError};

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
                let state = if key.withdrawn_at.is_some() {
                    "withdrawn"
                } else if key.kid == signing {
                    "signing"
                } else if key.retired_at.is_none() {
                    // Published, and signing from its `signs_at`.
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
        KeysCommand::Rotate { now } => {
            let activation = if now {
                Activation::Now
            } else {
                Activation::Ahead
            };
            let key = core.keys.rotate(activation).await?;
            println!(
                "new signing key {} ({}), published now; it signs from {}",
                key.kid,
                key.algorithm,
                key.signs_at.format(&Rfc3339)?
            );
        }
        KeysCommand::Retire { kid } => {
            let next = core
                .keys
                .withdraw(&kid)
                .await
                .map_err(|error| match error {
                    TokenError::UnknownKey => anyhow::anyhow!("no signing key with kid {kid}"),
                    other => other.into(),
                })?;
            println!(
                "{kid} withdrawn: out of the JWKS, its tokens refused within a second; {} signs",
                next.kid
            );
        }
    }
    Ok(())
}
