//! The outbox worker: takes due entries (each held by one instance at a time), writes each
//! mail with a fresh single-use code in its link, sends it, and retries with backoff.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::Notice;
use super::kind;
use super::service::{MAGIC_TTL, MailSettings, RESET_TTL, VERIFY_TTL, purpose};
use super::templates::{Link, Locale, Message, render, render_notice};
use crate::account::Email;
use crate::ports::{MailStore, QueuedMail, UserStore};
use crate::secret::{random_token, token_digest};
use crate::{Clock, StoreError, UserId};

/// Entries taken per round.
const BATCH: u32 = 16;
/// How long an instance holds an entry it is sending; after that another may take it.
const LEASE: Duration = Duration::from_secs(60);
/// Backoff after a failed attempt: doubling from 2 s, at most 15 minutes.
const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(15 * 60);
/// Attempts before an entry is given up (about three days of retries at the longest backoff).
const MAX_ATTEMPTS: u32 = 300;

/// Where mail goes: SMTP or `.eml` files (`tessera-mail`).
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Hands `message` over for delivery.
    async fn send(&self, message: &Message) -> Result<(), SendError>;
}

/// A message could not be handed over; the outbox retries it.
#[derive(Debug, thiserror::Error)]
#[error("sending mail failed: {0}")]
pub struct SendError(pub String);

/// Sends what the outbox holds.
pub struct OutboxWorker {
    store: Arc<dyn MailStore>,
    users: Arc<dyn UserStore>,
    transport: Arc<dyn MailTransport>,
    settings: MailSettings,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct ToUser {
    user: UserId,
}

#[derive(Deserialize)]
struct ToUserNotice {
    user: UserId,
    notice: String,
    to: Option<String>,
}

#[derive(Deserialize)]
struct ToNewAddress {
    user: UserId,
    email: String,
}

#[derive(Deserialize)]
struct ToAddress {
    email: String,
    /// Where a sign-in link's sign-in goes afterwards (kept with its code).
    #[serde(default)]
    return_to: Option<String>,
}

impl OutboxWorker {
    /// A worker over `store`, sending through `transport`.
    pub fn new(
        store: Arc<dyn MailStore>,
        users: Arc<dyn UserStore>,
        transport: Arc<dyn MailTransport>,
        settings: MailSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            users,
            transport,
            settings,
            clock,
        }
    }

