//! Key generation and loading: PKCS#8 private keys from aws-lc-rs, public JWKs for the JWKS.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use zeroize::Zeroizing;

use crate::SigningAlgorithm;
use crate::der::pkcs8_private_key;

/// A new private key in PKCS#8 DER.
pub fn generate(algorithm: SigningAlgorithm) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let der = match algorithm {
        // PKCS#8 v1: the JWK export needs the 48-byte form, v2 (with public key) is refused.
        SigningAlgorithm::EdDSA => Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map(|doc| doc.as_ref().to_vec()),
        SigningAlgorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map(|doc| doc.as_ref().to_vec())
        }
        SigningAlgorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map(|doc| doc.as_ref().to_vec()),
        SigningAlgorithm::HS256 => return Err("HS256 keys come from configuration"),
    };
    der.map(Zeroizing::new)
        .map_err(|_| "the key generator failed")
}

/// The signing key for a PKCS#8 private key.
pub fn encoding_key(
    algorithm: SigningAlgorithm,
    pkcs8: &[u8],
) -> Result<EncodingKey, &'static str> {
    match algorithm {
        SigningAlgorithm::EdDSA => Ok(EncodingKey::from_ed_der(pkcs8)),
        SigningAlgorithm::ES256 => Ok(EncodingKey::from_ec_der(pkcs8)),
        SigningAlgorithm::RS256 => pkcs8_private_key(pkcs8)
            .map(EncodingKey::from_rsa_der)
            .ok_or("the RSA key is not PKCS#8"),
        SigningAlgorithm::HS256 => Err("HS256 keys come from configuration"),
    }
}

/// The public JWK of `key`, with `kid` set to its RFC 7638 thumbprint, `use` and `alg`.
pub fn public_jwk(algorithm: SigningAlgorithm, key: &EncodingKey) -> Result<Jwk, &'static str> {
    let mut jwk = Jwk::from_encoding_key(key, algorithm.jwt())
        .map_err(|_| "the key cannot be exported as a JWK")?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| "the JWK has no thumbprint")?;
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asymmetric_algorithm_yields_a_signing_key_and_a_public_jwk() {
        for algorithm in [
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::ES256,
            SigningAlgorithm::RS256,
        ] {
            let der = generate(algorithm).unwrap();
            let key = encoding_key(algorithm, &der).unwrap();
            let jwk = public_jwk(algorithm, &key).unwrap();
            assert!(jwk.common.key_id.is_some(), "{algorithm}");
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(algorithm.jwt()),
                &serde_json::json!({"a": 1}),
                &key,
            );
            assert!(token.is_ok(), "{algorithm}: {token:?}");
        }
    }
}
