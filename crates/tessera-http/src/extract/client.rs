//! What a session records about the client: its address and `User-Agent`.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tessera_core::account::Device;

/// The client's address and user agent; never fails.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Peer address as text.
    pub ip: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The device a new session records: this client, named `name` by itself.
    pub fn device(self, name: Option<String>) -> Device {
        Device {
            name,
            user_agent: self.user_agent,
            ip: self.ip,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self { ip, user_agent })
    }
}
