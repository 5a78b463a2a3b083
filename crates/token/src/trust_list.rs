//! The trust list: which issuer keys may sign codes, for which region, during which period;
//! signed by a root key that verifiers pin. Served at `/.well-known/healthcode/trust-list.json`.
//!
//! ```json
//! { "payload": "<base64url of the payload JSON>", "signature": "<base64url Ed25519>",
//!   "alg": "EdDSA", "root_kid": "<hex>" }
//! ```
//! The payload is signed as bytes, so no JSON canonicalisation is needed.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use healthcode_core::RegionCode;
use serde::{Deserialize, Serialize};

use crate::alg::{Alg, PublicKey, SecretKey, hex};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// Hex of the 8-byte key id.
    pub kid: String,
    pub alg: Alg,
    /// Standard base64 of the public key (Ed25519: 32 bytes; ES256: compressed SEC1).
    pub public_key: String,
    /// The region this key issues for; it covers every region under it.
    pub region: String,
    pub node: String,
    pub not_before: DateTime<Utc>,
    /// Until when tokens signed by this key are accepted (a retired key stays until every
    /// token it signed has expired).
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustListPayload {
    pub version: u32,
    /// Who publishes the list (a region code + node, or a national authority name).
    pub publisher: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub issuers: Vec<TrustedIssuer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTrustList {
    pub payload: String,
    pub signature: String,
    pub alg: Alg,
    pub root_kid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustListError {
    #[error("the trust list is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("the trust list carries no signature")]
    Unsigned,
    #[error("the trust list is signed by root key {found}, not the pinned root {pinned}")]
    WrongRoot { found: String, pinned: String },
    #[error("the trust list's signature does not verify: it was changed after signing")]
    BadSignature,
    #[error("the trust list expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the trust list is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("trust list entry {kid}: {why}")]
    BadEntry { kid: String, why: String },
}

impl TrustListError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "trust_list_malformed",
            Self::Unsigned => "trust_list_unsigned",
            Self::WrongRoot { .. } => "trust_list_wrong_root",
            Self::BadSignature => "trust_list_signature_invalid",
            Self::Expired(_) => "trust_list_expired",
            Self::NotYetValid(_) => "trust_list_not_yet_valid",
            Self::BadEntry { .. } => "trust_list_entry_invalid",
        }
    }
}

