//! A software WebAuthn authenticator for the passkey tests: it plays the browser and a platform
//! authenticator holding synced passkeys, so a test can run registration and login ceremonies
//! (WebAuthn Level 3) against the server without a browser.
//!
//! It reads the options the server sends, as `webauthn-rs` serialises them (`{"publicKey": {…}}`
//! with base64url buffers; the bare inner object is accepted too), and answers with the JSON a
//! browser's `PublicKeyCredential.toJSON()` gives, which the server deserialises as
//! `RegisterPublicKeyCredential` (registration) or `PublicKeyCredential` (login).
//!
//! Its credentials are ES256 (COSE algorithm -7, ECDSA over P-256 with SHA-256), discoverable
//! (each remembers the user handle it was created for), attested with the `"none"` format and an
//! all-zero AAGUID. By default every ceremony reports the user present and verified and the
//! credential backup eligible and backed up (a synced passkey), and each login raises the
//! credential's signature counter by one.
//!
//! Knobs make it misbehave for the refusal tests: another origin in the client data
//! ([`SoftAuthenticator::set_origin`]), another relying party id hashed into the authenticator
//! data ([`SoftAuthenticator::rp_id_override`]), a counter that goes backwards
//! ([`SoftAuthenticator::set_counter`]), no user verification
//! ([`SoftAuthenticator::user_verified`]) or presence ([`SoftAuthenticator::user_present`]),
//! other backup flags ([`SoftAuthenticator::backup_flags`]). A replayed assertion is the same
//! JSON sent twice. A clone of the authenticator is a copied authenticator: the same keys, with
//! counters that diverge from then on.
//!
//! What `webauthn-rs` 0.6.2 (passkey ceremonies, user verification required) answers each with:
//! another origin, `InvalidRPOrigin`; another relying party id, `InvalidRPIDHash`; a counter not
//! above the stored one (when either is above 0), `CredentialPossibleCompromise`; no user
//! verification, `UserNotVerified`; no presence, `UserNotPresent`; backup eligibility dropped
//! after registration, `CredentialBackupEligibilityInconsistent` (gained: the same in a
//! discoverable login; email-first, accepted if not also reported backed up); backed up without
//! eligibility at registration, `CredentialMayNotBeHardwareBound`; another challenge,
//! `MismatchedChallenge`. A replayed assertion passes `webauthn-rs` as long as the same ceremony
//! state is offered again: only the server's single-use ceremonies refuse it.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Authenticator data flag: the user was present.
const FLAG_UP: u8 = 0x01;
/// Authenticator data flag: the user was verified.
const FLAG_UV: u8 = 0x04;
/// Authenticator data flag: the credential is backup eligible.
const FLAG_BE: u8 = 0x08;
/// Authenticator data flag: the credential is backed up.
const FLAG_BS: u8 = 0x10;
/// Authenticator data flag: attested credential data follows.
const FLAG_AT: u8 = 0x40;
/// COSE algorithm ES256.
const ES256: i64 = -7;
/// Length of the credential ids this authenticator makes.
const CREDENTIAL_ID_LEN: usize = 32;

/// Why the authenticator (or the browser in front of it) declined a ceremony.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatorError {
    /// The options lack a member the ceremony needs or carry one that cannot be read; the
    /// string names it.
    Malformed(String),
    /// Registration: the authenticator holds one of `excludeCredentials` (a browser's
    /// `InvalidStateError`).
    Excluded,
    /// Registration: `pubKeyCredParams` offers no ES256 (COSE -7).
    UnsupportedAlgorithm,
    /// Login: no credential of this authenticator is allowed, or none is for the relying party
    /// (a browser's `NotAllowedError`).
    NoCredential,
}

impl fmt::Display for AuthenticatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed options: {what}"),
            Self::Excluded => f.write_str("the authenticator holds an excluded credential"),
            Self::UnsupportedAlgorithm => f.write_str("no ES256 in pubKeyCredParams"),
            Self::NoCredential => f.write_str("no credential of this authenticator answers"),
        }
    }
}

