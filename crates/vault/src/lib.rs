//! Secrets for personal data: field encryption at rest, keyed blind indexes, random tokens.
//!
//! - **Sealing:** XChaCha20-Poly1305 with a random 192-bit nonce (safe to draw at random, unlike
//!   the 96-bit nonce of AES-GCM). A sealed value is `KEYID.BASE64URL(nonce ‖ ciphertext)`, so
//!   old rows keep naming the key that opens them while new rows use the current key. The
//!   associated data binds a ciphertext to its column and row: a value copied into another
//!   row does not open.
//! - **Blind indexes:** HMAC-SHA256 under a separate index key, for uniqueness and lookups
//!   ("one person, one code") without storing the clear value. The index key cannot rotate
//!   without recomputing every index; the data keys can.
//! - **Tokens:** bearer tokens are 256 random bits; only their SHA-256 is stored.
//!
//! Invariant: nothing here logs, and no type here implements `Debug` with key material.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("no data key configured")]
    NoKeys,
    #[error("data key {0:?}: expected KEYID:BASE64 with a key id of 1–32 letters, digits, _ or -")]
    KeySyntax(String),
    #[error("key {0:?}: a key is 32 bytes in standard base64")]
    KeyLength(String),
    #[error("data key id {0:?} appears twice")]
    DuplicateKeyId(String),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value names key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("sealed value does not open (wrong key, or moved to another row)")]
    Tampered,
}

/// The field-encryption and blind-index keys of one deployment.
pub struct Vault {
    current: String,
    keys: HashMap<String, XChaCha20Poly1305>,
    /// HMAC-SHA256 already keyed with the index key: cloning it skips hashing the padded key
    /// again for every value (about a third of the work for a short value, felt by bulk imports).
    index_mac: Hmac<Sha256>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("current_key_id", &self.current).finish_non_exhaustive()
    }
}

fn valid_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Decodes a 32-byte key written in standard base64.
pub fn decode_key(name: &str, b64: &str) -> Result<[u8; 32], VaultError> {
    STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| VaultError::KeyLength(name.to_string()))
}

/// Encodes a key the way [`decode_key`] reads it.
pub fn encode_key(key: &[u8; 32]) -> String {
    STANDARD.encode(key)
}

impl Vault {
    /// `data_keys` in order of preference: the first seals, all open. Each is `KEYID:BASE64`.
    pub fn from_config(data_keys: &[String], index_key_b64: &str) -> Result<Self, VaultError> {
        let mut parsed = Vec::new();
        for spec in data_keys {
            let (id, b64) = spec.split_once(':').ok_or_else(|| VaultError::KeySyntax(redact(spec)))?;
            if !valid_key_id(id) {
                return Err(VaultError::KeySyntax(redact(spec)));
            }
            parsed.push((id.to_string(), decode_key(id, b64)?));
        }
        Self::new(parsed, decode_key("index", index_key_b64)?)
    }

    pub fn new(data_keys: Vec<(String, [u8; 32])>, index_key: [u8; 32]) -> Result<Self, VaultError> {
        let current = data_keys.first().ok_or(VaultError::NoKeys)?.0.clone();
        let mut keys = HashMap::new();
        for (id, key) in data_keys {
            if !valid_key_id(&id) {
                return Err(VaultError::KeySyntax(id));
            }
            if keys.insert(id.clone(), XChaCha20Poly1305::new(&key.into())).is_some() {
                return Err(VaultError::DuplicateKeyId(id));
            }
        }
        let index_mac = <Hmac<Sha256> as Mac>::new_from_slice(&index_key).expect("any key length");
        Ok(Self { current, keys, index_mac })
    }

    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    /// Encrypts `plaintext`; `context` names the column and row (e.g. `person.id_number:<subject>`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let nonce = random::<NONCE_LEN>();
        let cipher = &self.keys[&self.current];
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory sizes");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{}.{}", self.current, URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, VaultError> {
        let (id, b64) = sealed.split_once('.').ok_or(VaultError::Malformed)?;
        let cipher = self.keys.get(id).ok_or_else(|| VaultError::UnknownKey(id.to_string()))?;
        let blob = URL_SAFE_NO_PAD.decode(b64).map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(VaultError::Malformed);
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| VaultError::Tampered)
    }

    pub fn open_string(&self, context: &str, sealed: &str) -> Result<String, VaultError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| VaultError::Malformed)
    }

    /// Whether a sealed value was made with an older key and should be sealed again.
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed.split_once('.').is_none_or(|(id, _)| id != self.current)
    }

    /// Keyed hash of `value` in a named domain (`id_number`, `phone`, `otp`…): equal values give
    /// equal indexes, and without the key nobody can test a guess.
    pub fn blind_index(&self, domain: &str, value: &str) -> Vec<u8> {
        let mut mac = self.index_mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// Shows the key id of a malformed key spec but never the key.
fn redact(spec: &str) -> String {
    spec.split(':').next().unwrap_or("").chars().take(32).collect()
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}

/// A new bearer token: `prefix` and 43 base64url characters (256 bits). The prefix tells
/// kinds of token apart (and lets secret scanners recognise them).
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random::<32>()))
}

