//! Recovery codes: ten random single-use codes shown once; only their digests are stored.

use crate::secret::bytes_digest;

/// Codes per set.
pub const RECOVERY_CODES: usize = 10;
/// Lower-case letters and digits without look-alikes (no `i`, `l`, `o`, `0`): 5 bits each.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz123456789";

/// A new set of codes, written `xxxxx-xxxxx` (50 bits each).
pub fn generate() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes: [u8; 10] = rand::random();
            let letters: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            format!("{}-{}", &letters[..5], &letters[5..])
        })
        .collect()
}

/// The stored digest of a code as typed: case, spaces and dashes do not matter.
pub fn digest(code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    bytes_digest(normalised.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_their_digests_ignore_case_and_dashes() {
        let codes = generate();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        let code = &codes[0];
        assert_eq!(digest(code), digest(&code.to_uppercase().replace('-', " ")));
        assert_ne!(digest(&codes[0]), digest(&codes[1]));
    }
}
