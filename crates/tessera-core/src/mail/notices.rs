//! Security notices: mails telling a user that something changed on their account, so that a
//! change they did not make does not go unnoticed (API.md §3, `mail.notify`).

use std::sync::Arc;

use serde_json::json;

use super::kind;
use crate::account::Email;
use crate::ports::MailStore;
use crate::{Clock, UserId};

/// What a user is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// A login from a device not seen before.
    NewDevice,
    /// A refresh token was used twice; the session was ended.
    RefreshReuse,
    /// The password was changed or reset.
    PasswordChanged,
    /// The email address was changed (told to the old address).
    EmailChanged,
    /// Two-factor was turned off.
    MfaDisabled,
    /// A passkey was added.
    PasskeyAdded,
}

impl Notice {
    /// Every notice, as `mail.notify` names them.
    pub const ALL: [Self; 6] = [
        Self::NewDevice,
        Self::RefreshReuse,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::MfaDisabled,
        Self::PasskeyAdded,
    ];

    /// The name in `mail.notify`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewDevice => "new_device",
            Self::RefreshReuse => "refresh_reuse",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::MfaDisabled => "mfa_disabled",
            Self::PasskeyAdded => "passkey_added",
        }
    }

    /// The notice named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|notice| notice.as_str() == text.trim())
    }
}

/// Queues the notices `mail.notify` asks for.
pub struct Notices {
    store: Option<Arc<dyn MailStore>>,
    enabled: Vec<Notice>,
    clock: Arc<dyn Clock>,
}

impl Notices {
    /// Notices of the `enabled` kinds, queued in `store`'s outbox.
    pub fn new(store: Arc<dyn MailStore>, enabled: Vec<Notice>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: Some(store),
            enabled,
            clock,
        }
    }

    /// No notices at all.
    pub fn off(clock: Arc<dyn Clock>) -> Self {
        Self {
            store: None,
            enabled: Vec::new(),
            clock,
        }
    }

    /// Queues `notice` for `user` if it is enabled. The change it reports has happened
    /// already, so a failure is logged rather than undoing or failing it.
    pub async fn tell(&self, user: UserId, notice: Notice) {
        self.queue(user, notice, None).await;
    }

    /// Queues `notice` for `user` to the address `to` instead of the account's current one.
    pub async fn tell_at(&self, user: UserId, notice: Notice, to: &Email) {
        self.queue(user, notice, Some(to)).await;
    }

    async fn queue(&self, user: UserId, notice: Notice, to: Option<&Email>) {
        let Some(store) = &self.store else {
            return;
        };
        if !self.enabled.contains(&notice) {
            return;
        }
        let payload = json!({
            "user": user,
            "notice": notice.as_str(),
            "to": to.map(Email::as_str),
        })
        .to_string();
        let queued = store
            .enqueue_mail(
                uuid::Uuid::now_v7(),
                kind::NOTICE,
                &payload,
                self.clock.now(),
            )
            .await;
        if let Err(error) = queued {
            tracing::warn!(user_id = %user, notice = notice.as_str(), %error, "a security notice could not be queued");
        }
    }
}
