//! Tessera's domain: accounts, credentials, sessions and the ports (store traits) they need.
//!
//! Plain Rust with no HTTP and no SQL: adapters implement [`ports`], the HTTP layer calls the
//! use cases in [`account::Accounts`].
#![warn(missing_docs)]

pub mod account;
pub mod clock;
pub mod error;
#[cfg(test)]
mod fakes;
pub mod grant;
pub mod ids;
mod kept;
pub mod limits;
pub mod mail;
pub mod mfa;
pub mod passkey;
pub mod ports;
pub mod secret;
pub mod session;
pub mod social;
pub mod ticket;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Conflict, StateError, StoreError};
pub use ids::{SessionId, UserId};
