//! `tessera user create|list|set-roles|disable`.

use anyhow::Context;
use tessera_core::UserId;
use tessera_core::account::{AccountError, Role};

use crate::cli::UserCommand;
use crate::startup::Core;

/// Runs one user command.
pub async fn run(core: &Core, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email,
            password,
            name,
            roles,
        } => {
            let roles = Role::parse_all(&roles)?;
            let user = core
                .accounts
                .create_user(&email, &password, name.as_deref(), roles)
                .await
                .map_err(explain)?;
            println!("{}", user.id);
        }
        UserCommand::List => list(core).await?,
        UserCommand::SetRoles { id, roles } => {
            let roles = Role::parse_all(&roles)?;
            let user = core.stores.users.set_roles(parse_id(&id)?, &roles).await?;
            let user = user.with_context(|| format!("no user with id {id}"))?;
            println!("{} roles: [{}]", user.id, join(&user.roles));
        }
        UserCommand::Disable { id } => {
            let user_id = parse_id(&id)?;
            let user = core.stores.users.set_disabled(user_id, true).await?;
            user.with_context(|| format!("no user with id {id}"))?;
            // Ends the sessions and revokes every token issued so far, on every instance.
            core.sessions.revoke_user(user_id, "user_disabled").await?;
            println!("{id} disabled; every session ended");
        }
    }
    Ok(())
}

async fn list(core: &Core) -> anyhow::Result<()> {
    let mut after = None;
    println!("{:<36}  {:<40}  {:<8}  roles", "id", "email", "status");
    loop {
        let page = core.stores.users.list_users(None, after, 200).await?;
        for user in &page {
            let status = if user.disabled { "disabled" } else { "active" };
            println!(
                "{:<36}  {:<40}  {:<8}  {}",
                user.id,
                user.email,
                status,
                join(&user.roles)
            );
        }
        match page.last() {
            Some(last) if page.len() == 200 => after = Some(last.id),
            _ => return Ok(()),
        }
    }
}

fn parse_id(id: &str) -> anyhow::Result<UserId> {
    id.parse()
        .map_err(|_| anyhow::anyhow!("{id:?} is not a user id (a UUID)"))
}

fn join(roles: &[Role]) -> String {
    roles.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
}

/// A one-line reason for a refused account operation.
fn explain(error: AccountError) -> anyhow::Error {
    match error {
        AccountError::Validation(fields) => {
            let reasons: Vec<_> = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            anyhow::anyhow!("{}", reasons.join("; "))
        }
        AccountError::WeakPassword(reason) => anyhow::anyhow!("weak password: {reason}"),
        AccountError::EmailTaken => anyhow::anyhow!("a user with this email exists"),
        other => anyhow::Error::new(other),
    }
}
