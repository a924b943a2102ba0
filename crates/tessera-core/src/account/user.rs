//! The user record.

use time::OffsetDateTime;

use super::{Email, Role};
use crate::UserId;

/// A user as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Normalised email, unique.
    pub email: Email,
    /// Display name.
    pub name: Option<String>,
    /// Roles, sorted.
    pub roles: Vec<Role>,
    /// Whether the email has been verified.
    pub email_verified: bool,
    /// Whether TOTP is active.
    pub mfa_enabled: bool,
    /// A disabled user cannot log in and their tokens are refused.
    pub disabled: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Changes whenever the password, the roles, the email or `disabled` change: a session is
    /// stored, or a refresh token rotated, only while it is still the value read for the
    /// grant, so no grant in flight outlives such a change.
    pub security_epoch: i64,
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id.
    pub id: UserId,
    /// Email.
    pub email: Email,
    /// Display name.
    pub name: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Whether the email is known to be verified (imports).
    pub email_verified: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A display name: trimmed, 1 to 200 characters, no control characters; empty means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName;

impl DisplayName {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 200;

    /// Trims and checks `raw`; an empty name becomes `None`.
    pub fn parse(raw: &str) -> Result<Option<String>, &'static str> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err("name must have at most 200 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("name must not contain control characters");
        }
        Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
    }
}
