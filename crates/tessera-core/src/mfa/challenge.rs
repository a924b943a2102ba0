//! The second step of a login: after the first factor, the client gets an opaque `mfa_token`
//! instead of tokens. The pending login lives in the single-use store (shared by every
//! instance) under the token's digest, for 5 minutes; it is taken for each attempt, so two
//! attempts never run at once, and put back after a wrong code until the fifth.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::{Device, User};
use crate::ports::SingleUseStore;
use crate::secret::{random_token, token_digest};
use crate::session::Amr;
use crate::{Clock, StateError, UserId};

/// How long an `mfa_token` lives.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Wrong codes after which an `mfa_token` is dead (API.md §4).
pub const WRONG_CODES_ALLOWED: u8 = 5;

/// What the client gets instead of tokens.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    /// The opaque `mfa_token`: a bearer secret of the pending login.
    pub token: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

/// A login waiting for its second factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) user: UserId,
    /// The user's security epoch when the first factor was checked: the login ends only if
    /// the account has not changed since (absent in challenges of older releases: never
    /// matches, so such a login starts again).
    #[serde(default = "unknown_epoch")]
    pub(crate) epoch: i64,
    pub(crate) device: Device,
    /// The first factor's methods, as stored on sessions.
    pub(crate) amr: String,
    pub(crate) wrong: u8,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

fn unknown_epoch() -> i64 {
    -1
}

impl Pending {
    pub(crate) fn amr(&self) -> Amr {
        Amr::parse(&self.amr)
    }
}

/// Pending logins, by the digests of their tokens.
pub struct MfaChallenges {
    store: Arc<dyn SingleUseStore>,
    clock: Arc<dyn Clock>,
}

impl MfaChallenges {
    /// Pending logins kept in `store`.
    pub fn new(store: Arc<dyn SingleUseStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Starts the second step for `user`, who proved `amr` from `device`.
    pub async fn issue(
        &self,
        user: &User,
        device: Device,
        amr: &Amr,
    ) -> Result<MfaChallenge, StateError> {
        let token = random_token();
        let pending = Pending {
            user: user.id,
            epoch: user.security_epoch,
            device,
            amr: amr.to_string(),
            wrong: 0,
            expires_at: self.clock.now().unix_timestamp() + CHALLENGE_TTL.as_secs() as i64,
        };
        self.store
            .put(&key(&token), &encode(&pending), CHALLENGE_TTL)
            .await?;
        Ok(MfaChallenge {
            token,
            expires_in: CHALLENGE_TTL.as_secs(),
        })
    }

    /// Takes the pending login of `token` for one attempt; `None` when it is unknown, expired,
    /// spent or being tried right now.
    pub(crate) async fn take(&self, token: &str) -> Result<Option<Pending>, StateError> {
        let Some(text) = self.store.take(&key(token)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<Pending>(&text)
            .ok()
            .filter(|pending| pending.expires_at > self.clock.now().unix_timestamp()))
    }

    /// Puts a pending login back after a wrong code, unless that was its last allowed one.
    pub(crate) async fn wrong_code(
        &self,
        token: &str,
        mut pending: Pending,
    ) -> Result<(), StateError> {
        pending.wrong += 1;
        if pending.wrong >= WRONG_CODES_ALLOWED {
            return Ok(());
        }
        self.put_back(token, &pending).await
    }

    /// Puts a pending login back as it was taken, for the rest of its time.
    pub(crate) async fn put_back(&self, token: &str, pending: &Pending) -> Result<(), StateError> {
        let left = pending.expires_at - self.clock.now().unix_timestamp();
        let Ok(left) = u64::try_from(left) else {
            return Ok(());
        };
        if left == 0 {
            return Ok(());
        }
        self.store
            .put(&key(token), &encode(pending), Duration::from_secs(left))
            .await
    }
}

fn key(token: &str) -> String {
    format!("mfa:{}", token_digest(token))
}

fn encode(pending: &Pending) -> String {
    serde_json::to_string(pending).unwrap_or_default()
}
