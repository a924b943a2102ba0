//! The server-side half of one authorization request: what the callback needs (the PKCE
//! verifier, the nonce, where to send the browser back, who asked to link) kept in the
//! single-use store under the digest of `state`, for 10 minutes, and bound to the browser
//! that started it by the digest of its `tessera_oauth` cookie.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ports::SingleUseStore;
use crate::secret::{secrets_equal, token_digest};
use crate::{Clock, SessionId, StateError, UserId};

/// How long an authorization request may take.
pub const FLOW_TTL: Duration = Duration::from_secs(10 * 60);

/// One authorization request in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Flow {
    /// The provider it was sent to: a callback of another provider with this state is a
    /// mix-up.
    pub(crate) provider: String,
    pub(crate) code_verifier: String,
    pub(crate) nonce: String,
    /// Where the browser goes back to (checked against the allow-list when the flow began).
    pub(crate) target: String,
    /// The digest of the binding cookie's value.
    pub(crate) binding: String,
    /// The signed-in user who asked to link the provider's identity (`link=true`), from which
    /// session, with which security epoch: the link is made only while both still hold.
    pub(crate) link: Option<LinkRequest>,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

impl Flow {
    /// Whether `cookie` is the binding cookie of the browser that began the flow.
    pub(crate) fn is_bound_to(&self, cookie: Option<&str>) -> bool {
        cookie.is_some_and(|cookie| {
            secrets_equal(token_digest(cookie).as_bytes(), self.binding.as_bytes())
        })
    }
}

/// Who asked to link a provider's identity to their account.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LinkRequest {
    /// The signed-in user.
    pub user: UserId,
    /// The session they asked from.
    pub session: SessionId,
    /// Their security epoch when they asked (filled in by the flow).
    #[serde(default)]
    pub(crate) epoch: i64,
}

impl LinkRequest {
    /// A link asked for by `user` from `session`.
    pub fn new(user: UserId, session: SessionId) -> Self {
        Self {
            user,
            session,
            epoch: 0,
        }
    }
}

/// Flows in progress, by the digests of their states.
pub(crate) struct Flows {
    store: Arc<dyn SingleUseStore>,
    clock: Arc<dyn Clock>,
}

impl Flows {
    pub(crate) fn new(store: Arc<dyn SingleUseStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub(crate) fn expiry(&self) -> i64 {
        self.clock.now().unix_timestamp() + FLOW_TTL.as_secs() as i64
    }

    pub(crate) async fn put(&self, state: &str, flow: &Flow) -> Result<(), StateError> {
        let value = serde_json::to_string(flow).unwrap_or_default();
        self.store.put(&key(state), &value, FLOW_TTL).await
    }

    /// Takes the flow of `state`, once, on any instance; `None` when it is unknown, spent or
    /// expired.
    pub(crate) async fn take(&self, state: &str) -> Result<Option<Flow>, StateError> {
        let Some(text) = self.store.take(&key(state)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<Flow>(&text)
            .ok()
            .filter(|flow| flow.expires_at > self.clock.now().unix_timestamp()))
    }
}

fn key(state: &str) -> String {
    format!("oauth:{}", token_digest(state))
}
