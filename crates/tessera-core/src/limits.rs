//! Rate limits (API.md §4): the rules, their quotas, and the GCRA arithmetic that the
//! in-process and the Redis counters share.
//!
//! Every check spends one unit before the work it guards, in one atomic step of the counter,
//! so N concurrent attempts at the limit let exactly the allowed number through. Rules that
//! count only failures (a wrong password) give the unit back when the attempt succeeds.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;

use crate::StateError;
use crate::account::Email;
use crate::ports::RateCounter;

/// The rules of API.md §4; each has its own quota and its own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Failed logins per (normalised email, client address); password checks of signed-in
    /// users count here too.
    LoginAccountIp,
    /// Login attempts per client address.
    LoginIp,
    /// Signups per client address.
    SignupIp,
    /// Forgot-password, magic-link and verification mails per email.
    MailPerEmail,
}

impl Rule {
    /// The name in metrics (`tessera_rate_limited_total{rule}`) and in `RateLimit` headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginAccountIp => "login_account_ip",
            Self::LoginIp => "login_ip",
            Self::SignupIp => "signup_ip",
            Self::MailPerEmail => "forgot_email",
        }
    }
}

/// `limit` units per `window`. The window refills gradually (GCRA): one unit comes back every
/// `window / limit`, and a full quota after `window` of rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    window: Duration,
}

impl Quota {
    /// `limit` per `window`; `None` unless both are positive and the window is at least a
    /// millisecond per unit.
    pub fn new(limit: u32, window: Duration) -> Option<Self> {
        let quota = Self { limit, window };
        (limit > 0 && quota.interval_ms() > 0).then_some(quota)
    }

    /// Units per window.
    pub fn limit(self) -> u32 {
        self.limit
    }

    /// The window.
    pub fn window(self) -> Duration {
        self.window
    }

    /// Milliseconds between two units coming back.
    pub fn interval_ms(self) -> u64 {
        duration_ms(self.window) / u64::from(self.limit.max(1))
    }

    /// The whole window in milliseconds, as the counters measure it.
    pub fn window_ms(self) -> u64 {
        self.interval_ms() * u64::from(self.limit)
    }
}

/// What a counter answered to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the attempt may go ahead (a unit was spent).
    pub allowed: bool,
    /// Units left now.
    pub remaining: u32,
    /// When refused: how long until one unit is back.
    pub retry_after: Duration,
}

/// GCRA with the theoretical arrival time `tat` stored per key (milliseconds on the counter's
/// clock, `None` for a fresh key): the outcome of one attempt at `now`, and the `tat` to store
/// when it was allowed. The Redis script computes exactly this; keep the two in step.
pub fn gcra(tat: Option<u64>, now: u64, quota: Quota) -> (Outcome, Option<u64>) {
    let interval = quota.interval_ms();
    let window = quota.window_ms();
    let tat = tat.map_or(now, |tat| tat.max(now));
    let next = tat + interval;
    // The attempt fits when, after it, the debt ahead of `now` is at most one window.
    if next - now > window {
        let retry_after = next - now - window;
        let outcome = Outcome {
            allowed: false,
            remaining: 0,
            retry_after: Duration::from_millis(retry_after),
        };
        return (outcome, None);
    }
    let remaining = (window - (next - now)) / interval;
    let outcome = Outcome {
        allowed: true,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        retry_after: Duration::ZERO,
    };
    (outcome, Some(next))
}

/// The quota of each rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// [`Rule::LoginAccountIp`]
    pub login_account_ip: Quota,
    /// [`Rule::LoginIp`]
    pub login_ip: Quota,
    /// [`Rule::SignupIp`]
    pub signup_ip: Quota,
    /// [`Rule::MailPerEmail`]
    pub mail_per_email: Quota,
}

impl Default for Quotas {
    /// API.md §4: 10 failed logins per 5 minutes per account and address, 100 attempts per
    /// 5 minutes per address, 20 signups an hour per address and 5 mails an hour per email.
    /// (Wrong two-factor codes are counted by the pending login itself: see
    /// [`crate::mfa::WRONG_CODES_ALLOWED`].)
    fn default() -> Self {
        let quota = |limit, minutes: u64| {
            Quota::new(limit, Duration::from_secs(minutes * 60)).expect("positive quota")
        };
        Self {
            login_account_ip: quota(10, 5),
            login_ip: quota(100, 5),
            signup_ip: quota(20, 60),
            mail_per_email: quota(5, 60),
        }
    }
}

impl Quotas {
    fn of(&self, rule: Rule) -> Quota {
        match rule {
            Rule::LoginAccountIp => self.login_account_ip,
            Rule::LoginIp => self.login_ip,
            Rule::SignupIp => self.signup_ip,
            Rule::MailPerEmail => self.mail_per_email,
        }
    }
}

/// An attempt refused by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited by {}", rule.as_str())]
pub struct Limited {
    /// The rule.
    pub rule: Rule,
    /// Its quota.
    pub quota: Quota,
    /// How long until one attempt is allowed again.
    pub retry_after: Duration,
}

