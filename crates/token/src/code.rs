//! Our token: `JKM1:` + Base45(zlib(COSE_Sign1(claims))). 健康码 → JianKangMa → JKM.

use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};

use crate::alg::{Alg, SecretKey};
use crate::claims::HealthClaims;

pub const PREFIX: &str = "JKM1:";

/// Signs the claims with the key; returns the QR text.
pub fn sign_token(claims: &HealthClaims, key: &SecretKey) -> String {
    let protected = HeaderBuilder::new().algorithm(key.alg().cose()).key_id(key.public().kid().to_vec()).build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(claims.to_cbor())
        .create_signature(b"", |data| key.sign(data))
        .build();
    let cose = sign1.to_tagged_vec().expect("encoding a COSE_Sign1 we built");
    format!("{PREFIX}{}", crate::base45::encode(&crate::inflate::compress(&cose)))
}

/// A parsed, not yet verified COSE_Sign1 of ours.
pub struct Parsed {
    pub sign1: CoseSign1,
    pub alg: Option<Alg>,
    pub kid: Vec<u8>,
}

/// Parses COSE bytes: the tag 18 is required, and the protected header must name the
/// algorithm and the key (an unprotected kid could be swapped without breaking the signature).
pub fn parse_cose(bytes: &[u8]) -> Result<Parsed, String> {
    let sign1 = CoseSign1::from_tagged_slice(bytes).map_err(|e| format!("not a tagged COSE_Sign1: {e}"))?;
    let alg = sign1.protected.header.alg.as_ref().ok_or("the protected header names no algorithm")?;
    let alg = Alg::from_cose(alg);
    let kid = sign1.protected.header.key_id.clone();
    if kid.is_empty() {
        return Err("the protected header names no key id".into());
    }
    if sign1.payload.is_none() {
        return Err("no payload".into());
    }
    Ok(Parsed { sign1, alg, kid })
}

/// Re-encodes a COSE_Sign1 (used by tests that tamper with tokens).
pub fn cose_bytes(sign1: CoseSign1) -> Vec<u8> {
    sign1.to_tagged_vec().unwrap_or_else(|_| Vec::new())
}

/// Encodes COSE bytes the way a token carries them (for tests that tamper with tokens).
pub fn wrap(cose: &[u8]) -> String {
    format!("{PREFIX}{}", crate::base45::encode(&crate::inflate::compress(cose)))
}
