//! Refresh tokens: opaque to clients, 256 bits of secret, stored only as SHA-256 digests.
//!
//! A token is `base64url(session id ‖ generation ‖ secret)`. The first secret of a session is
//! random; each successor's secret is an HMAC of its predecessor under a key derived from the
//! master key. That makes rotation deterministic: a retried or concurrent refresh with the same
//! token yields the same successor (no forked sessions), and an older token can be proven to
//! belong to a session by walking it forward to the stored digest (reuse detection without
//! keeping every old digest).

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::SessionId;
use crate::secret::{MasterKey, bytes_digest};

const SECRET_LEN: usize = 32;
const ENCODED_LEN: usize = 16 + 8 + SECRET_LEN;

/// The key successors are derived with; the same on every instance sharing the master key.
pub struct RefreshKey(hmac::Key);

impl RefreshKey {
    /// Derives the key from the master key.
    pub fn derive(master: &MasterKey) -> Self {
        let bytes = master.derive("tessera refresh token successor v1");
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref()))
    }
}

/// A refresh token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    session_id: SessionId,
    generation: u64,
    secret: Zeroizing<[u8; SECRET_LEN]>,
}

impl RefreshToken {
    /// The first token of a session: generation 0, random secret.
    pub fn first(session_id: SessionId) -> Self {
        Self {
            session_id,
            generation: 0,
            secret: Zeroizing::new(rand::random()),
        }
    }

    /// Reads a token as a client sent it; `None` for anything malformed.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > 128 {
            return None;
        }
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text.trim()).ok()?);
        if bytes.len() != ENCODED_LEN {
            return None;
        }
        let session_id = SessionId(Uuid::from_slice(&bytes[..16]).ok()?);
        let generation = u64::from_be_bytes(bytes[16..24].try_into().ok()?);
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(&bytes[24..]);
        Some(Self {
            session_id,
            generation,
            secret,
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

    /// The token that replaces this one at rotation.
    pub fn successor(&self, key: &RefreshKey) -> Self {
        let generation = self.generation + 1;
        let mut context = hmac::Context::with_key(&key.0);
        context.update(self.session_id.0.as_bytes());
        context.update(&generation.to_be_bytes());
        context.update(self.secret.as_ref());
        let tag = context.sign();
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(tag.as_ref());
        Self {
            session_id: self.session_id,
            generation,
            secret,
        }
    }

    /// Whether walking this token forward `steps` rotations reaches a token with `digest`.
    pub fn leads_to(&self, key: &RefreshKey, steps: u64, digest: &str) -> bool {
        let mut token = self.clone();
        for _ in 0..steps {
            token = token.successor(key);
        }
        crate::secret::secrets_equal(token.digest().as_bytes(), digest.as_bytes())
    }

    fn bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(ENCODED_LEN));
        bytes.extend_from_slice(self.session_id.0.as_bytes());
        bytes.extend_from_slice(&self.generation.to_be_bytes());
        bytes.extend_from_slice(self.secret.as_ref());
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
        let token = RefreshToken::first(SessionId::new());
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
        let first = RefreshToken::first(SessionId::new());
        let second = first.successor(&key);
        assert_eq!(second, first.successor(&key));
        assert_eq!(second.generation(), 1);
        assert_ne!(second.digest(), first.digest());
        let third = second.successor(&key);
        assert!(first.leads_to(&key, 2, &third.digest()));
        assert!(!first.leads_to(&key, 1, &third.digest()));
        let other_key = RefreshKey::derive(&MasterKey::from_bytes(&[4u8; 32]).unwrap());
        assert_ne!(first.successor(&other_key), second);
    }
}
