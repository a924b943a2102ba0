//! The key ring: which key signs, which keys verify, and what the JWKS publishes.
//!
//! Keys live in the database, sealed under the master key, so every instance signs with the
//! same key; [`KeyRing::reload`] (called every few seconds) picks up a rotation made elsewhere.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use tessera_core::account::User;
use tessera_core::grant::{AccessToken, IssueError};
use tessera_core::ports::{KeyStore, StoredKey, TokenIssuer};
use tessera_core::secret::MasterKey;
use tessera_core::session::Session;
use tessera_core::{Clock, StoreError};
use tessera_verify::{AccessClaims, Expectations, KeySet, Rejection, VerificationKey, Verifier};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::revoked::RevokedTokens;
use crate::signer::Signer;
use crate::{SigningAlgorithm, keygen};

/// The kid of the configured HS256 secret.
const HS256_KID: &str = "hs256";

/// What tokens say and how long they live.
#[derive(Clone)]
pub struct TokenSettings {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Clock skew allowed on `exp`/`nbf`.
    pub leeway: Duration,
    /// Algorithm of new tokens.
    pub algorithm: SigningAlgorithm,
    /// Shared secret, required for HS256.
    pub hs256_secret: Option<Zeroizing<Vec<u8>>>,
    /// How long a rotated key is published before it signs: at least as long as resource
    /// servers may cache the JWKS (its `max-age` is never longer), and longer than every
    /// instance takes to re-read the keys, so no one is handed a token signed with a key it
    /// cannot know yet.
    pub publish_ahead: Duration,
}

/// When a new key starts signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// After [`TokenSettings::publish_ahead`]: the planned rotation.
    Ahead,
    /// At once: an emergency (resource servers meet an unknown kid and refetch the JWKS).
    Now,
}

/// A key as `tessera keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: String,
    /// Creation time (it is published from then on).
    pub created_at: OffsetDateTime,
    /// When it starts signing.
    pub signs_at: OffsetDateTime,
    /// Retirement time, if a newer key replaced it.
    pub retired_at: Option<OffsetDateTime>,
    /// When an operator withdrew it as compromised.
    pub withdrawn_at: Option<OffsetDateTime>,
    /// Whether it still verifies tokens (and is published in the JWKS).
    pub published: bool,
}

/// The key ring failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sealed key could not be opened: the master key differs from the one that sealed it.
    #[error("a signing key cannot be unsealed: is this the master key the keys were made with?")]
    Unseal,
    /// A key could not be made or read.
    #[error("signing key error: {0}")]
    Key(&'static str),
    /// HS256 was chosen without a secret.
    #[error("HS256 needs tokens.hs256_secret")]
    MissingSecret,
    /// No stored key has this kid.
    #[error("no signing key with this kid")]
    UnknownKey,
}

struct Keys {
    // What the snapshot was built from, to tell whether a reload changes anything.
    stored: Vec<StoredKey>,
    signer: Signer,
    verification: KeySet,
    jwks: Arc<JwkSet>,
    summaries: Vec<KeySummary>,
}

impl Keys {
    /// Whether building from `stored` at `now` would give these keys again: same keys, same
    /// ones published, same signer.
    fn built_from(
        &self,
        stored: &[StoredKey],
        settings: &TokenSettings,
        now: OffsetDateTime,
    ) -> bool {
        self.stored == stored
            && self
                .summaries
                .iter()
                .zip(stored)
                .all(|(summary, key)| summary.published == published(key, settings, now))
            && signing_key(stored, settings, now).is_none_or(|key| key.kid == self.signer.kid())
    }
}

/// Signing and verification keys, shared by every instance through the key store.
pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    master: Arc<MasterKey>,
    settings: TokenSettings,
    verifier: Verifier,
    revoked: Arc<RevokedTokens>,
    clock: Arc<dyn Clock>,
    keys: RwLock<Arc<Keys>>,
}

