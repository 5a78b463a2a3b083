//! The claims of a health code, as a CBOR Web Token (RFC 8392) claims map.
//!
//! ```text
//! {  1 (iss): "420100/hc1"            issuing region (GB/T 2260) "/" node name
//!    2 (sub): "s…"                    the subject's pseudonym
//!    4 (exp): 1800000180              expiry, seconds since the epoch
//!    6 (iat): 1800000000              issued at
//!   -65537 (healthcode, private use): {
//!      1: "张*三"                     masked name
//!      2: 0 | 1 | 2                   color: green, yellow, red (absent on paper codes)
//!      3: 1799990000                  color since (absent on paper codes)
//!      4: h'…'                        rule-set version: first 8 bytes of its SHA-256
//!      5: 0 | 1                       kind: phone code, paper code
//!      6: { 1: 20260301, 2: 3 }       optional summary: last negative test (YYYYMMDD), doses
//! } }
//! ```
//! `docs/token-format.md` is the full specification. Unknown keys are refused: a verifier
//! that ignored them could be shown claims it does not understand.

use chrono::{DateTime, Utc};
use ciborium::Value;
use healthcode_core::{Color, RegionCode};

/// Private-use claim key (below -65536, per the CWT claims registry) holding our claims.
pub const HEALTHCODE_CLAIM: i64 = -65537;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// Shown on a phone: short-lived, carries the color.
    Phone,
    /// Printed for people without phones: long-lived, no color; verifiers ask the issuer.
    Paper,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Date of the last negative test, as YYYYMMDD.
    pub last_negative_test: Option<u32>,
    pub vaccine_doses: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthClaims {
    /// Region the issuer issues for.
    pub issuer_region: RegionCode,
    /// Name of the issuing node within the region.
    pub issuer_node: String,
    pub subject: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub masked_name: String,
    pub kind: CodeKind,
    /// `None` on paper codes.
    pub color: Option<Color>,
    pub color_since: Option<DateTime<Utc>>,
    /// First 8 bytes of the SHA-256 of the rule set that gave the color.
    #[serde(serialize_with = "hex_bytes")]
    pub rule_set_version: [u8; 8],
    pub summary: Option<Summary>,
}

fn hex_bytes<S: serde::Serializer>(b: &[u8; 8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::alg::hex(b))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("claims: {0}")]
pub struct ClaimsError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ClaimsError> {
    Err(ClaimsError(msg.into()))
}

fn int(v: i64) -> Value {
    Value::Integer(v.into())
}

fn color_code(c: Color) -> i64 {
    match c {
        Color::Green => 0,
        Color::Yellow => 1,
        Color::Red => 2,
    }
}

impl HealthClaims {
    pub fn issuer(&self) -> String {
        format!("{}/{}", self.issuer_region, self.issuer_node)
    }

