//! The DCC's COSE_Sign1: structure (tag 18, untagged, or CWT tag 61 around it), algorithm and
//! kid from the headers, and the ES256 / PS256 signature check.
//!
//! coset parses but does no cryptography, so the algorithm allow-list and the kid are checked
//! here before any key is used.

use ciborium::value::Value;
use coset::{AsCborValue, CoseSign1, RegisteredLabelWithPrivate, iana};

use super::super::cbor;
use super::super::dsc::{Dsc, DscKey};

/// CBOR tags that may wrap a DCC's COSE_Sign1.
const TAG_CWT: u64 = 61;
const TAG_COSE_SIGN1: u64 = 18;

/// The two algorithms the DCC specification allows.
pub const ES256: i64 = -7;
pub const PS256: i64 = -37;

/// A parsed COSE_Sign1 with the header fields the verifier uses.
#[derive(Debug)]
pub struct Sign1 {
    pub inner: CoseSign1,
    /// `alg` from the protected header, else from the unprotected one.
    pub alg: Option<i64>,
    /// `kid` from the protected header, else from the unprotected one (CO18–CO23).
    pub kid: Vec<u8>,
}

pub fn parse(bytes: &[u8]) -> Result<Sign1, String> {
    let mut value = cbor::read_one(bytes)?;
    if let Value::Tag(TAG_CWT, inner) = value {
        value = *inner;
    }
    if let Value::Tag(TAG_COSE_SIGN1, inner) = value {
        value = *inner;
    }
    if let Value::Tag(tag, _) = value {
        return Err(format!("unexpected CBOR tag {tag} (want 18, optionally inside 61)"));
    }
    let inner = CoseSign1::from_cbor_value(value).map_err(|e| format!("not a COSE_Sign1: {e}"))?;
    if inner.payload.is_none() {
        return Err("detached payload".into());
    }
    if !inner.protected.header.crit.is_empty() {
        return Err("critical header parameters this verifier does not know".into());
    }
    // `alg` belongs in the protected header, but common/CO20 (a VALID case) carries it only in
    // the unprotected one. Accepting that is safe here: the allow-list admits two algorithms,
    // each bound to one key type, so an unprotected `alg` cannot make a key verify differently.
    let alg = inner.protected.header.alg.as_ref().or(inner.unprotected.alg.as_ref()).and_then(|a| match a {
        RegisteredLabelWithPrivate::Assigned(a) => Some(*a as i64),
        RegisteredLabelWithPrivate::PrivateUse(n) => Some(*n),
        RegisteredLabelWithPrivate::Text(_) => None,
    });
    let kid = if inner.protected.header.key_id.is_empty() {
        inner.unprotected.key_id.clone()
    } else {
        inner.protected.header.key_id.clone()
    };
    Ok(Sign1 { inner, alg, kid })
}

/// Why a signature did not verify with one DSC.
#[derive(Debug, PartialEq, Eq)]
pub enum SigFailure {
    /// The algorithm does not fit the key (e.g. PS256 against an EC key: CO27).
    KeyMismatch,
    Invalid,
}

/// Checks the signature strictly: ES256 is 64 bytes r‖s (no DER fallback), PS256 uses a
/// 32-byte salt (RFC 8230) and a signature exactly as long as the modulus.
pub fn verify(sign1: &Sign1, alg: i64, dsc: &Dsc) -> Result<(), SigFailure> {
    let tbs = sign1.inner.tbs_data(b"");
    let sig = &sign1.inner.signature;
    match (alg, &dsc.key) {
        (ES256, DscKey::P256(key)) => {
            use p256::ecdsa::signature::Verifier;
            let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| SigFailure::Invalid)?;
            key.verify(&tbs, &sig).map_err(|_| SigFailure::Invalid)
        }
        (PS256, DscKey::Rsa(key)) => {
            use rsa::signature::Verifier;
            use rsa::traits::PublicKeyParts;
            if sig.len() != key.size() {
                return Err(SigFailure::Invalid);
            }
            let sig = rsa::pss::Signature::try_from(sig.as_slice()).map_err(|_| SigFailure::Invalid)?;
            rsa::pss::VerifyingKey::<sha2::Sha256>::new(key.clone()).verify(&tbs, &sig).map_err(|_| SigFailure::Invalid)
        }
        _ => Err(SigFailure::KeyMismatch),
    }
}

/// Human name of an allowed algorithm, for messages.
pub fn alg_name(alg: i64) -> &'static str {
    match alg {
        ES256 => "ES256",
        PS256 => "PS256",
        a if a == iana::Algorithm::EdDSA as i64 => "EdDSA",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};

    fn sample(protected_kid: &[u8], unprotected_kid: &[u8]) -> CoseSign1 {
        CoseSign1Builder::new()
            .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).key_id(protected_kid.to_vec()).build())
            .unprotected(HeaderBuilder::new().key_id(unprotected_kid.to_vec()).build())
            .payload(vec![0xa0])
            .signature(vec![0; 64])
            .build()
    }

    #[test]
    fn accepts_tag_18_untagged_and_cwt_wrapped() {
        let tagged = sample(b"kid", b"").to_tagged_vec().unwrap();
        let untagged = sample(b"kid", b"").to_vec().unwrap();
        let mut cwt = vec![0xd8, 0x3d];
        cwt.extend_from_slice(&tagged);
        for bytes in [&tagged, &untagged, &cwt] {
            let s = parse(bytes).unwrap();
            assert_eq!((s.alg, s.kid.as_slice()), (Some(ES256), b"kid".as_slice()));
        }
        let mut other = vec![0xd8, 0x62];
        other.extend_from_slice(&untagged);
        assert!(parse(&other).unwrap_err().contains("tag 98"));
    }

    #[test]
    fn kid_falls_back_to_the_unprotected_header() {
        let s = parse(&sample(b"", b"u").to_vec().unwrap()).unwrap();
        assert_eq!(s.kid, b"u");
        let s = parse(&sample(b"p", b"u").to_vec().unwrap()).unwrap();
        assert_eq!(s.kid, b"p");
    }

    #[test]
    fn refuses_detached_payloads_and_trailing_bytes() {
        let mut detached = sample(b"k", b"");
        detached.payload = None;
        assert!(parse(&detached.to_vec().unwrap()).is_err());
        let mut trailing = sample(b"k", b"").to_vec().unwrap();
        trailing.push(0);
        assert!(parse(&trailing).is_err());
    }
}
