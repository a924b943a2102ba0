//! The `tessera` binary as a library: configuration, startup and commands, so that tests can
//! build the real server in-process.

pub mod cli;
pub mod commands;
pub mod config;
pub mod follower;
pub mod startup;
pub mod telemetry;
