//! Email addresses as account identifiers.

use std::fmt;
use std::hash::{Hash, Hasher};

use unicode_normalization::UnicodeNormalization;

/// A syntactically valid email address, trimmed, as its owner typed it (mail goes there), with
/// the key that identifies its account: NFKC, then case folding, so that `ｋａｔｅ@example.com`,
/// `Kate@Example.com` and `kate@example.com` are one account. Two emails are equal when their
/// keys are.
#[derive(Debug, Clone)]
pub struct Email {
    address: String,
    key: String,
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Email {}

impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

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

    /// Trims and checks `raw`, and derives its key.
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
        Ok(Self {
            address: trimmed.to_owned(),
            key: fold(trimmed),
        })
    }

    /// The address as typed (trimmed): where mail goes, what the user sees.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// What identifies the account: unique among users, what lookups and limits use.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// `text` as compared without regard to case or compatibility forms: NFKC, then full case
/// folding, then NFKC again (Unicode's NFKC_Casefold, closely). Email keys and user searches
/// use it. Rust's standard library has no case folding; lower-casing the upper-cased text
/// gives it for every character names and addresses hold in practice (`ß` → `ss`, final `ς`
/// → `σ`), which lower-casing alone does not.
pub fn fold(text: &str) -> String {
    let compatible: String = text.nfkc().collect();
    let folded = compatible.to_uppercase().to_lowercase();
    folded.nfkc().collect()
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_kept_as_typed_with_a_case_insensitive_key() {
        let email = Email::parse("  Alice@Example.TEST ").unwrap();
        assert_eq!(email.as_str(), "Alice@Example.TEST");
        assert_eq!(email.key(), "alice@example.test");
        assert_eq!(email, Email::parse("alice@example.test").unwrap());
    }

    #[test]
    fn look_alike_emails_share_one_key() {
        let plain = Email::parse("kate@example.com").unwrap();
        for look_alike in [
            "ｋａｔｅ@example.com",
            "KATE@EXAMPLE.COM",
            "Kate@ｅｘａｍｐｌｅ.com",
        ] {
            let parsed = Email::parse(look_alike).unwrap();
            assert_eq!(parsed.key(), plain.key(), "{look_alike}");
            assert_eq!(parsed, plain);
        }
        assert_eq!(
            Email::parse("STRASSE@example.com").unwrap(),
            Email::parse("straße@example.com").unwrap()
        );
        assert_ne!(plain, Email::parse("kate2@example.com").unwrap());
        // An address whose `@` is a look-alike cannot receive mail: refused, not folded.
        assert_eq!(Email::parse("kate＠example.com"), Err(EmailError::Invalid));
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Any text typed as an email is accepted or refused, and an accepted one keeps its
        /// key when read back from storage (what the stores do).
        #[test]
        fn any_text_parses_or_is_refused_and_its_key_is_stable(text in "\\PC{0,80}") {
            if let Ok(email) = Email::parse(&text) {
                let again = Email::parse(email.as_str()).expect("a stored address parses");
                proptest::prop_assert_eq!(again.key(), email.key());
                proptest::prop_assert!(email.as_str().chars().count() <= Email::MAX_LEN);
            }
        }
    }
}
