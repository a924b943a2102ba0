//! Sessions: one per login on one device, each with a rotating refresh-token chain. Access
//! tokens carry the session id as `sid`; revoking a session revokes them all.

mod amr;
mod record;
mod refresh;
mod revocation;
mod revocation_stream;
mod service;

pub use amr::{Amr, Method};
pub use record::{RefreshState, Session, SessionLifetimes};
pub use refresh::{RefreshKey, RefreshToken};
pub use revocation::{Revocation, RevocationTarget};
pub use revocation_stream::{RevocationStream, StreamEnd};
#[cfg(test)]
pub(crate) use service::Refreshed;
pub use service::{SessionError, SessionSettings, Sessions};
