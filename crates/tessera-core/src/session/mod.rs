//! Sessions: one per login on one device. Access tokens carry the session id as `sid`.

mod record;

pub use record::{Session, SessionLifetimes};
