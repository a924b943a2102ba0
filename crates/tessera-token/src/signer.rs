//! Compact JWS signing with a key parsed once. The JWT library re-parses the private key on
//! every signature; on the login and refresh paths that parsing costs more than the signature
//! itself, so the signer keeps the parsed key and the encoded header.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tessera_verify::ACCESS_TOKEN_TYPE;

use crate::SigningAlgorithm;

enum SigningKey {
    Ed25519(Ed25519KeyPair),
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    // Boxed: an HMAC key holds precomputed state and is far larger than the others.
    Hs256(Box<hmac::Key>),
}

/// Signs access tokens with one key.
pub struct Signer {
    kid: String,
    algorithm: SigningAlgorithm,
    key: SigningKey,
    /// `base64url(header) + "."`, the same for every token of this key.
    header: String,
    random: SystemRandom,
}

impl Signer {
    /// A signer for a PKCS#8 private key.
    pub fn from_pkcs8(
        kid: &str,
        algorithm: SigningAlgorithm,
        der: &[u8],
    ) -> Result<Self, &'static str> {
        let key = match algorithm {
            SigningAlgorithm::EdDSA => {
                SigningKey::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(|_| "bad Ed25519 key")?)
            }
            SigningAlgorithm::ES256 => SigningKey::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| "bad P-256 key")?,
            ),
            SigningAlgorithm::RS256 => {
                SigningKey::Rs256(RsaKeyPair::from_pkcs8(der).map_err(|_| "bad RSA key")?)
            }
            SigningAlgorithm::HS256 => return Err("HS256 keys come from configuration"),
        };
        Ok(Self::new(kid, algorithm, key))
    }

    /// A signer for the configured HS256 secret.
    pub fn hs256(kid: &str, secret: &[u8]) -> Self {
        Self::new(
            kid,
            SigningAlgorithm::HS256,
            SigningKey::Hs256(Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret))),
        )
    }

    fn new(kid: &str, algorithm: SigningAlgorithm, key: SigningKey) -> Self {
        let header =
            serde_json::json!({ "typ": ACCESS_TOKEN_TYPE, "alg": algorithm.as_str(), "kid": kid });
        let header = format!("{}.", URL_SAFE_NO_PAD.encode(header.to_string()));
        Self {
            kid: kid.to_owned(),
            algorithm,
            key,
            header,
            random: SystemRandom::new(),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The compact JWS of `claims`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, &'static str> {
        let payload = serde_json::to_vec(claims).map_err(|_| "claims cannot be serialised")?;
        let mut token = String::with_capacity(self.header.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&self.header);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.signature(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, &'static str> {
        match &self.key {
            SigningKey::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
            SigningKey::Es256(key) => key
                .sign(&self.random, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ECDSA signing failed"),
            SigningKey::Rs256(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &self.random, message, &mut signature)
                    .map_err(|_| "RSA signing failed")?;
                Ok(signature)
            }
            SigningKey::Hs256(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    use super::*;
    use crate::keygen;

    #[test]
    fn tokens_verify_with_the_public_jwk_for_every_algorithm() {
        for algorithm in [
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::ES256,
            SigningAlgorithm::RS256,
        ] {
            let der = keygen::generate(algorithm).unwrap();
            let jwk =
                keygen::public_jwk(algorithm, &keygen::encoding_key(algorithm, &der).unwrap())
                    .unwrap();
            let signer = Signer::from_pkcs8("k1", algorithm, &der).unwrap();
            let token = signer.sign(&serde_json::json!({ "sub": "u" })).unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.kid.as_deref(), Some("k1"));
            let mut validation = Validation::new(algorithm.jwt());
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            let key = DecodingKey::from_jwk(&jwk).unwrap();
            let claims = decode::<serde_json::Value>(&token, &key, &validation)
                .unwrap()
                .claims;
            assert_eq!(claims["sub"], "u", "{algorithm}");
        }
    }

    #[test]
    fn hs256_tokens_verify_with_the_secret() {
        let signer = Signer::hs256("hs256", b"a secret of at least thirty-two bytes!");
        let token = signer.sign(&serde_json::json!({ "sub": "u" })).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes!");
        assert!(decode::<serde_json::Value>(&token, &key, &validation).is_ok());
        let wrong = DecodingKey::from_secret(b"another secret of thirty-two bytes!!");
        assert!(decode::<serde_json::Value>(&token, &wrong, &validation).is_err());
    }
}