impl std::error::Error for AuthenticatorError {}

/// One discoverable credential.
#[derive(Clone)]
struct Credential {
    id: Vec<u8>,
    /// The key pair as PKCS#8, so that the authenticator can be cloned.
    pkcs8: Vec<u8>,
    user_handle: Vec<u8>,
    rp_id: String,
    counter: u32,
}

impl Credential {
    fn key_pair(&self) -> EcdsaKeyPair {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.pkcs8)
            .unwrap_or_else(|error| panic!("a key pair this authenticator made: {error}"))
    }
}

/// A software platform authenticator with its browser: it holds ES256 discoverable credentials
/// (id, key pair, user handle, relying party id, signature counter) and answers the server's
/// registration and login options with the browser's credential JSON.
#[derive(Clone)]
pub struct SoftAuthenticator {
    origin: String,
    rp_id_override: Option<String>,
    user_present: bool,
    user_verified: bool,
    backup_eligible: bool,
    backed_up: bool,
    counter_step: u32,
    credentials: Vec<Credential>,
}

impl fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("origin", &self.origin)
            .field("rp_id_override", &self.rp_id_override)
            .field("user_present", &self.user_present)
            .field("user_verified", &self.user_verified)
            .field("backup_eligible", &self.backup_eligible)
            .field("backed_up", &self.backed_up)
            .field("counter_step", &self.counter_step)
            .field("credentials", &self.credentials.len())
            .finish()
    }
}

