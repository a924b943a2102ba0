//! Errors that stores report to the core, free of any driver type.

/// A storage failure, as the core sees it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The database did not answer or failed; the request cannot be served now.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back (a bug or a manual edit).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Which uniqueness rule was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another user has this email.
    Email,
    /// The id exists already.
    Id,
    /// The upstream identity is linked already (to this user or another), or the user has an
    /// identity of that provider already.
    Identity,
    /// The passkey's credential id is registered already (to this user or another).
    Passkey,
}

impl StoreError {
    /// Wraps a driver or I/O error as unavailability.
    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(source))
    }
}

/// A failure of the ephemeral-state backend (Redis).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The backend did not answer or failed; the request cannot be served now.
    #[error("the state backend is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StateError {
    /// Wraps a client or I/O error as unavailability.
    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(source))
    }
}
