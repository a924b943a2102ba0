//! Tokens already verified, so that a client presenting the same access token again (as real
//! clients do, request after request) costs a digest and a map lookup instead of a signature
//! check.
//!
//! An entry is keyed by the SHA-256 of the whole token, so a hit means the very same bytes were
//! verified before, against the same [`KeySet`] generation and by the same [`Verifier`]
//! (whose expectations never change). Expiry is checked on every hit; revocation is not this
//! cache's business: callers check the deny-set after every verification, cached or not.
//!
//! [`Verifier`]: crate::Verifier

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest::{SHA256, digest};

use crate::{AccessClaims, KeySet};

/// Shards, each behind its own lock, so that concurrent requests rarely wait for each other.
const SHARDS: usize = 16;
/// Entries per shard: 16 × 256 = 4,096 tokens in all, about 4 MiB at most (an entry holds the
/// claims, some 1 KiB with their strings).
const SHARD_CAPACITY: usize = 256;

type Digest = [u8; 32];

struct Entry {
    claims: Arc<AccessClaims>,
    generation: u64,
}

/// A bounded map from token digests to their verified claims.
pub(crate) struct VerifiedCache {
    shards: Box<[RwLock<HashMap<Digest, Entry>>]>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

/// A token's place in the cache.
pub(crate) struct Slot {
    digest: Digest,
}

impl VerifiedCache {
    /// Where `token` is (or would be) cached.
    pub(crate) fn slot(token: &str) -> Slot {
        let mut slot = Slot { digest: [0; 32] };
        slot.digest
            .copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        slot
    }

    /// The claims `token` was verified with against `keys`, if it was.
    pub(crate) fn get(&self, slot: &Slot, keys: &KeySet) -> Option<Arc<AccessClaims>> {
        let shard = self.shard(slot).read().ok()?;
        shard
            .get(&slot.digest)
            .filter(|entry| entry.generation == keys.generation())
            .map(|entry| Arc::clone(&entry.claims))
    }

    /// Remembers that the token of `slot` verified against `keys` with `claims`.
    pub(crate) fn insert(&self, slot: Slot, keys: &KeySet, claims: &Arc<AccessClaims>) {
        let Ok(mut shard) = self.shard(&slot).write() else {
            return;
        };
        if shard.len() >= SHARD_CAPACITY && !shard.contains_key(&slot.digest) {
            // Forgetting a whole shard is cheap and keeps the bound; a forgotten token is just
            // verified again on its next use.
            shard.clear();
        }
        shard.insert(
            slot.digest,
            Entry {
                claims: Arc::clone(claims),
                generation: keys.generation(),
            },
        );
    }

    fn shard(&self, slot: &Slot) -> &RwLock<HashMap<Digest, Entry>> {
        &self.shards[usize::from(slot.digest[0]) % SHARDS]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().map_or(0, |map| map.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{NOW, claims};

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedCache::default();
        let keys = KeySet::new();
        let claims = Arc::new(claims(NOW));
        for token in 0..3 * SHARDS * SHARD_CAPACITY {
            cache.insert(
                VerifiedCache::slot(&format!("token-{token}")),
                &keys,
                &claims,
            );
        }
        assert!(cache.len() <= SHARDS * SHARD_CAPACITY);
        assert!(cache.len() > SHARD_CAPACITY);
        let last = VerifiedCache::slot(&format!("token-{}", 3 * SHARDS * SHARD_CAPACITY - 1));
        assert_eq!(cache.get(&last, &keys), Some(claims));
    }
}
