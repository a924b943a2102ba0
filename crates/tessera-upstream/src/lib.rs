//! Tessera's upstream identity providers behind the core's `social::Provider` port: OAuth 2.0
//! and OpenID Connect clients (oauth2/openidconnect over our reqwest client) and the presets
//! for Google, Microsoft, GitHub, Spotify, Kakao and Naver. No rules about accounts live here.
//!
//! The binary builds one [`UpstreamProvider`] per `[oauth.providers.NAME]` table, usually with
//! [`build_providers`] and the client from [`http_client`].
#![warn(missing_docs)]

mod http;
mod oidc;
mod preset;
mod profile;
mod provider;
mod revocation;
mod settings;
mod token;

pub use http::http_client;
pub use provider::{UpstreamProvider, build_providers};
pub use settings::{ProviderKind, ProviderSettings, UpstreamConfigError};
