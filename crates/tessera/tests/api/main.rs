//! Black-box HTTP tests: the real server on a random port, real SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod account_pages;
mod accounts;
mod admin;
mod browser;
mod cli;
mod docs;
mod errors;
mod feed;
mod fuzz;
mod grants;
mod limits;
mod mail;
mod mfa;
mod oauth;
mod ops;
mod pages;
mod passkeys;
mod sessions;
mod social;
mod tickets;
mod tokens;
