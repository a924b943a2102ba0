//! Signature and claim checks of an access token.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};

use crate::cache::VerifiedCache;
use crate::{ACCESS_TOKEN_TYPE, AccessClaims, DenySet, KeySet};

/// What a valid token must say.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: i64,
}

impl Expectations {
    /// Clock skew allowed by [`Expectations::new`]: Tessera's default `tokens.leeway`.
    pub const DEFAULT_LEEWAY_SECS: i64 = 30;

    /// Requires `iss` = `issuer` and `aud` = `audience`, with the default leeway of 30 s.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs: Self::DEFAULT_LEEWAY_SECS,
        }
    }

    /// The same expectations with `leeway_secs` of clock skew allowed on `exp` and `nbf`.
    pub fn with_leeway_secs(mut self, leeway_secs: i64) -> Self {
        self.leeway_secs = leeway_secs;
        self
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Bad format, signature, algorithm, key id, type, issuer or audience, or not yet valid.
    #[error("the token is invalid")]
    Invalid,
    /// Well signed, but past `exp` (plus leeway).
    #[error("the token has expired")]
    Expired,
    /// Well signed and within its lifetime, but its session, its `jti` or its user has been
    /// revoked (see [`DenySet`](crate::DenySet)). [`Verifier`] alone never answers this.
    #[error("the token has been revoked")]
    Revoked,
}

/// Verifies access tokens against a [`KeySet`].
///
/// A verifier remembers the last few thousand tokens it found well signed, keyed by their
/// signatures (a hit matches the whole token), so a client presenting its token again skips
/// the signature check; the time checks run on every call. Clones share that memory.
#[derive(Clone)]
pub struct Verifier {
    expect: Expectations,
    /// The checks of the algorithms a JWKS can name, made once: building one (its sets of
    /// issuers and audiences) was a measurable part of a signature check.
    validations: Arc<[Validation]>,
    cache: Arc<VerifiedCache>,
}

/// The algorithms whose checks a verifier makes up front: those of Tessera's keys and JWKS.
const USUAL_ALGORITHMS: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier that requires `expect`.
    pub fn new(expect: Expectations) -> Self {
        let validations = USUAL_ALGORITHMS
            .iter()
            .map(|&algorithm| validation(&expect, algorithm))
            .collect();
        Self {
            expect,
            validations,
            cache: Arc::default(),
        }
    }

    /// What this verifier requires.
    pub fn expectations(&self) -> &Expectations {
        &self.expect
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch).
    ///
    /// The key is chosen by `kid` only and must be pinned to the header's `alg`; `jku`, `x5u`,
    /// `x5c` and `jwk` headers make the token invalid, since honouring them would let the token
    /// choose its own key.
    ///
    /// The claims are shared with the cache of verified tokens: a token presented again costs
    /// no copy of its strings.
    pub fn verify(
        &self,
        keys: &KeySet,
        token: &str,
        now: i64,
    ) -> Result<Arc<AccessClaims>, Rejection> {
        let slot = VerifiedCache::slot(token);
        if let Some(claims) = self.cache.get(&slot, keys) {
            self.check_time(&claims, now)?;
            return Ok(claims);
        }
        let claims = Arc::new(self.check_signed(keys, token)?);
        self.check_time(&claims, now)?;
        self.cache.insert(&slot, keys, &claims);
        Ok(claims)
    }

    /// [`verify`](Self::verify), then [`Rejection::Revoked`] for a token `deny` lists: the
    /// whole check of a token from memory, as [`Authenticator`](crate::Authenticator) and the
    /// Tessera server itself run it.
    pub fn verify_unrevoked(
        &self,
        keys: &KeySet,
        deny: Option<&DenySet>,
        token: &str,
        now: i64,
    ) -> Result<Arc<AccessClaims>, Rejection> {
        let claims = self.verify(keys, token, now)?;
        if deny.is_some_and(|deny| deny.is_revoked(&claims, now)) {
            return Err(Rejection::Revoked);
        }
        Ok(claims)
    }

    /// Everything that does not depend on the time: header, key, signature, `iss`, `aud`.
    fn check_signed(&self, keys: &KeySet, token: &str) -> Result<AccessClaims, Rejection> {
        let header = decode_header(token).map_err(|_| Rejection::Invalid)?;
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        let foreign_key = header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some();
        if !typ_ok || foreign_key {
            return Err(Rejection::Invalid);
        }
        let kid = header.kid.as_deref().ok_or(Rejection::Invalid)?;
        let key = keys.get(kid).ok_or(Rejection::Invalid)?;
        if header.alg != key.algorithm {
            return Err(Rejection::Invalid);
        }
        let validation = self
            .validations
            .iter()
            .find(|made| made.algorithms == [key.algorithm])
            .map_or_else(
                || Cow::Owned(validation(&self.expect, key.algorithm)),
                Cow::Borrowed,
            );
        decode::<AccessClaims>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|_| Rejection::Invalid)
    }

    /// `nbf` and `exp`, with leeway.
    fn check_time(&self, claims: &AccessClaims, now: i64) -> Result<(), Rejection> {
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now + self.expect.leeway_secs)
        {
            return Err(Rejection::Invalid);
        }
        if claims.exp + self.expect.leeway_secs <= now {
            return Err(Rejection::Expired);
        }
        Ok(())
    }
}