impl SoftAuthenticator {
    /// An authenticator with no credential, in a browser showing a page of `origin`
    /// (`"https://app.example.com"`; scheme, host and port, no path): the `origin` of its client
    /// data, and the relying party id when options name none. User present and verified,
    /// credentials backup eligible and backed up, the counter raised by one per login.
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('/').to_owned(),
            rp_id_override: None,
            user_present: true,
            user_verified: true,
            backup_eligible: true,
            backed_up: true,
            counter_step: 1,
            credentials: Vec::new(),
        }
    }

    /// The same authenticator claiming another `origin` in its client data from now on (a
    /// phishing page, or a browser that lies), its credentials kept.
    pub fn with_origin(mut self, origin: &str) -> Self {
        self.set_origin(origin);
        self
    }

    /// Claims another `origin` in the client data of later ceremonies; [`with_origin`] in place.
    ///
    /// [`with_origin`]: Self::with_origin
    pub fn set_origin(&mut self, origin: &str) {
        origin.trim_end_matches('/').clone_into(&mut self.origin);
    }

    /// Hashes `rp_id` into the authenticator data of later ceremonies instead of the relying
    /// party id of the options (`None` restores it). Which credential answers a login is still
    /// decided by the options' `rpId`.
    pub fn rp_id_override(&mut self, rp_id: Option<&str>) {
        self.rp_id_override = rp_id.map(str::to_owned);
    }

    /// Sets the signature counter of the credential `credential_id` to `counter`: its next login
    /// reports `counter` plus the step ([`counter_step`], 1 by default). Below a counter the
    /// server has seen, it goes backwards. Panics if the authenticator has no such credential.
    ///
    /// [`counter_step`]: Self::counter_step
    pub fn set_counter(&mut self, credential_id: &[u8], counter: u32) {
        self.credential_mut(credential_id).counter = counter;
    }

    /// How much each login raises a credential's counter: 1 by default; 0 reports the same
    /// counter every time (as synced passkeys that always report 0 do, when it is 0).
    pub fn counter_step(&mut self, step: u32) {
        self.counter_step = step;
    }

    /// The signature counter of the credential `credential_id` (what its last ceremony
    /// reported), if the authenticator holds it.
    pub fn counter(&self, credential_id: &[u8]) -> Option<u32> {
        self.credentials
            .iter()
            .find(|credential| credential.id == credential_id)
            .map(|credential| credential.counter)
    }

    /// Whether later ceremonies report the user verified (the UV flag): off, a server requiring
    /// user verification refuses them.
    pub fn user_verified(&mut self, yes: bool) {
        self.user_verified = yes;
    }

    /// Whether later ceremonies report the user present (the UP flag): off, every server
    /// refuses them.
    pub fn user_present(&mut self, yes: bool) {
        self.user_present = yes;
    }

    /// The backup flags later ceremonies report, for every credential: backup eligible (BE) and
    /// backed up (BS). `(true, true)` by default, a synced passkey; `(false, false)` is a
    /// device-bound credential. Backed up without being eligible is a contradiction servers
    /// refuse, as is a credential whose eligibility changes after registration.
    pub fn backup_flags(&mut self, eligible: bool, backed_up: bool) {
        self.backup_eligible = eligible;
        self.backed_up = backed_up;
    }

    /// The ids of the credentials the authenticator holds, oldest first.
    pub fn credential_ids(&self) -> Vec<Vec<u8>> {
        self.credentials
            .iter()
            .map(|credential| credential.id.clone())
            .collect()
    }

    /// The user handle the credential `credential_id` was created for, if the authenticator
    /// holds it.
    pub fn user_handle(&self, credential_id: &[u8]) -> Option<Vec<u8>> {
        self.credentials
            .iter()
            .find(|credential| credential.id == credential_id)
            .map(|credential| credential.user_handle.clone())
    }

    /// `navigator.credentials.create()`: makes a new discoverable credential for the options'
    /// relying party and `user.id` and returns the registration JSON. Panics where
    /// [`try_register`](Self::try_register) fails.
    pub fn register(&mut self, options: &Value) -> Value {
        self.try_register(options)
            .unwrap_or_else(|error| panic!("passkey registration declined: {error}"))
    }

    /// `navigator.credentials.create()`, declining as a browser would: an excluded credential
    /// held, no ES256 offered, malformed options. The new credential replaces one this
    /// authenticator held for the same relying party and user handle. Its counter starts at 0.
    ///
    /// The answer: `{"id", "rawId", "type": "public-key", "authenticatorAttachment": "platform",
    /// "response": {"clientDataJSON", "attestationObject", "transports": ["internal"]},
    /// "extensions": {}}` (`credProps.rk` when asked for), buffers in base64url.
    pub fn try_register(&mut self, options: &Value) -> Result<Value, AuthenticatorError> {
        let options = public_key_options(options);
        let challenge = string_member(options, "challenge", "publicKey.challenge")?;
        let rp_id = match options.get("rp").and_then(|rp| rp.get("id")) {
            Some(id) => id
                .as_str()
                .ok_or_else(|| malformed("publicKey.rp.id"))?
                .to_owned(),
            None => host_of(&self.origin),
        };
        let user_handle = options
            .get("user")
            .and_then(|user| user.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("publicKey.user.id"))
            .and_then(|id| decode(id, "publicKey.user.id"))?;
        if let Some(params) = options.get("pubKeyCredParams") {
            let params = params
                .as_array()
                .ok_or_else(|| malformed("publicKey.pubKeyCredParams"))?;
            let es256 = params
                .iter()
                .any(|param| param.get("alg").and_then(Value::as_i64) == Some(ES256));
            if !params.is_empty() && !es256 {
                return Err(AuthenticatorError::UnsupportedAlgorithm);
            }
        }
        let excluded = descriptor_ids(options, "excludeCredentials")?;
        if self
            .credentials
            .iter()
            .any(|credential| credential.rp_id == rp_id && excluded.contains(&credential.id))
        {
            return Err(AuthenticatorError::Excluded);
        }

        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap_or_else(|error| panic!("a P-256 key pair: {error}"));
        let credential = Credential {
            id: rand::random::<[u8; CREDENTIAL_ID_LEN]>().to_vec(),
            pkcs8: pkcs8.as_ref().to_vec(),
            user_handle,
            rp_id,
            counter: 0,
        };
        let public_key = credential.key_pair().public_key().as_ref().to_vec();

        let mut auth_data = self.authenticator_data(&credential.rp_id, FLAG_AT, credential.counter);
        auth_data.extend_from_slice(&[0; 16]);
        let id_len = u16::try_from(credential.id.len()).unwrap_or(u16::MAX);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&credential.id);
        cose_es256_key(&public_key).encode(&mut auth_data);

        let attestation_object = Cbor::Map(vec![
            (Cbor::text("fmt"), Cbor::text("none")),
            (Cbor::text("attStmt"), Cbor::Map(Vec::new())),
            (Cbor::text("authData"), Cbor::Bytes(auth_data)),
        ])
        .to_vec();
        let client_data = self.client_data("webauthn.create", challenge);

        let cred_props = options
            .get("extensions")
            .and_then(|extensions| extensions.get("credProps"))
            .and_then(Value::as_bool)
            == Some(true);
        let extensions = if cred_props {
            json!({ "credProps": { "rk": true } })
        } else {
            json!({})
        };
        let id = URL_SAFE_NO_PAD.encode(&credential.id);
        self.credentials.retain(|held| {
            held.rp_id != credential.rp_id || held.user_handle != credential.user_handle
        });
        self.credentials.push(credential);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
                "transports": ["internal"],
            },
            "extensions": extensions,
        }))
    }

    /// `navigator.credentials.get()`: answers with the first credential of `allowCredentials`
    /// this authenticator holds for the options' `rpId`, or, when the list is empty or absent (a
    /// discoverable login), with the newest credential for the `rpId`. Raises its counter and
    /// returns the assertion JSON, with the user handle. Panics where
    /// [`try_login`](Self::try_login) fails.
    pub fn login(&mut self, options: &Value) -> Value {
        self.try_login(options)
            .unwrap_or_else(|error| panic!("passkey login declined: {error}"))
    }

    /// [`login`](Self::login), declining as a browser would: no credential answers (an unknown
    /// or decoy credential id, another relying party), malformed options.
    ///
    /// The answer: `{"id", "rawId", "type": "public-key", "authenticatorAttachment": "platform",
    /// "response": {"authenticatorData", "clientDataJSON", "signature", "userHandle"},
    /// "extensions": {}}`, buffers in base64url.
    pub fn try_login(&mut self, options: &Value) -> Result<Value, AuthenticatorError> {
        self.assert(options, None)
    }

    /// [`try_login`](Self::try_login) with the credential the user picks: `credential_id`, which
    /// must be for the options' `rpId` and, if `allowCredentials` is not empty, in it.
    pub fn login_with(
        &mut self,
        options: &Value,
        credential_id: &[u8],
    ) -> Result<Value, AuthenticatorError> {
        self.assert(options, Some(credential_id))
    }

    fn assert(
        &mut self,
        options: &Value,
        chosen: Option<&[u8]>,
    ) -> Result<Value, AuthenticatorError> {
        let options = public_key_options(options);
        let challenge = string_member(options, "challenge", "publicKey.challenge")?;
        let rp_id = match options.get("rpId") {
            Some(id) => id
                .as_str()
                .ok_or_else(|| malformed("publicKey.rpId"))?
                .to_owned(),
            None => host_of(&self.origin),
        };
        let allowed = descriptor_ids(options, "allowCredentials")?;
        let index = self
            .credentials
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, credential)| credential.rp_id == rp_id)
            .filter(|(_, credential)| chosen.is_none_or(|id| credential.id == id))
            .filter(|(_, credential)| allowed.is_empty() || allowed.contains(&credential.id))
            .map(|(index, _)| index)
            // With a list, its order decides; without, the newest credential.
            .min_by_key(|index| {
                allowed
                    .iter()
                    .position(|id| *id == self.credentials[*index].id)
                    .unwrap_or(0)
            })
            .ok_or(AuthenticatorError::NoCredential)?;

        let step = self.counter_step;
        let counter = {
            let credential = &mut self.credentials[index];
            credential.counter = credential.counter.wrapping_add(step);
            credential.counter
        };
        let credential = &self.credentials[index];
        let auth_data = self.authenticator_data(&credential.rp_id, 0, counter);
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest::digest(&digest::SHA256, &client_data).as_ref());
        let signature = credential
            .key_pair()
            .sign(&SystemRandom::new(), &signed)
            .unwrap_or_else(|error| panic!("an ECDSA signature: {error}"));

        let id = URL_SAFE_NO_PAD.encode(&credential.id);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
                "userHandle": URL_SAFE_NO_PAD.encode(&credential.user_handle),
            },
            "extensions": {},
        }))
    }

    /// rpIdHash | flags | signCount, with the knobs' flags and `extra_flags`.
    fn authenticator_data(&self, rp_id: &str, extra_flags: u8, counter: u32) -> Vec<u8> {
        let rp_id = self.rp_id_override.as_deref().unwrap_or(rp_id);
        let mut flags = extra_flags;
        for (on, flag) in [
            (self.user_present, FLAG_UP),
            (self.user_verified, FLAG_UV),
            (self.backup_eligible, FLAG_BE),
            (self.backed_up, FLAG_BS),
        ] {
            if on {
                flags |= flag;
            }
        }
        let mut data = digest::digest(&digest::SHA256, rp_id.as_bytes())
            .as_ref()
            .to_vec();
        data.push(flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }

    /// The client data JSON, members in the order browsers write them.
    fn client_data(&self, type_: &str, challenge: &str) -> Vec<u8> {
        format!(
            r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
            Value::from(type_),
            Value::from(challenge),
            Value::from(self.origin.as_str()),
        )
        .into_bytes()
    }

    fn credential_mut(&mut self, credential_id: &[u8]) -> &mut Credential {
        self.credentials
            .iter_mut()
            .find(|credential| credential.id == credential_id)
            .unwrap_or_else(|| panic!("the authenticator holds no credential {credential_id:?}"))
    }
}

