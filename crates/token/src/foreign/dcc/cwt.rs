//! The DCC's CWT claims: issuer (1), expiry (4), issued-at (6) and the health certificate
//! (-260 → 1 → the DCC payload as JSON).

use chrono::{DateTime, Utc};
use ciborium::value::Value;

use super::super::cbor;

const ISS: i64 = 1;
const EXP: i64 = 4;
const IAT: i64 = 6;
const HCERT: i64 = -260;
const EU_DCC_V1: i64 = 1;

#[derive(Debug, Clone)]
pub struct Cwt {
    pub iss: Option<String>,
    pub iat: Option<DateTime<Utc>>,
    pub exp: Option<DateTime<Utc>>,
    /// iat and exp as the credential wrote them, for the report.
    pub iat_json: serde_json::Value,
    pub exp_json: serde_json::Value,
    /// The DCC payload (the object the JSON schema describes).
    pub dcc: serde_json::Value,
}

/// A NumericDate. The eHN quality check I-CO4 asks issuers for integers, but HU/1–4 (VALID
/// cases) write floats with fractions, which the upstream harness reads as seconds; so do we.
fn time(v: Option<&Value>, name: &str) -> Result<(Option<DateTime<Utc>>, serde_json::Value), String> {
    let out_of_range = || format!("{name} out of range");
    match v {
        None => Ok((None, serde_json::Value::Null)),
        Some(Value::Integer(i)) => {
            let secs = i64::try_from(*i).map_err(|_| out_of_range())?;
            Ok((Some(DateTime::from_timestamp(secs, 0).ok_or_else(out_of_range)?), secs.into()))
        }
        Some(Value::Float(f)) if f.is_finite() && f.abs() < 1e15 => {
            let secs = f.floor();
            let nanos = ((f - secs) * 1e9) as u32;
            let at = DateTime::from_timestamp(secs as i64, nanos.min(999_999_999)).ok_or_else(out_of_range)?;
            Ok((Some(at), serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default()))
        }
        Some(_) => Err(format!("{name} is not a number")),
    }
}

pub fn parse(payload: &[u8]) -> Result<Cwt, String> {
    let Value::Map(claims) = cbor::read_one(payload)? else {
        return Err("the CWT payload is not a CBOR map".into());
    };
    let iss = match cbor::map_get(&claims, ISS)? {
        None => None,
        Some(Value::Text(s)) => Some(s.clone()),
        Some(_) => return Err("iss is not text".into()),
    };
    let (exp, exp_json) = time(cbor::map_get(&claims, EXP)?, "exp")?;
    let (iat, iat_json) = time(cbor::map_get(&claims, IAT)?, "iat")?;
    let Some(Value::Map(hcert)) = cbor::map_get(&claims, HCERT)? else {
        return Err("no health certificate (claim -260)".into());
    };
    let dcc = cbor::map_get(hcert, EU_DCC_V1)?.ok_or("no EU DCC v1 (claim -260 key 1)")?;
    let dcc = cbor::to_json(dcc).map_err(|e| format!("DCC payload: {e}"))?;
    if !dcc.is_object() {
        return Err("the DCC payload is not a map".into());
    }
    Ok(Cwt { iss, iat, exp, iat_json, exp_json, dcc })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(&v, &mut out).unwrap();
        out
    }

    fn claims(extra: Vec<(Value, Value)>) -> Vec<u8> {
        let dcc = Value::Map(vec![(Value::Text("ver".into()), Value::Text("1.3.0".into()))]);
        let mut map = vec![
            (Value::Integer(1.into()), Value::Text("AT".into())),
            (Value::Integer(6.into()), Value::Integer(1_600_000_000.into())),
            (Value::Integer((-260).into()), Value::Map(vec![(Value::Integer(1.into()), dcc)])),
        ];
        map.extend(extra);
        encode(Value::Map(map))
    }

    #[test]
    fn reads_the_claims() {
        let c = parse(&claims(vec![])).unwrap();
        assert_eq!(c.iss.as_deref(), Some("AT"));
        assert_eq!(c.iat.map(|t| t.timestamp()), Some(1_600_000_000));
        assert_eq!((c.exp, c.iat_json.clone()), (None, serde_json::json!(1_600_000_000)));
        let float = parse(&claims(vec![(Value::Integer(4.into()), Value::Float(1.5))])).unwrap();
        assert_eq!(float.exp.unwrap().timestamp_subsec_millis(), 500);
        assert_eq!(c.dcc["ver"], "1.3.0");
    }

    #[test]
    fn refuses_malformed_claims() {
        assert!(parse(&claims(vec![(Value::Integer(4.into()), Value::Float(f64::INFINITY))])).is_err());
        assert!(parse(&claims(vec![(Value::Integer(4.into()), Value::Text("soon".into()))])).is_err());
        assert!(parse(&claims(vec![(Value::Integer(1.into()), Value::Text("DE".into()))])).is_err());
        assert!(parse(&encode(Value::Array(vec![]))).is_err());
        assert!(parse(&encode(Value::Map(vec![]))).unwrap_err().contains("-260"));
        assert!(parse(b"").is_err());
    }
}
