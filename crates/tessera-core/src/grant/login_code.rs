//! Login codes: a login that succeeded somewhere the tokens must not go, such as a provider's
//! callback (tokens never go in a URL), is handed over as a single-use code that lives 60
//! seconds; the client trades it for the session's tokens. The session starts only when the
//! code is traded, so an unused code leaves nothing behind.

use std::sync::Arc;
use std::time::Duration;

use super::pending::PendingLogin;
use crate::account::{Device, User};
use crate::kept::Kept;
use crate::ports::SingleUseStore;
use crate::secret::random_token;
use crate::session::Amr;
use crate::{Clock, StateError};

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

/// Pending logins, by the digests of their codes.
pub struct LoginCodes {
    pending: Kept<PendingLogin>,
}

impl LoginCodes {
    /// Pending logins kept in `store`.
    pub fn new(store: Arc<dyn SingleUseStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            pending: Kept::new(store, clock, "login", LOGIN_CODE_TTL),
        }
    }

    /// Hands over the login of `user`, who proved `amr` from `device`.
    pub(crate) async fn issue(
        &self,
        user: &User,
        device: Device,
        amr: &Amr,
    ) -> Result<LoginCode, StateError> {
        let code = random_token();
        let pending = PendingLogin::new(user, device, amr, self.pending.expiry());
        self.pending.put(&code, &pending).await?;
        Ok(LoginCode {
            code,
            expires_in: LOGIN_CODE_TTL.as_secs(),
        })
    }

    /// Takes the pending login of `code`, once; `None` when it is unknown, expired or spent.
    pub(crate) async fn take(&self, code: &str) -> Result<Option<PendingLogin>, StateError> {
        self.pending.take(code).await
    }
}
