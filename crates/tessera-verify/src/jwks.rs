//! The issuer's JWKS, fetched and cached: refetched on an unknown `kid` (rate-limited, one fetch
//! shared by concurrent misses) and refreshed in the background once it is old.
//!
//! A flood of tokens with made-up `kid`s costs at most one fetch per `min_refetch_interval`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::fetch::fetch_json;
use crate::{Clock, FetchError, KeySet, SystemClock};

/// Default of [`JwksClientBuilder::min_refetch_interval`].
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Default of [`JwksClientBuilder::refresh_interval`].
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// Timeout of one JWKS request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A cached copy of `{base_url}/.well-known/jwks.json`. Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct JwksClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: String,
    clock: Arc<dyn Clock>,
    min_refetch_secs: i64,
    refresh_secs: i64,
    cache: RwLock<Cache>,
    // Held across a fetch, so concurrent misses wait for one fetch instead of starting many.
    fetching: Mutex<()>,
    refresh_scheduled: AtomicBool,
}

#[derive(Clone, Default)]
struct Cache {
    keys: Arc<KeySet>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<i64>,
    /// When a fetch was last started, successful or not.
    attempted_at: Option<i64>,
    /// When an unknown `kid` last made loaded keys be fetched again.
    refetched_at: Option<i64>,
}

/// Settings of a [`JwksClient`]; see [`JwksClient::builder`].
pub struct JwksClientBuilder {
    url: String,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    min_refetch_interval: Duration,
    refresh_interval: Duration,
}

impl JwksClient {
    /// A client for the JWKS of the Tessera server at `base_url` (usually its issuer, e.g.
    /// `https://auth.example.com`), with the default intervals. Nothing is fetched until the first
    /// token is verified or [`JwksClient::refresh`] is called.
    pub fn new(base_url: &str) -> Self {
        Self::builder(base_url).build()
    }

    /// Settings for a client of the JWKS of the Tessera server at `base_url`.
    pub fn builder(base_url: &str) -> JwksClientBuilder {
        JwksClientBuilder {
            url: format!("{}/.well-known/jwks.json", base_url.trim_end_matches('/')),
            http: None,
            clock: Arc::new(SystemClock),
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        }
    }

    /// The URL the keys are fetched from.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The keys as last fetched (empty before the first fetch).
    pub fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.inner.cache().keys)
    }

    /// Fetches the keys now, whatever the rate limit says: call it at start-up to fail fast when
    /// the issuer is unreachable. On failure the cached keys stay as they were.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        let _fetching = self.inner.fetching.lock().await;
        self.inner.fetch(self.inner.clock.unix()).await
    }

    /// The keys to verify a token with key id `kid`. If `kid` is unknown, the keys are fetched
    /// again first, unless a fetch started less than `min_refetch_interval` ago; concurrent
    /// callers share that one fetch. The answer may still lack `kid`.
    ///
    /// Once the keys are older than `refresh_interval`, a background refresh is started and the
    /// cached keys are answered meanwhile.
    pub async fn key_set_for(&self, kid: &str) -> Arc<KeySet> {
        let now = self.inner.clock.unix();
        let cache = self.inner.cache();
        if cache.keys.get(kid).is_some() {
            if self.inner.is_stale(&cache, now) {
                self.schedule_refresh();
            }
            return cache.keys;
        }
        self.refetch_for(kid).await
    }

    async fn refetch_for(&self, kid: &str) -> Arc<KeySet> {
        let _fetching = self.inner.fetching.lock().await;
        // Whoever held the lock before us may have fetched already.
        let now = self.inner.clock.unix();
        let cache = self.inner.cache();
        if cache.keys.get(kid).is_some() || !self.inner.may_refetch(&cache, now) {
            return cache.keys;
        }
        if cache.fetched_at.is_some() {
            self.inner.update(|cache| cache.refetched_at = Some(now));
        }
        if let Err(error) = self.inner.fetch(now).await {
            tracing::warn!(url = %self.inner.url, error = %error, "fetching the JWKS failed");
        }
        self.current()
    }

    fn schedule_refresh(&self) {
        if self.inner.refresh_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            {
                let _fetching = inner.fetching.lock().await;
                let now = inner.clock.unix();
                let cache = inner.cache();
                if inner.is_stale(&cache, now)
                    && let Err(error) = inner.fetch(now).await
                {
                    tracing::warn!(url = %inner.url, error = %error, "refreshing the JWKS failed");
                }
            }
            inner.refresh_scheduled.store(false, Ordering::Release);
        });
    }
}

