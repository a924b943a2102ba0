//! The one door for configuration: defaults, then a TOML file, then `TESSERA_*` variables
//! (API.md §6). The environment is passed in, never read here from the process.

mod secret;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::limits::{Quota, Quotas};
use tessera_core::mail::Notice;
use tessera_http::proxies::TrustedProxies;
use tessera_store::Engine;
use tessera_token::SigningAlgorithm;
use tessera_upstream::ProviderSettings;

pub use secret::{Secret, SecretUrl};

/// Every setting, typed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite file, the generated master key and mail.
    pub data_dir: PathBuf,
    /// Empty: SQLite in `data_dir`; or `postgres://…`.
    pub database_url: SecretUrl,
    /// `iss` of tokens; empty: `http://<listen>`.
    pub issuer: String,
    /// Where browsers reach this server; empty: the issuer.
    pub public_url: String,
    /// `aud` of tokens.
    pub audience: String,
    /// Base64 of 32 bytes; empty: generated into `data_dir/master.key`.
    pub master_key: Secret,
    /// Empty: in-process state; `redis://…` or `redis+cluster://host:port,…`.
    pub redis_url: SecretUrl,
    /// Every Redis key and channel starts with it.
    pub redis_prefix: String,
    /// Secrets accepted from back ends on `/internal/*`, `/auth/introspect` and the feed.
    pub service_keys: Vec<Secret>,
    /// CIDRs (or addresses) of reverse proxies whose `X-Forwarded-For` / `Forwarded` are
    /// believed; empty: those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// Access tokens and sessions.
    pub tokens: TokenConfig,
    /// Password rules and hashing.
    pub passwords: PasswordConfig,
    /// Browser (cookie) mode.
    pub cookies: CookieConfig,
    /// Pages of other origins allowed to call this server from a browser.
    pub cors: CorsConfig,
    /// Limits on login, signup and mail attempts.
    pub rate_limits: RateLimitConfig,
    /// How mail is sent.
    pub mail: MailConfig,
    /// What people see: the product's name and language in mails and pages.
    pub ui: UiConfig,
    /// Social login: upstream providers and where their logins may return to.
    pub oauth: OauthConfig,
    /// Passkeys: the relying party.
    pub webauthn: WebauthnConfig,
}

/// `[webauthn]`: who passkeys are for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    /// The relying party id, a domain the origins are on; empty: the host of `public_url`.
    /// Passkeys are bound to it: changing it later leaves every registered passkey unusable.
    pub rp_id: String,
    /// The name authenticators show; empty: `ui.product_name`.
    pub rp_name: String,
    /// Origins that may run a ceremony; empty: the origin of `public_url`.
    pub origins: Vec<String>,
}

/// `[oauth]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OauthConfig {
    /// Prefixes (origin and path) that `redirect_to` may start with, besides `public_url`.
    pub redirect_allowlist: Vec<String>,
    /// One table per provider; its name is `{provider}` in URLs.
    #[serde(serialize_with = "providers_masked")]
    pub providers: BTreeMap<String, ProviderSettings>,
}

/// The providers as `config check` prints them: what identifies each, never its secret.
fn providers_masked<S: serde::Serializer>(
    providers: &BTreeMap<String, ProviderSettings>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(providers.len()))?;
    for (name, provider) in providers {
        let secret = if provider.client_secret.expose_secret().is_empty() {
            ""
        } else {
            "********"
        };
        let shown = serde_json::json!({
            "kind": provider.kind.map(|kind| kind.to_string()),
            "preset": provider.preset,
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "client_secret": secret,
            "scopes": provider.scopes,
        });
        map.serialize_entry(name, &shown)?;
    }
    map.end()
}

/// `[mail]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `file` (`.eml` files under `data_dir/mail/`) or `smtp`.
    pub transport: MailTransportKind,
    /// `smtp://user:pass@host:587` (STARTTLS) or `smtps://host:465`.
    pub smtp_url: SecretUrl,
    /// The `From` of every mail.
    pub from: String,
    /// Security notices sent to users: `new_device`, `refresh_reuse`, `password_changed`,
    /// `email_changed`, `mfa_disabled`, `passkey_added`.
    pub notify: Vec<String>,
}

