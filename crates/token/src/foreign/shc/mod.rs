//! SMART Health Cards: `shc:/` + digit pairs → compact JWS (ES256, `zip: DEF`) → a W3C
//! verifiable credential carrying a FHIR bundle.
//!
//! The report's steps are shared with the other formats, so they map as follows:
//! `prefix` = `shc:/` and the chunk headers; `base45` = the numeric decoding (two digits per
//! character, value + 45); `cose` = the JWS structure and header; `inflate` = raw DEFLATE;
//! `signature` = ES256 with the JWKS key named by `kid`; `expiry` = `nbf` ≤ now ≤ `exp`;
//! `schema` = the payload is a SMART Health Card VC; `key_usage` = revocation, checked when
//! the caller supplied the key's revocation list ([`Jwks::with_crl`]), else null.
//! `x5c` chains in the JWKS are not evaluated: trust is the JWKS the operator supplied.

mod jwks;
mod jws;
mod numeric;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use jwks::{Jwks, JwksError};
pub use numeric::PREFIX;

use super::MAX_INPUT;
use crate::report::{Format, Report};

/// The VC type every SMART Health Card carries.
const HEALTH_CARD_TYPE: &str = "https://smarthealth.cards#health-card";

/// Verifies a `shc:/` QR text (or several chunks `shc:/C/N/…` separated by white space) at
/// time `at` against the issuer's keys.
pub fn verify_shc(input: &str, jwks: &Jwks, at: DateTime<Utc>) -> Report {
    let mut report = Report::new(Some(Format::Shc));
    if input.len() > MAX_INPUT {
        report.steps.prefix = Some(false);
        report.fail("input_too_large", format!("more than {MAX_INPUT} bytes"));
        return report.finish();
    }
    let decoded = numeric::unchunk(input).and_then(|chunks| {
        report.steps.prefix = Some(true);
        numeric::decode(&chunks)
    });
    match decoded {
        Ok(jws) => {
            report.steps.base45 = Some(true);
            check_jws(&mut report, &jws, jwks, at);
        }
        Err(e) => {
            if e.is_prefix() {
                report.steps.prefix = Some(false);
            } else {
                report.steps.base45 = Some(false);
            }
            report.fail(e.code(), e.to_string());
        }
    }
    report.finish()
}

/// Verifies the compact JWS itself (as in a `.smart-health-card` file); the `prefix` and
/// `base45` steps stay null.
pub fn verify_shc_jws(jws: &str, jwks: &Jwks, at: DateTime<Utc>) -> Report {
    let mut report = Report::new(Some(Format::Shc));
    if jws.len() > MAX_INPUT {
        report.steps.cose = Some(false);
        report.fail("input_too_large", format!("more than {MAX_INPUT} bytes"));
    } else {
        check_jws(&mut report, jws.trim(), jwks, at);
    }
    report.finish()
}

fn check_jws(report: &mut Report, text: &str, jwks: &Jwks, at: DateTime<Utc>) {
    let jws = match jws::parse(text) {
        Ok(j) => j,
        Err(e) => {
            report.steps.cose = Some(false);
            report.fail("jws_malformed", e);
            return;
        }
    };
    report.steps.cose = Some(true);
    let payload = if jws.zip.as_deref() != Some("DEF") {
        report.steps.inflate = Some(false);
        report.fail("inflate_failed", "a SMART Health Card's payload is compressed (zip: DEF)");
        None
    } else {
        match jws::inflate_raw(&jws.payload) {
            Ok(p) => {
                report.steps.inflate = Some(true);
                Some(p)
            }
            Err(e) => {
                report.steps.inflate = Some(false);
                match e {
                    jws::InflateFailure::TooLarge => report.fail("inflate_too_large", "the payload inflates too far"),
                    jws::InflateFailure::Corrupt(m) => report.fail("inflate_failed", format!("not raw DEFLATE: {m}")),
                }
                None
            }
        }
    };
    let key = check_signature(report, &jws, jwks);
    let Some(payload) = payload else { return };
    let vc = match serde_json::from_slice::<Value>(&payload) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            report.steps.schema = Some(false);
            report.fail("schema_invalid", "the payload is not a JSON object");
            return;
        }
    };
    check_expiry(report, &vc, at);
    match check_structure(&vc) {
        Ok(()) => report.steps.schema = Some(true),
        Err(e) => {
            report.steps.schema = Some(false);
            report.fail("schema_invalid", e);
        }
    }
    if let Some(key) = key {
        check_revocation(report, &vc, key, jwks);
    }
    report.claims = Some(vc);
}

