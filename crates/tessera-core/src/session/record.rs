//! The session record and its lifetimes.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Amr, RefreshKey, RefreshToken};
use crate::account::Device;
use crate::{SessionId, UserId};

/// How long a session may live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetimes {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after it began, however often it is used.
    pub absolute: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 86_400),
            absolute: Duration::from_secs(90 * 86_400),
        }
    }
}

/// Where a session's refresh-token chain stands. Only digests are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    /// Generation of the current token (rotations so far).
    pub generation: u64,
    /// Digest of the current token.
    pub digest: String,
    /// Digest of the token the current one replaced, for the grace window.
    pub previous_digest: Option<String>,
    /// When the current token was issued.
    pub rotated_at: OffsetDateTime,
}

/// One login on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id, carried by access tokens as `sid`.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Name the client gave its device.
    pub device_name: Option<String>,
    /// `User-Agent` of the login request.
    pub user_agent: Option<String>,
    /// Client address of the login request.
    pub ip: Option<String>,
    /// Start.
    pub created_at: OffsetDateTime,
    /// Last login or refresh.
    pub last_used_at: OffsetDateTime,
    /// End if unused.
    pub idle_expires_at: OffsetDateTime,
    /// End regardless of use.
    pub absolute_expires_at: OffsetDateTime,
    /// The refresh-token chain.
    pub refresh: RefreshState,
    /// When the session was ended, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was ended (`logout`, `refresh_reused`, …).
    pub revoke_reason: Option<String>,
    /// How the user proved who they are at login; every access token of the session says so.
    pub amr: Amr,
}

impl Session {
    /// A session starting at `now`, with its first refresh token.
    pub fn start(
        user_id: UserId,
        device: Device,
        amr: Amr,
        lifetimes: SessionLifetimes,
        key: &RefreshKey,
        now: OffsetDateTime,
    ) -> (Self, RefreshToken) {
        let id = SessionId::new();
        let token = RefreshToken::first(id, key);
        let absolute_expires_at = now + lifetimes.absolute;
        let session = Self {
            id,
            user_id,
            device_name: device.name,
            user_agent: device.user_agent,
            ip: device.ip,
            created_at: now,
            last_used_at: now,
            idle_expires_at: (now + lifetimes.idle).min(absolute_expires_at),
            absolute_expires_at,
            refresh: RefreshState {
                generation: 0,
                digest: token.digest(),
                previous_digest: None,
                rotated_at: now,
            },
            revoked_at: None,
            revoke_reason: None,
            amr,
        };
        (session, token)
    }

    /// Whether the session can still be used at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.idle_expires_at > now && self.absolute_expires_at > now
    }

    /// The idle expiry after a use at `now`, never past the absolute expiry.
    pub fn idle_expiry_after_use(
        &self,
        lifetimes: SessionLifetimes,
        now: OffsetDateTime,
    ) -> OffsetDateTime {
        (now + lifetimes.idle).min(self.absolute_expires_at)
    }
}
