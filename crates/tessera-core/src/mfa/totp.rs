//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of skew either side) through
//! `totp-rs`; replay protection is the caller's (the store remembers the last accepted step).

use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// A user's TOTP secret. Its `Debug` shows nothing of it.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let bytes: [u8; SECRET_BYTES] = rand::random();
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// A secret read back from storage.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The raw bytes, to seal for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> Option<Totp> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(Secret::from(self.0.to_vec()))
            // `:` separates issuer and account in the URI label; neither may contain one.
            .with_issuer(Some(issuer.replace(':', " ")))
            .with_account_name(account.replace(':', " "))
            .build()
            .ok()
    }

    /// The secret in base32, as people type it into an authenticator app.
    pub fn base32(&self) -> String {
        Secret::from(self.0.to_vec()).to_base32()
    }

    /// The `otpauth://totp/…` URI an authenticator app reads from a QR code.
    pub fn uri(&self, issuer: &str, account: &str) -> Option<String> {
        self.totp(issuer, account)?.to_url().ok()
    }

    /// The time step `code` belongs to, if it is right at `unix_seconds` within one step of
    /// skew; the earliest matching step.
    pub fn check(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.totp("tessera", "user")?.check(&code, unix_seconds)
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    #[test]
    fn the_rfc_vectors_are_accepted_at_their_step_and_one_step_either_side() {
        let secret = TotpSecret::from_bytes(Zeroizing::new(b"12345678901234567890".to_vec()));
        assert_eq!(secret.check("287082", 59), Some(1));
        assert_eq!(secret.check("081804", 1_111_111_109), Some(37_037_036));
        assert_eq!(secret.check("081804", 1_111_111_109 + 30), Some(37_037_036));
        assert_eq!(secret.check("081804", 1_111_111_109 + 60), None);
        assert_eq!(secret.check("08180", 1_111_111_109), None);
        assert_eq!(secret.check("08x804", 1_111_111_109), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account_and_carries_the_secret() {
        let secret = TotpSecret::generate();
        let uri = secret.uri("Acme: Movies", "kate@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains(&format!("secret={}", secret.base32())),
            "{uri}"
        );
        assert!(uri.contains("issuer=Acme"), "{uri}");
        assert_eq!(secret.base32().len(), 32);
    }
}
