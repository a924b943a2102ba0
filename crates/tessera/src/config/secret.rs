//! Secrets in the configuration. `Debug` and `Serialize` (what `config check` prints) show them
//! masked, so neither a log line nor the printed configuration can leak one; code that needs
//! the value asks for it with `expose_secret`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use tessera_store::{PASSWORD_MASK, mask_url_password};

/// A key, a shared secret: shown as `********` (or `""` when unset).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

/// A URL that may carry a password (database, Redis): shown with only the password masked,
/// so an operator still sees which host it names.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(SecretString);

impl Secret {
    /// The value itself; keep it out of logs and messages.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether it is unset.
    pub fn is_empty(&self) -> bool {
        self.expose_secret().is_empty()
    }

    fn masked(&self) -> &'static str {
        if self.is_empty() { "" } else { PASSWORD_MASK }
    }
}

impl SecretUrl {
    /// The URL itself, password included; keep it out of logs and messages.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether it is unset.
    pub fn is_empty(&self) -> bool {
        self.expose_secret().is_empty()
    }

    /// The URL with its password masked.
    pub fn masked(&self) -> String {
        mask_url_password(self.expose_secret())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value.into())
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl From<String> for SecretUrl {
    fn from(value: String) -> Self {
        Self(value.into())
    }
}

impl From<&str> for SecretUrl {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.masked(), f)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.masked(), f)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.masked())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_masked_in_debug_and_when_serialized() {
        let secret = Secret::from("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), r#""********""#);
        assert_eq!(serde_json::to_string(&secret).unwrap(), r#""********""#);
        assert_eq!(secret.expose_secret(), "hunter2-hunter2");
    }

    #[test]
    fn an_unset_secret_shows_as_empty() {
        assert_eq!(format!("{:?}", Secret::default()), r#""""#);
        assert_eq!(serde_json::to_string(&Secret::default()).unwrap(), r#""""#);
    }

    #[test]
    fn a_url_keeps_everything_but_its_password() {
        let url = SecretUrl::from("postgres://app:hunter2@db:5432/tessera");
        assert_eq!(
            format!("{url:?}"),
            r#""postgres://app:********@db:5432/tessera""#
        );
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            r#""postgres://app:********@db:5432/tessera""#
        );
        assert_eq!(
            url.expose_secret(),
            "postgres://app:hunter2@db:5432/tessera"
        );
    }
}