/// What is stored for a bearer token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(keys: &[(&str, u8)]) -> Vault {
        Vault::new(keys.iter().map(|(id, b)| (id.to_string(), [*b; 32])).collect(), [9; 32]).unwrap()
    }

    #[test]
    fn seals_and_opens_with_context() {
        let v = vault(&[("k1", 1)]);
        let s = v.seal("person.id_number:s1", b"11010519491231002X");
        assert!(s.starts_with("k1."));
        assert!(!s.contains("11010519491231002X"));
        assert_eq!(v.open("person.id_number:s1", &s).unwrap(), b"11010519491231002X");
        assert_eq!(v.open("person.id_number:s2", &s), Err(VaultError::Tampered));
        assert_ne!(s, v.seal("person.id_number:s1", b"11010519491231002X"), "nonces are random");
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let old = vault(&[("k1", 1)]);
        let sealed = old.seal("c", b"secret");
        let rotated = vault(&[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.open("c", &sealed).unwrap(), b"secret");
        assert!(rotated.is_stale(&sealed));
        assert!(rotated.seal("c", b"x").starts_with("k2."));
        let without_old = vault(&[("k2", 2)]);
        assert_eq!(without_old.open("c", &sealed), Err(VaultError::UnknownKey("k1".into())));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let v = vault(&[("k1", 1)]);
        let s = v.seal("c", b"13800138000");
        let (id, b64) = s.split_once('.').unwrap();
        let blob = URL_SAFE_NO_PAD.decode(b64).unwrap();
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 1;
            let forged = format!("{id}.{}", URL_SAFE_NO_PAD.encode(b));
            assert!(v.open("c", &forged).is_err(), "byte {i}");
        }
        assert_eq!(v.open("c", "garbage"), Err(VaultError::Malformed));
    }

    #[test]
    fn blind_indexes_depend_on_key_domain_and_value() {
        let a = vault(&[("k1", 1)]);
        let b = Vault::new(vec![("k1".into(), [1; 32])], [8; 32]).unwrap();
        assert_eq!(a.blind_index("id", "x"), a.blind_index("id", "x"));
        assert_ne!(a.blind_index("id", "x"), a.blind_index("phone", "x"));
        assert_ne!(a.blind_index("id", "x"), b.blind_index("id", "x"));
    }

    #[test]
    fn blind_index_is_hmac_sha256_of_domain_nul_value() {
        // The pre-keyed MAC must give what a MAC keyed afresh gives: stored indexes depend on it.
        let v = vault(&[("k1", 1)]);
        let mut fresh = <Hmac<Sha256> as Mac>::new_from_slice(&[9; 32]).unwrap();
        fresh.update(b"phone\x0013800138000");
        assert_eq!(v.blind_index("phone", "13800138000"), fresh.finalize().into_bytes().to_vec());
        assert_eq!(v.blind_index("phone", "13800138000"), v.blind_index("phone", "13800138000"));
    }

    #[test]
    fn config_errors_name_the_key_but_never_show_it() {
        let key = encode_key(&[7; 32]);
        let v = Vault::from_config(&[format!("main:{key}")], &key).unwrap();
        assert_eq!(v.current_key_id(), "main");
        let e = Vault::from_config(&[format!("bad id:{key}")], &key).unwrap_err();
        assert!(!e.to_string().contains(&key));
        assert_eq!(Vault::from_config(&["k:c2hvcnQ=".into()], &key).unwrap_err(), VaultError::KeyLength("k".into()));
        assert_eq!(Vault::from_config(&[], &key).unwrap_err(), VaultError::NoKeys);
        let dup = [format!("a:{key}"), format!("a:{key}")];
        assert_eq!(Vault::from_config(&dup, &key).unwrap_err(), VaultError::DuplicateKeyId("a".into()));
    }
}
