//! The server-side half of one authorization request: what the callback needs (the PKCE
//! verifier, the nonce, where to send the browser back, who asked to link) kept once
//! ([`crate::kept::Kept`]) under the digest of `state`, for 10 minutes, and bound to the browser
//! that started it by the digest of its `tessera_oauth` cookie.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kept::Expiring;
use crate::secret::{secrets_equal, token_digest};
use crate::{SessionId, UserId};

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

impl Expiring for Flow {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}
