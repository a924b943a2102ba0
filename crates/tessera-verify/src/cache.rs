//! Tokens already verified, so that a client presenting the same access token again (as real
//! clients do, request after request) costs a map lookup instead of a signature check.
//!
//! An entry is keyed by the token's signature and holds the part it signs, which a hit must
//! match byte for byte: so a hit means the very same token was verified before, against the
//! same [`KeySet`] generation and by the same [`Verifier`] (whose expectations never change).
//! Keying by a SHA-256 of the whole token was a measurable part of a cached check; the
//! signature is as distinctive, and comparing the signed part keeps a hit exact. The
//! comparison need not be constant-time: the signed part is the token's readable header and
//! payload, which the cache hands out only to a caller presenting the very same bytes.
//! Expiry is checked on every hit; revocation is not this cache's business: callers check the
//! deny-set after every verification, cached or not.
//!
//! [`Verifier`]: crate::Verifier

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::{AccessClaims, KeySet};

/// Shards, each behind its own lock, so that concurrent requests rarely wait for each other.
const SHARDS: usize = 16;
/// Entries per shard: 16 × 128 = 2,048 tokens in all (an entry holds the signed part of the
/// token and its claims with their strings, under 1 KiB). At twice as many, heaptrack found
/// 1.95 MB live after a run of distinct tokens, and the request threads' allocator arenas
/// kept about as much again of free pages pinned between the entries, for hits only a
/// deployment with over 2,048 clients active within a token's lifetime gets.
const SHARD_CAPACITY: usize = 128;

struct Entry {
    /// The header and payload the key's signature covers.
    signed: Box<str>,
    claims: Arc<AccessClaims>,
    generation: u64,
}

/// Entries by the signature of their token.
type Shard = RwLock<HashMap<Box<str>, Entry>>;

/// A bounded map from token signatures to their verified claims.
pub(crate) struct VerifiedCache {
    shards: Box<[Shard]>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

/// The place of `character` in the base64url alphabet (`A`–`Z`, `a`–`z`, `0`–`9`, `-`, `_`);
/// anything else is 0, and such a token fails its signature check anyway.
fn base64url_value(character: u8) -> u8 {
    match character {
        b'A'..=b'Z' => character - b'A',
        b'a'..=b'z' => character - b'a' + 26,
        b'0'..=b'9' => character - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => 0,
    }
}

/// A token's place in the cache: the token split at its last dot.
pub(crate) struct Slot<'t> {
    signed: &'t str,
    signature: &'t str,
}

impl VerifiedCache {
    /// Where `token` is (or would be) cached.
    pub(crate) fn slot(token: &str) -> Slot<'_> {
        let (signed, signature) = token.rsplit_once('.').unwrap_or(("", token));
        Slot { signed, signature }
    }

    /// The claims `token` was verified with against `keys`, if it was.
    pub(crate) fn get(&self, slot: &Slot<'_>, keys: &KeySet) -> Option<Arc<AccessClaims>> {
        let shard = self.shard(slot).read().ok()?;
        shard
            .get(slot.signature)
            .filter(|entry| *entry.signed == *slot.signed && entry.generation == keys.generation())
            .map(|entry| Arc::clone(&entry.claims))
    }

    /// Remembers that the token of `slot` verified against `keys` with `claims`.
    pub(crate) fn insert(&self, slot: &Slot<'_>, keys: &KeySet, claims: &Arc<AccessClaims>) {
        let Ok(mut shard) = self.shard(slot).write() else {
            return;
        };
        if shard.len() >= SHARD_CAPACITY && !shard.contains_key(slot.signature) {
            // Forgetting a whole shard is cheap and keeps the bound; a forgotten token is just
            // verified again on its next use.
            shard.clear();
        }
        shard.insert(
            slot.signature.into(),
            Entry {
                signed: slot.signed.into(),
                claims: Arc::clone(claims),
                generation: keys.generation(),
            },
        );
    }

    /// The shard of a signature's first character: a signature's characters are uniformly
    /// spread over the base64url alphabet, whose size the shard count divides. By the
    /// character's place in that alphabet, not its ASCII code: the codes' remainders put five
    /// characters in some shards and two in others, which filled those shards (and emptied
    /// them, whole) at well under their share of the capacity.
    fn shard(&self, slot: &Slot<'_>) -> &Shard {
        let first = slot.signature.as_bytes().first().copied().unwrap_or(0);
        &self.shards[usize::from(base64url_value(first)) % SHARDS]
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

    /// A token shaped like a JWT whose signature starts with any base64url character.
    fn token(n: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        format!("eyJhbGciOi.eyJzdWIi{n}.{}sig{n}", ALPHABET[n % 64] as char)
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedCache::default();
        let keys = KeySet::new();
        let claims = Arc::new(claims(NOW));
        for n in 0..3 * SHARDS * SHARD_CAPACITY {
            cache.insert(&VerifiedCache::slot(&token(n)), &keys, &claims);
        }
        assert!(cache.len() <= SHARDS * SHARD_CAPACITY);
        assert!(cache.len() > SHARD_CAPACITY);
        let last = token(3 * SHARDS * SHARD_CAPACITY - 1);
        assert_eq!(cache.get(&VerifiedCache::slot(&last), &keys), Some(claims));
    }

    #[test]
    fn signatures_spread_evenly_so_the_whole_capacity_is_used() {
        let cache = VerifiedCache::default();
        let keys = KeySet::new();
        let claims = Arc::new(claims(NOW));
        // As many tokens as the cache holds, their signatures' first characters going round
        // the alphabet: every shard gets its share exactly, so none is full and emptied.
        for n in 0..SHARDS * SHARD_CAPACITY {
            cache.insert(&VerifiedCache::slot(&token(n)), &keys, &claims);
        }
        assert_eq!(cache.len(), SHARDS * SHARD_CAPACITY);
    }

    #[test]
    fn a_hit_needs_the_very_same_token_not_just_its_signature() {
        let cache = VerifiedCache::default();
        let keys = KeySet::new();
        let claims = Arc::new(claims(NOW));
        let verified = "eyJhbGciOi.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
        cache.insert(&VerifiedCache::slot(verified), &keys, &claims);

        let altered = "eyJhbGciOi.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl";
        assert_eq!(cache.get(&VerifiedCache::slot(altered), &keys), None);
        let unsigned = "c2lnbmF0dXJl";
        assert_eq!(cache.get(&VerifiedCache::slot(unsigned), &keys), None);
        assert_eq!(
            cache.get(&VerifiedCache::slot(verified), &keys),
            Some(claims)
        );
    }
}