impl KeyRing {
    /// Loads the keys, making a signing key of the configured algorithm if there is none.
    pub async fn open(
        store: Arc<dyn KeyStore>,
        master: Arc<MasterKey>,
        settings: TokenSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenError> {
        let leeway_secs = i64::try_from(settings.leeway.as_secs()).unwrap_or(i64::MAX);
        let verifier = Verifier::new(Expectations {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs,
        });
        let mut stored = store.signing_keys().await?;
        if settings.algorithm == SigningAlgorithm::HS256
            && stored.iter().any(|key| key.retired_at.is_none())
        {
            // Signing moved to the shared secret: the key pairs stop signing, and leave the
            // JWKS once the last token they signed has expired.
            let retired = store.retire_signing_keys(clock.now()).await?;
            tracing::info!(
                retired,
                "HS256 signs from now on; the key pairs are retired"
            );
            stored = store.signing_keys().await?;
        }
        let needs_key = settings.algorithm != SigningAlgorithm::HS256
            && !stored
                .iter()
                .any(|k| k.retired_at.is_none() && k.algorithm == settings.algorithm.as_str());
        let (stored, keys) = if needs_key {
            // Only if no instance starting at the same time made one first: each would retire
            // the other's key, and one would sign with a key the other does not know of yet.
            let now = clock.now();
            let stored = add_key(&*store, &master, settings.algorithm, now, now, true).await?;
            let keys = build(&stored, &master, &settings, clock.now())?;
            (stored, keys)
        } else {
            let keys = build(&stored, &master, &settings, clock.now())?;
            (stored, keys)
        };
        tracing::debug!(keys = stored.len(), "key ring loaded");
        Ok(Self {
            store,
            master,
            settings,
            verifier,
            revoked: Arc::default(),
            clock,
            keys: RwLock::new(Arc::new(keys)),
        })
    }

    /// Re-reads the keys, so a rotation made by another process signs here from now on.
    pub async fn reload(&self) -> Result<(), TokenError> {
        let stored = self.store.signing_keys().await?;
        let now = self.clock.now();
        let unchanged = self.current().built_from(&stored, &self.settings, now);
        // Rebuilding the same keys would unseal them again and make the verifier check every
        // token's signature anew (its cache is per key-set).
        if unchanged {
            return Ok(());
        }
        let keys = build(&stored, &self.master, &self.settings, now)?;
        let mut current = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.signer.kid() != keys.signer.kid() {
            tracing::info!(kid = %keys.signer.kid(), "signing with a new key");
        }
        *current = Arc::new(keys);
        Ok(())
    }

    /// Makes a new key of the configured algorithm, published at once and signing at
    /// `activation`; older keys keep verifying (and stay in the JWKS) until every token they
    /// signed has expired.
    pub async fn rotate(&self, activation: Activation) -> Result<KeySummary, TokenError> {
        if self.settings.algorithm == SigningAlgorithm::HS256 {
            return Err(TokenError::Key(
                "HS256 uses the configured secret: change tokens.hs256_secret instead",
            ));
        }
        let now = self.clock.now();
        let expired_before =
            now - self.settings.access_ttl - self.settings.leeway - Duration::from_secs(86_400);
        self.store.prune_signing_keys(expired_before).await?;
        let signs_at = match activation {
            Activation::Ahead => now + self.settings.publish_ahead,
            Activation::Now => now,
        };
        let algorithm = self.settings.algorithm;
        add_key(&*self.store, &self.master, algorithm, now, signs_at, false).await?;
        self.reload().await?;
        self.newest_unretired()
            .ok_or(TokenError::Key("the new key was not loaded"))
    }

    /// Withdraws key `kid` as compromised: it leaves the JWKS and every token it signed is
    /// refused (`token_invalid`), on every instance once it re-reads the keys. If it signed,
    /// or was about to, a new key signs at once. Returns the key that signs next, or
    /// [`TokenError::UnknownKey`].
    pub async fn withdraw(&self, kid: &str) -> Result<KeySummary, TokenError> {
        let now = self.clock.now();
        let stored = self.store.signing_keys().await?;
        let Some(key) = stored.iter().find(|key| key.kid == kid) else {
            return Err(TokenError::UnknownKey);
        };
        let still_signs = key.retired_at.is_none_or(|retired| retired > now);
        self.store.withdraw_signing_key(kid, now).await?;
        tracing::warn!(%kid, "signing key withdrawn as compromised");
        if still_signs && self.settings.algorithm != SigningAlgorithm::HS256 {
            return self.rotate(Activation::Now).await;
        }
        self.reload().await?;
        self.newest_unretired()
            .ok_or(TokenError::Key("no key signs after the withdrawal"))
    }

    fn newest_unretired(&self) -> Option<KeySummary> {
        let algorithm = self.settings.algorithm.as_str();
        self.current()
            .summaries
            .iter()
            .filter(|s| s.retired_at.is_none() && s.algorithm == algorithm)
            .max_by_key(|s| s.created_at)
            .cloned()
    }

    /// The deny-set [`verify`](Self::verify) checks: revocations applied to it are refused by
    /// this instance at once.
    pub fn revoked(&self) -> &Arc<RevokedTokens> {
        &self.revoked
    }

    /// Verifies an access token's signature and claims, then refuses it if revoked: all in
    /// memory, with the code resource servers run (`tessera-verify`).
    pub fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, Rejection> {
        let keys = self.current();
        self.verifier.verify_unrevoked(
            &keys.verification,
            Some(self.revoked.deny_set()),
            token,
            self.clock.unix(),
        )
    }

    /// The public keys that can still verify a live token.
    pub fn jwks(&self) -> Arc<JwkSet> {
        Arc::clone(&self.current().jwks)
    }

    /// Every stored key, oldest first.
    pub fn summaries(&self) -> Vec<KeySummary> {
        self.current().summaries.clone()
    }

    /// The kid that signs now.
    pub fn signing_kid(&self) -> String {
        self.current().signer.kid().to_owned()
    }

    /// The token settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    fn current(&self) -> Arc<Keys> {
        Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

impl TokenIssuer for KeyRing {
    /// Signs an access token for `user` in `session`. It never outlives the session.
    fn issue(&self, user: &User, session: &Session) -> Result<AccessToken, IssueError> {
        let keys = self.current();
        let now = self.clock.now();
        let ttl_end = now + self.settings.access_ttl;
        let exp = ttl_end.min(session.absolute_expires_at).unix_timestamp();
        let iat = now.unix_timestamp();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: user.id.to_string(),
            aud: self.settings.audience.clone(),
            exp,
            iat,
            nbf: None,
            jti: issue_id(now).to_string(),
            sid: session.id.to_string(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            email: user.email.as_str().to_owned(),
            amr: session
                .amr
                .values()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        let token = keys.signer.sign(&claims).map_err(IssueError)?;
        Ok(AccessToken::new(token, exp - iat))
    }
}

/// A token's `jti`: a UUIDv7 whose timestamp is the token's issue instant to the millisecond,
/// from the same clock reading as `iat`. A user-level revocation compares it with its own
/// millisecond, so the boundary is exact within a second (`tessera_verify::DenySet`).
fn issue_id(now: time::OffsetDateTime) -> Uuid {
    let nanos = now.unix_timestamp_nanos();
    let seconds = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, subsec))
}

/// Makes a key of `algorithm`, published from `now`, that signs from `signs_at`; with `first`,
/// only if no unretired key of `algorithm` exists. Returns every stored key.
async fn add_key(
    store: &dyn KeyStore,
    master: &MasterKey,
    algorithm: SigningAlgorithm,
    now: OffsetDateTime,
    signs_at: OffsetDateTime,
    first: bool,
) -> Result<Vec<StoredKey>, TokenError> {
    let der = keygen::generate(algorithm).map_err(TokenError::Key)?;
    let encoding = keygen::encoding_key(algorithm, &der).map_err(TokenError::Key)?;
    let jwk = keygen::public_jwk(algorithm, &encoding).map_err(TokenError::Key)?;
    let kid = jwk
        .common
        .key_id
        .clone()
        .ok_or(TokenError::Key("the JWK has no kid"))?;
    let public_jwk =
        serde_json::to_string(&jwk).map_err(|_| TokenError::Key("the JWK cannot be serialised"))?;
    let key = StoredKey {
        sealed_private_key: master.seal(&kid, &der),
        kid,
        algorithm: algorithm.as_str().to_owned(),
        public_jwk,
        created_at: now,
        signs_at,
        retired_at: None,
        withdrawn_at: None,
    };
    let added = if first {
        store.add_first_signing_key(&key).await?
    } else {
        store.add_signing_key(&key).await?;
        true
    };
    if added {
        tracing::info!(kid = %key.kid, algorithm = %algorithm, "signing key created");
    }
    Ok(store.signing_keys().await?)
}

/// Whether `key` is in the JWKS (and verifies) at `now`: a retired key stays until the last
/// token it signed has expired (it signs until its retirement); a withdrawn one never.
fn published(key: &StoredKey, settings: &TokenSettings, now: OffsetDateTime) -> bool {
    let horizon = settings.access_ttl + settings.leeway;
    key.withdrawn_at.is_none() && key.retired_at.is_none_or(|retired| retired + horizon > now)
}

fn build(
    stored: &[StoredKey],
    master: &MasterKey,
    settings: &TokenSettings,
    now: OffsetDateTime,
) -> Result<Keys, TokenError> {
    let mut verification = KeySet::new();
    let mut jwks = JwkSet { keys: Vec::new() };
    let mut summaries = Vec::with_capacity(stored.len());
    for key in stored {
        let published = published(key, settings, now);
        summaries.push(KeySummary {
            kid: key.kid.clone(),
            algorithm: key.algorithm.clone(),
            created_at: key.created_at,
            signs_at: key.signs_at,
            retired_at: key.retired_at,
            withdrawn_at: key.withdrawn_at,
            published,
        });
        if !published {
            continue;
        }
        let algorithm: SigningAlgorithm = key
            .algorithm
            .parse()
            .map_err(|_| TokenError::Key("unknown stored algorithm"))?;
        let jwk: Jwk = serde_json::from_str(&key.public_jwk)
            .map_err(|_| TokenError::Key("stored JWK is corrupt"))?;
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::Key("stored JWK is unusable"))?;
        verification.insert(
            key.kid.clone(),
            VerificationKey {
                algorithm: algorithm.jwt(),
                key: decoding,
            },
        );
        jwks.keys.push(jwk);
    }
    let signer = signer(stored, master, settings, now)?;
    if signer.algorithm() == SigningAlgorithm::HS256 {
        let secret = settings
            .hs256_secret
            .as_ref()
            .ok_or(TokenError::MissingSecret)?;
        let key = VerificationKey {
            algorithm: signer.algorithm().jwt(),
            key: DecodingKey::from_secret(secret),
        };
        verification.insert(HS256_KID, key);
    }
    Ok(Keys {
        stored: stored.to_vec(),
        signer,
        verification,
        jwks: Arc::new(jwks),
        summaries,
    })
}