    pub fn to_cbor(&self) -> Vec<u8> {
        let mut hc = vec![(int(1), Value::Text(self.masked_name.clone()))];
        if let Some(c) = self.color {
            hc.push((int(2), int(color_code(c))));
        }
        if let Some(s) = self.color_since {
            hc.push((int(3), int(s.timestamp())));
        }
        hc.push((int(4), Value::Bytes(self.rule_set_version.to_vec())));
        hc.push((int(5), int(if self.kind == CodeKind::Paper { 1 } else { 0 })));
        if let Some(s) = &self.summary {
            let mut m = Vec::new();
            if let Some(t) = s.last_negative_test {
                m.push((int(1), int(t.into())));
            }
            if let Some(d) = s.vaccine_doses {
                m.push((int(2), int(d.into())));
            }
            hc.push((int(6), Value::Map(m)));
        }
        let map = Value::Map(vec![
            (int(1), Value::Text(self.issuer())),
            (int(2), Value::Text(self.subject.clone())),
            (int(4), int(self.expires_at.timestamp())),
            (int(6), int(self.issued_at.timestamp())),
            (int(HEALTHCODE_CLAIM), Value::Map(hc)),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&map, &mut out).expect("writing to a Vec");
        out
    }

    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ClaimsError> {
        let value: Value = ciborium::from_reader(bytes).map_err(|e| ClaimsError(format!("not CBOR: {e}")))?;
        let Value::Map(entries) = value else { return err("not a map") };
        let (mut iss, mut sub, mut exp, mut iat, mut hc) = (None, None, None, None, None);
        for (k, v) in entries {
            let key = key_of(&k)?;
            let slot = match key {
                1 => &mut iss,
                2 => &mut sub,
                4 => &mut exp,
                6 => &mut iat,
                HEALTHCODE_CLAIM => &mut hc,
                other => return err(format!("unknown claim {other}")),
            };
            if slot.replace(v).is_some() {
                return err(format!("claim {key} appears twice"));
            }
        }
        let iss = text(iss, "iss")?;
        let (region, node) = iss.split_once('/').ok_or_else(|| ClaimsError("iss is not REGION/NODE".into()))?;
        let issuer_region = RegionCode::parse(region).map_err(|e| ClaimsError(format!("iss: {e}")))?;
        let Some(Value::Map(hc)) = hc else { return err("the healthcode claim is missing or not a map") };
        let (mut name, mut color, mut since, mut rsv, mut kind, mut summary) = (None, None, None, None, None, None);
        for (k, v) in hc {
            let key = key_of(&k)?;
            let slot = match key {
                1 => &mut name,
                2 => &mut color,
                3 => &mut since,
                4 => &mut rsv,
                5 => &mut kind,
                6 => &mut summary,
                other => return err(format!("unknown healthcode claim {other}")),
            };
            if slot.replace(v).is_some() {
                return err(format!("healthcode claim {key} appears twice"));
            }
        }
        let kind = match integer(kind, "kind")? {
            0 => CodeKind::Phone,
            1 => CodeKind::Paper,
            k => return err(format!("unknown kind {k}")),
        };
        let color = match color {
            None => None,
            Some(v) => Some(match integer(Some(v), "color")? {
                0 => Color::Green,
                1 => Color::Yellow,
                2 => Color::Red,
                c => return err(format!("unknown color {c}")),
            }),
        };
        let color_since = since.map(|v| time(Some(v), "color since")).transpose()?;
        match kind {
            CodeKind::Phone if color.is_none() || color_since.is_none() => {
                return err("a phone code carries its color");
            }
            CodeKind::Paper if color.is_some() || color_since.is_some() => return err("a paper code carries no color"),
            _ => {}
        }
        let Some(Value::Bytes(rsv)) = rsv else { return err("rule-set version is missing or not bytes") };
        let rule_set_version =
            <[u8; 8]>::try_from(rsv.as_slice()).map_err(|_| ClaimsError("rule-set version is not 8 bytes".into()))?;
        let summary = match summary {
            None => None,
            Some(Value::Map(m)) => {
                let mut s = Summary { last_negative_test: None, vaccine_doses: None };
                for (k, v) in m {
                    match key_of(&k)? {
                        1 => {
                            s.last_negative_test = Some(
                                u32::try_from(integer(Some(v), "last test")?)
                                    .map_err(|_| ClaimsError("last test out of range".into()))?,
                            )
                        }
                        2 => {
                            s.vaccine_doses = Some(
                                u8::try_from(integer(Some(v), "doses")?)
                                    .map_err(|_| ClaimsError("doses out of range".into()))?,
                            )
                        }
                        other => return err(format!("unknown summary key {other}")),
                    }
                }
                Some(s)
            }
            Some(_) => return err("summary is not a map"),
        };
        let masked_name = text(name, "masked name")?;
        if masked_name.chars().count() > 64 {
            return err("masked name too long");
        }
        let node = node.to_string();
        if node.is_empty() || node.len() > 32 {
            return err("iss node must be 1–32 characters");
        }
        Ok(Self {
            issuer_region,
            issuer_node: node,
            subject: text(sub, "sub")?,
            issued_at: time(iat, "iat")?,
            expires_at: time(exp, "exp")?,
            masked_name,
            kind,
            color,
            color_since,
            rule_set_version,
            summary,
        })
    }
}

fn key_of(k: &Value) -> Result<i64, ClaimsError> {
    match k {
        Value::Integer(i) => i64::try_from(*i).map_err(|_| ClaimsError("claim key out of range".into())),
        _ => err("claim keys are integers"),
    }
}

fn integer(v: Option<Value>, what: &str) -> Result<i64, ClaimsError> {
    match v {
        Some(Value::Integer(i)) => i64::try_from(i).map_err(|_| ClaimsError(format!("{what} out of range"))),
        Some(_) => err(format!("{what} is not an integer")),
        None => err(format!("{what} is missing")),
    }
}

fn text(v: Option<Value>, what: &str) -> Result<String, ClaimsError> {
    match v {
        Some(Value::Text(t)) if !t.is_empty() => Ok(t),
        Some(_) => err(format!("{what} is not a non-empty text")),
        None => err(format!("{what} is missing")),
    }
}

fn time(v: Option<Value>, what: &str) -> Result<DateTime<Utc>, ClaimsError> {
    let secs = integer(v, what)?;
    DateTime::from_timestamp(secs, 0).ok_or_else(|| ClaimsError(format!("{what} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(kind: CodeKind) -> HealthClaims {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        HealthClaims {
            issuer_region: RegionCode::parse("420100").unwrap(),
            issuer_node: "hc1".into(),
            subject: "s0123456789abcdefghjkmnpqrs".into(),
            issued_at: t,
            expires_at: t + chrono::Duration::seconds(180),
            masked_name: "张*三".into(),
            kind,
            color: (kind == CodeKind::Phone).then_some(Color::Yellow),
            color_since: (kind == CodeKind::Phone).then_some(t - chrono::Duration::days(2)),
            rule_set_version: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
            summary: Some(Summary { last_negative_test: Some(20270114), vaccine_doses: Some(3) }),
        }
    }

    #[test]
    fn round_trip() {
        for kind in [CodeKind::Phone, CodeKind::Paper] {
            let c = sample(kind);
            assert_eq!(HealthClaims::from_cbor(&c.to_cbor()).unwrap(), c);
        }
        let c = HealthClaims { summary: None, ..sample(CodeKind::Phone) };
        assert_eq!(HealthClaims::from_cbor(&c.to_cbor()).unwrap(), c);
    }

    #[test]
    fn refuses_inconsistent_or_unknown_claims() {
        let paper_with_color = HealthClaims { kind: CodeKind::Paper, ..sample(CodeKind::Phone) };
        assert!(HealthClaims::from_cbor(&paper_with_color.to_cbor()).is_err());
        let mut extra = Vec::new();
        let v = Value::Map(vec![(int(99), int(1))]);
        ciborium::into_writer(&v, &mut extra).unwrap();
        assert_eq!(HealthClaims::from_cbor(&extra), err("unknown claim 99"));
        assert!(HealthClaims::from_cbor(b"\xff").is_err());
    }
}
