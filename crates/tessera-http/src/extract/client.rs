//! What a session records about the client: its address (behind trusted proxies, the
//! forwarded one) and `User-Agent`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tessera_core::account::Device;

use crate::proxies::TrustedProxies;

/// The client's address and user agent; never fails.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address as text (see [`TrustedProxies`]).
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

impl<S> FromRequestParts<S> for ClientInfo
where
    S: Send + Sync,
    Arc<TrustedProxies>: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let proxies = Arc::<TrustedProxies>::from_ref(state);
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| proxies.client(info.0, &parts.headers).to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self { ip, user_agent })
    }
}
