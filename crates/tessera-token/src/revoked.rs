//! This instance's deny-set: `tessera-verify`'s own, so the server refuses exactly the tokens
//! a resource server following the revocation feed refuses.

use std::sync::Arc;

use tessera_core::ports::DenyList;
use tessera_core::session::{Revocation, RevocationTarget};
use tessera_verify::DenySet;

/// The core's revocations, applied to the deny-set the key ring checks tokens against.
#[derive(Debug, Default)]
pub struct RevokedTokens {
    set: Arc<DenySet>,
}

impl RevokedTokens {
    /// The deny-set itself.
    pub fn deny_set(&self) -> &Arc<DenySet> {
        &self.set
    }
}

impl DenyList for RevokedTokens {
    fn apply(&self, revocation: &Revocation, now: i64) {
        self.set.apply(&feed_item(revocation), now);
    }

    fn purge(&self, now: i64) {
        self.set.purge(now);
    }
}

/// `revocation` as the feed publishes it (API.md §3 `GET /auth/revocations`).
pub fn feed_item(revocation: &Revocation) -> tessera_verify::Revocation {
    let (sid, user_id) = match revocation.target {
        RevocationTarget::Session(id) => (Some(id.to_string()), None),
        RevocationTarget::User(id) => (None, Some(id.to_string())),
    };
    tessera_verify::Revocation {
        cursor: revocation.cursor,
        sid,
        jti: None,
        user_id,
        revoked_at: revocation.revoked_at_secs(),
        revoked_at_ms: Some(revocation.revoked_at_ms),
        until: revocation.until,
    }
}
