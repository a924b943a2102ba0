//! The `algorithm` column of `password_credentials`, derived from the PHC string's prefix.

use tessera_core::StoreError;

/// The algorithm named by `phc`'s prefix: `argon2id` (and the rarer imported `argon2i` /
/// `argon2d`) or `bcrypt` for `$2a$`, `$2b$` and `$2y$`.
///
/// The core only produces hashes it can verify, so anything else is refused as corrupt rather
/// than stored with a made-up label.
pub(crate) fn algorithm_of(phc: &str) -> Result<&'static str, StoreError> {
    const PREFIXES: [(&str, &str); 6] = [
        ("$argon2id$", "argon2id"),
        ("$argon2i$", "argon2i"),
        ("$argon2d$", "argon2d"),
        ("$2a$", "bcrypt"),
        ("$2b$", "bcrypt"),
        ("$2y$", "bcrypt"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| phc.starts_with(prefix))
        .map(|&(_, algorithm)| algorithm)
        .ok_or_else(|| {
            StoreError::Corrupt("password hash is neither an argon2 nor a bcrypt string".into())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_algorithm_comes_from_the_phc_prefix() {
        let argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
        assert_eq!(algorithm_of(argon).unwrap(), "argon2id");
        assert_eq!(
            algorithm_of("$2b$12$abcdefghijklmnopqrstuv").unwrap(),
            "bcrypt"
        );
        assert_eq!(algorithm_of("$2y$10$abc").unwrap(), "bcrypt");
        assert!(matches!(
            algorithm_of("plaintext"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
