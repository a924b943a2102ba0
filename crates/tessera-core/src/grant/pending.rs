//! A login whose first factor was checked but whose session has not started yet: waiting for
//! its second factor (the `mfa_token`) or for its login code to be traded. Both kinds are kept
//! the same way ([`crate::kept::Kept`]).

use serde::{Deserialize, Serialize};

use crate::UserId;
use crate::account::{Device, User};
use crate::kept::Expiring;
use crate::session::Amr;

/// A pending login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    pub(crate) user: UserId,
    /// The user's security epoch when the first factor was checked: the login ends only if
    /// the account has not changed since (absent in challenges of older releases: never
    /// matches, so such a login starts again).
    #[serde(default = "unknown_epoch")]
    pub(crate) epoch: i64,
    pub(crate) device: Device,
    /// The first factor's methods, as stored on sessions.
    pub(crate) amr: String,
    /// Wrong second-factor codes so far.
    #[serde(default)]
    pub(crate) wrong: u8,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

fn unknown_epoch() -> i64 {
    -1
}

impl PendingLogin {
    /// `user`'s login from `device`, proven by `amr`, pending until `expires_at`.
    pub(crate) fn new(user: &User, device: Device, amr: &Amr, expires_at: i64) -> Self {
        Self {
            user: user.id,
            epoch: user.security_epoch,
            device,
            amr: amr.to_string(),
            wrong: 0,
            expires_at,
        }
    }

    pub(crate) fn amr(&self) -> Amr {
        Amr::parse(&self.amr)
    }
}

impl Expiring for PendingLogin {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}
