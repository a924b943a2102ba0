//! Verification keys, each pinned to one algorithm.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A public (or, for HS256, shared) key and the only algorithm it accepts.
#[derive(Clone)]
pub struct VerificationKey {
    /// The algorithm this key is pinned to.
    pub algorithm: Algorithm,
    /// The key material.
    pub key: DecodingKey,
}

/// Keys by `kid`.
#[derive(Clone)]
pub struct KeySet {
    keys: HashMap<String, VerificationKey>,
    // Which contents this is: a token verified against one generation is not trusted, from the
    // cache, against another (a key may have been replaced or removed in between).
    generation: u64,
}

fn next_generation() -> u64 {
    static GENERATIONS: AtomicU64 = AtomicU64::new(0);
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}

impl Default for KeySet {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
            generation: next_generation(),
        }
    }
}

impl KeySet {
    /// An empty key set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the key with id `kid`.
    pub fn insert(&mut self, kid: impl Into<String>, key: VerificationKey) {
        self.keys.insert(kid.into(), key);
        self.generation = next_generation();
    }

    /// Unique to these contents: changes with every [`KeySet::insert`], so that a token verified
    /// against other keys is verified again.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerificationKey> {
        self.keys.get(kid)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Builds a key set from a JWKS document. Keys without `kid` or `alg`, or with an algorithm
    /// other than EdDSA, ES256 or RS256, are skipped: without a pinned algorithm a key is unsafe.
    pub fn from_jwks(jwks: &JwkSet) -> Self {
        let mut set = Self::new();
        for jwk in &jwks.keys {
            if let Some((kid, key)) = pinned_key(jwk) {
                set.insert(kid, key);
            }
        }
        set
    }

    /// Builds a key set from the JSON text of a JWKS document (`{"keys": [...]}`), like
    /// [`KeySet::from_jwks`]. Keys that do not parse (a new key type, say) are skipped rather
    /// than failing the whole document; only a document that is not `{"keys": [...]}` is an error.
    pub fn from_jwks_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(json)?;
        let keys = document
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
            .collect();
        Ok(Self::from_jwks(&JwkSet { keys }))
    }
}

fn pinned_key(jwk: &Jwk) -> Option<(String, VerificationKey)> {
    let kid = jwk.common.key_id.clone()?;
    let algorithm = match jwk.common.key_algorithm? {
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, VerificationKey { algorithm, key }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testkit::TestKey;

    #[test]
    fn a_jwks_document_keeps_only_keys_with_a_kid_and_a_supported_pinned_alg() {
        let good = TestKey::ed25519("good");
        let mut no_kid = TestKey::es256("x").jwk;
        no_kid.common.key_id = None;
        let mut no_alg = TestKey::es256("no-alg").jwk;
        no_alg.common.key_algorithm = None;
        let document = json!({"keys": [
            good.jwk,
            no_kid,
            no_alg,
            {"kty": "oct", "kid": "shared", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "AKP", "kid": "post-quantum", "alg": "ML-DSA-44", "pub": "AAAA"},
        ]});

        let keys = KeySet::from_jwks_json(document.to_string().as_bytes()).unwrap();

        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys.get("good").map(|k| k.algorithm),
            Some(Algorithm::EdDSA)
        );
    }

    #[test]
    fn a_document_without_a_key_list_is_an_error() {
        assert!(KeySet::from_jwks_json(b"{\"kid\": \"k1\"}").is_err());
        assert!(KeySet::from_jwks_json(b"<html>").is_err());
    }
}