/// The `signature` step; returns the key the kid names (when known) for the revocation check.
fn check_signature<'k>(report: &mut Report, jws: &jws::Jws<'_>, keys: &'k Jwks) -> Option<&'k jwks::Jwk> {
    let fail = |report: &mut Report, code, message: String| {
        report.steps.signature = Some(false);
        report.fail(code, message);
    };
    let key = jws.kid.as_deref().and_then(|kid| keys.keys.iter().find(|k| k.kid == kid));
    if jws.alg.as_deref() != Some("ES256") {
        fail(report, "alg_not_allowed", "a SMART Health Card is signed with ES256".into());
        return key;
    }
    let Some(key) = key else {
        fail(report, "kid_unknown", "the JWKS has no key with this kid".into());
        return None;
    };
    use p256::ecdsa::signature::Verifier;
    let verified = p256::ecdsa::Signature::from_slice(&jws.signature)
        .is_ok_and(|sig| key.key.verify(jws.signing_input.as_bytes(), &sig).is_ok());
    if verified {
        report.steps.signature = Some(true);
    } else {
        fail(report, "signature_invalid", "the ES256 signature does not verify".into());
    }
    Some(key)
}

/// A NumericDate (seconds, fractions allowed: the spec examples use them).
fn numeric_date(v: &Value) -> Option<DateTime<Utc>> {
    let secs = v.as_f64().filter(|s| s.is_finite() && s.abs() < 1e15)?;
    let whole = secs.floor();
    DateTime::from_timestamp(whole as i64, (((secs - whole) * 1e9) as u32).min(999_999_999))
}

/// The `expiry` step: `nbf` ≤ at, and at ≤ `exp` when the card has an expiry.
fn check_expiry(report: &mut Report, vc: &Value, at: DateTime<Utc>) {
    let Some(nbf) = vc.get("nbf").and_then(numeric_date) else {
        report.steps.expiry = Some(false);
        report.fail("claims_invalid", "a SMART Health Card carries nbf");
        return;
    };
    let exp = match vc.get("exp") {
        None => None,
        Some(v) => match numeric_date(v) {
            Some(t) => Some(t),
            None => {
                report.steps.expiry = Some(false);
                report.fail("claims_invalid", "exp is not a NumericDate");
                return;
            }
        },
    };
    let problem = if at < nbf {
        Some(("not_yet_valid", format!("not valid before {nbf}")))
    } else {
        exp.filter(|e| at > *e).map(|e| ("expired", format!("expired at {e}")))
    };
    report.steps.expiry = Some(problem.is_none());
    if let Some((code, message)) = problem {
        report.fail(code, message);
    }
}

/// The `schema` step: the parts of the VC a verifier relies on.
fn check_structure(vc: &Value) -> Result<(), String> {
    if !vc.get("iss").is_some_and(Value::is_string) {
        return Err("iss is not a string".into());
    }
    let card = vc.get("vc").filter(|v| v.is_object()).ok_or("no vc object")?;
    let types = card.get("type").and_then(Value::as_array).ok_or("vc.type is not an array")?;
    if !types.iter().any(|t| t.as_str() == Some(HEALTH_CARD_TYPE)) {
        return Err(format!("vc.type lacks {HEALTH_CARD_TYPE}"));
    }
    let subject = card.get("credentialSubject").filter(|v| v.is_object()).ok_or("no vc.credentialSubject")?;
    if !subject.get("fhirVersion").is_some_and(Value::is_string) {
        return Err("vc.credentialSubject.fhirVersion is not a string".into());
    }
    let bundle = subject.get("fhirBundle").ok_or("no vc.credentialSubject.fhirBundle")?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("the fhirBundle is not a FHIR Bundle".into());
    }
    if !bundle.get("entry").is_none_or(Value::is_array) {
        return Err("the fhirBundle's entry is not an array".into());
    }
    Ok(())
}

/// The `key_usage` step, used for revocation: with the key's revocation list, a card whose
/// `vc.rid` is listed is revoked (a listed `rid.ts` revokes cards with `nbf` before `ts`).
fn check_revocation(report: &mut Report, vc: &Value, key: &jwks::Jwk, keys: &Jwks) {
    let Some(crl) = keys.crls.iter().find(|c| c.kid == key.kid) else { return };
    if key.crl_version.is_some_and(|v| crl.ctr < v) {
        report.steps.key_usage = Some(false);
        report.fail("crl_outdated", "the revocation list is older than the key's crlVersion");
        return;
    }
    let rid = vc.get("vc").and_then(|c| c.get("rid")).and_then(Value::as_str);
    let nbf = vc.get("nbf").and_then(Value::as_f64);
    let revoked = rid.is_some_and(|rid| {
        crl.rids.iter().any(|(id, ts)| id == rid && ts.is_none_or(|ts| nbf.is_none_or(|nbf| nbf < ts)))
    });
    report.steps.key_usage = Some(!revoked);
    if revoked {
        report.fail("revoked", "the issuer has revoked this card");
    }
}