/// Why a check did not let an attempt through.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The rule's quota is spent.
    #[error(transparent)]
    Limited(#[from] Limited),
    /// The counter could not be reached: the attempt is refused (fail closed).
    #[error(transparent)]
    State(#[from] StateError),
}

/// What an attempt is counted by: the parts of its key.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A client address.
    Address(Option<&'a str>),
    /// An account as typed, from a client address.
    AccountAt(&'a Email, Option<&'a str>),
    /// An account.
    Account(&'a Email),
}

/// The limits of this server: the rules' quotas over a shared counter, or nothing at all
/// (`rate_limits.enabled = false`).
pub struct RateLimits {
    /// `None` when limits are off.
    rules: Option<(Arc<dyn RateCounter>, Quotas)>,
    /// Keys are MACs of the subject, so the counters never hold an email or an address.
    keying: hmac::Key,
}

impl RateLimits {
    /// Limits with `quotas` over `counter`; keys are derived with `key_secret` (from the
    /// master key, the same on every instance).
    pub fn new(counter: Arc<dyn RateCounter>, quotas: Quotas, key_secret: &[u8]) -> Self {
        Self {
            rules: Some((counter, quotas)),
            keying: hmac::Key::new(hmac::HMAC_SHA256, key_secret),
        }
    }

    /// No limits at all (`rate_limits.enabled = false`): every check passes.
    pub fn off() -> Self {
        Self {
            rules: None,
            keying: hmac::Key::new(hmac::HMAC_SHA256, &[]),
        }
    }

    /// Spends one unit of `rule` for `subject`.
    ///
    /// # Errors
    ///
    /// [`LimitError::Limited`] when the quota is spent (counted in
    /// `tessera_rate_limited_total{rule}`), [`LimitError::State`] when the counter is down.
    pub async fn spend(&self, rule: Rule, subject: Subject<'_>) -> Result<(), LimitError> {
        let Some((counter, quotas)) = &self.rules else {
            return Ok(());
        };
        let quota = quotas.of(rule);
        let outcome = counter.spend(&self.key(rule, subject), quota).await?;
        if outcome.allowed {
            return Ok(());
        }
        metrics::counter!("tessera_rate_limited_total", "rule" => rule.as_str()).increment(1);
        Err(LimitError::Limited(Limited {
            rule,
            quota,
            retry_after: outcome.retry_after,
        }))
    }

    /// Gives `subject` its whole quota of `rule` back (a successful login clears its failures).
    pub async fn clear(&self, rule: Rule, subject: Subject<'_>) -> Result<(), StateError> {
        let Some((counter, _)) = &self.rules else {
            return Ok(());
        };
        counter.clear(&self.key(rule, subject)).await
    }

    fn key(&self, rule: Rule, subject: Subject<'_>) -> String {
        let mut context = hmac::Context::with_key(&self.keying);
        context.update(rule.as_str().as_bytes());
        let mut part = |bytes: &[u8]| {
            // Length-prefixed, so no two subjects share an encoding.
            context.update(&(bytes.len() as u64).to_be_bytes());
            context.update(bytes);
        };
        match subject {
            Subject::Address(address) => part(address_key(address).as_bytes()),
            Subject::AccountAt(email, address) => {
                part(email.key().as_bytes());
                part(address_key(address).as_bytes());
            }
            Subject::Account(email) => part(email.key().as_bytes()),
        }
        let tag = context.sign();
        let hex: String = tag.as_ref()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("rl:{}:{hex}", rule.as_str())
    }
}

/// The address a limit counts: IPv4 as is, IPv6 by its /64 (one subscriber's whole network,
/// which an attacker can cycle through freely), unknown addresses together.
fn address_key(address: Option<&str>) -> String {
    match address.and_then(|text| text.parse::<IpAddr>().ok()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let segments = v6.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".to_owned(),
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(limit: u32, seconds: u64) -> Quota {
        Quota::new(limit, Duration::from_secs(seconds)).unwrap()
    }

    /// Runs `attempts` attempts at `now` against one key; the outcomes.
    fn run(tat: &mut Option<u64>, now: u64, quota: Quota, attempts: usize) -> Vec<Outcome> {
        (0..attempts)
            .map(|_| {
                let (outcome, next) = gcra(*tat, now, quota);
                if let Some(next) = next {
                    *tat = Some(next);
                }
                outcome
            })
            .collect()
    }

    #[test]
    fn a_fresh_key_allows_exactly_the_limit_at_once() {
        let mut tat = None;
        let outcomes = run(&mut tat, 1_000, quota(10, 300), 11);
        assert!(outcomes[..10].iter().all(|o| o.allowed));
        assert_eq!(outcomes[0].remaining, 9);
        assert_eq!(outcomes[9].remaining, 0);
        assert!(!outcomes[10].allowed);
        // One unit comes back every 30 s.
        assert_eq!(outcomes[10].retry_after, Duration::from_secs(30));
    }

    #[test]
    fn units_come_back_one_interval_at_a_time() {
        let mut tat = None;
        let q = quota(10, 300);
        run(&mut tat, 0, q, 10);
        assert!(!run(&mut tat, 29_999, q, 1)[0].allowed);
        let after_one = run(&mut tat, 30_000, q, 2);
        assert!(after_one[0].allowed);
        assert!(!after_one[1].allowed);
    }

    #[test]
    fn a_whole_window_of_rest_restores_the_whole_quota() {
        let mut tat = None;
        let q = quota(3, 60);
        run(&mut tat, 0, q, 3);
        let outcomes = run(&mut tat, 60_000, q, 4);
        assert_eq!(
            outcomes.iter().filter(|o| o.allowed).count(),
            3,
            "{outcomes:?}"
        );
    }

    #[test]
    fn quotas_refuse_zero_limits_and_windows_below_a_millisecond_a_unit() {
        assert!(Quota::new(0, Duration::from_secs(1)).is_none());
        assert!(Quota::new(10, Duration::from_millis(5)).is_none());
        assert!(Quota::new(10, Duration::from_millis(10)).is_some());
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_key_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            address_key(Some("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1")),
            address_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(Some("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(address_key(Some("garbage")), address_key(None));
    }
}
