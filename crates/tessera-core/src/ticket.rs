//! WebSocket tickets: browsers cannot set headers on a WebSocket upgrade, so a client trades
//! its access token for a short-lived, single-use ticket to put in the upgrade's query string.
//! Only a digest of the ticket is used as the key.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ports::SingleUseStore;
use crate::secret::{random_token, token_digest};
use crate::{Clock, SessionId, StateError, UserId};

/// Who a ticket admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The user.
    pub user_id: UserId,
    /// The session the ticket was issued in.
    pub session_id: SessionId,
    /// The `jti` of the access token it was traded for: revoking that token revokes it.
    pub token_id: String,
    /// The user's roles at issue.
    pub roles: Vec<String>,
    /// The `iat` of the access token it was traded for: a user-level revocation after it (a
    /// removed role, say) covers the ticket too.
    pub token_issued_at: i64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    user_id: String,
    session_id: String,
    // Absent in tickets stored by an older version: a ticket lives seconds, so the window in
    // which one is redeemed without it is as short.
    #[serde(default)]
    token_id: String,
    roles: Vec<String>,
    /// When the ticket was issued (older versions read it as the token's issue time).
    issued_at: i64,
    // Absent in tickets stored by an older version: their own issue time stands in.
    #[serde(default)]
    token_issued_at: Option<i64>,
    expires_at: i64,
}

/// Issues and redeems tickets.
pub struct Tickets {
    store: Arc<dyn SingleUseStore>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl Tickets {
    /// Tickets living `ttl`, kept in `store`.
    pub fn new(store: Arc<dyn SingleUseStore>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self { store, ttl, clock }
    }

    /// How long a ticket lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new ticket for `user` in `session`, traded for the access token `token_id` issued at
    /// `token_issued_at`, with `roles`.
    pub async fn issue(
        &self,
        user_id: UserId,
        session_id: SessionId,
        token_id: String,
        token_issued_at: i64,
        roles: Vec<String>,
    ) -> Result<String, StateError> {
        let token = random_token();
        let now = self.clock.unix();
        let stored = Stored {
            user_id: user_id.to_string(),
            session_id: session_id.to_string(),
            token_id,
            roles,
            issued_at: now,
            token_issued_at: Some(token_issued_at),
            expires_at: now.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        let value = serde_json::to_string(&stored).expect("a ticket always serialises");
        self.store.put(&key(&token), &value, self.ttl).await?;
        Ok(token)
    }

    /// The ticket `token` stands for, once; `None` when unknown, used or expired.
    pub async fn redeem(&self, token: &str) -> Result<Option<Ticket>, StateError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some(value) = self.store.take(&key(token)).await? else {
            return Ok(None);
        };
        let Ok(stored) = serde_json::from_str::<Stored>(&value) else {
            return Ok(None);
        };
        if stored.expires_at <= self.clock.unix() {
            return Ok(None);
        }
        let (Ok(user_id), Ok(session_id)) = (stored.user_id.parse(), stored.session_id.parse())
        else {
            return Ok(None);
        };
        Ok(Some(Ticket {
            user_id,
            session_id,
            token_id: stored.token_id,
            roles: stored.roles,
            token_issued_at: stored.token_issued_at.unwrap_or(stored.issued_at),
        }))
    }
}

fn key(token: &str) -> String {
    format!("ticket:{}", token_digest(token))
}
