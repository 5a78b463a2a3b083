//! Signature algorithms our codes use, and their keys. Only these two are ever accepted for
//! our own tokens: an algorithm named in a token is checked against this allow-list before
//! any key is looked up (coset does no crypto and checks nothing itself).

use std::fmt;

use ed25519_dalek::{Signer as _, Verifier as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// Ed25519 (COSE -8): the default; small keys, fast, deterministic.
    EdDSA,
    /// ECDSA P-256 with SHA-256 (COSE -7): what the EU DCC uses, for partners who need it.
    ES256,
}

impl Alg {
    pub fn cose(&self) -> coset::iana::Algorithm {
        match self {
            Self::EdDSA => coset::iana::Algorithm::EdDSA,
            Self::ES256 => coset::iana::Algorithm::ES256,
        }
    }

    pub fn from_cose(alg: &coset::Algorithm) -> Option<Self> {
        match alg {
            coset::Algorithm::Assigned(coset::iana::Algorithm::EdDSA) => Some(Self::EdDSA),
            coset::Algorithm::Assigned(coset::iana::Algorithm::ES256) => Some(Self::ES256),
            _ => None,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "eddsa" | "ed25519" => Some(Self::EdDSA),
            "es256" | "p256" | "p-256" => Some(Self::ES256),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{alg} key has the wrong length or encoding")]
    Encoding { alg: Alg },
}

/// A private signing key. `Debug` shows only the algorithm and key id.
#[derive(Clone)]
pub enum SecretKey {
    EdDSA(ed25519_dalek::SigningKey),
    ES256(p256::ecdsa::SigningKey),
}

/// A public verifying key.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    EdDSA(ed25519_dalek::VerifyingKey),
    ES256(p256::ecdsa::VerifyingKey),
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate(alg: Alg) -> Self {
        loop {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).expect("the operating system's random source is available");
            if let Ok(k) = Self::from_bytes(alg, &seed) {
                return k;
            }
        }
    }

    /// Ed25519: the 32-byte seed; ES256: the 32-byte scalar.
    pub fn from_bytes(alg: Alg, bytes: &[u8]) -> Result<Self, KeyError> {
        match alg {
            Alg::EdDSA => <[u8; 32]>::try_from(bytes)
                .map(|b| Self::EdDSA(ed25519_dalek::SigningKey::from_bytes(&b)))
                .map_err(|_| KeyError::Encoding { alg }),
            Alg::ES256 => {
                p256::ecdsa::SigningKey::from_slice(bytes).map(Self::ES256).map_err(|_| KeyError::Encoding { alg })
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::EdDSA(k) => k.to_bytes().to_vec(),
            Self::ES256(k) => k.to_bytes().to_vec(),
        }
    }

    pub fn alg(&self) -> Alg {
        match self {
            Self::EdDSA(_) => Alg::EdDSA,
            Self::ES256(_) => Alg::ES256,
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            Self::EdDSA(k) => PublicKey::EdDSA(k.verifying_key()),
            Self::ES256(k) => PublicKey::ES256(*k.verifying_key()),
        }
    }

    /// Signs `msg`: 64 bytes for both algorithms (ES256 as r‖s, as COSE wants).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::EdDSA(k) => k.sign(msg).to_bytes().to_vec(),
            Self::ES256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_bytes().to_vec()
            }
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, kid {})", self.alg(), hex(&self.public().kid()))
    }
}

impl PublicKey {
    /// Ed25519: 32 bytes; ES256: SEC1 (compressed or uncompressed).
    pub fn from_bytes(alg: Alg, bytes: &[u8]) -> Result<Self, KeyError> {
        match alg {
            Alg::EdDSA => <[u8; 32]>::try_from(bytes)
                .ok()
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                .map(Self::EdDSA)
                .ok_or(KeyError::Encoding { alg }),
            Alg::ES256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(Self::ES256)
                .map_err(|_| KeyError::Encoding { alg }),
        }
    }

    /// Ed25519: 32 bytes; ES256: 33-byte compressed SEC1.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::EdDSA(k) => k.to_bytes().to_vec(),
            Self::ES256(k) => k.to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    pub fn alg(&self) -> Alg {
        match self {
            Self::EdDSA(_) => Alg::EdDSA,
            Self::ES256(_) => Alg::ES256,
        }
    }

    /// Key id: the first 8 bytes of SHA-256 over the algorithm name and the public key, so
    /// the same bytes under two algorithms never share an id.
    pub fn kid(&self) -> [u8; 8] {
        let mut h = Sha256::new();
        h.update(self.alg().to_string().as_bytes());
        h.update([0]);
        h.update(self.to_bytes());
        h.finalize()[..8].try_into().expect("8 bytes")
    }

    /// Strict verification: Ed25519 `verify_strict` (no small-order keys, canonical S);
    /// ES256 fixed-size r‖s.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::EdDSA(k) => ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify_strict(msg, &s).is_ok()),
            Self::ES256(k) => p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, kid {})", self.alg(), hex(&self.kid()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_sign_and_verify_strictly() {
        for alg in [Alg::EdDSA, Alg::ES256] {
            let k = SecretKey::generate(alg);
            let sig = k.sign(b"msg");
            assert_eq!(sig.len(), 64);
            let public = PublicKey::from_bytes(alg, &k.public().to_bytes()).unwrap();
            assert!(public.verify(b"msg", &sig));
            assert!(!public.verify(b"msh", &sig));
            let again = SecretKey::from_bytes(alg, &k.to_bytes()).unwrap();
            assert_eq!(again.public(), k.public());
            assert!(!format!("{k:?}").contains(&hex(&k.to_bytes())));
        }
        let e = SecretKey::generate(Alg::EdDSA).public();
        assert_ne!(e.kid(), SecretKey::generate(Alg::EdDSA).public().kid());
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
    }
}