impl MailConfig {
    /// The notices `notify` names (`validate` has refused unknown names).
    pub fn notices(&self) -> Vec<Notice> {
        self.notify
            .iter()
            .filter_map(|name| Notice::parse(name))
            .collect()
    }
}

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// `.eml` files in `data_dir/mail/`.
    File,
    /// An SMTP server.
    Smtp,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::File,
            smtp_url: SecretUrl::default(),
            from: "Tessera <no-reply@localhost>".into(),
            notify: Notice::ALL.iter().map(|n| n.as_str().to_owned()).collect(),
        }
    }
}

/// `[ui]`: what mails and the hosted pages look like.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Serve the hosted pages (`/ui/*`). Off, the mail links still point there: a team that
    /// turns the pages off serves those paths itself.
    pub enabled: bool,
    /// The name mails and pages speak of.
    pub product_name: String,
    /// A logo the pages show instead of the name: an https URL or a path on this server.
    pub logo_url: String,
    /// `#rgb` or `#rrggbb`: the pages' buttons and links.
    pub accent_color: String,
    /// `en` or `ko`.
    pub default_locale: String,
    /// Templates that replace the built-in ones of the same file name (read at start).
    pub templates_dir: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            product_name: "Tessera".into(),
            logo_url: String::new(),
            accent_color: "#4f46e5".into(),
            default_locale: "en".into(),
            templates_dir: String::new(),
        }
    }
}

/// `[rate_limits]`: each limit written `count/window`, like `10/5m` (API.md §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off: no limit at all (development and benchmarks only).
    pub enabled: bool,
    /// Failed logins per normalised email and client address; password checks of signed-in
    /// users count here too.
    #[serde(with = "quota_text")]
    pub login_per_account_ip: Quota,
    /// Login attempts per client address.
    #[serde(with = "quota_text")]
    pub login_per_ip: Quota,
    /// Signups per client address.
    #[serde(with = "quota_text")]
    pub signup_per_ip: Quota,
    /// Forgot-password, magic-link and verification mails per email.
    #[serde(with = "quota_text")]
    pub forgot_per_email: Quota,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let quotas = Quotas::default();
        Self {
            enabled: true,
            login_per_account_ip: quotas.login_account_ip,
            login_per_ip: quotas.login_ip,
            signup_per_ip: quotas.signup_ip,
            forgot_per_email: quotas.mail_per_email,
        }
    }
}

impl RateLimitConfig {
    /// The quotas of every rule, or `None` when limits are off.
    pub fn quotas(&self) -> Option<Quotas> {
        self.enabled.then_some(Quotas {
            login_account_ip: self.login_per_account_ip,
            login_ip: self.login_per_ip,
            signup_ip: self.signup_per_ip,
            mail_per_email: self.forgot_per_email,
        })
    }
}

/// `[cookies]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieConfig {
    /// Plain-http development: cookies without `Secure` and without the `__Host-`/`__Secure-`
    /// prefixes (which need it).
    pub dev_insecure: bool,
}

/// `[cors]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins (`https://app.example.com`) whose pages may call this server with credentials;
    /// their pages may also use the cookies. Never `*`.
    pub allowed_origins: Vec<String>,
}

/// `[tokens]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// EdDSA | ES256 | RS256 | HS256.
    #[serde(with = "algorithm_name")]
    pub signing_alg: SigningAlgorithm,
    /// Shared secret for HS256 (at least 32 bytes).
    pub hs256_secret: Secret,
    /// Access-token lifetime.
    #[serde(with = "duration_text")]
    pub access_ttl: Duration,
    /// A session unused this long ends.
    #[serde(with = "duration_text")]
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after login, however it is used.
    #[serde(with = "duration_text")]
    pub refresh_absolute_ttl: Duration,
    /// How long the just-rotated refresh token still returns the same successor.
    #[serde(with = "duration_text")]
    pub refresh_reuse_grace: Duration,
    /// Clock skew allowed on `exp`/`nbf`.
    #[serde(with = "duration_text")]
    pub leeway: Duration,
    /// Lifetime of a WebSocket ticket.
    #[serde(with = "duration_text")]
    pub ws_ticket_ttl: Duration,
    /// How long a rotated key is published in the JWKS before it signs (never shorter than
    /// the JWKS `max-age`, which follows it down).
    #[serde(with = "duration_text")]
    pub key_publish_ahead: Duration,
}

