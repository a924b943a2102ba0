//! The state between a ceremony's two halves: kept once, under the digest of the ceremony id,
//! in the single-use store every instance shares, for five minutes. Taking it removes it, so a
//! replayed answer finds nothing.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration,
};

use super::CEREMONY_TTL;
use crate::kept::{Expiring, Kept};
use crate::ports::SingleUseStore;
use crate::{Clock, StateError, UserId};

/// A registration begun for `user`.
#[derive(Serialize, Deserialize)]
pub(super) struct Registration {
    pub(super) user: UserId,
    pub(super) state: PasskeyRegistration,
    expires_at: i64,
}

impl Registration {
    pub(super) fn new(user: UserId, state: PasskeyRegistration, expires_at: i64) -> Self {
        Self {
            user,
            state,
            expires_at,
        }
    }
}

impl Expiring for Registration {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// A login begun: email-first for a user, discoverable, or the decoy of an address without
/// passkeys (which no answer passes).
#[derive(Serialize, Deserialize)]
pub(super) enum Authentication {
    ForUser {
        user: UserId,
        state: PasskeyAuthentication,
    },
    Discoverable {
        state: DiscoverableAuthentication,
    },
    Decoy,
}

impl Authentication {
    pub(super) fn until(self, expires_at: i64) -> KeptAuthentication {
        KeptAuthentication {
            authentication: self,
            expires_at,
        }
    }
}

/// A login's state with its expiry.
#[derive(Serialize, Deserialize)]
pub(super) struct KeptAuthentication {
    authentication: Authentication,
    expires_at: i64,
}

impl Expiring for KeptAuthentication {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// Both kinds of ceremony.
pub(super) struct Ceremonies {
    registrations: Kept<Registration>,
    logins: Kept<KeptAuthentication>,
}

impl Ceremonies {
    pub(super) fn new(store: Arc<dyn SingleUseStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            registrations: Kept::new(
                Arc::clone(&store),
                Arc::clone(&clock),
                "passkey-registration",
                CEREMONY_TTL,
            ),
            logins: Kept::new(store, clock, "passkey-login", CEREMONY_TTL),
        }
    }

    /// When a ceremony begun now expires.
    pub(super) fn expiry(&self) -> i64 {
        self.registrations.expiry()
    }

    pub(super) async fn put_registration(
        &self,
        id: &str,
        registration: &Registration,
    ) -> Result<(), StateError> {
        self.registrations.put(id, registration).await
    }

    pub(super) async fn take_registration(
        &self,
        id: &str,
    ) -> Result<Option<Registration>, StateError> {
        self.registrations.take(id).await
    }

    pub(super) async fn put_authentication(
        &self,
        id: &str,
        authentication: &KeptAuthentication,
    ) -> Result<(), StateError> {
        self.logins.put(id, authentication).await
    }

    pub(super) async fn take_authentication(
        &self,
        id: &str,
    ) -> Result<Option<Authentication>, StateError> {
        Ok(self.logins.take(id).await?.map(|kept| kept.authentication))
    }
}
