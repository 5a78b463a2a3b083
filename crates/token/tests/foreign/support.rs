//! Helpers shared by the conformance runners: reading case files, the test clocks' many time
//! formats, and comparing decoded payloads with the cases' JSON.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::generated::CONFORMANCE_DIR;

pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(CONFORMANCE_DIR).join(rel)
}

pub fn read(rel: &str) -> String {
    let p = path(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

pub fn read_json(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// ISO 8601 as the test cases write it: `Z`, `+02:00`, `+0200`, `+02`, 0–9 fraction digits,
/// or no offset at all (UTC, as the upstream harness assumes).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let (local, offset) = if let Some(local) = text.strip_suffix('Z') {
        (local, 0)
    } else {
        let t = text.find('T')?;
        match text[t..].rfind(['+', '-']) {
            Some(i) => {
                let (local, off) = text.split_at(t + i);
                (local, offset_seconds(off)?)
            }
            None => (text, 0),
        }
    };
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
        .ok()?;
    let zone = FixedOffset::east_opt(offset)?;
    Some(zone.from_local_datetime(&naive).single()?.with_timezone(&Utc))
}

fn offset_seconds(off: &str) -> Option<i32> {
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60))
}

/// Semantic equality of a decoded payload and a case's JSON, as the upstream harness compares
/// them: numbers by value, strings equal or naming the same instant (to the second), objects
/// regardless of key order.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => {
            x == y
                || matches!((parse_instant(x), parse_instant(y)), (Some(p), Some(q)) if p.timestamp() == q.timestamp())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn instants_in_every_form_the_cases_use() {
    let utc = |s: &str| parse_instant(s).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
    assert_eq!(utc("2021-05-06T18:00:00Z").unwrap(), "2021-05-06T18:00:00.000000000Z");
    assert_eq!(utc("2021-06-08T20:17:27.9906293Z").unwrap(), "2021-06-08T20:17:27.990629300Z");
    assert_eq!(utc("2021-05-17T18:21:22").unwrap(), "2021-05-17T18:21:22.000000000Z");
    assert_eq!(utc("2021-05-17T20:21:22+02:00").unwrap(), "2021-05-17T18:21:22.000000000Z");
    assert_eq!(utc("2021-05-17T20:21:22+0200").unwrap(), "2021-05-17T18:21:22.000000000Z");
    assert_eq!(utc("2021-05-17T16:21:22-02").unwrap(), "2021-05-17T18:21:22.000000000Z");
    assert!(parse_instant("yesterday").is_none());
}