/// `[passwords]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    /// Minimum length in code points.
    pub min_length: usize,
    /// Hashing threads; 0: one per core.
    pub hash_threads: usize,
    /// Hash jobs that may wait; 0: eight per thread. Beyond it, login answers 503 at once.
    pub hash_queue: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: SecretUrl::default(),
            issuer: String::new(),
            public_url: String::new(),
            audience: "tessera".into(),
            master_key: Secret::default(),
            redis_url: SecretUrl::default(),
            redis_prefix: "tessera:".into(),
            service_keys: Vec::new(),
            trusted_proxies: Vec::new(),
            tokens: TokenConfig::default(),
            passwords: PasswordConfig::default(),
            cookies: CookieConfig::default(),
            cors: CorsConfig::default(),
            rate_limits: RateLimitConfig::default(),
            mail: MailConfig::default(),
            ui: UiConfig::default(),
            oauth: OauthConfig::default(),
            webauthn: WebauthnConfig::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            signing_alg: SigningAlgorithm::EdDSA,
            hs256_secret: Secret::default(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_idle_ttl: Duration::from_secs(30 * 86_400),
            refresh_absolute_ttl: Duration::from_secs(90 * 86_400),
            refresh_reuse_grace: Duration::from_secs(10),
            leeway: Duration::from_secs(30),
            ws_ticket_ttl: Duration::from_secs(30),
            key_publish_ahead: Duration::from_secs(60),
        }
    }
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            min_length: 8,
            hash_threads: 0,
            hash_queue: 0,
        }
    }
}

/// Configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a variable is malformed or names an unknown key.
    #[error("{0}")]
    Invalid(String),
    /// Values that cannot work together; each with its fix.
    #[error("{}", .0.join("; "))]
    Rules(Vec<String>),
}

/// How strictly unknown `TESSERA_*` variables are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Refuse them (`config check`).
    Strict,
    /// Warn and ignore them (`serve` and the other commands).
    Lenient,
}

