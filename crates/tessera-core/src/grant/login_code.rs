//! Login codes: a login that succeeded somewhere the tokens must not go, such as a provider's
//! callback (tokens never go in a URL), is handed over as a single-use code that lives 60
//! seconds; the client trades it for the session's tokens. The pending login lives in the
//! single-use store (shared by every instance) under the code's digest, and the session
//! starts only when the code is traded, so an unused code leaves nothing behind.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::{Device, User};
use crate::ports::SingleUseStore;
use crate::secret::{random_token, token_digest};
use crate::session::Amr;
use crate::{Clock, StateError, UserId};

/// How long a login code lives.
pub const LOGIN_CODE_TTL: Duration = Duration::from_secs(60);

/// What the client gets instead of tokens. A bearer secret: `Debug` hides it.
#[derive(Clone)]
pub struct LoginCode {
    /// The opaque code.
    pub code: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

impl std::fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginCode")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A login waiting for its code to be traded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    pub(crate) user: UserId,
    /// The user's security epoch when the login was checked: the session starts only if the
    /// account has not changed since.
    pub(crate) epoch: i64,
    pub(crate) device: Device,
    /// The login's methods, as stored on sessions.
    pub(crate) amr: String,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

impl PendingLogin {
    pub(crate) fn amr(&self) -> Amr {
        Amr::parse(&self.amr)
    }
}

/// Pending logins, by the digests of their codes.
pub struct LoginCodes {
    store: Arc<dyn SingleUseStore>,
    clock: Arc<dyn Clock>,
}

impl LoginCodes {
    /// Pending logins kept in `store`.
    pub fn new(store: Arc<dyn SingleUseStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Hands over the login of `user`, who proved `amr` from `device`.
    pub(crate) async fn issue(
        &self,
        user: &User,
        device: Device,
        amr: &Amr,
    ) -> Result<LoginCode, StateError> {
        let code = random_token();
        let pending = PendingLogin {
            user: user.id,
            epoch: user.security_epoch,
            device,
            amr: amr.to_string(),
            expires_at: self.clock.now().unix_timestamp() + LOGIN_CODE_TTL.as_secs() as i64,
        };
        let value = serde_json::to_string(&pending).unwrap_or_default();
        self.store.put(&key(&code), &value, LOGIN_CODE_TTL).await?;
        Ok(LoginCode {
            code,
            expires_in: LOGIN_CODE_TTL.as_secs(),
        })
    }

    /// Takes the pending login of `code`, once; `None` when it is unknown, expired or spent.
    pub(crate) async fn take(&self, code: &str) -> Result<Option<PendingLogin>, StateError> {
        let Some(text) = self.store.take(&key(code)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<PendingLogin>(&text)
            .ok()
            .filter(|pending| pending.expires_at > self.clock.now().unix_timestamp()))
    }
}

fn key(code: &str) -> String {
    format!("login:{}", token_digest(code))
}
