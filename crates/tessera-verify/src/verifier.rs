//! Signature and claim checks of an access token.

use jsonwebtoken::{Validation, decode, decode_header};

use crate::{ACCESS_TOKEN_TYPE, AccessClaims, KeySet};

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
#[derive(Debug, Clone)]
pub struct Verifier {
    expect: Expectations,
}

impl Verifier {
    /// A verifier that requires `expect`.
    pub fn new(expect: Expectations) -> Self {
        Self { expect }
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
    pub fn verify(&self, keys: &KeySet, token: &str, now: i64) -> Result<AccessClaims, Rejection> {
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
        let mut validation = Validation::new(key.algorithm);
        // Time is checked below against the caller's clock, not the library's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&self.expect.issuer]);
        validation.set_audience(&[&self.expect.audience]);
        let claims = decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(|_| Rejection::Invalid)?
            .claims;
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now + self.expect.leeway_secs)
        {
            return Err(Rejection::Invalid);
        }
        if claims.exp + self.expect.leeway_secs <= now {
            return Err(Rejection::Expired);
        }
        Ok(claims)
    }
}