/// Loaded settings plus what was noticed on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The settings.
    pub settings: Settings,
    /// Warnings to show the operator.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Defaults, overlaid by `file` (if any) and then by the `TESSERA_*` entries of `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        strictness: Strictness,
    ) -> Result<Loaded, ConfigError> {
        let known = known_keys();
        let mut warnings = Vec::new();
        let mut overrides = HashMap::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("TESSERA_") else {
                continue;
            };
            let key = rest.to_lowercase().replace("__", ".");
            if let Some(is_list) = known.get(&key).copied().or_else(|| provider_key(&key)) {
                overrides.insert(key, (value, is_list));
            } else if strictness == Strictness::Strict {
                return Err(ConfigError::Invalid(format!(
                    "unknown configuration variable {name}"
                )));
            } else {
                warnings.push(format!("ignoring unknown configuration variable {name}"));
            }
        }
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                ConfigError::Invalid(format!("cannot read {}: {e}", file.display()))
            })?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        for (key, (value, is_list)) in overrides {
            // Lists are comma-separated in variables (API.md §6).
            builder = if is_list {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect();
                builder.set_override(key, items)
            } else {
                builder.set_override(key, value)
            }
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Invalid(describe(e, file)))?;
        let settings: Settings = merged
            .try_deserialize()
            .map_err(|e| ConfigError::Invalid(describe(e, file)))?;
        settings.validate()?;
        warnings.extend(settings.advice());
        Ok(Loaded { settings, warnings })
    }

    /// Settings for a test: a data directory of its own, a random port.
    pub fn for_tests(data_dir: &Path) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_owned(),
            passwords: PasswordConfig {
                min_length: 8,
                hash_threads: 2,
                hash_queue: 64,
            },
            ..Self::default()
        }
    }

    /// Checks rules across fields, reporting every problem with its fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.tokens.signing_alg == SigningAlgorithm::HS256
            && self.tokens.hs256_secret.expose_secret().len() < 32
        {
            problems.push(
                "tokens.signing_alg = HS256 needs a secret of at least 32 bytes: set tokens.hs256_secret or TESSERA_TOKENS__HS256_SECRET".into(),
            );
        }
        if self.tokens.access_ttl < Duration::from_secs(1) {
            problems.push("tokens.access_ttl must be at least 1s".into());
        }
        // Every instance re-reads the keys twice a second; a few seconds cover clocks apart.
        if self.tokens.key_publish_ahead < Duration::from_secs(5) {
            problems.push("tokens.key_publish_ahead must be at least 5s".into());
        }
        // An idle lifetime longer than the absolute one is allowed: the absolute one wins.
        for (name, value, max) in self.tokens.bounded_durations() {
            if value > max {
                let max = humantime::format_duration(max);
                problems.push(format!("tokens.{name} must be at most {max}"));
            }
        }
        for (name, quota) in self.rate_limits.named_quotas() {
            if quota.window() > MAX_RATE_WINDOW {
                let max = humantime::format_duration(MAX_RATE_WINDOW);
                problems.push(format!(
                    "rate_limits.{name}: the window must be at most {max}"
                ));
            }
        }
        if !(1..=256).contains(&self.passwords.min_length) {
            problems.push("passwords.min_length must be between 1 and 256".into());
        }
        if self
            .service_keys
            .iter()
            .any(|key| key.expose_secret().len() < 16)
        {
            problems.push("every entry of service_keys must have at least 16 characters".into());
        }
        let redis = self.redis_url.expose_secret();
        if !(redis.is_empty()
            || redis.starts_with("redis://")
            || redis.starts_with("redis+cluster://"))
        {
            problems.push("redis_url must be empty (in-process state), redis://… or redis+cluster://host:port,…".into());
        }
        if !self.master_key.is_empty()
            && tessera_core::secret::MasterKey::from_base64(self.master_key.expose_secret())
                .is_err()
        {
            problems.push("master_key must be base64 of 32 bytes (e.g. `openssl rand -base64 32`), or empty to generate one into data_dir".into());
        }
        for origin in &self.cors.allowed_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "cors.allowed_origins: {origin:?} is not an origin like https://app.example.com (\"*\" is never allowed: the cookies are credentials)"
                ));
            }
        }
        if self.mail.transport == MailTransportKind::Smtp && self.mail.smtp_url.is_empty() {
            problems.push("mail.transport = smtp needs mail.smtp_url (smtp://user:pass@host:587 or smtps://host:465)".into());
        }
        for name in &self.mail.notify {
            if Notice::parse(name).is_none() {
                problems.push(format!("mail.notify: {name:?} is not one of new_device, refresh_reuse, password_changed, email_changed, mfa_disabled, passkey_added"));
            }
        }
        if tessera_core::mail::Locale::parse(&self.ui.default_locale).is_none() {
            problems.push("ui.default_locale must be en or ko".into());
        }
        if let Err(error) = TrustedProxies::parse(&self.trusted_proxies) {
            problems.push(format!("trusted_proxies: {error}"));
        }
        if let Err(error) = Engine::of(self.database_url.expose_secret()) {
            problems.push(format!("database_url: {error}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Rules(problems))
        }
    }

    /// Advice that does not stop the server.
    fn advice(&self) -> Vec<String> {
        let mut advice = Vec::new();
        if matches!(
            Engine::of(self.database_url.expose_secret()),
            Ok(Engine::Postgres)
        ) {
            for (key, is_empty) in [
                ("issuer", self.issuer.is_empty()),
                ("public_url", self.public_url.is_empty()),
                ("master_key", self.master_key.is_empty()),
            ] {
                if is_empty {
                    advice.push(format!(
                        "{key} is empty with PostgreSQL: every instance sharing the database needs the same {key}"
                    ));
                }
            }
        }
        advice
    }

    /// `issuer`, or `http://<listen>` when empty.
    pub fn effective_issuer(&self, bound: SocketAddr) -> String {
        if self.issuer.is_empty() {
            format!("http://{bound}")
        } else {
            self.issuer.trim_end_matches('/').to_owned()
        }
    }

    /// `public_url`, or the issuer when empty.
    pub fn effective_public_url(&self, bound: SocketAddr) -> String {
        if self.public_url.is_empty() {
            self.effective_issuer(bound)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }
}

/// The effective configuration as TOML, with every secret masked (the secret types serialize
/// masked).
pub struct Masked<'a>(pub &'a Settings);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = toml::to_string(self.0).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// Dotted paths of every setting, and whether it is a list, from the defaults (so this list
/// cannot drift from the structs).
fn known_keys() -> BTreeMap<String, bool> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, bool>) {
        if let serde_json::Value::Object(map) = value {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(&path, child, out);
                out.insert(path, child.is_array());
            }
        }
    }
    let mut keys = BTreeMap::new();
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    walk("", &defaults, &mut keys);
    keys
}

/// Whether `key` is a field of some `[oauth.providers.NAME]` table (their names are not known
/// in advance), and whether it is a list.
fn provider_key(key: &str) -> Option<bool> {
    let rest = key.strip_prefix("oauth.providers.")?;
    let (_, field) = rest.split_once('.')?;
    ProviderSettings::FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|&(_, is_list)| is_list)
}

