//! The stored password hash: PHC strings with argon2id's current parameters, recognition of the
//! schemes imported users bring (bcrypt, other argon2 parameters), and whether a hash should be
//! replaced. It computes on the calling thread; `hash_pool` decides which thread that is.
//!
//! Each thread keeps its own 19 MiB of argon2 working memory between hashes, until
//! [`release_working_memory`]. Were every hash to allocate and free it, the allocator would keep
//! several such blocks per thread arena resident (hundreds of MiB after a burst of logins) and
//! zero each one first.

use std::cell::RefCell;

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::Password;

/// The PHC prefix of hashes made with the current parameters; anything else is re-hashed on
/// the next successful login.
pub(super) const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
/// KiB of memory per hash (one block per KiB).
const MEMORY_KIB: u32 = 19_456;
/// Bytes of random salt and of hash output in new hashes.
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// Blocks reserved for the working memory: more than argon2 uses, so that the reservation is
/// above the C allocator's largest mmap threshold (32 MiB) and is always mapped and unmapped
/// on its own, really returning to the OS when freed. Pages never touched cost nothing.
const RESERVED_BLOCKS: usize = 33 * 1024;

/// Verified against when the email is unknown, so that costs the same as a wrong password. Any
/// hash with the current parameters does; none matches, since the caller ignores the outcome.
pub(super) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$5PR9ekBlKfRvg8I3/yKnEQ$f960QzyMW0T4OFLsJzFQKF8GpHLU+b1td69F4fsyvwA";

thread_local! {
    /// This thread's argon2 working memory, made on its first hash after an idle period.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// A stored password hash, by scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    /// An argon2 PHC string.
    Argon2,
    /// A bcrypt `$2a$`, `$2b$` or `$2y$` string (imported users).
    Bcrypt,
}

impl StoredHash {
    /// Recognises the scheme of `phc`, or `None` for anything Tessera cannot verify.
    pub fn classify(phc: &str) -> Option<Self> {
        if phc.starts_with("$argon2") && PasswordHash::new(phc).is_ok() {
            Some(Self::Argon2)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| phc.starts_with(p)) && phc.len() == 60 {
            Some(Self::Bcrypt)
        } else {
            None
        }
    }
}

/// Outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub matches: bool,
    /// The stored hash uses an older scheme or parameters and should be replaced.
    pub needs_rehash: bool,
}

/// A new PHC string for `password`: argon2id (m=19456 KiB, t=2, p=1) with a random salt.
pub(super) fn hash_current(password: &[u8]) -> String {
    let salt: [u8; SALT_LEN] = rand::random();
    let mut out = [0; OUTPUT_LEN];
    compute_current(password, &salt, &mut out)
        .expect("argon2 hashing with valid parameters cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&current_params())
            .expect("the current parameters have a PHC form"),
        salt: Some(Salt::new(&salt).expect("16 bytes is a valid salt length")),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// Checks `password` against `phc`, whatever its scheme; anything unrecognised never matches.
pub(super) fn verify_phc(password: &Password, phc: &str) -> Verified {
    let matches = match StoredHash::classify(phc) {
        Some(StoredHash::Argon2) => PasswordHash::new(phc).is_ok_and(|hash| {
            if phc.starts_with(CURRENT_PREFIX) {
                matches_current(password.as_bytes(), &hash)
            } else {
                // Other parameters (imported hashes): the library's own path, which allocates
                // the memory those parameters ask for; the hash is replaced on success.
                argon2id()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            }
        }),
        Some(StoredHash::Bcrypt) => bcrypt::verify(password.as_bytes(), phc).unwrap_or(false),
        None => false,
    };
    Verified {
        matches,
        needs_rehash: !phc.starts_with(CURRENT_PREFIX),
    }
}

/// Gives this thread's working memory back to the OS; the next hash makes it anew.
pub(super) fn release_working_memory() {
    BLOCKS.with_borrow_mut(|blocks| *blocks = Vec::new());
}

fn current_params() -> Params {
    Params::new(MEMORY_KIB, 2, 1, None).expect("OWASP argon2id parameters are valid")
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, current_params())
}

/// argon2id with the current parameters of `password` and `salt` into `out`, computed in this
/// thread's working memory.
fn compute_current(password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.is_empty() {
            let mut reserved = Vec::with_capacity(RESERVED_BLOCKS);
            reserved.resize(MEMORY_KIB as usize, Block::default());
            *blocks = reserved;
        }
        argon2id().hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice())
    })
}

/// Whether `password` matches `hash`, a PHC string with the current parameters.
fn matches_current(password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let mut out = [0; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    compute_current(password, salt.as_ref(), out).is_ok()
        // Output's equality is constant-time.
        && Output::new(out).is_ok_and(|computed| computed == *expected)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher as _;

    use super::*;

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let password = b"correct horse battery";
        let ours = hash_current(password);
        assert!(ours.starts_with(CURRENT_PREFIX));
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2id().verify_password(password, &parsed).is_ok());
        assert!(argon2id().verify_password(b"wrong", &parsed).is_err());

        let theirs = argon2id().hash_password(password).unwrap().to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(matches_current(password, &parsed));
        assert!(!matches_current(b"wrong", &parsed));
    }

    #[test]
    fn the_dummy_hash_costs_a_full_current_hash() {
        assert!(DUMMY_HASH.starts_with(CURRENT_PREFIX));
        assert_eq!(StoredHash::classify(DUMMY_HASH), Some(StoredHash::Argon2));
        let hash = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(hash.hash.map(|h| h.len()), Some(OUTPUT_LEN));
    }

    #[test]
    fn bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let phc = bcrypt::hash("legacy password", 4).unwrap();
        let verified = verify_phc(&Password::normalise("legacy password"), &phc);
        assert_eq!(
            verified,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
    }
}
