//! The session record and its lifetimes.

use std::time::Duration;

use time::OffsetDateTime;

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
}

impl Session {
    /// A session starting at `now`.
    pub fn start(
        user_id: UserId,
        device: crate::account::Device,
        lifetimes: SessionLifetimes,
        now: OffsetDateTime,
    ) -> Self {
        let absolute_expires_at = now + lifetimes.absolute;
        Self {
            id: SessionId::new(),
            user_id,
            device_name: device.name,
            user_agent: device.user_agent,
            ip: device.ip,
            created_at: now,
            last_used_at: now,
            idle_expires_at: (now + lifetimes.idle).min(absolute_expires_at),
            absolute_expires_at,
        }
    }
}