/// `scheme://host[:port]`, nothing more (a trailing `/` is tolerated).
fn is_origin(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !host.contains(['/', '?', '#', '*', '@', ' '])
}

fn describe(error: config::ConfigError, file: Option<&Path>) -> String {
    match file {
        Some(file) => format!("{}: {error}", file.display()),
        None => error.to_string(),
    }
}

/// Algorithms by their JWS name (`EdDSA`, `ES256`, `RS256`, `HS256`), exactly as tokens carry it.
mod algorithm_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use tessera_token::SigningAlgorithm;

    pub fn serialize<S: Serializer>(
        value: &SigningAlgorithm,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SigningAlgorithm, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.trim().parse().map_err(serde::de::Error::custom)
    }
}

/// The longest window a rate limit may count over.
const MAX_RATE_WINDOW: Duration = Duration::from_secs(7 * 86_400);

impl TokenConfig {
    /// Each duration with its upper bound: far beyond any sensible setting, and small enough
    /// that adding it to any date Tessera handles cannot overflow.
    fn bounded_durations(&self) -> [(&'static str, Duration, Duration); 7] {
        const DAY: u64 = 86_400;
        [
            ("access_ttl", self.access_ttl, Duration::from_secs(DAY)),
            (
                "refresh_idle_ttl",
                self.refresh_idle_ttl,
                Duration::from_secs(3_650 * DAY),
            ),
            (
                "refresh_absolute_ttl",
                self.refresh_absolute_ttl,
                Duration::from_secs(3_650 * DAY),
            ),
            (
                "refresh_reuse_grace",
                self.refresh_reuse_grace,
                Duration::from_secs(300),
            ),
            ("leeway", self.leeway, Duration::from_secs(300)),
            (
                "ws_ticket_ttl",
                self.ws_ticket_ttl,
                Duration::from_secs(600),
            ),
            (
                "key_publish_ahead",
                self.key_publish_ahead,
                Duration::from_secs(DAY),
            ),
        ]
    }
}

impl RateLimitConfig {
    fn named_quotas(&self) -> [(&'static str, Quota); 4] {
        [
            ("login_per_account_ip", self.login_per_account_ip),
            ("login_per_ip", self.login_per_ip),
            ("signup_per_ip", self.signup_per_ip),
            ("forgot_per_email", self.forgot_per_email),
        ]
    }
}

/// Limits written `count/window`, like `10/5m` or `20/1h`.
mod quota_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use tessera_core::limits::Quota;