/// The library's checks of a token signed with `algorithm`: `iss` and `aud` as expected.
fn validation(expect: &Expectations, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    // Time is checked by `check_time` against the caller's clock, not the library's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[&expect.issuer]);
    validation.set_audience(&[&expect.audience]);
    validation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{NOW, TestKey, claims, expectations};

    const LEEWAY: i64 = Expectations::DEFAULT_LEEWAY_SECS;

    #[test]
    fn a_token_presented_again_is_answered_from_the_cache() {
        let key = TestKey::ed25519("k1");
        let keys = key.key_set();
        let verifier = Verifier::new(expectations());
        let token = key.sign(&claims(NOW));

        let first = verifier.verify(&keys, &token, NOW).unwrap();
        let slot = VerifiedCache::slot(&token);
        assert_eq!(verifier.cache.get(&slot, &keys), Some(first.clone()));
        assert_eq!(verifier.verify(&keys, &token, NOW + 1), Ok(first));
        assert_eq!(verifier.cache.len(), 1);
    }

    #[test]
    fn a_cached_token_still_expires_and_an_expired_one_is_not_cached() {
        let key = TestKey::ed25519("k1");
        let keys = key.key_set();
        let verifier = Verifier::new(expectations());
        let token = key.sign(&claims(NOW));
        assert!(verifier.verify(&keys, &token, NOW).is_ok());

        let expired_at = claims(NOW).exp + LEEWAY;
        assert!(verifier.verify(&keys, &token, expired_at - 1).is_ok());
        assert_eq!(
            verifier.verify(&keys, &token, expired_at),
            Err(Rejection::Expired)
        );

        let fresh = Verifier::new(expectations());
        assert_eq!(
            fresh.verify(&keys, &token, expired_at),
            Err(Rejection::Expired)
        );
        assert_eq!(fresh.cache.len(), 0);
    }

    #[test]
    fn a_token_is_checked_again_against_other_keys() {
        let key = TestKey::ed25519("k1");
        let verifier = Verifier::new(expectations());
        let token = key.sign(&claims(NOW));
        assert!(verifier.verify(&key.key_set(), &token, NOW).is_ok());

        // The same kid now names another key: the cached verdict must not carry over.
        let impostor = TestKey::ed25519("k1").key_set();
        assert_eq!(
            verifier.verify(&impostor, &token, NOW),
            Err(Rejection::Invalid)
        );
        let empty = KeySet::new();
        assert_eq!(
            verifier.verify(&empty, &token, NOW),
            Err(Rejection::Invalid)
        );
    }

    #[test]
    fn a_token_differing_in_one_byte_is_not_a_hit() {
        let key = TestKey::ed25519("k1");
        let keys = key.key_set();
        let verifier = Verifier::new(expectations());
        let token = key.sign(&claims(NOW));
        assert!(verifier.verify(&keys, &token, NOW).is_ok());

        let mut tampered = token.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            verifier.verify(&keys, &tampered, NOW),
            Err(Rejection::Invalid)
        );
    }
}
