//! Building and running the server: a value tests can build, bind on port 0, and run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::PrometheusHandle;
use tessera_core::account::{
    Accounts, Administration, HashPoolSettings, PasswordHasher, PasswordPolicy,
};
use tessera_core::grant::{Grants, LoginCodes};
use tessera_core::limits::RateLimits;
use tessera_core::mail::{AccountMail, Locale, MailSettings, Notices, OutboxWorker};
use tessera_core::mfa::{MfaChallenges, TwoFactor};
use tessera_core::passkey::{PasskeyParts, PasskeySettings, Passkeys};
use tessera_core::ports::{Health, SingleUseStore, TokenIssuer};
use tessera_core::secret::MasterKey;
use tessera_core::session::{RefreshKey, SessionLifetimes, SessionSettings, Sessions};
use tessera_core::social::{Provider, RedirectPolicy, SocialLogin, SocialParts, Vault};
use tessera_core::ticket::Tickets;
use tessera_core::{Clock, SystemClock};
use tessera_http::proxies::TrustedProxies;
use tessera_http::{AppState, Browser, ServiceKeys, Services, Site};
use tessera_mail::Mailer;
use tessera_store::Stores;
use tessera_token::{DenySet, KeyRing, TokenSettings};
use tessera_ui::{Ui, UiSettings};
use tessera_upstream::build_providers;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use url::Url;
use zeroize::Zeroizing;

use crate::config::{MailTransportKind, Secret, Settings};
use crate::follower::RevocationFollower;

/// How often a running server re-reads the signing keys. A key made by `tessera keys rotate`
/// signs only once it has been published for `tokens.key_publish_ahead` (at least 5 s), longer
/// than this, so every instance knows it before any token it signed arrives; a key withdrawn by
/// `tessera keys retire` is refused everywhere within this.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_millis(500);

/// How often latency samples are folded into the histograms (see `run_until_stopped`).
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How often the outbox is read for mail to send: a mail leaves within about this long.
const MAIL_INTERVAL: Duration = Duration::from_millis(500);
/// How often the database's upkeep runs: SQLite's log grows by a page per refresh, some
/// 20 MiB a second at full speed, until upkeep starts it over.
const DATABASE_UPKEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often ended sessions and moot revocations are deleted, and in what batches: a table
/// stays as large as what is live, without one long delete holding the database's writer.
const PRUNE_INTERVAL: Duration = Duration::from_secs(300);
const PRUNE_BATCH: u32 = 500;

/// What startup may replace, for tests.
#[derive(Clone)]
pub struct Overrides {
    /// The clock every rule reads.
    pub clock: Arc<dyn Clock>,
    /// Signs access tokens instead of the key ring (which still verifies them and serves the
    /// JWKS): a way to make signing fail.
    pub token_issuer: Option<Arc<dyn TokenIssuer>>,
    /// How often ended sessions and moot revocations are deleted.
    pub prune_every: Duration,
}

impl Default for Overrides {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            token_issuer: None,
            prune_every: PRUNE_INTERVAL,
        }
    }
}