    pub fn serialize<S: Serializer>(value: &Quota, serializer: S) -> Result<S::Ok, S::Error> {
        let window = humantime::format_duration(value.window());
        serializer.serialize_str(&format!("{}/{window}", value.limit()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Quota, D::Error> {
        let text = String::deserialize(deserializer)?;
        let invalid = || {
            serde::de::Error::custom(format!(
                "{text:?} is not a limit like 10/5m or 20/1h (a positive count per window of at least a millisecond per attempt)"
            ))
        };
        let (count, window) = text.trim().split_once('/').ok_or_else(invalid)?;
        let count = count.trim().parse().map_err(|_| invalid())?;
        let window = humantime::parse_duration(window.trim()).map_err(|_| invalid())?;
        Quota::new(count, window).ok_or_else(invalid)
    }
}

/// Durations written like `900ms`, `2s`, `15m`, `30d`.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration like 900ms, 2s, 15m or 30d ({e})"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn provider_tables_come_from_variables_whatever_their_names() {
        let vars = env(&[
            ("TESSERA_OAUTH__PROVIDERS__GH__PRESET", "github"),
            ("TESSERA_OAUTH__PROVIDERS__GH__CLIENT_ID", "Iv1.abc"),
            (
                "TESSERA_OAUTH__PROVIDERS__GH__SCOPES",
                "read:user, user:email",
            ),
        ]);
        let settings = Settings::load(None, vars, Strictness::Strict)
            .unwrap()
            .settings;
        let github = &settings.oauth.providers["gh"];
        assert_eq!(github.preset, "github");
        assert_eq!(github.client_id, "Iv1.abc");
        assert_eq!(github.scopes, ["read:user", "user:email"]);
        let unknown = env(&[("TESSERA_OAUTH__PROVIDERS__GH__CLIENT_NAME", "x")]);
        assert!(Settings::load(None, unknown, Strictness::Strict).is_err());
    }

    #[test]
    fn defaults_need_no_configuration() {
        let loaded = Settings::load(None, env(&[]), Strictness::Strict).unwrap();
        assert_eq!(loaded.settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(loaded.settings.tokens.access_ttl, Duration::from_secs(900));
    }

    #[test]
    fn variables_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "audience = \"from-file\"\n[tokens]\naccess_ttl = \"5m\"\n",
        )
        .unwrap();
        let vars = env(&[
            ("TESSERA_TOKENS__ACCESS_TTL", "2s"),
            ("TESSERA_PASSWORDS__MIN_LENGTH", "12"),
            ("PATH", "/bin"),
        ]);
        let settings = Settings::load(Some(&file), vars, Strictness::Strict)
            .unwrap()
            .settings;
        assert_eq!(settings.audience, "from-file");
        assert_eq!(settings.tokens.access_ttl, Duration::from_secs(2));
        assert_eq!(settings.passwords.min_length, 12);
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(&file, "[tokens]\naccess_tl = \"5m\"\n").unwrap();
        let error = Settings::load(Some(&file), env(&[]), Strictness::Strict)
            .unwrap_err()
            .to_string();
        assert!(error.contains("access_tl"), "{error}");
        let error = Settings::load(
            None,
            env(&[("TESSERA_LISTEN_ADDR", "x")]),
            Strictness::Strict,
        )
        .unwrap_err();
        assert!(error.to_string().contains("TESSERA_LISTEN_ADDR"));
        let lenient = Settings::load(
            None,
            env(&[("TESSERA_LISTEN_ADDR", "x")]),
            Strictness::Lenient,
        )
        .unwrap();
        assert_eq!(lenient.warnings.len(), 1);
    }

    #[test]
    fn bad_values_explain_the_fix() {
        let error = Settings::load(
            None,
            env(&[("TESSERA_TOKENS__SIGNING_ALG", "HS256")]),
            Strictness::Strict,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("TESSERA_TOKENS__HS256_SECRET"), "{error}");
        let error = Settings::load(
            None,
            env(&[("TESSERA_TOKENS__ACCESS_TTL", "soon")]),
            Strictness::Strict,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("soon"), "{error}");
    }

    #[test]
    fn lists_come_comma_separated_from_variables() {
        let vars = env(&[(
            "TESSERA_SERVICE_KEYS",
            "first-service-key-1, second-service-key-2",
        )]);
        let settings = Settings::load(None, vars, Strictness::Strict)
            .unwrap()
            .settings;
        assert_eq!(
            settings
                .service_keys
                .iter()
                .map(Secret::expose_secret)
                .collect::<Vec<_>>(),
            vec!["first-service-key-1", "second-service-key-2"]
        );
        let vars = env(&[("TESSERA_SERVICE_KEYS", "short")]);
        assert!(Settings::load(None, vars, Strictness::Strict).is_err());
    }

    #[test]
    fn secrets_are_masked() {
        let settings = Settings {
            master_key: "c2VjcmV0".into(),
            database_url: "postgres://app:hunter2@db/tessera".into(),
            ..Settings::default()
        };
        let text = Masked(&settings).to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("c2VjcmV0"),
            "{text}"
        );
        assert!(text.contains("postgres://app:********@db/tessera"));
        assert_eq!(
            tessera_store::mask_url_password(
                "postgres://app@db/t?sslmode=disable&password=hunter2"
            ),
            "postgres://app@db/t?sslmode=disable&password=********"
        );
    }

