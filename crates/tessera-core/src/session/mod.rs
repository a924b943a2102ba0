//! Sessions: one per login on one device, each with a rotating refresh-token chain. Access
//! tokens carry the session id as `sid`; revoking a session revokes them all.

mod record;
mod refresh;
mod revocation;
mod service;

pub use record::{RefreshState, Session, SessionLifetimes};
pub use refresh::{RefreshKey, RefreshToken};
pub use revocation::{DenySet, Revocation, RevocationTarget};
pub use service::{Refreshed, SessionError, SessionSettings, Sessions};