impl JwksClientBuilder {
    /// The least time between two fetches caused by unknown `kid`s (default 10 s). Rounded down
    /// to whole seconds; zero lets every unknown `kid` fetch.
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// How old the cached keys may get before a background refresh (default 5 min).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The HTTP client to use (for proxies, custom roots, timeouts); by default a new one.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock the intervals are measured with (for tests); by default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The client.
    pub fn build(self) -> JwksClient {
        JwksClient {
            inner: Arc::new(Inner {
                http: self.http.unwrap_or_default(),
                url: self.url,
                clock: self.clock,
                min_refetch_secs: whole_secs(self.min_refetch_interval),
                refresh_secs: whole_secs(self.refresh_interval),
                cache: RwLock::default(),
                fetching: Mutex::new(()),
                refresh_scheduled: AtomicBool::new(false),
            }),
        }
    }
}

impl Inner {
    fn cache(&self) -> Cache {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut Cache)) {
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut cache);
    }

    /// Whether an unknown `kid` may cause a fetch now. Until keys have been loaded, any earlier
    /// attempt counts (so an unreachable issuer is not hammered); afterwards only earlier
    /// refetches for unknown `kid`s do, so a key rotated in just after a routine fetch is found.
    fn may_refetch(&self, cache: &Cache, now: i64) -> bool {
        let last = match cache.fetched_at {
            None => cache.attempted_at,
            Some(_) => cache.refetched_at,
        };
        self.elapsed(last, now)
    }

    fn may_attempt(&self, cache: &Cache, now: i64) -> bool {
        self.elapsed(cache.attempted_at, now)
    }

    fn elapsed(&self, since: Option<i64>, now: i64) -> bool {
        since.is_none_or(|at| now.saturating_sub(at) >= self.min_refetch_secs)
    }

    fn is_stale(&self, cache: &Cache, now: i64) -> bool {
        let old = cache
            .fetched_at
            .is_none_or(|at| now.saturating_sub(at) >= self.refresh_secs);
        old && self.may_attempt(cache, now)
    }

    /// Fetches and swaps in the keys; the caller holds `fetching`.
    async fn fetch(&self, now: i64) -> Result<(), FetchError> {
        self.update(|cache| cache.attempted_at = Some(now));
        let request = self.http.get(&self.url).timeout(FETCH_TIMEOUT);
        let keys = fetch_json(request, KeySet::from_jwks_json).await?;
        self.update(|cache| {
            cache.keys = Arc::new(keys);
            cache.fetched_at = Some(now);
        });
        Ok(())
    }
}

