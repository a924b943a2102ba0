//! Secrets at rest and in transit: sealing under the master key, opaque random tokens, and the
//! SHA-256 digests that are stored in their place.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The 32-byte key that seals secrets at rest (AES-256-GCM) and from which other keys are
/// derived.
pub struct MasterKey {
    sealing: LessSafeKey,
    derivation: hmac::Key,
}

/// A master key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The configured key is not base64 of 32 bytes.
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadKey,
    /// A sealed value was altered, truncated, or sealed under another key.
    #[error("a sealed secret could not be opened: wrong master key or damaged data")]
    Open,
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Zeroizing<[u8; 32]> {
        Zeroizing::new(rand::random())
    }

    /// Parses base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SealError::BadKey)?,
        );
        Self::from_bytes(&bytes)
    }

    /// Uses `bytes` (exactly 32) as the key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let sealing = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        let derivation = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        Ok(Self {
            sealing: LessSafeKey::new(sealing),
            derivation,
        })
    }

    /// A 32-byte key for `purpose`, independent of the sealing key and of other purposes.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let tag = hmac::sign(&self.derivation, purpose.as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(tag.as_ref());
        key
    }

    /// Encrypts `plain`, binding it to `context` (e.g. the key id) so a sealed value cannot be
    /// moved to another row. Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + 16);
        out.extend_from_slice(&nonce_bytes);
        let mut body = plain.to_vec();
        self.sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut body,
            )
            .expect("AES-GCM sealing of an in-memory buffer cannot fail");
        out.extend_from_slice(&body);
        out
    }

    /// Decrypts what [`MasterKey::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buffer = Zeroizing::new(body.to_vec());
        let plain_len = self
            .sealing
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| SealError::Open)?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

/// A new opaque token: 256 random bits, URL-safe base64 without padding.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest of a token, hex-encoded: what is stored instead of the token.
pub fn token_digest(token: &str) -> String {
    bytes_digest(token.as_bytes())
}

/// The SHA-256 digest of `bytes`, hex-encoded.
pub fn bytes_digest(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let hash = digest(&SHA256, bytes);
    let mut hex = String::with_capacity(64);
    for byte in hash.as_ref() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Compares two secrets in time independent of where they differ.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal("kid-1", b"private key");
        assert_eq!(&key.open("kid-1", &sealed).unwrap()[..], b"private key");
        assert!(key.open("kid-2", &sealed).is_err());
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(key.open("kid-1", &tampered).is_err());
    }

    #[test]
    fn master_key_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
    }

    #[test]
    fn random_tokens_carry_256_bits_and_differ() {
        let a = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, random_token());
        assert_eq!(token_digest("abc").len(), 64);
        assert_ne!(token_digest("abc"), token_digest("abd"));
    }
}
