//! Extractors: request bodies with our limit and errors, the bearer caller, client details.

mod bearer;
mod body;
mod client;

pub use bearer::Caller;
pub use body::{Json, JsonOrForm, MAX_BODY_BYTES};
pub use client::ClientInfo;