/// The `publicKey` member of the options, or the options themselves when they are the inner
/// object already.
fn public_key_options(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

fn malformed(what: &str) -> AuthenticatorError {
    AuthenticatorError::Malformed(what.to_owned())
}

fn string_member<'a>(
    options: &'a Value,
    member: &str,
    what: &str,
) -> Result<&'a str, AuthenticatorError> {
    options
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(what))
}

/// Base64url, with or without padding.
fn decode(text: &str, what: &str) -> Result<Vec<u8>, AuthenticatorError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| malformed(what))
}

/// The ids of a list of credential descriptors (`allowCredentials`, `excludeCredentials`);
/// none when the member is absent or null.
fn descriptor_ids(options: &Value, member: &str) -> Result<Vec<Vec<u8>>, AuthenticatorError> {
    let what = format!("publicKey.{member}");
    match options.get(member) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(descriptors)) => descriptors
            .iter()
            .map(|descriptor| {
                descriptor
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(&what))
                    .and_then(|id| decode(id, &what))
            })
            .collect(),
        Some(_) => Err(malformed(&what)),
    }
}

/// The host of an origin (`https://app.example.com:8443` → `app.example.com`), the relying
/// party id when the options give none.
fn host_of(origin: &str) -> String {
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or(authority);
    if let Some(bracketed) = authority.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed).to_owned();
    }
    authority.split(':').next().unwrap_or(authority).to_owned()
}