    #[test]
    fn debug_of_the_settings_shows_no_secret() {
        let secrets = [
            "c2VjcmV0LW1hc3Rlci1rZXk=",
            "hs256-secret-that-is-long-enough-0123456789",
            "first-service-key-1",
            "db-hunter2",
            "redis-hunter2",
        ];
        let mut settings = Settings {
            master_key: secrets[0].into(),
            service_keys: vec![secrets[2].into()],
            database_url: format!("postgres://app:{}@db/tessera", secrets[3]).into(),
            redis_url: format!("redis://:{}@cache:6379", secrets[4]).into(),
            ..Settings::default()
        };
        settings.tokens.hs256_secret = secrets[1].into();

        let debug = format!("{settings:?}");

        for secret in secrets {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(
            debug.contains("postgres://app:********@db/tessera"),
            "{debug}"
        );
    }

    #[test]
    fn the_signing_algorithm_is_read_by_its_jws_name() {
        let vars = env(&[("TESSERA_TOKENS__SIGNING_ALG", "ES256")]);
        let settings = Settings::load(None, vars, Strictness::Strict)
            .unwrap()
            .settings;
        assert_eq!(settings.tokens.signing_alg, SigningAlgorithm::ES256);
        assert_eq!(
            Settings::default().tokens.signing_alg,
            SigningAlgorithm::EdDSA
        );
    }

    #[test]
    fn an_unknown_signing_algorithm_names_the_choices() {
        let vars = env(&[("TESSERA_TOKENS__SIGNING_ALG", "RS512")]);
        let error = Settings::load(None, vars, Strictness::Strict)
            .unwrap_err()
            .to_string();
        assert!(error.contains("RS512"), "{error}");
        assert!(error.contains("EdDSA, ES256, RS256 or HS256"), "{error}");
        assert!(error.contains("signing_alg"), "{error}");
    }

    #[test]
    fn rate_limits_read_count_per_window_and_turn_off_by_variable() {
        let vars = env(&[
            ("TESSERA_RATE_LIMITS__LOGIN_PER_IP", "3/2s"),
            ("TESSERA_RATE_LIMITS__SIGNUP_PER_IP", "20/1h"),
        ]);
        let settings = Settings::load(None, vars, Strictness::Strict)
            .unwrap()
            .settings;
        let quotas = settings
            .rate_limits
            .quotas()
            .expect("limits are on by default");
        assert_eq!(
            quotas.login_ip,
            Quota::new(3, Duration::from_secs(2)).unwrap()
        );
        assert_eq!(
            quotas.signup_ip,
            Quota::new(20, Duration::from_secs(3600)).unwrap()
        );
        assert_eq!(quotas.login_account_ip, Quotas::default().login_account_ip);

        let off = env(&[("TESSERA_RATE_LIMITS__ENABLED", "false")]);
        let settings = Settings::load(None, off, Strictness::Strict)
            .unwrap()
            .settings;
        assert_eq!(settings.rate_limits.quotas(), None);

        for bad in ["ten/5m", "10", "0/5m", "10/soon"] {
            let vars = env(&[("TESSERA_RATE_LIMITS__LOGIN_PER_IP", bad)]);
            let error = Settings::load(None, vars, Strictness::Strict)
                .unwrap_err()
                .to_string();
            assert!(error.contains("10/5m"), "{bad}: {error}");
        }
    }

    #[test]
    fn mail_settings_are_checked() {
        let ok = env(&[("TESSERA_MAIL__NOTIFY", "password_changed, mfa_disabled")]);
        let settings = Settings::load(None, ok, Strictness::Strict)
            .unwrap()
            .settings;
        assert_eq!(
            settings.mail.notices(),
            vec![Notice::PasswordChanged, Notice::MfaDisabled]
        );
        assert_eq!(Settings::default().mail.notices().len(), 6);
        for (name, value, expected) in [
            ("TESSERA_MAIL__NOTIFY", "password_changed,sms", "\"sms\""),
            ("TESSERA_MAIL__TRANSPORT", "smtp", "mail.smtp_url"),
            ("TESSERA_UI__DEFAULT_LOCALE", "fr", "en or ko"),
        ] {
            let error = Settings::load(None, env(&[(name, value)]), Strictness::Strict)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{name}={value}: {error}");
        }
    }

    #[test]
    fn trusted_proxies_must_be_networks_or_addresses() {
        let vars = env(&[("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1, ::1")]);
        assert!(Settings::load(None, vars, Strictness::Strict).is_ok());
        let vars = env(&[("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")]);
        let error = Settings::load(None, vars, Strictness::Strict)
            .unwrap_err()
            .to_string();
        assert!(error.contains("proxy.internal"), "{error}");
    }

    #[test]
    fn database_urls_are_checked_by_the_store_rules() {
        let load = |url: &str| {
            Settings::load(
                None,
                env(&[("TESSERA_DATABASE_URL", url)]),
                Strictness::Strict,
            )
        };
        assert!(load("POSTGRESQL://app@db/tessera").is_ok());
        assert!(load("sqlite:data/t.db").is_ok());
        let error = load("mysql://root:hunter2@db/app").unwrap_err().to_string();
        assert!(error.contains("mysql://root:********@db/app"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
