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

/// How long a new key is published before it signs. Every instance re-reads the keys more often
/// than this (see `tessera serve`), so none is handed a token signed with a key it does not know
/// yet; the margin covers clocks a little apart.
pub(crate) const KEY_ACTIVATION: Duration = Duration::from_secs(5);

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
}

/// A key as `tessera keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Retirement time, if a newer key replaced it.
    pub retired_at: Option<OffsetDateTime>,
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
        let stored = store.signing_keys().await?;
        let needs_key = settings.algorithm != SigningAlgorithm::HS256
            && !stored
                .iter()
                .any(|k| k.retired_at.is_none() && k.algorithm == settings.algorithm.as_str());
        let (stored, keys) = if needs_key {
            // Only if no instance starting at the same time made one first: each would retire
            // the other's key, and one would sign with a key the other does not know of yet.
            let stored = add_key(&*store, &master, settings.algorithm, clock.now(), true).await?;
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

    /// Makes a new key of the configured algorithm that signs from now on; older keys keep
    /// verifying (and stay in the JWKS) until every token they signed has expired.
    pub async fn rotate(&self) -> Result<KeySummary, TokenError> {
        if self.settings.algorithm == SigningAlgorithm::HS256 {
            return Err(TokenError::Key(
                "HS256 uses the configured secret: change tokens.hs256_secret instead",
            ));
        }
        let now = self.clock.now();
        let expired_before =
            now - self.settings.access_ttl - self.settings.leeway - Duration::from_secs(86_400);
        self.store.prune_signing_keys(expired_before).await?;
        add_key(
            &*self.store,
            &self.master,
            self.settings.algorithm,
            now,
            false,
        )
        .await?;
        self.reload().await?;
        let keys = self.current();
        let summary = keys
            .summaries
            .iter()
            .filter(|s| s.retired_at.is_none() && s.algorithm == self.settings.algorithm.as_str())
            .max_by_key(|s| s.created_at)
            .cloned();
        summary.ok_or(TokenError::Key("the new key was not loaded"))
    }

    /// The deny-set [`verify`](Self::verify) checks: revocations applied to it are refused by
    /// this instance at once.
    pub fn revoked(&self) -> &Arc<RevokedTokens> {
        &self.revoked
    }

    /// Verifies an access token's signature and claims, then refuses it if revoked: all in
    /// memory, with the code resource servers run (`tessera-verify`).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Rejection> {
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

/// Makes a key of `algorithm` that signs from now on; with `first`, only if no unretired key of
/// `algorithm` exists. Returns every stored key.
async fn add_key(
    store: &dyn KeyStore,
    master: &MasterKey,
    algorithm: SigningAlgorithm,
    now: OffsetDateTime,
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
        retired_at: None,
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

/// Whether `key` is still in the JWKS at `now`: a retired key stays until the last token it
/// signed has expired (it may sign for [`KEY_ACTIVATION`] after its retirement).
fn published(key: &StoredKey, settings: &TokenSettings, now: OffsetDateTime) -> bool {
    let horizon = settings.access_ttl + settings.leeway + KEY_ACTIVATION;
    key.retired_at.is_none_or(|retired| retired + horizon > now)
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
            retired_at: key.retired_at,
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

/// The stored key that signs at `now`: the newest of the configured algorithm published for at
/// least [`KEY_ACTIVATION`] (so the key it replaces signs a few seconds past its retirement);
/// with none that old, the oldest published one. `None` for HS256.
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
    of_algorithm()
        .filter(|k| k.created_at + KEY_ACTIVATION <= now && published(k, settings, now))
        .max_by_key(|k| k.created_at)
        .or_else(|| {
            // None that old: a first start (the only key signs at once), or keys all made in
            // the last seconds, of which the oldest is the one every instance knows.
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
        }
    }

    fn key(kid: &str, created_at: OffsetDateTime, retired_at: Option<OffsetDateTime>) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            algorithm: "EdDSA".into(),
            sealed_private_key: Vec::new(),
            public_jwk: String::new(),
            created_at,
            retired_at,
        }
    }

    fn signing_kid(stored: &[StoredKey], now: OffsetDateTime) -> Option<String> {
        signing_key(stored, &settings(), now).map(|key| key.kid.clone())
    }

    #[test]
    fn a_first_key_signs_at_once() {
        let start = start();
        assert_eq!(
            signing_kid(&[key("first", start, None)], start).as_deref(),
            Some("first")
        );
    }

    #[test]
    fn a_rotated_key_signs_once_published_for_the_activation_time() {
        let start = start();
        let rotated = start + Duration::from_secs(3_600);
        let stored = [key("old", start, Some(rotated)), key("new", rotated, None)];
        assert_eq!(signing_kid(&stored, rotated).as_deref(), Some("old"));
        let almost = rotated + KEY_ACTIVATION - Duration::from_millis(1);
        assert_eq!(signing_kid(&stored, almost).as_deref(), Some("old"));
        assert_eq!(
            signing_kid(&stored, rotated + KEY_ACTIVATION).as_deref(),
            Some("new")
        );
    }

    #[test]
    fn keys_all_made_in_the_last_seconds_leave_the_oldest_signing() {
        let start = start();
        let rotated = start + Duration::from_secs(1);
        let stored = [key("old", start, Some(rotated)), key("new", rotated, None)];
        let now = start + Duration::from_secs(2);
        assert_eq!(signing_kid(&stored, now).as_deref(), Some("old"));
        assert_eq!(
            signing_kid(&stored, rotated + KEY_ACTIVATION).as_deref(),
            Some("new")
        );
    }

    #[test]
    fn a_long_retired_key_never_signs_again() {
        let start = start();
        let retired = start + Duration::from_secs(60);
        let now = start + Duration::from_secs(86_400);
        // The configured algorithm's only unretired key is brand new; the old one expired.
        let stored = [
            key("expired", start, Some(retired)),
            key("fresh", now, None),
        ];
        assert_eq!(signing_kid(&stored, now).as_deref(), Some("fresh"));
    }
}
