//! Extractors: request bodies with our limit and errors, the bearer caller, service keys,
//! client details, the language asked for.

mod bearer;
mod body;
mod client;
mod language;
mod query;
mod service_key;

pub use bearer::{Caller, authenticate};
pub use body::{Form, Json, JsonOrForm, MAX_BODY_BYTES};
pub use client::ClientInfo;
pub use language::Language;
pub use query::Query;
pub use service_key::ServiceCaller;