impl SignedTrustList {
    pub fn sign(payload: &TrustListPayload, root: &SecretKey) -> Self {
        let bytes = serde_json::to_vec(payload).expect("serialising a payload");
        Self {
            signature: URL_SAFE_NO_PAD.encode(root.sign(&bytes)),
            payload: URL_SAFE_NO_PAD.encode(bytes),
            alg: root.alg(),
            root_kid: hex(&root.public().kid()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serialising a trust list")
    }
}

/// One usable entry of a verified trust list.
#[derive(Debug, Clone)]
pub struct Trusted {
    pub key: PublicKey,
    pub region: RegionCode,
    pub node: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// A trust list whose signature, root and validity were checked.
#[derive(Debug, Clone)]
pub struct TrustList {
    pub payload: TrustListPayload,
    /// Shared, so a code opened for a batched signature check can hold its entry cheaply.
    by_kid: HashMap<Vec<u8>, Arc<Trusted>>,
}

impl TrustList {
    /// Verifies a signed trust list against the pinned root key at time `now`.
    pub fn verify(json: &str, root: &PublicKey, now: DateTime<Utc>) -> Result<Self, TrustListError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| TrustListError::Malformed(e.to_string()))?;
        if value.get("signature").is_none_or(|s| s.as_str().is_none_or(str::is_empty)) {
            return Err(TrustListError::Unsigned);
        }
        let signed: SignedTrustList =
            serde_json::from_value(value).map_err(|e| TrustListError::Malformed(e.to_string()))?;
        let pinned = hex(&root.kid());
        if signed.root_kid != pinned || signed.alg != root.alg() {
            return Err(TrustListError::WrongRoot { found: signed.root_kid, pinned });
        }
        let bytes =
            URL_SAFE_NO_PAD.decode(&signed.payload).map_err(|e| TrustListError::Malformed(format!("payload: {e}")))?;
        let sig = URL_SAFE_NO_PAD.decode(&signed.signature).map_err(|_| TrustListError::BadSignature)?;
        if !root.verify(&bytes, &sig) {
            return Err(TrustListError::BadSignature);
        }
        let payload: TrustListPayload =
            serde_json::from_slice(&bytes).map_err(|e| TrustListError::Malformed(format!("payload: {e}")))?;
        if now >= payload.expires_at {
            return Err(TrustListError::Expired(payload.expires_at));
        }
        if now < payload.issued_at - chrono::Duration::minutes(5) {
            return Err(TrustListError::NotYetValid(payload.issued_at));
        }
        Self::from_payload(payload)
    }

    /// Builds the lookup table of an already trusted payload (the issuer's own list).
    pub fn from_payload(payload: TrustListPayload) -> Result<Self, TrustListError> {
        let mut by_kid = HashMap::new();
        for e in &payload.issuers {
            let bad = |why: &str| TrustListError::BadEntry { kid: e.kid.clone(), why: why.into() };
            let raw = STANDARD.decode(&e.public_key).map_err(|_| bad("public_key is not base64"))?;
            let key = PublicKey::from_bytes(e.alg, &raw).map_err(|_| bad("public_key is not a key of its alg"))?;
            if hex(&key.kid()) != e.kid {
                return Err(bad("kid does not match the public key"));
            }
            let region = RegionCode::parse(&e.region).map_err(|_| bad("unknown region"))?;
            let trusted =
                Trusted { key, region, node: e.node.clone(), not_before: e.not_before, not_after: e.not_after };
            if by_kid.insert(trusted.key.kid().to_vec(), Arc::new(trusted)).is_some() {
                return Err(bad("listed twice"));
            }
        }
        Ok(Self { payload, by_kid })
    }

    pub fn get(&self, kid: &[u8]) -> Option<&Trusted> {
        self.by_kid.get(kid).map(|t| &**t)
    }

    pub(crate) fn get_shared(&self, kid: &[u8]) -> Option<Arc<Trusted>> {
        self.by_kid.get(kid).cloned()
    }

    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(now: DateTime<Utc>) -> TrustListPayload {
        let k = SecretKey::generate(Alg::EdDSA).public();
        TrustListPayload {
            version: 1,
            publisher: "420100/hc1".into(),
            issued_at: now,
            expires_at: now + chrono::Duration::days(7),
            issuers: vec![TrustedIssuer {
                kid: hex(&k.kid()),
                alg: Alg::EdDSA,
                public_key: STANDARD.encode(k.to_bytes()),
                region: "420100".into(),
                node: "hc1".into(),
                not_before: now,
                not_after: now + chrono::Duration::days(30),
            }],
        }
    }

    #[test]
    fn refuses_unsigned_tampered_foreign_and_expired_lists() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let root = SecretKey::generate(Alg::EdDSA);
        let signed = SignedTrustList::sign(&payload(now), &root);
        let list = TrustList::verify(&signed.to_json(), &root.public(), now).unwrap();
        assert_eq!(list.len(), 1);

        let mut unsigned = serde_json::to_value(&signed).unwrap();
        unsigned["signature"] = "".into();
        assert_eq!(
            TrustList::verify(&unsigned.to_string(), &root.public(), now).unwrap_err(),
            TrustListError::Unsigned
        );

        let mut p = payload(now);
        p.issuers[0].region = "110000".into();
        let tampered =
            SignedTrustList { payload: URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap()), ..signed.clone() };
        assert_eq!(
            TrustList::verify(&tampered.to_json(), &root.public(), now).unwrap_err(),
            TrustListError::BadSignature
        );

        let other = SecretKey::generate(Alg::EdDSA);
        let foreign = SignedTrustList::sign(&payload(now), &other);
        assert!(matches!(
            TrustList::verify(&foreign.to_json(), &root.public(), now),
            Err(TrustListError::WrongRoot { .. })
        ));

        let later = now + chrono::Duration::days(8);
        assert!(matches!(TrustList::verify(&signed.to_json(), &root.public(), later), Err(TrustListError::Expired(_))));
        assert!(matches!(TrustList::verify("nope", &root.public(), now), Err(TrustListError::Malformed(_))));
    }
}
