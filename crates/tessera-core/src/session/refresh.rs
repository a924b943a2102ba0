//! Refresh tokens: opaque to clients, 256 bits of secret, stored only as SHA-256 digests.
//!
//! A token is `base64url(session id ‖ generation ‖ secret ‖ tag)`. The first secret of a
//! session is random; each successor's secret is an HMAC of its predecessor under a key derived
//! from the master key. That makes rotation deterministic: a retried or concurrent refresh with
//! the same token yields the same successor (no forked sessions). The tag, an HMAC of the rest
//! under a second derived key, proves in one step that Tessera issued the token, so an old
//! generation is recognised as reuse without keeping every old digest and without walking the
//! chain (which let anyone make the server compute thousands of HMACs with one request).
//!
//! Tokens issued before tags existed (`LEGACY_LEN`) still work while they are the current or
//! the previous token of their session; an older one cannot be proven authentic and is invalid.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::SessionId;
use crate::secret::{MasterKey, bytes_digest};

const SECRET_LEN: usize = 32;
const TAG_LEN: usize = 16;
const LEGACY_LEN: usize = 16 + 8 + SECRET_LEN;
const ENCODED_LEN: usize = LEGACY_LEN + TAG_LEN;

/// The keys successors and tags are derived with; the same on every instance sharing the
/// master key.
pub struct RefreshKey {
    successor: hmac::Key,
    tag: hmac::Key,
}

impl RefreshKey {
    /// Derives the keys from the master key.
    pub fn derive(master: &MasterKey) -> Self {
        let successor = master.derive("tessera refresh token successor v1");
        let tag = master.derive("tessera refresh token tag v1");
        Self {
            successor: hmac::Key::new(hmac::HMAC_SHA256, successor.as_ref()),
            tag: hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref()),
        }
    }

    fn tag(&self, session_id: SessionId, generation: u64, secret: &[u8]) -> [u8; TAG_LEN] {
        let mut context = hmac::Context::with_key(&self.tag);
        context.update(session_id.0.as_bytes());
        context.update(&generation.to_be_bytes());
        context.update(secret);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&context.sign().as_ref()[..TAG_LEN]);
        tag
    }
}

/// A refresh token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    session_id: SessionId,
    generation: u64,
    secret: Zeroizing<[u8; SECRET_LEN]>,
    /// `None` for a token issued before tags existed.
    tag: Option<[u8; TAG_LEN]>,
}

impl RefreshToken {
    /// The first token of a session: generation 0, random secret.
    pub fn first(session_id: SessionId, key: &RefreshKey) -> Self {
        Self::tagged(session_id, 0, Zeroizing::new(rand::random()), key)
    }

    fn tagged(
        session_id: SessionId,
        generation: u64,
        secret: Zeroizing<[u8; SECRET_LEN]>,
        key: &RefreshKey,
    ) -> Self {
        let tag = key.tag(session_id, generation, secret.as_ref());
        Self {
            session_id,
            generation,
            secret,
            tag: Some(tag),
        }
    }

