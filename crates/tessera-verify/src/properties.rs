//! Property tests of what an attacker hands a resource server: the token, the Authorization
//! header, and (through a compromised or spoofed feed) revocation items. Whatever the input,
//! the answer is a refusal or a value, never a panic.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::Value;

use crate::testkit::{NOW, TestKey, claims, expectations};
use crate::{DenySet, Revocation, Verifier, bearer_token};

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A JSON object whose fields are those of a token (some with values of the wrong kind).
fn claims_like() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("iss"),
        Just("sub"),
        Just("aud"),
        Just("exp"),
        Just("iat"),
        Just("nbf"),
        Just("jti"),
        Just("sid"),
        Just("roles"),
        Just("email"),
        Just("amr"),
        Just("alg"),
        Just("typ"),
        Just("kid"),
        Just("jku"),
        Just("jwk"),
        Just("x5u"),
        Just("crit"),
    ];
    prop::collection::btree_map(field, json(), 0..12)
        .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn segment(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_as_a_token_is_refused(token in "\\PC{0,400}") {
        let key = TestKey::ed25519("k1");
        let verifier = Verifier::new(expectations());
        prop_assert!(verifier.verify(&key.key_set(), &token, NOW).is_err());
    }

    #[test]
    fn three_segments_of_any_bytes_are_refused(
        header in prop::collection::vec(any::<u8>(), 0..200),
        payload in prop::collection::vec(any::<u8>(), 0..400),
        signature in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let key = TestKey::ed25519("k1");
        let verifier = Verifier::new(expectations());
        let token = format!("{}.{}.{}", segment(&header), segment(&payload), segment(&signature));
        prop_assert!(verifier.verify(&key.key_set(), &token, NOW).is_err());
    }

    #[test]
    fn any_header_and_claims_without_the_key_are_refused(
        header in claims_like(),
        payload in claims_like(),
        signature in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let key = TestKey::ed25519("k1");
        let verifier = Verifier::new(expectations());
        let token = format!(
            "{}.{}.{}",
            segment(header.to_string().as_bytes()),
            segment(payload.to_string().as_bytes()),
            segment(&signature),
        );
        prop_assert!(verifier.verify(&key.key_set(), &token, NOW).is_err());
    }

    #[test]
    fn a_real_token_with_its_payload_swapped_is_refused(payload in claims_like()) {
        let key = TestKey::ed25519("k1");
        let verifier = Verifier::new(expectations());
        let token = key.sign(&claims(NOW));
        prop_assert!(verifier.verify(&key.key_set(), &token, NOW).is_ok());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], segment(payload.to_string().as_bytes()), parts[2]);
        prop_assert!(verifier.verify(&key.key_set(), &forged, NOW).is_err());
    }

    #[test]
    fn any_authorization_header_is_parsed_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Some(token)) = bearer_token(&bytes) {
            prop_assert!(!token.is_empty());
            prop_assert!(bytes.len() > token.len());
        }
    }

    #[test]
    fn any_text_as_a_feed_item_is_parsed_or_refused(item in json()) {
        let _ = serde_json::from_value::<Revocation>(item);
    }

    #[test]
    fn any_feed_item_applies_and_checks_without_overflow(
        cursor in any::<i64>(),
        target in prop_oneof![Just((Some("s1"), None)), Just((None, Some("u1")))],
        revoked_at in any::<i64>(),
        revoked_at_ms in any::<Option<i64>>(),
        until in any::<i64>(),
        jti in "\\PC{0,48}",
        iat in any::<i64>(),
        now in any::<i64>(),
    ) {
        let revocation = Revocation {
            cursor,
            sid: target.0.map(str::to_owned),
            jti: None,
            user_id: target.1.map(str::to_owned),
            revoked_at,
            revoked_at_ms,
            until,
        };
        let deny = DenySet::new();
        deny.apply(&revocation, now);
        let revoked = deny.denies("s1", &jti, "u1", iat, now);
        let covers_token = crate::deny::issued_ms(&jti, iat) <= revocation.instant_ms();
        prop_assert_eq!(revoked, until > now && (target.0.is_some() || covers_token));
    }
}
