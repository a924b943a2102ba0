//! Routers by area.

pub mod admin;
pub mod auth;
pub mod introspection;
pub mod mail;
pub mod mfa;
pub mod oauth;
pub mod ops;
pub mod pages;
pub mod passkeys;
pub mod revocations;
pub mod sessions;
pub mod social;
pub mod tickets;
pub mod users;
pub mod well_known;
