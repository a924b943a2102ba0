//! The whole check a resource server runs per request: keys, signature and claims, deny-set.
//!
//! All of it is answered from memory; the only network call is the JWKS refetch on an unknown
//! `kid`, which [`JwksClient`](crate::JwksClient) rate-limits.

use std::fmt;
use std::sync::Arc;

use crate::{
    AccessClaims, Clock, CookiePolicy, DenySet, Expectations, KeySet, Rejection, SystemClock,
    Verifier,
};

/// Verifies access tokens against a key set (fixed, or fetched from the issuer's JWKS) and,
/// optionally, a deny-set of revoked sessions and users.
///
/// Cheap to clone: clones share the keys, the deny-set and the feed.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    keys: Keys,
    verifier: Verifier,
    deny: Option<Arc<DenySet>>,
    cookies: Option<Arc<CookiePolicy>>,
    clock: Arc<dyn Clock>,
    // Held so the feed's task runs as long as an authenticator uses its deny-set.
    #[cfg(feature = "fetch")]
    _feed: Option<crate::RevocationFeed>,
}

#[derive(Clone)]
enum Keys {
    Fixed(Arc<KeySet>),
    #[cfg(feature = "fetch")]
    Remote(crate::JwksClient),
}

impl Authenticator {
    /// An authenticator with a fixed key set (e.g. an HS256 shared secret, or keys loaded from a
    /// file) and no deny-set.
    pub fn new(keys: KeySet, expect: Expectations) -> Self {
        Self::with_keys(Keys::Fixed(Arc::new(keys)), expect)
    }

    /// An authenticator whose keys come from the issuer's JWKS, fetched and cached by `jwks`.
    #[cfg(feature = "fetch")]
    pub fn from_jwks(jwks: crate::JwksClient, expect: Expectations) -> Self {
        Self::with_keys(Keys::Remote(jwks), expect)
    }

    /// The same authenticator, refusing tokens that `deny` lists with [`Rejection::Revoked`].
    pub fn with_deny_set(self, deny: Arc<DenySet>) -> Self {
        self.map(|inner| inner.deny = Some(deny))
    }

    /// The same authenticator, refusing tokens that `feed` has seen revoked with
    /// [`Rejection::Revoked`]. The feed keeps running as long as this authenticator (or a clone).
    #[cfg(feature = "fetch")]
    pub fn with_revocation_feed(self, feed: crate::RevocationFeed) -> Self {
        self.map(|inner| {
            inner.deny = Some(feed.deny_set());
            inner._feed = Some(feed);
        })
    }

    /// The same authenticator, also taking the access token from Tessera's access cookie (browser
    /// mode), under `policy`'s CSRF rules. Without it only `Authorization: Bearer` counts.
    pub fn with_cookies(self, policy: CookiePolicy) -> Self {
        self.map(|inner| inner.cookies = Some(Arc::new(policy)))
    }

    /// The browser rules, when cookies are accepted.
    pub fn cookie_policy(&self) -> Option<&CookiePolicy> {
        self.inner.cookies.as_deref()
    }

