//! Sessions: one per login on one device. Access tokens carry the session id as `sid`.

mod session;

pub use session::{Session, SessionLifetimes};