    /// Reads a token as a client sent it; `None` for anything malformed.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > 128 {
            return None;
        }
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text.trim()).ok()?);
        if bytes.len() != ENCODED_LEN && bytes.len() != LEGACY_LEN {
            return None;
        }
        let session_id = SessionId(Uuid::from_slice(&bytes[..16]).ok()?);
        let generation = u64::from_be_bytes(bytes[16..24].try_into().ok()?);
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(&bytes[24..LEGACY_LEN]);
        let tag = bytes[LEGACY_LEN..].try_into().ok();
        Some(Self {
            session_id,
            generation,
            secret,
            tag,
        })
    }

    /// The text handed to the client.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes().as_slice())
    }

    /// The SHA-256 digest (hex) stored in place of the token.
    pub fn digest(&self) -> String {
        bytes_digest(self.bytes().as_slice())
    }

    /// The session the token belongs to.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// How many rotations preceded this token in its session.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The token that replaces this one at rotation (always tagged).
    pub fn successor(&self, key: &RefreshKey) -> Self {
        let generation = self.generation.saturating_add(1);
        let mut context = hmac::Context::with_key(&key.successor);
        context.update(self.session_id.0.as_bytes());
        context.update(&generation.to_be_bytes());
        context.update(self.secret.as_ref());
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(context.sign().as_ref());
        Self::tagged(self.session_id, generation, secret, key)
    }

    /// Whether Tessera issued this token (its tag checks out), in one HMAC and a
    /// constant-time comparison; false for an untagged legacy token.
    pub fn is_authentic(&self, key: &RefreshKey) -> bool {
        self.tag.is_some_and(|tag| {
            let expected = key.tag(self.session_id, self.generation, self.secret.as_ref());
            crate::secret::secrets_equal(&tag, &expected)
        })
    }

    fn bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(ENCODED_LEN));
        bytes.extend_from_slice(self.session_id.0.as_bytes());
        bytes.extend_from_slice(&self.generation.to_be_bytes());
        bytes.extend_from_slice(self.secret.as_ref());
        if let Some(tag) = &self.tag {
            bytes.extend_from_slice(tag);
        }
        bytes
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RefreshToken(session {}, generation {}, <redacted>)",
            self.session_id, self.generation
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RefreshKey {
        RefreshKey::derive(&MasterKey::from_bytes(&[3u8; 32]).unwrap())
    }

    #[test]
    fn tokens_round_trip_through_their_text() {
        let token = RefreshToken::first(SessionId::new(), &key());
        let parsed = RefreshToken::parse(&token.encode()).unwrap();
        assert_eq!(parsed, token);
        assert!(token.encode().len() >= 43, "at least 256 bits");
        assert!(!format!("{token:?}").contains(&token.encode()));
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        assert!(RefreshToken::parse("").is_none());
        assert!(RefreshToken::parse("not base64 !").is_none());
        assert!(RefreshToken::parse(&URL_SAFE_NO_PAD.encode([0u8; 40])).is_none());
        assert!(RefreshToken::parse(&"A".repeat(10_000)).is_none());
    }

    #[test]
    fn successors_are_deterministic_and_chain() {
        let key = key();
        let first = RefreshToken::first(SessionId::new(), &key);
        let second = first.successor(&key);
        assert_eq!(second, first.successor(&key));
        assert_eq!(second.generation(), 1);
        assert_ne!(second.digest(), first.digest());
        let other_key = RefreshKey::derive(&MasterKey::from_bytes(&[4u8; 32]).unwrap());
        assert_ne!(first.successor(&other_key), second);
    }

    #[test]
    fn only_tokens_issued_under_the_key_are_authentic() {
        let key = key();
        let first = RefreshToken::first(SessionId::new(), &key);
        assert!(first.is_authentic(&key));
        assert!(first.successor(&key).is_authentic(&key));
        let other_key = RefreshKey::derive(&MasterKey::from_bytes(&[4u8; 32]).unwrap());
        assert!(!first.is_authentic(&other_key));
        // Any changed byte (here the generation) breaks the tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(first.encode()).unwrap();
        bytes[23] ^= 1;
        let altered = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&bytes)).unwrap();
        assert!(!altered.is_authentic(&key));
    }

    #[test]
    fn a_legacy_untagged_token_parses_keeps_its_digest_and_is_not_authentic() {
        let key = key();
        let bytes: Vec<u8> = (0..LEGACY_LEN as u8).collect();
        let text = URL_SAFE_NO_PAD.encode(&bytes);
        let legacy = RefreshToken::parse(&text).unwrap();
        assert_eq!(legacy.encode(), text);
        assert_eq!(legacy.digest(), bytes_digest(&bytes));
        assert!(!legacy.is_authentic(&key));
        assert!(legacy.successor(&key).is_authentic(&key));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Whatever a client sends as a refresh token, parsing answers without panicking, and
        /// what parses is bounded work: its authenticity is one HMAC away.
        #[test]
        fn any_text_parses_or_is_refused_and_a_random_token_is_not_authentic(
            text in "\\PC{0,200}",
        ) {
            if let Some(token) = RefreshToken::parse(&text) {
                proptest::prop_assert!(!token.is_authentic(&key()));
            }
        }

        #[test]
        fn any_token_shaped_bytes_round_trip_and_only_the_keys_own_are_authentic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), ENCODED_LEN),
        ) {
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            let token = RefreshToken::parse(&text).expect("the right length parses");
            proptest::prop_assert_eq!(token.encode(), text);
            proptest::prop_assert!(!token.is_authentic(&key()));
            proptest::prop_assert!(token.successor(&key()).is_authentic(&key()));
        }
    }
}