fn whole_secs(interval: Duration) -> i64 {
    i64::try_from(interval.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::extract::State;
    use axum::routing::get;
    use jsonwebtoken::jwk::JwkSet;

    use super::*;
    use crate::testkit::{
        ManualClock, NOW, TestKey, claims, eventually, expectations, jwks, serve,
    };
    use crate::{Authenticator, Rejection};

    /// A JWKS endpoint that counts its requests and whose keys a test can change.
    #[derive(Clone)]
    struct Issuer {
        keys: Arc<StdMutex<JwkSet>>,
        fetches: Arc<AtomicUsize>,
        url: String,
    }

    impl Issuer {
        async fn start(keys: &[&TestKey]) -> Self {
            let keys = Arc::new(StdMutex::new(jwks(keys)));
            let fetches = Arc::new(AtomicUsize::new(0));
            let state = (Arc::clone(&keys), Arc::clone(&fetches));
            let router = Router::new()
                .route("/.well-known/jwks.json", get(jwks_document))
                .with_state(state);
            let url = serve(router).await;
            Self { keys, fetches, url }
        }

        fn publish(&self, keys: &[&TestKey]) {
            *self.keys.lock().unwrap() = jwks(keys);
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }

        fn authenticator(&self, clock: &Arc<ManualClock>) -> Authenticator {
            let jwks = JwksClient::builder(&self.url).clock(clock.clone()).build();
            Authenticator::from_jwks(jwks, expectations()).with_clock(clock.clone())
        }
    }

    async fn jwks_document(
        State((keys, fetches)): State<(Arc<StdMutex<JwkSet>>, Arc<AtomicUsize>)>,
    ) -> axum::Json<JwkSet> {
        fetches.fetch_add(1, Ordering::SeqCst);
        axum::Json(keys.lock().unwrap().clone())
    }

    #[tokio::test]
    async fn keys_are_fetched_once_and_then_served_from_the_cache() {
        let key = TestKey::ed25519("k1");
        let issuer = Issuer::start(&[&key]).await;
        let auth = issuer.authenticator(&ManualClock::at(NOW));
        let token = key.sign(&claims(NOW));

        for _ in 0..3 {
            assert!(auth.verify(&token).await.is_ok());
        }

        assert_eq!(issuer.fetches(), 1);
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_once_then_is_rate_limited_until_the_interval_passes() {
        let key = TestKey::ed25519("k1");
        let issuer = Issuer::start(&[&key]).await;
        let clock = ManualClock::at(NOW);
        let auth = issuer.authenticator(&clock);
        assert!(auth.verify(&key.sign(&claims(NOW))).await.is_ok());
        let stranger = TestKey::ed25519("made-up");
        let forged = stranger.sign(&claims(NOW));

        assert_eq!(auth.verify(&forged).await, Err(Rejection::Invalid));
        assert_eq!(issuer.fetches(), 2, "one refetch for the unknown kid");
        for _ in 0..5 {
            assert_eq!(auth.verify(&forged).await, Err(Rejection::Invalid));
        }
        assert_eq!(issuer.fetches(), 2, "rate-limited");

        clock.advance(9);
        assert_eq!(auth.verify(&forged).await, Err(Rejection::Invalid));
        assert_eq!(issuer.fetches(), 2, "still within 10 s");
        clock.advance(1);
        assert_eq!(auth.verify(&forged).await, Err(Rejection::Invalid));
        assert_eq!(issuer.fetches(), 3, "the interval has passed");
    }

    async fn verify_concurrently(auth: &Authenticator, token: &str) -> Vec<Rejection> {
        let verifications: Vec<_> = (0..32)
            .map(|_| {
                let auth = auth.clone();
                let token = token.to_owned();
                tokio::spawn(async move { auth.verify(&token).await })
            })
            .collect();
        let mut rejections = Vec::new();
        for verification in verifications {
            if let Err(rejection) = verification.await.unwrap() {
                rejections.push(rejection);
            }
        }
        rejections
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let key = TestKey::ed25519("k1");
        let issuer = Issuer::start(&[&key]).await;
        let auth = issuer.authenticator(&ManualClock::at(NOW));

        let first_load = verify_concurrently(&auth, &key.sign(&claims(NOW))).await;
        assert!(first_load.is_empty());
        assert_eq!(issuer.fetches(), 1);

        let stranger = TestKey::ed25519("made-up");
        let flood = verify_concurrently(&auth, &stranger.sign(&claims(NOW))).await;
        assert_eq!(flood, vec![Rejection::Invalid; 32]);
        assert_eq!(issuer.fetches(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_issuer_is_tried_at_most_once_per_interval() {
        let clock = ManualClock::at(NOW);
        let unreachable = JwksClient::builder("http://127.0.0.1:9")
            .clock(clock.clone())
            .build();

        unreachable.key_set_for("k1").await;
        let first = unreachable.inner.cache().attempted_at;
        clock.advance(5);
        unreachable.key_set_for("k1").await;

        assert_eq!(unreachable.inner.cache().attempted_at, first);
        clock.advance(5);
        unreachable.key_set_for("k1").await;
        assert_eq!(unreachable.inner.cache().attempted_at, Some(NOW + 10));
    }

    #[tokio::test]
    async fn a_rotated_key_is_picked_up_by_the_refetch_on_its_unknown_kid() {
        let old = TestKey::ed25519("old");
        let issuer = Issuer::start(&[&old]).await;
        let auth = issuer.authenticator(&ManualClock::at(NOW));
        assert!(auth.verify(&old.sign(&claims(NOW))).await.is_ok());

        let new = TestKey::es256("new");
        issuer.publish(&[&old, &new]);

        assert!(auth.verify(&new.sign(&claims(NOW))).await.is_ok());
        assert_eq!(issuer.fetches(), 2);
    }

    #[tokio::test]
    async fn old_keys_are_refreshed_in_the_background() {
        let key = TestKey::ed25519("k1");
        let issuer = Issuer::start(&[&key]).await;
        let clock = ManualClock::at(NOW);
        let auth = issuer.authenticator(&clock);
        let token = key.sign(&claims(NOW));
        assert!(auth.verify(&token).await.is_ok());

        clock.advance(300);
        assert!(auth.verify(&token).await.is_ok(), "served from the cache");

        eventually(Duration::from_secs(5), || async { issuer.fetches() == 2 }).await;
    }

    #[tokio::test]
    async fn an_unreachable_issuer_makes_unknown_keys_invalid_and_refresh_fails() {
        let unreachable = JwksClient::builder("http://127.0.0.1:9").build();
        let auth = Authenticator::from_jwks(unreachable.clone(), expectations());
        let key = TestKey::ed25519("k1");

        assert_eq!(
            auth.verify(&key.sign(&claims(NOW))).await,
            Err(Rejection::Invalid)
        );
        assert!(matches!(
            unreachable.refresh().await,
            Err(FetchError::Transport(_))
        ));
    }

    #[tokio::test]
    async fn a_malformed_document_is_an_error_and_keeps_the_cached_keys() {
        let router = Router::new().route("/.well-known/jwks.json", get(|| async { "nope" }));
        let jwks = JwksClient::new(&serve(router).await);

        assert!(matches!(
            jwks.refresh().await,
            Err(FetchError::Malformed(_))
        ));
        assert!(jwks.current().is_empty());
    }
}
