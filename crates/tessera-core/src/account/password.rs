//! Password policy: NFKC, length in code points, and a built-in list of common passwords.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// The 10,000 most common passwords of public breach corpora, lower-cased, one per line.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// A password in NFKC form, and as typed when that differs. Its `Debug` never shows it, and
/// its memory is wiped on drop.
#[derive(Clone)]
pub struct Password {
    normalised: Zeroizing<String>,
    /// `None` when typing it gave its NFKC form already (almost always).
    typed: Option<Zeroizing<String>>,
}

impl Password {
    /// Normalises `raw` to NFKC without judging it (for login, where any input is compared).
    pub fn normalise(raw: &str) -> Self {
        let normalised: String = raw.nfkc().collect();
        let typed = (normalised != raw).then(|| Zeroizing::new(raw.to_owned()));
        Self {
            normalised: Zeroizing::new(normalised),
            typed,
        }
    }

    /// The normalised bytes: what Tessera hashes.
    pub fn as_bytes(&self) -> &[u8] {
        self.normalised.as_bytes()
    }

    /// The bytes as typed: what a hash imported from another system was made from.
    pub fn as_typed_bytes(&self) -> &[u8] {
        self.typed.as_deref().unwrap_or(&self.normalised).as_bytes()
    }

    /// Length in Unicode code points.
    pub fn char_count(&self) -> usize {
        self.normalised.chars().count()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than the configured minimum.
    #[error("password must have at least {0} characters")]
    TooShort(usize),
    /// Longer than [`PasswordPolicy::MAX_LEN`].
    #[error("password must have at most {} characters", PasswordPolicy::MAX_LEN)]
    TooLong,
    /// On the list of common passwords.
    #[error("password is too common")]
    Common,
}

/// Rules for new passwords.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    /// Minimum length in code points, after NFKC.
    pub min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 8 }
    }
}

impl PasswordPolicy {
    /// Maximum length in code points, after NFKC; bounds hashing work.
    pub const MAX_LEN: usize = 256;

    /// Normalises `raw` and checks it against the policy.
    pub fn check(&self, raw: &str) -> Result<Password, PasswordError> {
        // Bound the work before normalising: NFKC can expand input, never by more than 18×.
        if raw.chars().count() > Self::MAX_LEN * 18 {
            return Err(PasswordError::TooLong);
        }
        let password = Password::normalise(raw);
        let length = password.char_count();
        if length > Self::MAX_LEN {
            return Err(PasswordError::TooLong);
        }
        if length < self.min_length {
            return Err(PasswordError::TooShort(self.min_length));
        }
        if COMMON.contains(password.normalised.to_lowercase().as_str()) {
            return Err(PasswordError::Common);
        }
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let policy = PasswordPolicy::default();
        assert_eq!(policy.check("password").unwrap_err(), PasswordError::Common);
        assert_eq!(
            policy.check("PassWord1").unwrap_err(),
            PasswordError::Common
        );
        assert_eq!(COMMON.len(), 10_000);
    }

    #[test]
    fn a_password_keeps_its_typed_form_when_nfkc_changes_it() {
        let plain = Password::normalise("correct horse");
        assert_eq!(plain.as_typed_bytes(), plain.as_bytes());
        let wide = Password::normalise("ｐａｓｓ①");
        assert_eq!(wide.as_bytes(), "pass1".as_bytes());
        assert_eq!(wide.as_typed_bytes(), "ｐａｓｓ①".as_bytes());
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        let policy = PasswordPolicy { min_length: 8 };
        // Eight full-width letters normalise to eight ASCII letters.
        assert!(policy.check("ｃｏｒｒｅｃｔｈ").is_ok());
        assert_eq!(
            policy.check("ｓｈｏｒｔ").unwrap_err(),
            PasswordError::TooShort(8)
        );
        assert!(policy.check(&"é".repeat(256)).is_ok());
        assert_eq!(
            policy.check(&"é".repeat(257)).unwrap_err(),
            PasswordError::TooLong
        );
        assert_eq!(
            policy.check(&"x".repeat(10_000)).unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let password = Password::normalise("hunter2-secret");
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
