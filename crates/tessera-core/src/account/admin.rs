//! Administration use cases (`/admin/*`): search, inspect and change users, end their
//! sessions. Every change is written to the audit trail with who did it.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, DisplayName, FieldError, Profiles, Role, User};
use crate::ports::{AuditEvent, AuditStore, UserStore};
use crate::session::{Session, Sessions};
use crate::{Clock, UserId};

/// Largest page of users.
pub const MAX_PAGE: u32 = 200;

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// Replaces every role.
    pub roles: Option<Vec<String>>,
    /// Disables (ending every session) or re-enables.
    pub disabled: Option<bool>,
    /// Display name; `Some(None)` clears it.
    pub name: Option<Option<String>>,
}

/// One page of a user search.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// The users, in id order.
    pub users: Vec<User>,
    /// Whether more users match after the last of these.
    pub more: bool,
}

/// The administration use cases.
pub struct Administration {
    users: Arc<dyn UserStore>,
    sessions: Arc<Sessions>,
    audit: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
    profiles: Arc<Profiles>,
}

impl Administration {
    /// Wires the use cases to their ports.
    pub fn new(
        users: Arc<dyn UserStore>,
        sessions: Arc<Sessions>,
        audit: Arc<dyn AuditStore>,
        clock: Arc<dyn Clock>,
        profiles: Arc<Profiles>,
    ) -> Self {
        Self {
            users,
            sessions,
            audit,
            clock,
            profiles,
        }
    }

    /// A page of users matching `query` (email or name, case-insensitive substring) after
    /// `after`, at most `limit` (capped at [`MAX_PAGE`]).
    pub async fn search(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<SearchPage, AccountError> {
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        let limit = limit.clamp(1, MAX_PAGE);
        // One more than asked tells whether another page follows.
        let mut users = self.users.list_users(query, after, limit + 1).await?;
        let more = users.len() > limit as usize;
        users.truncate(limit as usize);
        Ok(SearchPage { users, more })
    }

    /// The user `id`.
    pub async fn user(&self, id: UserId) -> Result<User, AccountError> {
        let found = self.users.find_by_id(id).await?;
        found.map(|f| f.user).ok_or(AccountError::AccountGone)
    }

    /// Applies `changes` to user `id` on behalf of `actor`.
    pub async fn update(
        &self,
        actor: UserId,
        id: UserId,
        changes: UserChanges,
    ) -> Result<User, AccountError> {
        let roles = match &changes.roles {
            Some(roles) => {
                Some(Role::parse_all(roles).map_err(|e| validation("roles", e.to_string()))?)
            }
            None => None,
        };
        let name = match &changes.name {
            Some(Some(name)) => {
                Some(DisplayName::parse(name).map_err(|e| validation("name", e.to_owned()))?)
            }
            Some(None) => Some(None),
            None => None,
        };
        let mut user = self.user(id).await?;
        if let Some(roles) = &roles {
            user = self
                .users
                .set_roles(id, roles)
                .await?
                .ok_or(AccountError::AccountGone)?;
        }
        if let Some(name) = &name {
            user = self
                .users
                .set_name(id, name.as_deref())
                .await?
                .ok_or(AccountError::AccountGone)?;
        }
        if let Some(disabled) = changes.disabled {
            user = self
                .users
                .set_disabled(id, disabled)
                .await?
                .ok_or(AccountError::AccountGone)?;
            if disabled {
                self.sessions.revoke_user(id, "user_disabled").await?;
            }
        }
        self.profiles.forget(id);
        let detail = json!({
            "roles": roles.map(|r| r.iter().map(Role::to_string).collect::<Vec<_>>()),
            "disabled": changes.disabled,
            "name_changed": name.is_some(),
        });
        self.record(actor, "user.update", id, Some(detail)).await?;
        Ok(user)
    }

    /// Deletes user `id` and ends every session of theirs.
    pub async fn delete(&self, actor: UserId, id: UserId) -> Result<(), AccountError> {
        self.user(id).await?;
        self.sessions.revoke_user(id, "user_deleted").await?;
        self.users.delete_user(id).await?;
        self.profiles.forget(id);
        self.record(actor, "user.delete", id, None).await
    }

    /// Live sessions of user `id`.
    pub async fn sessions(&self, id: UserId) -> Result<Vec<Session>, AccountError> {
        self.user(id).await?;
        Ok(self.sessions.list(id).await?)
    }

    /// Ends every session of user `id`.
    pub async fn end_sessions(&self, actor: UserId, id: UserId) -> Result<(), AccountError> {
        self.user(id).await?;
        let ended = self.sessions.end_all(id, None, "ended_by_admin").await?;
        self.record(
            actor,
            "user.sessions.end",
            id,
            Some(json!({ "ended": ended })),
        )
        .await
    }

    async fn record(
        &self,
        actor: UserId,
        action: &str,
        target: UserId,
        detail: Option<serde_json::Value>,
    ) -> Result<(), AccountError> {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: self.clock.now(),
            actor: Some(actor),
            action: action.to_owned(),
            target: Some(target.to_string()),
            detail,
        };
        Ok(self.audit.record_audit(&event).await?)
    }
}

fn validation(field: &'static str, message: String) -> AccountError {
    AccountError::Validation(vec![FieldError::new(field, message)])
}
