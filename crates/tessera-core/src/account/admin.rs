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

    /// Applies `changes` to user `id` on behalf of `actor` (`None`: the command line).
    ///
    /// A removed role takes effect at once: every access token issued to the user before the
    /// change is revoked on every instance (their sessions stay; the next refresh carries the
    /// roles as they are now). Disabling ends every session.
    pub async fn update(
        &self,
        actor: Option<UserId>,
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
            let removed = user.roles.iter().any(|held| !roles.contains(held));
            user = self
                .users
                .set_roles(id, roles)
                .await?
                .ok_or(AccountError::AccountGone)?;
            // At once, once the change is stored: nothing later in this update can skip it.
            if removed {
                self.sessions.revoke_user_tokens(id).await?;
            }
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
        self.record(Some(actor), "user.delete", id, None).await
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
            Some(actor),
            "user.sessions.end",
            id,
            Some(json!({ "ended": ended })),
        )
        .await
    }

    async fn record(
        &self,
        actor: Option<UserId>,
        action: &str,
        target: UserId,
        detail: Option<serde_json::Value>,
    ) -> Result<(), AccountError> {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: self.clock.now(),
            actor,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Core;
    use crate::session::{Revocation, RevocationTarget};

    fn targets(revocations: &[Revocation]) -> Vec<RevocationTarget> {
        revocations.iter().map(|r| r.target).collect()
    }

    #[tokio::test]
    async fn invalid_roles_are_a_validation_error_and_change_nothing() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        core.sign_in(&user).await;
        let changes = UserChanges {
            roles: Some(vec!["Admin".to_owned()]),
            disabled: Some(true),
            name: Some(Some("Alice".to_owned())),
        };

        // Act
        let refused = core.admin.update(Some(admin.id), user.id, changes).await;

        // Assert
        let Err(AccountError::Validation(errors)) = refused else {
            panic!("expected a validation error, got {refused:?}");
        };
        assert_eq!(errors[0].field, "roles");
        assert_eq!(core.store.user(user.id), Some(user));
        assert!(core.store.sessions().iter().all(|s| s.revoked_at.is_none()));
        assert!(core.store.feed().is_empty());
        assert!(core.store.audit().is_empty());
    }

    #[tokio::test]
    async fn an_invalid_name_is_a_validation_error_and_changes_nothing() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        let changes = UserChanges {
            roles: Some(vec!["editor".to_owned()]),
            disabled: None,
            name: Some(Some("Alice\u{7}".to_owned())),
        };

        // Act
        let refused = core.admin.update(Some(admin.id), user.id, changes).await;

        // Assert
        let Err(AccountError::Validation(errors)) = refused else {
            panic!("expected a validation error, got {refused:?}");
        };
        assert_eq!(errors[0].field, "name");
        assert_eq!(core.store.user(user.id), Some(user));
        assert!(core.store.audit().is_empty());
    }

    #[tokio::test]
    async fn changing_roles_and_name_is_audited_with_the_actor() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        let changes = UserChanges {
            roles: Some(vec!["editor".to_owned(), "admin".to_owned()]),
            disabled: None,
            name: Some(Some("  Alice  ".to_owned())),
        };

        // Act
        let changed = core
            .admin
            .update(Some(admin.id), user.id, changes)
            .await
            .unwrap();

        // Assert
        let roles: Vec<&str> = changed.roles.iter().map(Role::as_str).collect();
        assert_eq!(roles, ["admin", "editor"]);
        assert_eq!(changed.name.as_deref(), Some("Alice"));
        assert_eq!(core.store.user(user.id), Some(changed));
        let audit = core.store.audit();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, Some(admin.id));
        assert_eq!(audit[0].action, "user.update");
        assert_eq!(audit[0].target, Some(user.id.to_string()));
        assert_eq!(audit[0].at, core.clock.now());
        assert_eq!(
            audit[0].detail,
            Some(json!({ "roles": ["admin", "editor"], "disabled": null, "name_changed": true }))
        );
        assert!(
            core.store.feed().is_empty(),
            "a role change revokes nothing"
        );
    }

    #[tokio::test]
    async fn an_admin_change_shows_at_once_in_the_owner_s_profile() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        core.accounts.profile(user.id).await.unwrap();
        let changes = UserChanges {
            name: Some(Some("Alice".to_owned())),
            ..UserChanges::default()
        };

        // Act
        core.admin
            .update(Some(admin.id), user.id, changes)
            .await
            .unwrap();

        // Assert
        let profile = core.accounts.profile(user.id).await.unwrap();
        assert_eq!(profile.name.as_deref(), Some("Alice"));
    }

    #[tokio::test]
    async fn removing_a_role_revokes_the_users_tokens_and_keeps_their_sessions() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        let roles = |names: &[&str]| UserChanges {
            roles: Some(names.iter().map(|name| (*name).to_owned()).collect()),
            ..UserChanges::default()
        };
        core.admin
            .update(Some(admin.id), user.id, roles(&["editor"]))
            .await
            .unwrap();
        let (session, _) = core.sign_in(&core.store.user(user.id).unwrap()).await;
        let added_only = core.store.feed();

        // Act
        core.admin
            .update(Some(admin.id), user.id, roles(&["support"]))
            .await
            .unwrap();

        // Assert
        assert!(added_only.is_empty(), "adding a role revokes nothing");
        let feed = core.store.feed();
        assert_eq!(targets(&feed), vec![RevocationTarget::User(user.id)]);
        assert_eq!(
            feed[0].revoked_at_ms,
            crate::clock::unix_millis(core.clock.now())
        );
        assert_eq!(core.deny.applied(), feed);
        assert_eq!(core.bus.published(), feed);
        assert!(core.store.session(session.id).unwrap().revoked_at.is_none());
    }

    #[tokio::test]
    async fn disabling_a_user_ends_every_session_and_revokes_their_tokens() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        let (phone, _) = core.sign_in(&user).await;
        let (laptop, _) = core.sign_in(&user).await;
        let (admins, _) = core.sign_in(&admin).await;
        let changes = UserChanges {
            disabled: Some(true),
            ..UserChanges::default()
        };

        // Act
        let disabled = core
            .admin
            .update(Some(admin.id), user.id, changes)
            .await
            .unwrap();

        // Assert
        assert!(disabled.disabled);
        for id in [phone.id, laptop.id] {
            let ended = core.store.session(id).unwrap();
            assert_eq!(ended.revoke_reason.as_deref(), Some("user_disabled"));
        }
        assert!(core.store.session(admins.id).unwrap().revoked_at.is_none());
        let feed = core.store.feed();
        assert_eq!(
            targets(&feed),
            [
                RevocationTarget::Session(phone.id),
                RevocationTarget::Session(laptop.id),
                RevocationTarget::User(user.id),
            ]
        );
        assert_eq!(core.deny.applied(), feed);
        assert_eq!(core.bus.published(), feed);
        let audit = core.store.audit();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, Some(admin.id));
        assert_eq!(audit[0].detail.as_ref().unwrap()["disabled"], json!(true));
    }

    #[tokio::test]
    async fn re_enabling_a_user_revokes_nothing() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        core.store.set_disabled(user.id, true).await.unwrap();
        let changes = UserChanges {
            disabled: Some(false),
            ..UserChanges::default()
        };

        // Act
        let enabled = core
            .admin
            .update(Some(admin.id), user.id, changes)
            .await
            .unwrap();

        // Assert
        assert!(!enabled.disabled);
        assert!(core.store.feed().is_empty());
        assert_eq!(core.store.audit().len(), 1);
    }

    #[tokio::test]
    async fn deleting_a_user_removes_them_and_revokes_their_tokens() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        let (session, _) = core.sign_in(&user).await;

        // Act
        core.admin.delete(admin.id, user.id).await.unwrap();

        // Assert
        assert_eq!(core.store.user(user.id), None);
        assert_eq!(core.store.session(session.id), None);
        let feed = core.store.feed();
        assert_eq!(
            targets(&feed),
            [
                RevocationTarget::Session(session.id),
                RevocationTarget::User(user.id),
            ]
        );
        assert_eq!(core.deny.applied(), feed);
        assert_eq!(core.bus.published(), feed);
        let audit = core.store.audit();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, Some(admin.id));
        assert_eq!(audit[0].action, "user.delete");
        assert_eq!(audit[0].target, Some(user.id.to_string()));
    }

    #[tokio::test]
    async fn ending_a_user_s_sessions_is_audited_with_how_many_ended() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let user = core.add_user("alice@example.test");
        core.sign_in(&user).await;
        core.sign_in(&user).await;

        // Act
        core.admin.end_sessions(admin.id, user.id).await.unwrap();

        // Assert
        assert!(core.admin.sessions(user.id).await.unwrap().is_empty());
        assert_eq!(core.deny.applied().len(), 2);
        assert_eq!(core.bus.published().len(), 2);
        let audit = core.store.audit();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, Some(admin.id));
        assert_eq!(audit[0].action, "user.sessions.end");
        assert_eq!(audit[0].detail, Some(json!({ "ended": 2 })));
        assert!(!core.store.user(user.id).unwrap().disabled);
    }

    #[tokio::test]
    async fn acting_on_an_unknown_user_is_account_gone_and_records_nothing() {
        // Arrange
        let core = Core::new();
        let admin = core.add_user("admin@example.test");
        let unknown = UserId::new();
        let changes = UserChanges {
            disabled: Some(true),
            ..UserChanges::default()
        };

        // Act
        let results = [
            core.admin
                .update(Some(admin.id), unknown, changes)
                .await
                .err(),
            core.admin.delete(admin.id, unknown).await.err(),
            core.admin.end_sessions(admin.id, unknown).await.err(),
            core.admin.sessions(unknown).await.err(),
            core.admin.user(unknown).await.err(),
        ];

        // Assert
        for result in results {
            assert!(
                matches!(result, Some(AccountError::AccountGone)),
                "{result:?}"
            );
        }
        assert!(core.store.feed().is_empty());
        assert!(core.store.audit().is_empty());
    }

    #[tokio::test]
    async fn a_search_page_says_whether_more_users_follow() {
        // Arrange
        let core = Core::new();
        for name in ["ann", "bob", "anna", "annie"] {
            core.add_user(&format!("{name}@example.test"));
        }

        // Act
        let first = core.admin.search(Some(" ANN "), None, 2).await.unwrap();
        let after = first.users.last().map(|u| u.id);
        let second = core.admin.search(Some("ann"), after, 2).await.unwrap();

        // Assert
        let emails = |page: &SearchPage| -> Vec<String> {
            page.users.iter().map(|u| u.email.to_string()).collect()
        };
        assert_eq!(emails(&first), ["ann@example.test", "anna@example.test"]);
        assert!(first.more);
        assert_eq!(emails(&second), ["annie@example.test"]);
        assert!(!second.more);
    }
}