/// The parts every command needs: stores, keys, account and session use cases.
pub struct Core {
    /// Storage.
    pub stores: Stores,
    /// Signing and verification keys.
    pub keys: Arc<KeyRing>,
    /// Account use cases.
    pub accounts: Arc<Accounts>,
    /// Two-factor use cases.
    pub two_factor: Arc<TwoFactor>,
    /// Email verification and password reset.
    pub mail: Arc<AccountMail>,
    /// The grant path every login, signup and refresh ends in.
    pub grants: Arc<Grants>,
    /// Administration use cases.
    pub admin: Arc<Administration>,
    /// Session use cases and the deny-set.
    pub sessions: Arc<Sessions>,
    /// WebSocket tickets.
    pub tickets: Arc<Tickets>,
    /// Seals secrets at rest.
    pub master: Arc<MasterKey>,
    /// Single-use values shared by every instance (provider login flows).
    pub single_use: Arc<dyn SingleUseStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl Core {
    /// Opens the database (applying migrations), Redis if configured, the master key and the
    /// key ring.
    pub async fn open(
        settings: &Settings,
        overrides: Overrides,
        issuer: String,
    ) -> anyhow::Result<Self> {
        let clock = overrides.clock;
        let stores = tessera_store::open(settings.database_url.expose_secret(), &settings.data_dir)
            .await
            .context("opening the database")?;
        let state = tessera_state::open(
            settings.redis_url.expose_secret(),
            &settings.redis_prefix,
            Arc::clone(&clock),
        )
        .await
        .context("connecting to Redis")?;
        let master = Arc::new(master_key(settings)?);
        let tokens = &settings.tokens;
        let label = authenticator_label(&issuer);
        let token_settings = TokenSettings {
            issuer,
            audience: settings.audience.clone(),
            access_ttl: tokens.access_ttl,
            leeway: tokens.leeway,
            algorithm: tokens.signing_alg,
            hs256_secret: (!tokens.hs256_secret.is_empty())
                .then(|| Zeroizing::new(tokens.hs256_secret.expose_secret().as_bytes().to_vec())),
            publish_ahead: tokens.key_publish_ahead,
        };
        let keys = Arc::new(
            KeyRing::open(
                Arc::clone(&stores.keys),
                Arc::clone(&master),
                token_settings,
                Arc::clone(&clock),
            )
            .await
            .context("loading the signing keys")?,
        );
        let session_settings = SessionSettings {
            lifetimes: SessionLifetimes {
                idle: tokens.refresh_idle_ttl,
                absolute: tokens.refresh_absolute_ttl,
            },
            reuse_grace: tokens.refresh_reuse_grace,
            token_horizon: tokens.access_ttl + tokens.leeway,
        };
        let sessions = Arc::new(Sessions::new(
            Arc::clone(&stores.sessions),
            Arc::clone(&stores.revocations),
            state.bus,
            Arc::clone(keys.revoked()) as _,
            RefreshKey::derive(&master),
            session_settings,
            Arc::clone(&clock),
        ));
        let hasher = PasswordHasher::new(HashPoolSettings {
            threads: settings.passwords.hash_threads,
            queue: settings.passwords.hash_queue,
        });
        let token_issuer = overrides
            .token_issuer
            .unwrap_or_else(|| Arc::clone(&keys) as Arc<dyn TokenIssuer>);
        let limits = Arc::new(match settings.rate_limits.quotas() {
            Some(quotas) => {
                RateLimits::new(state.rates, quotas, &*master.derive("rate-limit keys"))
            }
            None => RateLimits::off(),
        });
        let challenges = Arc::new(MfaChallenges::new(
            Arc::clone(&state.single_use),
            Arc::clone(&clock),
        ));
        let grants = Arc::new(Grants::new(
            Arc::clone(&sessions),
            token_issuer,
            Arc::clone(&challenges),
            Arc::new(LoginCodes::new(
                Arc::clone(&state.single_use),
                Arc::clone(&clock),
            )),
            Arc::new(Notices::new(
                Arc::clone(&stores.mail),
                settings.mail.notices(),
                Arc::clone(&clock),
            )),
            Arc::clone(&clock),
        ));
        let accounts = Accounts::new(
            Arc::clone(&stores.users),
            Arc::clone(&grants),
            hasher,
            PasswordPolicy {
                min_length: settings.passwords.min_length,
            },
            Arc::clone(&clock),
            Arc::clone(&limits),
        );
        let admin = Administration::new(
            Arc::clone(&stores.users),
            Arc::clone(&sessions),
            Arc::clone(&stores.audit),
            Arc::clone(&clock),
            accounts.profiles(),
        );
        let accounts = Arc::new(accounts);
        let two_factor = TwoFactor::new(
            Arc::clone(&stores.mfa),
            Arc::clone(&accounts),
            Arc::clone(&grants),
            challenges,
            Arc::clone(&master),
            Arc::clone(&clock),
            label,
        );
        let mail = AccountMail::new(
            Arc::clone(&stores.mail),
            Arc::clone(&stores.identities),
            Arc::clone(&accounts),
            Arc::clone(&grants),
            limits,
            Arc::clone(&clock),
        );
        Ok(Self {
            stores,
            keys,
            accounts,
            two_factor: Arc::new(two_factor),
            mail: Arc::new(mail),
            grants,
            admin: Arc::new(admin),
            sessions,
            single_use: Arc::clone(&state.single_use),
            master,
            tickets: Arc::new(Tickets::new(
                state.single_use,
                tokens.ws_ticket_ttl,
                Arc::clone(&clock),
            )),
            clock,
        })
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    keys: Arc<KeyRing>,
    follower: RevocationFollower,
    metrics: PrometheusHandle,
    outbox: Arc<OutboxWorker>,
    sessions: Arc<Sessions>,
    database: Arc<dyn Health>,
    prune_every: Duration,
    local_addr: SocketAddr,
}

impl Application {
    /// Opens everything, loads the revocations still in force, and binds the listener (port 0
    /// picks a free port).
    pub async fn build(settings: &Settings, overrides: Overrides) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local_addr = listener.local_addr().context("reading the bound address")?;
        let issuer = settings.effective_issuer(local_addr);
        let prune_every = overrides.prune_every;
        let core = Core::open(settings, overrides, issuer.clone()).await?;
        let sessions = Arc::clone(&core.sessions);
        let (live_revocations, _) = broadcast::channel(4_096);
        let follower = RevocationFollower::start(
            Arc::clone(&core.sessions),
            Arc::clone(&core.stores.revocations),
            Arc::clone(&core.clock),
            live_revocations.clone(),
        )
        .await
        .context("loading the revocations in force")?;
        let metrics = tessera_http::metrics::prometheus();
        let public_url = settings.effective_public_url(local_addr);
        let browser = Browser::new(
            settings.cookies.dev_insecure,
            &public_url,
            &settings.cors.allowed_origins,
        );
        let outbox = Arc::new(OutboxWorker::new(
            Arc::clone(&core.stores.mail),
            Arc::clone(&core.stores.users),
            Arc::new(mailer(settings)?),
            MailSettings {
                public_url: public_url.clone(),
                product: settings.ui.product_name.clone(),
                locale: Locale::parse(&settings.ui.default_locale).unwrap_or(Locale::En),
            },
            Arc::clone(&core.clock),
        ));
        let providers = upstream_providers(settings, Arc::clone(&core.clock))?;
        let social = SocialLogin::new(SocialParts {
            providers: providers.clone(),
            identities: Arc::clone(&core.stores.identities),
            users: Arc::clone(&core.stores.users),
            accounts: Arc::clone(&core.accounts),
            grants: Arc::clone(&core.grants),
            audit: Arc::clone(&core.stores.audit),
            master: Arc::clone(&core.master),
            flows: Arc::clone(&core.single_use),
            redirects: RedirectPolicy::new(
                &public_url,
                &settings.oauth.redirect_allowlist,
                &format!("{}/ui/account", public_url.trim_end_matches('/')),
            )
            .context("oauth.redirect_allowlist")?,
            public_url: public_url.clone(),
            clock: Arc::clone(&core.clock),
        });
        let vault = Vault::new(
            providers,
            Arc::clone(&core.stores.identities),
            Arc::clone(&core.master),
            Arc::clone(&core.clock),
        );
        let passkeys = match passkey_settings(settings, &public_url)? {
            Some(relying_party) => Some(Arc::new(
                Passkeys::new(PasskeyParts {
                    settings: relying_party,
                    passkeys: Arc::clone(&core.stores.passkeys),
                    users: Arc::clone(&core.stores.users),
                    accounts: Arc::clone(&core.accounts),
                    grants: Arc::clone(&core.grants),
                    audit: Arc::clone(&core.stores.audit),
                    master: Arc::clone(&core.master),
                    ceremonies: Arc::clone(&core.single_use),
                    clock: Arc::clone(&core.clock),
                })
                .context("webauthn")?,
            )),
            None => None,
        };
        let ui = Ui::load(UiSettings {
            product_name: settings.ui.product_name.clone(),
            logo_url: settings.ui.logo_url.clone(),
            accent_color: settings.ui.accent_color.clone(),
            default_locale: Locale::parse(&settings.ui.default_locale).unwrap_or(Locale::En),
            templates_dir: (!settings.ui.templates_dir.is_empty())
                .then(|| settings.ui.templates_dir.clone().into()),
        })
        .context("[ui]")?;
        let page_policy = HeaderValue::from_str(&ui.content_security_policy())
            .context("ui: the content security policy")?;
        let state = AppState::new(Services {
            accounts: core.accounts,
            two_factor: core.two_factor,
            mail: core.mail,
            admin: core.admin,
            grants: core.grants,
            sessions: core.sessions,
            keys: Arc::clone(&core.keys),
            tickets: core.tickets,
            social: Arc::new(social),
            vault: Arc::new(vault),
            passkeys,
            ui: Arc::new(ui),
            hosted_pages: settings.ui.enabled,
            page_policy,
            feed: core.stores.revocations,
            live_revocations,
            service_keys: Arc::new(service_keys(settings)),
            health: Arc::clone(&core.stores.health),
            metrics: metrics.clone(),
            site: Arc::new(Site { issuer, public_url }),
            clock: core.clock,
            browser: Arc::new(browser),
            // `validate` has parsed them already.
            proxies: Arc::new(
                TrustedProxies::parse(&settings.trusted_proxies).context("trusted_proxies")?,
            ),
        });
        Ok(Self {
            listener,
            router: tessera_http::router(state),
            keys: core.keys,
            follower,
            metrics,
            outbox,
            sessions,
            database: core.stores.health,
            prune_every,
            local_addr,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The deny-set this server checks every token against (`tessera-verify`'s).
    pub fn deny_set(&self) -> Arc<DenySet> {
        Arc::clone(self.keys.revoked().deny_set())
    }

    /// The router `run_until_stopped` serves, to answer requests in-process (benchmarks).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        // Ended together when serving stops (a `JoinSet` aborts its tasks when dropped).
        let mut background = JoinSet::new();
        background.spawn(every_logged(
            KEY_RELOAD_INTERVAL,
            Arc::clone(&self.keys),
            |keys| async move { keys.reload().await },
            "reloading the signing keys failed; keeping the current ones",
        ));
        // The recorder keeps every latency sample until it is drained: without this, a server
        // nobody scrapes would grow by megabytes a minute under load.
        let metrics = self.metrics;
        background.spawn(every(METRICS_UPKEEP_INTERVAL, move || {
            metrics.run_upkeep();
            std::future::ready(())
        }));
        background.spawn(every_logged(
            MAIL_INTERVAL,
            self.outbox,
            |outbox| async move { outbox.run_once().await },
            "reading the mail outbox failed; trying again",
        ));
        let sessions = self.sessions;
        background.spawn(every(self.prune_every, move || {
            let sessions = Arc::clone(&sessions);
            async move {
                match sessions.prune(PRUNE_BATCH).await {
                    Ok((0, 0)) => {}
                    Ok((sessions, revocations)) => {
                        tracing::info!(
                            sessions,
                            revocations,
                            "pruned ended sessions and moot revocations"
                        )
                    }
                    Err(error) => tracing::warn!(%error, "pruning failed; trying again later"),
                }
            }
        }));
        background.spawn(every_logged(
            DATABASE_UPKEEP_INTERVAL,
            self.database,
            |database| async move { database.upkeep().await },
            "database upkeep failed; trying again",
        ));
        let follower = self.follower.spawn();
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        // Answers are small and go out whole: no reason to let Nagle's algorithm hold them back.
        let listener = self.listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await;
        follower.abort();
        background.abort_all();
        served.context("serving HTTP")
    }
}

/// Runs `task` every `period`, from now on; a late run delays the next rather than bunching.
async fn every<F, Fut>(period: Duration, mut task: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        task().await;
    }
}

/// Runs `task` on `target` every `period`, logging a failure as `failed`: the next run tries
/// again.
async fn every_logged<T, F, Fut, R, E>(
    period: Duration,
    target: Arc<T>,
    task: F,
    failed: &'static str,
) where
    T: ?Sized,
    F: Fn(Arc<T>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    E: std::fmt::Display,
{
    every(period, || {
        let run = task(Arc::clone(&target));
        async move {
            if let Err(error) = run.await {
                tracing::warn!(%error, "{failed}");
            }
        }
    })
    .await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The configured upstream providers, checked; no network is touched until a login needs it.
fn upstream_providers(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<BTreeMap<String, Arc<dyn Provider>>> {
    // Without providers no HTTP client is made: its TLS set-up reads the system's trust store,
    // memory that a server with no social login would carry for nothing.
    if settings.oauth.providers.is_empty() {
        return Ok(BTreeMap::new());
    }
    let http = tessera_upstream::http_client().context("building the upstream HTTP client")?;
    build_providers(settings.oauth.providers.clone(), &http, clock).map_err(|errors| {
        let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("oauth.providers: {}", problems.join("; "))
    })
}

/// The configured service keys; only their digests are kept.
fn service_keys(settings: &Settings) -> ServiceKeys {
    let keys: Vec<&str> = settings
        .service_keys
        .iter()
        .map(Secret::expose_secret)
        .collect();
    ServiceKeys::new(&keys)
}

/// The configured master key, or the one in `data_dir/master.key`, generated (mode 0600) on
/// first use.
fn master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    if !settings.master_key.is_empty() {
        return MasterKey::from_base64(settings.master_key.expose_secret())
            .context("reading master_key");
    }
    let path = settings.data_dir.join("master.key");
    if !path.exists() {
        write_new_master_key(&path)?;
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    );
    MasterKey::from_base64(&text)
        .with_context(|| format!("{} is not base64 of 32 bytes", path.display()))
}

fn write_new_master_key(path: &Path) -> anyhow::Result<()> {
    use base64::Engine;
    use std::io::Write;

    let key = MasterKey::generate();
    let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*key));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a master key");
            Ok(())
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

/// What authenticator apps call this server: the issuer's host (`auth.example.com`).
fn authenticator_label(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// The mail transport `[mail]` asks for.
fn mailer(settings: &Settings) -> anyhow::Result<Mailer> {
    let mail = &settings.mail;
    Ok(match mail.transport {
        MailTransportKind::File => Mailer::files(settings.data_dir.join("mail"), &mail.from)?,
        MailTransportKind::Smtp => Mailer::smtp(mail.smtp_url.expose_secret(), &mail.from)?,
    })
}

/// `[webauthn]` with its defaults: the host and origin of `public_url`, the product's name.
/// `None` (passkeys off, with a warning) when nothing names the relying party and the public
/// URL's host is an IP address: WebAuthn needs a domain (`localhost` is one).
fn passkey_settings(
    settings: &Settings,
    public_url: &str,
) -> anyhow::Result<Option<PasskeySettings>> {
    let config = &settings.webauthn;
    let public = Url::parse(public_url).context("public_url")?;
    let rp_id = match (config.rp_id.as_str(), public.domain()) {
        ("", Some(domain)) => domain.to_owned(),
        ("", None) => {
            tracing::warn!(
                public_url,
                "passkeys are off: WebAuthn needs a domain, and public_url's host is an IP \
                 address (set public_url or webauthn.rp_id)"
            );
            return Ok(None);
        }
        (rp_id, _) => rp_id.to_owned(),
    };
    let rp_name = if config.rp_name.is_empty() {
        settings.ui.product_name.clone()
    } else {
        config.rp_name.clone()
    };
    let origins = if config.origins.is_empty() {
        vec![Url::parse(&public.origin().ascii_serialization()).context("public_url")?]
    } else {
        config
            .origins
            .iter()
            .map(|origin| Url::parse(origin).with_context(|| format!("webauthn.origins: {origin}")))
            .collect::<anyhow::Result<_>>()?
    };
    Ok(Some(PasskeySettings {
        rp_id,
        rp_name,
        origins,
    }))
}