/// The COSE_Key of an ES256 public key given as the 65-byte uncompressed point:
/// `{1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}`.
fn cose_es256_key(point: &[u8]) -> Cbor {
    assert_eq!(point.len(), 65, "an uncompressed P-256 point");
    Cbor::Map(vec![
        (Cbor::Int(1), Cbor::Int(2)),
        (Cbor::Int(3), Cbor::Int(ES256)),
        (Cbor::Int(-1), Cbor::Int(1)),
        (Cbor::Int(-2), Cbor::Bytes(point[1..33].to_vec())),
        (Cbor::Int(-3), Cbor::Bytes(point[33..65].to_vec())),
    ])
}

/// The CBOR (RFC 8949) this authenticator writes: integers, byte and text strings, maps.
/// Definite lengths, shortest heads, map keys in CTAP2 canonical order (shorter encoded key
/// first, then bytewise; integers thus come before text).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(Cbor, Cbor)>),
}

impl Cbor {
    fn text(text: &str) -> Self {
        Self::Text(text.to_owned())
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(n) if *n >= 0 => head(0, n.unsigned_abs(), out),
            // -1 - n, without overflow for i64::MIN.
            Self::Int(n) => head(1, (n + 1).unsigned_abs(), out),
            Self::Bytes(bytes) => {
                head(2, bytes.len() as u64, out);
                out.extend_from_slice(bytes);
            }
            Self::Text(text) => {
                head(3, text.len() as u64, out);
                out.extend_from_slice(text.as_bytes());
            }
            Self::Map(entries) => {
                let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = entries
                    .iter()
                    .map(|(key, value)| (key.to_vec(), value.to_vec()))
                    .collect();
                encoded.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
                head(5, encoded.len() as u64, out);
                for (key, value) in encoded {
                    out.extend_from_slice(&key);
                    out.extend_from_slice(&value);
                }
            }
        }
    }
}