/// The stored key that signs at `now`: of the configured algorithm's published keys, the one
/// whose signing started last (so the key a rotation replaces signs until the new one's
/// `signs_at`); with none started, the oldest published one. `None` for HS256.
fn signing_key<'a>(
    stored: &'a [StoredKey],
    settings: &TokenSettings,
    now: OffsetDateTime,
) -> Option<&'a StoredKey> {
    let algorithm = settings.algorithm;
    if algorithm == SigningAlgorithm::HS256 {
        return None;
    }
    let of_algorithm = || stored.iter().filter(|k| k.algorithm == algorithm.as_str());
    // A key retired before its `signs_at` came (a planned rotation overtaken by an emergency
    // one) never signs.
    let signing = |k: &&StoredKey| k.retired_at.is_none_or(|retired| retired > now);
    of_algorithm()
        .filter(|k| k.signs_at <= now && published(k, settings, now))
        .filter(signing)
        .max_by_key(|k| k.signs_at)
        .or_else(|| {
            // None started: keys all made in the last moments, of which the oldest is the one
            // every instance knows.
            of_algorithm()
                .filter(|k| published(k, settings, now))
                .min_by_key(|k| k.created_at)
        })
}

/// The signer of [`signing_key`], or of the HS256 secret.
fn signer(
    stored: &[StoredKey],
    master: &MasterKey,
    settings: &TokenSettings,
    now: OffsetDateTime,
) -> Result<Signer, TokenError> {
    let algorithm = settings.algorithm;
    if algorithm == SigningAlgorithm::HS256 {
        let secret = settings
            .hs256_secret
            .as_ref()
            .ok_or(TokenError::MissingSecret)?;
        return Ok(Signer::hs256(HS256_KID, secret));
    }
    let key = signing_key(stored, settings, now).ok_or(TokenError::Key(
        "no signing key of the configured algorithm",
    ))?;
    let der = master
        .open(&key.kid, &key.sealed_private_key)
        .map_err(|_| TokenError::Unseal)?;
    Signer::from_pkcs8(&key.kid, algorithm, &der).map_err(TokenError::Key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid time")
    }

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "http://issuer".into(),
            audience: "http://issuer".into(),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(30),
            algorithm: SigningAlgorithm::EdDSA,
            hs256_secret: None,
            publish_ahead: AHEAD,
        }
    }

    const AHEAD: Duration = Duration::from_secs(60);

    /// A key made at `created_at` that signs from `signs_at`, retired at `retired_at`.
    fn key(
        kid: &str,
        created_at: OffsetDateTime,
        signs_at: OffsetDateTime,
        retired_at: Option<OffsetDateTime>,
    ) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            algorithm: "EdDSA".into(),
            sealed_private_key: Vec::new(),
            public_jwk: String::new(),
            created_at,
            signs_at,
            retired_at,
            withdrawn_at: None,
        }
    }

    fn signing_kid(stored: &[StoredKey], now: OffsetDateTime) -> Option<String> {
        signing_key(stored, &settings(), now).map(|key| key.kid.clone())
    }

    #[test]
    fn a_first_key_signs_at_once() {
        let start = start();
        assert_eq!(
            signing_kid(&[key("first", start, start, None)], start).as_deref(),
            Some("first")
        );
    }

    #[test]
    fn a_rotated_key_signs_only_once_published_ahead_and_the_old_one_until_then() {
        let start = start();
        let rotated = start + Duration::from_secs(3_600);
        let signs_at = rotated + AHEAD;
        let stored = [
            key("old", start, start, Some(signs_at)),
            key("new", rotated, signs_at, None),
        ];
        assert_eq!(signing_kid(&stored, rotated).as_deref(), Some("old"));
        let almost = signs_at - Duration::from_millis(1);
        assert_eq!(signing_kid(&stored, almost).as_deref(), Some("old"));
        assert_eq!(signing_kid(&stored, signs_at).as_deref(), Some("new"));
        // Both are published meanwhile; the old one until its last token expires.
        let settings = settings();
        assert!(stored.iter().all(|k| published(k, &settings, rotated)));
        let horizon = settings.access_ttl + settings.leeway;
        assert!(published(
            &stored[0],
            &settings,
            signs_at + horizon - Duration::from_secs(1)
        ));
        assert!(!published(&stored[0], &settings, signs_at + horizon));
    }

    #[test]
    fn an_emergency_rotation_signs_at_once() {
        let start = start();
        let rotated = start + Duration::from_secs(3_600);
        let stored = [
            key("old", start, start, Some(rotated)),
            key("new", rotated, rotated, None),
        ];
        assert_eq!(signing_kid(&stored, rotated).as_deref(), Some("new"));
    }

    #[test]
    fn a_planned_key_overtaken_by_an_emergency_rotation_never_signs() {
        let start = start();
        let planned_at = start + Duration::from_secs(10);
        let emergency = start + Duration::from_secs(20);
        let stored = [
            key("old", start, start, Some(emergency)),
            key("planned", planned_at, planned_at + AHEAD, Some(emergency)),
            key("emergency", emergency, emergency, None),
        ];
        let after_planned_time = planned_at + AHEAD + Duration::from_secs(1);
        assert_eq!(
            signing_kid(&stored, after_planned_time).as_deref(),
            Some("emergency")
        );
    }

    #[test]
    fn a_withdrawn_key_is_neither_published_nor_signing() {
        let start = start();
        let mut withdrawn = key("withdrawn", start, start, Some(start));
        withdrawn.withdrawn_at = Some(start);
        let stored = [withdrawn, key("next", start, start, None)];
        assert!(!published(&stored[0], &settings(), start));
        assert_eq!(signing_kid(&stored, start).as_deref(), Some("next"));
    }

    #[test]
    fn a_long_retired_key_never_signs_again() {
        let start = start();
        let retired = start + Duration::from_secs(60);
        let now = start + Duration::from_secs(86_400);
        // The configured algorithm's only unretired key signs later; the old one expired.
        let stored = [
            key("expired", start, start, Some(retired)),
            key("fresh", now, now + AHEAD, None),
        ];
        assert_eq!(signing_kid(&stored, now).as_deref(), Some("fresh"));
    }
}
