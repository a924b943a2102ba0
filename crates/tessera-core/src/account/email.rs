//! Email addresses as account identifiers.

use std::fmt;

/// A syntactically valid email address, trimmed and lower-cased so that uniqueness is
/// case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an email was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("email is required")]
    Empty,
    /// Longer than 254 characters (RFC 5321 path limit).
    #[error("email is longer than 254 characters")]
    TooLong,
    /// Not an address.
    #[error("email is not a valid address")]
    Invalid,
}

impl Email {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 254;

    /// Trims, checks and lower-cases `raw`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        // Require a dot-free local part check to the library; demand a domain with a dot so that
        // `user@localhost` typos are caught, as most identity servers do.
        let valid = email_address::EmailAddress::is_valid(trimmed)
            && trimmed
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.'));
        if !valid {
            return Err(EmailError::Invalid);
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Alice@Example.TEST ").unwrap().as_str(),
            "alice@example.test"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(Email::parse("no-at-sign"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a@localhost"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a b@example.test"), Err(EmailError::Invalid));
        let long = format!("{}@example.test", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}
