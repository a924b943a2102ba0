//! Routers by area.

pub mod auth;
pub mod ops;
pub mod users;
pub mod well_known;
