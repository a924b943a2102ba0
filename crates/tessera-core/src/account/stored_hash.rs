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

/// The most work an imported hash may ask of a login: bcrypt's cost (2^14 rounds, about a
/// second here), argon2's memory (64 MiB), passes and lanes. A line of an import beyond them
/// is refused, and such a hash in the database never matches: one row must not make a login
/// take minutes or gigabytes.
pub const MAX_BCRYPT_COST: u32 = 14;
/// See [`MAX_BCRYPT_COST`].
pub const MAX_ARGON2_MEMORY_KIB: u32 = 65_536;
/// See [`MAX_BCRYPT_COST`].
pub const MAX_ARGON2_PASSES: u32 = 10;
/// See [`MAX_BCRYPT_COST`].
pub const MAX_ARGON2_LANES: u32 = 4;

/// A stored password hash, by scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    /// An argon2 PHC string.
    Argon2,
    /// A bcrypt `$2a$`, `$2b$` or `$2y$` string (imported users).
    Bcrypt,
}

/// Why a hash cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnusableHash {
    /// Neither bcrypt nor argon2 PHC.
    #[error("password_hash is neither a bcrypt ($2a$/$2b$/$2y$) nor an argon2 PHC string")]
    Unknown,
    /// Its parameters ask for more work than a login may do.
    #[error(
        "password_hash asks for too much work (at most bcrypt cost {MAX_BCRYPT_COST}, argon2 m={MAX_ARGON2_MEMORY_KIB} t={MAX_ARGON2_PASSES} p={MAX_ARGON2_LANES})"
    )]
    TooCostly,
}

impl StoredHash {
    /// The scheme of `phc`, or why it cannot be used.
    pub fn check(phc: &str) -> Result<Self, UnusableHash> {
        if phc.starts_with("$argon2") {
            let hash = PasswordHash::new(phc).map_err(|_| UnusableHash::Unknown)?;
            let params = Params::try_from(&hash).map_err(|_| UnusableHash::Unknown)?;
            let bounded = params.m_cost() <= MAX_ARGON2_MEMORY_KIB
                && params.t_cost() <= MAX_ARGON2_PASSES
                && params.p_cost() <= MAX_ARGON2_LANES;
            bounded
                .then_some(Self::Argon2)
                .ok_or(UnusableHash::TooCostly)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| phc.starts_with(p)) && phc.len() == 60 {
            let cost: u32 = phc
                .get(4..6)
                .and_then(|cost| cost.parse().ok())
                .ok_or(UnusableHash::Unknown)?;
            (cost <= MAX_BCRYPT_COST)
                .then_some(Self::Bcrypt)
                .ok_or(UnusableHash::TooCostly)
        } else {
            Err(UnusableHash::Unknown)
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

/// Checks `password` against `phc`, whatever its scheme; anything unrecognised or too costly
/// never matches. Tessera's own hashes are of the NFKC form; a hash brought from elsewhere is
/// of the password as its user typed it there.
pub(super) fn verify_phc(password: &Password, phc: &str) -> Verified {
    let matches = match StoredHash::check(phc).ok() {
        Some(StoredHash::Argon2) => PasswordHash::new(phc).is_ok_and(|hash| {
            if phc.starts_with(CURRENT_PREFIX) {
                matches_current(password.as_bytes(), &hash)
            } else {
                // Other parameters (imported hashes): the library's own path, which allocates
                // the (bounded) memory those parameters ask for; replaced on success.
                argon2id()
                    .verify_password(password.as_typed_bytes(), &hash)
                    .is_ok()
            }
        }),
        Some(StoredHash::Bcrypt) => bcrypt::verify(password.as_typed_bytes(), phc).unwrap_or(false),
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
        assert_eq!(StoredHash::check(DUMMY_HASH), Ok(StoredHash::Argon2));
        let hash = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(hash.hash.map(|h| h.len()), Some(OUTPUT_LEN));
    }

    #[test]
    fn imported_hashes_asking_for_too_much_work_are_refused_and_never_match() {
        // A cost-4 hash relabelled: the label is what a login would pay for.
        let cheap = bcrypt::hash("pw", 4).unwrap();
        let costly_bcrypt = cheap.replacen("$04$", &format!("${}$", MAX_BCRYPT_COST + 1), 1);
        let bounded_bcrypt = cheap.replacen("$04$", &format!("${MAX_BCRYPT_COST}$"), 1);
        assert_eq!(StoredHash::check(&bounded_bcrypt), Ok(StoredHash::Bcrypt));
        let salt = "c29tZXNhbHRzb21lc2FsdA";
        let argon = |m: u32, t: u32, p: u32| {
            format!(
                "$argon2id$v=19$m={m},t={t},p={p}${salt}$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
            )
        };
        for (phc, expected) in [
            (costly_bcrypt.clone(), Err(UnusableHash::TooCostly)),
            (
                argon(MAX_ARGON2_MEMORY_KIB + 1, 2, 1),
                Err(UnusableHash::TooCostly),
            ),
            (
                argon(19_456, MAX_ARGON2_PASSES + 1, 1),
                Err(UnusableHash::TooCostly),
            ),
            (
                argon(19_456, 2, MAX_ARGON2_LANES + 1),
                Err(UnusableHash::TooCostly),
            ),
            (
                argon(MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PASSES, MAX_ARGON2_LANES),
                Ok(StoredHash::Argon2),
            ),
            (
                "$2b$xx$".to_owned() + &"a".repeat(53),
                Err(UnusableHash::Unknown),
            ),
            ("plain".to_owned(), Err(UnusableHash::Unknown)),
        ] {
            assert_eq!(StoredHash::check(&phc), expected, "{phc}");
        }
        // Never checked at all (a one-line denial of service otherwise).
        let verified = verify_phc(&Password::normalise("pw"), &costly_bcrypt);
        assert!(!verified.matches);
    }

    #[test]
    fn an_imported_hash_is_checked_against_the_password_as_typed() {
        let typed = "ｐａｓｓｗｏｒｄ①"; // NFKC makes this "password1"
        let phc = bcrypt::hash(typed, 4).unwrap();
        assert!(verify_phc(&Password::normalise(typed), &phc).matches);
        assert!(!verify_phc(&Password::normalise("password1"), &phc).matches);
        let ours = hash_current(Password::normalise(typed).as_bytes());
        assert!(verify_phc(&Password::normalise("password1"), &ours).matches);
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
