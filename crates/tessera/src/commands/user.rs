//! `tessera user create|list|set-roles|disable`.

use tessera_core::UserId;
use tessera_core::account::{AccountError, Role, UserChanges};

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
            // The same change as `PATCH /admin/users/{id}`: a removed role revokes the
            // user's earlier tokens on every instance.
            let changes = UserChanges {
                roles: Some(roles),
                ..UserChanges::default()
            };
            let user = core
                .admin
                .update(None, parse_id(&id)?, changes)
                .await
                .map_err(|error| operator_error(error, &id))?;
            println!("{} roles: [{}]", user.id, join(&user.roles));
        }
        UserCommand::Disable { id } => {
            // Ends the sessions and revokes every token issued so far, on every instance.
            let changes = UserChanges {
                disabled: Some(true),
                ..UserChanges::default()
            };
            core.admin
                .update(None, parse_id(&id)?, changes)
                .await
                .map_err(|error| operator_error(error, &id))?;
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

/// A one-line reason for a refused change of user `id`.
fn operator_error(error: AccountError, id: &str) -> anyhow::Error {
    match error {
        AccountError::AccountGone => anyhow::anyhow!("no user with id {id}"),
        other => explain(other),
    }
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
