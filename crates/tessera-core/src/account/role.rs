//! Role names, copied into the access token's `roles` claim.

use std::fmt;

/// A role name: 1 to 64 characters of `a-z`, `0-9`, `_`, `-`, `.`, `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

/// A role name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role names are 1 to 64 characters of a-z, 0-9, '_', '-', '.', ':'")]
pub struct RoleError;

impl Role {
    /// The role that grants `/admin/*`.
    pub const ADMIN: &'static str = "admin";

    /// Checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, RoleError> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.:".contains(&b));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(RoleError)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses every name, sorts them and drops duplicates.
    pub fn parse_all<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Role>, RoleError> {
        let mut roles = raw
            .iter()
            .map(|r| Role::parse(r.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        roles.sort();
        roles.dedup();
        Ok(roles)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_restricted() {
        assert!(Role::parse("admin").is_ok());
        assert!(Role::parse("billing:read").is_ok());
        assert!(Role::parse("").is_err());
        assert!(Role::parse("Admin").is_err());
        assert!(Role::parse("a b").is_err());
        let roles = Role::parse_all(&["b", "a", "b"]).unwrap();
        assert_eq!(
            roles,
            vec![Role::parse("a").unwrap(), Role::parse("b").unwrap()]
        );
    }
}