    /// One round: takes the due entries and handles each; how many were sent.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let entries = self.store.claim_mail(now, now + LEASE, BATCH).await?;
        let mut sent = 0;
        for entry in entries {
            match self.deliver(&entry).await {
                Ok(delivered) => {
                    self.store.finish_mail(entry.id).await?;
                    sent += usize::from(delivered);
                }
                Err(reason) if entry.attempts >= MAX_ATTEMPTS => {
                    tracing::error!(mail_id = %entry.id, kind = %entry.kind, %reason, "mail abandoned after its last attempt");
                    self.store.finish_mail(entry.id).await?;
                }
                Err(reason) => {
                    let retry_at = self.clock.now() + backoff(entry.attempts);
                    tracing::warn!(mail_id = %entry.id, kind = %entry.kind, attempts = entry.attempts, %reason, "mail not sent; will retry");
                    self.store.retry_mail(entry.id, retry_at).await?;
                }
            }
        }
        Ok(sent)
    }

    /// Writes and sends one entry: `Ok(false)` when there is nothing to send (no such
    /// account), `Err` with a reason to retry.
    async fn deliver(&self, entry: &QueuedMail) -> Result<bool, String> {
        // The language of the request that asked for the mail, else the configured one.
        let locale = serde_json::from_str::<serde_json::Value>(&entry.payload)
            .ok()
            .and_then(|payload| payload["locale"].as_str().and_then(Locale::parse))
            .unwrap_or(self.settings.locale);
        let message = match entry.kind.as_str() {
            kind::VERIFY_EMAIL => {
                let to: ToUser = parse(&entry.payload)?;
                let Some(found) = self.users.find_by_id(to.user).await.map_err(reason)? else {
                    return Ok(false);
                };
                let user = found.user;
                if user.email_verified || user.disabled {
                    return Ok(false);
                }
                let code = self
                    .code(user.id, purpose::VERIFY, None, VERIFY_TTL)
                    .await
                    .map_err(reason)?;
                self.render(Link::Verify, locale, user.email.as_str(), "verify", &code)
            }
            kind::PASSWORD_RESET | kind::MAGIC_LINK => {
                let to: ToAddress = parse(&entry.payload)?;
                let Ok(email) = Email::parse(&to.email) else {
                    return Ok(false);
                };
                let found = self.users.find_by_email(&email).await.map_err(reason)?;
                let Some(user) = found.map(|f| f.user).filter(|u| !u.disabled) else {
                    return Ok(false);
                };
                let (link, purpose, ttl, page) = if entry.kind == kind::MAGIC_LINK {
                    (Link::Magic, purpose::MAGIC, MAGIC_TTL, "magic")
                } else {
                    (Link::Reset, purpose::RESET, RESET_TTL, "reset")
                };
                // Only a sign-in link is asked for with somewhere to return to.
                let code = self
                    .code(user.id, purpose, to.return_to.as_deref(), ttl)
                    .await
                    .map_err(reason)?;
                self.render(link, locale, user.email.as_str(), page, &code)
            }
            kind::NOTICE => {
                let to: ToUserNotice = parse(&entry.payload)?;
                let Some(notice) = Notice::parse(&to.notice) else {
                    return Ok(false);
                };
                let Some(found) = self.users.find_by_id(to.user).await.map_err(reason)? else {
                    return Ok(false);
                };
                let address = to.to.unwrap_or_else(|| found.user.email.to_string());
                render_notice(notice, locale, &self.settings.product, &address)
            }
            kind::EMAIL_CHANGE => {
                let to: ToNewAddress = parse(&entry.payload)?;
                let Some(found) = self.users.find_by_id(to.user).await.map_err(reason)? else {
                    return Ok(false);
                };
                if found.user.disabled {
                    return Ok(false);
                }
                let code = self
                    .code(
                        found.user.id,
                        purpose::EMAIL_CHANGE,
                        Some(&to.email),
                        VERIFY_TTL,
                    )
                    .await
                    .map_err(reason)?;
                self.render(Link::EmailChange, locale, &to.email, "email-change", &code)
            }
            other => {
                tracing::error!(mail_id = %entry.id, kind = other, "unknown kind of mail dropped");
                return Ok(false);
            }
        };
        self.transport
            .send(&message)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(mail_id = %entry.id, kind = %entry.kind, "mail sent");
        Ok(true)
    }

    /// A new single-use code for `user` carrying `detail`, stored by its digest.
    async fn code(
        &self,
        user: UserId,
        purpose: &str,
        detail: Option<&str>,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let code = random_token();
        self.store
            .put_code(
                &token_digest(&code),
                purpose,
                user,
                detail,
                self.clock.now() + ttl,
            )
            .await?;
        Ok(code)
    }

    fn render(&self, link: Link, locale: Locale, to: &str, page: &str, code: &str) -> Message {
        let url = format!(
            "{}/ui/{page}?token={code}",
            self.settings.public_url.trim_end_matches('/')
        );
        render(link, locale, &self.settings.product, to, &url)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(payload: &str) -> Result<T, String> {
    serde_json::from_str(payload).map_err(|e| format!("malformed payload: {e}"))
}

fn reason(error: StoreError) -> String {
    error.to_string()
}

/// The wait after attempt `attempts` failed.
fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST_RETRY
        .saturating_mul(1 << doublings)
        .min(LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_fifteen_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(30), Duration::from_secs(900));
    }
}
