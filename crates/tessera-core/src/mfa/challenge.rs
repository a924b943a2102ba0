//! The second step of a login: after the first factor, the client gets an opaque `mfa_token`
//! instead of tokens. The pending login lives in the single-use store (shared by every
//! instance) under the token's digest, for 5 minutes ([`crate::kept::Kept`]); it is taken for each attempt, so two
//! attempts never run at once, and put back after a wrong code until the fifth.

use std::sync::Arc;
use std::time::Duration;

use crate::account::{Device, User};
use crate::grant::PendingLogin;
use crate::kept::Kept;
use crate::ports::SingleUseStore;
use crate::secret::random_token;
use crate::session::Amr;
use crate::{Clock, StateError};

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

/// Pending logins, by the digests of their tokens.
pub struct MfaChallenges {
    pending: Kept<PendingLogin>,
}

impl MfaChallenges {
    /// Pending logins kept in `store`.
    pub fn new(store: Arc<dyn SingleUseStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            pending: Kept::new(store, clock, "mfa", CHALLENGE_TTL),
        }
    }

    /// Starts the second step for `user`, who proved `amr` from `device`.
    pub async fn issue(
        &self,
        user: &User,
        device: Device,
        amr: &Amr,
    ) -> Result<MfaChallenge, StateError> {
        let token = random_token();
        let pending = PendingLogin::new(user, device, amr, self.pending.expiry());
        self.pending.put(&token, &pending).await?;
        Ok(MfaChallenge {
            token,
            expires_in: self.pending.ttl().as_secs(),
        })
    }

    /// Takes the pending login of `token` for one attempt; `None` when it is unknown, expired,
    /// spent or being tried right now.
    pub(crate) async fn take(&self, token: &str) -> Result<Option<PendingLogin>, StateError> {
        self.pending.take(token).await
    }

    /// Puts a pending login back after a wrong code, unless that was its last allowed one.
    pub(crate) async fn wrong_code(
        &self,
        token: &str,
        mut pending: PendingLogin,
    ) -> Result<(), StateError> {
        pending.wrong += 1;
        if pending.wrong >= WRONG_CODES_ALLOWED {
            return Ok(());
        }
        self.put_back(token, &pending).await
    }

    /// Puts a pending login back as it was taken, for the rest of its time.
    pub(crate) async fn put_back(
        &self,
        token: &str,
        pending: &PendingLogin,
    ) -> Result<(), StateError> {
        self.pending.put(token, pending).await
    }
}
