//! Several real `tessera serve` processes sharing one PostgreSQL database and one Redis (a server,
//! a Cluster, or a server that goes away and comes back): revocation across instances, refresh
//! rotation across instances, signing-key rotation, crashes and restarts (API.md §2, §5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod keys;
mod limits;
mod logs;
mod mail;
mod mfa;
mod passkeys;
mod refresh;
mod restart;
mod revocation;
mod vault;
