//! The issuer's public keys (`/.well-known/jwks.json`) and, for keys that announce one
//! (`crlVersion`), its revocation list (`/.well-known/crl/<kid>.json`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::VerifyingKey;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("no usable ES256 (EC P-256) signing key in the JWKS")]
    NoKeys,
    #[error("key {kid:?}: {message}")]
    Key { kid: String, message: String },
    #[error("revocation list: {0}")]
    Crl(String),
}

impl JwksError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Crl(_) => "crl_invalid",
            _ => "jwks_invalid",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Jwk {
    pub kid: String,
    pub key: VerifyingKey,
    /// Set when the issuer publishes a revocation list for this key.
    pub crl_version: Option<u64>,
}

/// One revocation list: revoked `rid`s, each optionally with a time (`rid.ts`): cards issued
/// (`nbf`) before that time are revoked, later ones are not.
#[derive(Debug, Clone)]
pub(super) struct Crl {
    pub kid: String,
    pub ctr: u64,
    pub rids: Vec<(String, Option<f64>)>,
}

/// A SMART Health Cards issuer's keys (and revocation lists).
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    pub(super) keys: Vec<Jwk>,
    pub(super) crls: Vec<Crl>,
}

impl Jwks {
    /// Reads a JWKS (`{"keys": [...]}`). Keys that are not EC P-256 signing keys are skipped
    /// (a JWKS may hold others); at least one must remain. A malformed P-256 key is an error.
    pub fn from_json(text: &str) -> Result<Self, JwksError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| JwksError::Json(e.to_string()))?;
        let keys = doc.get("keys").and_then(Value::as_array).ok_or(JwksError::NoKeys)?;
        let mut out = Vec::new();
        for jwk in keys {
            let s = |k: &str| jwk.get(k).and_then(Value::as_str);
            let usable = s("kty") == Some("EC")
                && s("crv") == Some("P-256")
                && s("use").is_none_or(|u| u == "sig")
                && s("alg").is_none_or(|a| a == "ES256");
            if !usable {
                continue;
            }
            let kid = s("kid").unwrap_or_default().to_string();
            let bad = |message: &str| JwksError::Key { kid: kid.clone(), message: message.into() };
            if kid.is_empty() {
                return Err(bad("no kid"));
            }
            let coordinate = |k: &str| {
                s(k).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| bad("x and y must be 32 bytes of base64url"))
            };
            let (x, y) = (coordinate("x")?, coordinate("y")?);
            let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
            let key = VerifyingKey::from_encoded_point(&point).map_err(|_| bad("not a point on P-256"))?;
            let crl_version = match jwk.get("crlVersion") {
                None => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| bad("crlVersion is not a whole number"))?),
            };
            out.push(Jwk { kid, key, crl_version });
        }
        if out.is_empty() {
            return Err(JwksError::NoKeys);
        }
        Ok(Self { keys: out, crls: Vec::new() })
    }

    /// Adds a revocation list (`{"kid", "method": "rid", "ctr", "rids"}`) for one of the keys.
    pub fn with_crl(mut self, text: &str) -> Result<Self, JwksError> {
        let bad = |m: &str| JwksError::Crl(m.into());
        let doc: Value = serde_json::from_str(text).map_err(|e| JwksError::Crl(format!("not JSON: {e}")))?;
        let kid = doc.get("kid").and_then(Value::as_str).ok_or_else(|| bad("no kid"))?;
        if !self.keys.iter().any(|k| k.kid == kid) {
            return Err(bad("its kid names no key of this JWKS"));
        }
        if doc.get("method").and_then(Value::as_str) != Some("rid") {
            return Err(bad("method is not \"rid\""));
        }
        let ctr = doc.get("ctr").and_then(Value::as_u64).ok_or_else(|| bad("ctr is not a whole number"))?;
        let mut rids = Vec::new();
        for rid in doc.get("rids").and_then(Value::as_array).ok_or_else(|| bad("no rids"))? {
            let rid = rid.as_str().ok_or_else(|| bad("a rid is not text"))?;
            rids.push(match rid.split_once('.') {
                Some((id, ts)) => {
                    (id.to_string(), Some(ts.parse::<f64>().map_err(|_| bad("a rid's time is not a number"))?))
                }
                None => (rid.to_string(), None),
            });
        }
        self.crls.retain(|c| c.kid != kid);
        self.crls.push(Crl { kid: kid.to_string(), ctr, rids });
        Ok(self)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, in file order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = r#"{"kty":"EC","kid":"k1","use":"sig","alg":"ES256","crv":"P-256",
        "x":"11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw","y":"eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8","crlVersion":1}"#;

    #[test]
    fn reads_keys_and_skips_other_kinds() {
        let jwks = Jwks::from_json(&format!(r#"{{"keys":[{KEY},{{"kty":"RSA","kid":"r"}}]}}"#)).unwrap();
        assert_eq!(jwks.kids().collect::<Vec<_>>(), ["k1"]);
        assert_eq!(jwks.keys[0].crl_version, Some(1));
        assert_eq!(Jwks::from_json(r#"{"keys":[]}"#).unwrap_err(), JwksError::NoKeys);
        assert!(matches!(Jwks::from_json("[").unwrap_err(), JwksError::Json(_)));
        let off_curve =
            KEY.replace("eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8", "eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy0");
        assert!(matches!(Jwks::from_json(&format!(r#"{{"keys":[{off_curve}]}}"#)), Err(JwksError::Key { .. })));
    }

    #[test]
    fn reads_revocation_lists() {
        let jwks = Jwks::from_json(&format!(r#"{{"keys":[{KEY}]}}"#)).unwrap();
        let jwks = jwks.with_crl(r#"{"kid":"k1","method":"rid","ctr":1,"rids":["a.1687450765","b"]}"#).unwrap();
        assert_eq!(jwks.crls[0].rids, [("a".to_string(), Some(1_687_450_765.0)), ("b".to_string(), None)]);
        assert!(jwks.clone().with_crl(r#"{"kid":"other","method":"rid","ctr":1,"rids":[]}"#).is_err());
        assert!(jwks.clone().with_crl(r#"{"kid":"k1","method":"x","ctr":1,"rids":[]}"#).is_err());
        assert!(jwks.with_crl(r#"{"kid":"k1","method":"rid","ctr":1,"rids":["a.soon"]}"#).is_err());
    }
}