/// A CBOR head: the major type and its argument, in the shortest form.
fn head(major: u8, argument: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    use super::*;

    fn b64(value: &Value) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(value.as_str().expect("a string"))
            .expect("base64url")
    }

    fn creation_options(user: &[u8], exclude: &[&[u8]]) -> Value {
        let exclude: Vec<Value> = exclude
            .iter()
            .map(|id| json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(id) }))
            .collect();
        json!({ "publicKey": {
            "rp": { "id": "app.example.com", "name": "App" },
            "user": {
                "id": URL_SAFE_NO_PAD.encode(user),
                "name": "a@example.com",
                "displayName": "A",
            },
            "challenge": "Y2hhbGxlbmdl",
            "pubKeyCredParams": [
                { "type": "public-key", "alg": -7 },
                { "type": "public-key", "alg": -257 },
            ],
            "excludeCredentials": exclude,
            "extensions": { "credProps": true },
        }})
    }

    fn request_options(allow: &[&[u8]]) -> Value {
        let allow: Vec<Value> = allow
            .iter()
            .map(|id| json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(id) }))
            .collect();
        json!({ "publicKey": {
            "challenge": "c2Vjb25k",
            "rpId": "app.example.com",
            "allowCredentials": allow,
            "userVerification": "required",
        }})
    }

    #[test]
    fn cbor_matches_rfc_8949_appendix_a() {
        let cases: Vec<(Cbor, &[u8])> = vec![
            (Cbor::Int(0), &[0x00]),
            (Cbor::Int(23), &[0x17]),
            (Cbor::Int(24), &[0x18, 0x18]),
            (Cbor::Int(1000), &[0x19, 0x03, 0xe8]),
            (Cbor::Int(1_000_000), &[0x1a, 0x00, 0x0f, 0x42, 0x40]),
            (Cbor::Int(-1), &[0x20]),
            (Cbor::Int(-100), &[0x38, 0x63]),
            (Cbor::Int(-1000), &[0x39, 0x03, 0xe7]),
            (Cbor::Bytes(vec![1, 2, 3, 4]), &[0x44, 1, 2, 3, 4]),
            (Cbor::text("IETF"), &[0x64, 0x49, 0x45, 0x54, 0x46]),
            (Cbor::Map(Vec::new()), &[0xa0]),
            (
                Cbor::Map(vec![
                    (Cbor::Int(3), Cbor::Int(4)),
                    (Cbor::Int(1), Cbor::Int(2)),
                ]),
                &[0xa2, 0x01, 0x02, 0x03, 0x04],
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(value.to_vec(), expected, "{value:?}");
        }
        assert_eq!(
            Cbor::Int(i64::MIN).to_vec(),
            [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn map_keys_are_in_ctap2_canonical_order() {
        let attestation = Cbor::Map(vec![
            (Cbor::text("authData"), Cbor::Bytes(Vec::new())),
            (Cbor::text("attStmt"), Cbor::Map(Vec::new())),
            (Cbor::text("fmt"), Cbor::text("none")),
        ])
        .to_vec();
        let mut expected = vec![0xa3, 0x63];
        expected.extend_from_slice(b"fmt");
        expected.push(0x64);
        expected.extend_from_slice(b"none");
        expected.push(0x67);
        expected.extend_from_slice(b"attStmt");
        expected.push(0xa0);
        expected.push(0x68);
        expected.extend_from_slice(b"authData");
        expected.push(0x40);
        assert_eq!(attestation, expected);

        let key = cose_es256_key(&[4; 65]).to_vec();
        // 1: 2, 3: -7, -1: 1, -2: x, -3: y
        assert_eq!(key[..8], [0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]);
        assert_eq!(key[8..10], [0x58, 0x20]);
        assert_eq!(key[42..45], [0x22, 0x58, 0x20]);
        assert_eq!(key.len(), 77);
    }

    #[test]
    fn the_relying_party_id_defaults_to_the_origin_host() {
        assert_eq!(host_of("https://app.example.com"), "app.example.com");
        assert_eq!(host_of("https://app.example.com:8443/"), "app.example.com");
        assert_eq!(host_of("http://localhost:3000"), "localhost");
        assert_eq!(host_of("http://[::1]:3000"), "::1");
    }

    #[test]
    fn a_registration_carries_the_credential_and_its_key() {
        let mut authenticator = SoftAuthenticator::new("https://app.example.com");
        let credential = authenticator.register(&creation_options(b"user-1", &[]));

        let id = authenticator.credential_ids().remove(0);
        assert_eq!(b64(&credential["rawId"]), id);
        assert_eq!(credential["id"], credential["rawId"]);
        assert_eq!(credential["type"], "public-key");
        assert_eq!(credential["response"]["transports"], json!(["internal"]));
        assert_eq!(
            credential["extensions"],
            json!({ "credProps": { "rk": true } })
        );
        let client_data: Value =
            serde_json::from_slice(&b64(&credential["response"]["clientDataJSON"])).unwrap();
        assert_eq!(
            client_data,
            json!({ "type": "webauthn.create", "challenge": "Y2hhbGxlbmdl",
                    "origin": "https://app.example.com", "crossOrigin": false })
        );

        let object = b64(&credential["response"]["attestationObject"]);
        // {"fmt": "none", "attStmt": {}, "authData": bytes(len: u8)}
        let prefix: &[u8] = b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData\x58";
        assert_eq!(&object[..prefix.len()], prefix);
        let auth_data = &object[prefix.len() + 1..];
        assert_eq!(usize::from(object[prefix.len()]), auth_data.len());
        assert_eq!(
            auth_data[..32],
            *digest::digest(&digest::SHA256, b"app.example.com").as_ref()
        );
        assert_eq!(
            auth_data[32],
            FLAG_UP | FLAG_UV | FLAG_BE | FLAG_BS | FLAG_AT
        );
        assert_eq!(auth_data[33..37], [0, 0, 0, 0]);
        assert_eq!(auth_data[37..53], [0; 16]);
        assert_eq!(auth_data[53..55], [0, 32]);
        assert_eq!(auth_data[55..87], *id);
        assert_eq!(auth_data.len(), 87 + 77);
        assert_eq!(authenticator.user_handle(&id), Some(b"user-1".to_vec()));
    }

    #[test]
    fn an_assertion_is_signed_by_the_registered_key() {
        let mut authenticator = SoftAuthenticator::new("https://app.example.com");
        authenticator.register(&creation_options(b"user-1", &[]));
        let id = authenticator.credential_ids().remove(0);

        let assertion = authenticator.login(&request_options(&[&id]));

        assert_eq!(b64(&assertion["rawId"]), id);
        assert_eq!(b64(&assertion["response"]["userHandle"]), b"user-1");
        let auth_data = b64(&assertion["response"]["authenticatorData"]);
        assert_eq!(auth_data.len(), 37);
        assert_eq!(auth_data[32], FLAG_UP | FLAG_UV | FLAG_BE | FLAG_BS);
        assert_eq!(auth_data[33..37], [0, 0, 0, 1]);
        assert_eq!(authenticator.counter(&id), Some(1));
        let client_data = b64(&assertion["response"]["clientDataJSON"]);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest::digest(&digest::SHA256, &client_data).as_ref());
        let credential = &authenticator.credentials[0];
        let public_key = credential.key_pair().public_key().as_ref().to_vec();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
            .verify(&signed, &b64(&assertion["response"]["signature"]))
            .expect("a valid signature");
    }

    #[test]
    fn the_knobs_change_what_is_reported() {
        let mut authenticator =
            SoftAuthenticator::new("https://app.example.com").with_origin("https://evil.test");
        authenticator.register(&creation_options(b"user-1", &[]));
        let id = authenticator.credential_ids().remove(0);
        authenticator.user_verified(false);
        authenticator.backup_flags(true, false);
        authenticator.rp_id_override(Some("evil.test"));
        authenticator.set_counter(&id, 41);

        let assertion = authenticator.login(&request_options(&[]));

        let auth_data = b64(&assertion["response"]["authenticatorData"]);
        assert_eq!(
            auth_data[..32],
            *digest::digest(&digest::SHA256, b"evil.test").as_ref()
        );
        assert_eq!(auth_data[32], FLAG_UP | FLAG_BE);
        assert_eq!(auth_data[33..37], 42u32.to_be_bytes());
        let client_data: Value =
            serde_json::from_slice(&b64(&assertion["response"]["clientDataJSON"])).unwrap();
        assert_eq!(client_data["origin"], "https://evil.test");
        assert_eq!(client_data["type"], "webauthn.get");
    }

    #[test]
    fn exclusion_and_unknown_credentials_are_declined() {
        let mut authenticator = SoftAuthenticator::new("https://app.example.com");
        authenticator.register(&creation_options(b"user-1", &[]));
        let id = authenticator.credential_ids().remove(0);

        assert_eq!(
            authenticator.try_register(&creation_options(b"user-2", &[&id])),
            Err(AuthenticatorError::Excluded)
        );
        assert_eq!(
            authenticator.try_login(&request_options(&[b"someone else"])),
            Err(AuthenticatorError::NoCredential)
        );
        let mut elsewhere = request_options(&[]);
        elsewhere["publicKey"]["rpId"] = json!("other.example.com");
        assert_eq!(
            authenticator.try_login(&elsewhere),
            Err(AuthenticatorError::NoCredential)
        );
        assert_eq!(
            authenticator.try_login(&json!({ "publicKey": {} })),
            Err(AuthenticatorError::Malformed("publicKey.challenge".into()))
        );
    }

    #[test]
    fn a_discoverable_login_answers_with_the_newest_credential_unless_one_is_picked() {
        let mut authenticator = SoftAuthenticator::new("https://app.example.com");
        authenticator.register(&creation_options(b"user-1", &[]));
        authenticator.register(&creation_options(b"user-2", &[]));
        // Same relying party and user: replaces user-2's credential.
        authenticator.register(&creation_options(b"user-2", &[]));
        let ids = authenticator.credential_ids();
        assert_eq!(ids.len(), 2);

        let newest = authenticator.login(&request_options(&[]));
        assert_eq!(b64(&newest["response"]["userHandle"]), b"user-2");
        let picked = authenticator
            .login_with(&request_options(&[]), &ids[0])
            .unwrap();
        assert_eq!(b64(&picked["response"]["userHandle"]), b"user-1");
        let listed = authenticator.login(&request_options(&[&ids[0], &ids[1]]));
        assert_eq!(b64(&listed["rawId"]), ids[0]);
    }
}
