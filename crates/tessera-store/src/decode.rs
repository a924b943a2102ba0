//! Domain values rebuilt from stored columns; a value the domain refuses is `Corrupt`.

use tessera_core::StoreError;
use tessera_core::account::{Email, Role};

use crate::error::corrupt;

/// The stored, already normalised email.
pub(crate) fn email(raw: &str) -> Result<Email, StoreError> {
    Email::parse(raw).map_err(|err| corrupt("users.email", err))
}

/// Stored role names, in stored order.
pub(crate) fn roles<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Role>, StoreError> {
    raw.iter()
        .map(|name| Role::parse(name.as_ref()).map_err(|err| corrupt("users.roles", err)))
        .collect()
}