    /// The same authenticator reading the time from `clock` instead of the system clock.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.map(|inner| inner.clock = clock)
    }

    /// What tokens must say.
    pub fn expectations(&self) -> &Expectations {
        self.inner.verifier.expectations()
    }

    /// Verifies `token` (the compact JWT, without `Bearer `): header and pinned algorithm,
    /// signature, `typ`, `iss`, `aud`, `exp` and `nbf` with leeway, then the deny-set.
    ///
    /// An unknown `kid` makes a JWKS-backed authenticator refetch the keys first (at most once
    /// per its `min_refetch_interval`); if the key is still unknown, or the JWKS cannot be
    /// fetched, the token is [`Rejection::Invalid`].
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, Rejection> {
        let inner = &self.inner;
        let keys = match &inner.keys {
            Keys::Fixed(keys) => Arc::clone(keys),
            #[cfg(feature = "fetch")]
            Keys::Remote(jwks) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Invalid)?;
                let kid = header.kid.ok_or(Rejection::Invalid)?;
                jwks.key_set_for(&kid).await
            }
        };
        inner
            .verifier
            .verify_unrevoked(&keys, inner.deny.as_deref(), token, inner.clock.unix())
            .map(Arc::unwrap_or_clone)
    }

    fn with_keys(keys: Keys, expect: Expectations) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                verifier: Verifier::new(expect),
                deny: None,
                cookies: None,
                clock: Arc::new(SystemClock),
                #[cfg(feature = "fetch")]
                _feed: None,
            }),
        }
    }

    fn map(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("expectations", self.expectations())
            .field("deny_set", &self.inner.deny.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::Revocation;
    use crate::testkit::{AUDIENCE, ISSUER, ManualClock, NOW, TestKey, claims, expectations};

    const AUTH_LEEWAY: i64 = Expectations::DEFAULT_LEEWAY_SECS;

    fn authenticator(key: &TestKey) -> (Authenticator, Arc<ManualClock>) {
        let clock = ManualClock::at(NOW);
        let auth = Authenticator::new(key.key_set(), expectations()).with_clock(clock.clone());
        (auth, clock)
    }

    async fn verify_claims(
        key: &TestKey,
        change: impl FnOnce(&mut serde_json::Value),
    ) -> Result<AccessClaims, Rejection> {
        let (auth, _) = authenticator(key);
        let mut body = serde_json::to_value(claims(NOW)).unwrap();
        change(&mut body);
        auth.verify(&key.sign(&body)).await
    }

    #[tokio::test]
    async fn a_well_formed_token_yields_its_claims() {
        for key in [TestKey::ed25519("ed"), TestKey::es256("ec")] {
            let verified = verify_claims(&key, |_| {}).await.unwrap();

            assert_eq!(verified, claims(NOW));
        }
    }

    #[tokio::test]
    async fn a_header_alg_other_than_the_keys_pinned_alg_is_invalid() {
        let ed = TestKey::ed25519("k1");
        let (auth, _) = authenticator(&ed);
        // Signed by a P-256 key but naming the Ed25519 key's kid.
        let es = TestKey::es256("k1");

        assert_eq!(
            auth.verify(&es.sign(&claims(NOW))).await,
            Err(Rejection::Invalid)
        );
    }

    #[tokio::test]
    async fn an_hs256_token_keyed_with_the_public_key_is_invalid() {
        let ed = TestKey::ed25519("k1");
        let (auth, _) = authenticator(&ed);
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some("k1".into());
        let public = ed.public_key_bytes();
        let forged =
            jsonwebtoken::encode(&header, &claims(NOW), &EncodingKey::from_secret(&public))
                .unwrap();

        assert_eq!(auth.verify(&forged).await, Err(Rejection::Invalid));
    }

    #[tokio::test]
    async fn an_unsigned_alg_none_token_is_invalid() {
        let ed = TestKey::ed25519("k1");
        let (auth, _) = authenticator(&ed);
        let unsigned = ed.unsigned(&json!({"alg": "none", "typ": "at+jwt", "kid": "k1"}));

        assert_eq!(auth.verify(&unsigned).await, Err(Rejection::Invalid));
    }

    #[tokio::test]
    async fn an_unknown_kid_with_fixed_keys_is_invalid() {
        let (auth, _) = authenticator(&TestKey::ed25519("k1"));
        let other = TestKey::ed25519("k2");

        assert_eq!(
            auth.verify(&other.sign(&claims(NOW))).await,
            Err(Rejection::Invalid)
        );
    }

    #[tokio::test]
    async fn a_token_signed_by_another_key_under_a_known_kid_is_invalid() {
        let (auth, _) = authenticator(&TestKey::ed25519("k1"));
        let impostor = TestKey::ed25519("k1");

        assert_eq!(
            auth.verify(&impostor.sign(&claims(NOW))).await,
            Err(Rejection::Invalid)
        );
    }

    #[tokio::test]
    async fn a_token_without_a_kid_or_with_a_foreign_key_header_is_invalid() {
        let key = TestKey::ed25519("k1");
        let (auth, _) = authenticator(&key);
        let mut no_kid = Header::new(Algorithm::EdDSA);
        no_kid.typ = Some("at+jwt".into());
        let mut jku = key.header();
        jku.jku = Some("https://evil.test/jwks.json".into());

        for header in [no_kid, jku] {
            let token = key.sign_with(header, &claims(NOW));
            assert_eq!(auth.verify(&token).await, Err(Rejection::Invalid));
        }
    }

    #[tokio::test]
    async fn a_wrong_or_missing_typ_is_invalid() {
        let key = TestKey::ed25519("k1");
        let (auth, _) = authenticator(&key);
        for typ in [Some("JWT"), Some("mfa+jwt"), None] {
            let mut header = key.header();
            header.typ = typ.map(Into::into);

            let token = key.sign_with(header, &claims(NOW));
            assert_eq!(
                auth.verify(&token).await,
                Err(Rejection::Invalid),
                "{typ:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_media_type_form_of_typ_is_accepted() {
        let key = TestKey::ed25519("k1");
        let (auth, _) = authenticator(&key);
        let mut header = key.header();
        header.typ = Some("application/at+jwt".into());

        assert!(
            auth.verify(&key.sign_with(header, &claims(NOW)))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_wrong_issuer_or_audience_is_invalid() {
        let key = TestKey::ed25519("k1");
        let wrong_iss = verify_claims(&key, |c| c["iss"] = json!("https://evil.test")).await;
        let wrong_aud = verify_claims(&key, |c| c["aud"] = json!("another-api")).await;

        assert_eq!(wrong_iss, Err(Rejection::Invalid));
        assert_eq!(wrong_aud, Err(Rejection::Invalid));
    }

    #[tokio::test]
    async fn missing_required_claims_are_invalid() {
        let key = TestKey::ed25519("k1");
        for claim in ["sub", "exp", "iat", "jti", "sid", "iss", "aud"] {
            let result = verify_claims(&key, |c| {
                c.as_object_mut().unwrap().remove(claim);
            })
            .await;
            assert_eq!(result, Err(Rejection::Invalid), "{claim}");
        }
    }

    #[tokio::test]
    async fn a_token_past_exp_is_expired_only_once_the_leeway_has_passed() {
        let key = TestKey::ed25519("k1");
        let (auth, clock) = authenticator(&key);
        let token = key.sign(&claims(NOW));
        let exp = claims(NOW).exp;

        clock.set(exp + AUTH_LEEWAY - 1);
        assert!(auth.verify(&token).await.is_ok());
        clock.set(exp + AUTH_LEEWAY);
        assert_eq!(auth.verify(&token).await, Err(Rejection::Expired));
    }

    #[tokio::test]
    async fn a_token_not_yet_valid_beyond_the_leeway_is_invalid() {
        let key = TestKey::ed25519("k1");
        let within = verify_claims(&key, |c| c["nbf"] = json!(NOW + AUTH_LEEWAY)).await;
        let beyond = verify_claims(&key, |c| c["nbf"] = json!(NOW + AUTH_LEEWAY + 1)).await;

        assert!(within.is_ok());
        assert_eq!(beyond, Err(Rejection::Invalid));
    }

    #[tokio::test]
    async fn a_custom_leeway_is_honoured() {
        let key = TestKey::ed25519("k1");
        let clock = ManualClock::at(claims(NOW).exp + 5);
        let strict = Authenticator::new(
            key.key_set(),
            Expectations::new(ISSUER, AUDIENCE).with_leeway_secs(0),
        )
        .with_clock(clock);

        assert_eq!(
            strict.verify(&key.sign(&claims(NOW))).await,
            Err(Rejection::Expired)
        );
    }

    #[tokio::test]
    async fn a_token_in_the_deny_set_is_revoked_but_an_expired_one_stays_expired() {
        let key = TestKey::ed25519("k1");
        let deny = Arc::new(DenySet::new());
        let (auth, clock) = authenticator(&key);
        let auth = auth.with_deny_set(Arc::clone(&deny));
        let token = key.sign(&claims(NOW));
        let session = claims(NOW).sid;
        assert!(auth.verify(&token).await.is_ok());

        deny.apply(
            &Revocation {
                cursor: 1,
                sid: Some(session),
                jti: None,
                user_id: None,
                revoked_at: NOW,
                revoked_at_ms: None,
                until: NOW + 10_000,
            },
            NOW,
        );

        assert_eq!(auth.verify(&token).await, Err(Rejection::Revoked));
        clock.advance(5_000);
        assert_eq!(auth.verify(&token).await, Err(Rejection::Expired));
    }
}
