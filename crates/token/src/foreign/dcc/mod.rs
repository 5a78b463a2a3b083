//! EU Digital COVID Certificates: `HC1:` + Base45 + zlib + COSE_Sign1 over CWT claims, signed
//! by a Document Signer Certificate (DSC).
//!
//! Each check is its own report step with its own error code (docs/foreign-credentials.md):
//! prefix → base45 → inflate → cose (COSE_Sign1 and CWT) → signature (alg allow-list, kid,
//! signature) → expiry → schema (JSON schema of the payload's `ver`, one of v/t/r, value sets)
//! → key_usage (the DSC's EKU). Steps after a failure still run when their inputs exist, so a
//! report shows everything that is wrong; `error` is the first failure.

mod cose;
mod cwt;
pub mod schema;
pub mod valuesets;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::MAX_INPUT;
pub use super::dsc::{DccKind, Dsc, DscError};
use crate::report::{Format, Report};

/// The QR text prefix of an EU DCC (version 1 of the health certificate context).
pub const PREFIX: &str = "HC1:";

/// The Document Signer Certificates this verifier trusts.
#[derive(Debug, Clone, Default)]
pub struct DccTrust {
    dscs: Vec<Dsc>,
}

impl DccTrust {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust from text: PEM (any number of `CERTIFICATE` blocks) or base64 DER (one
    /// certificate, or one per line).
    pub fn from_pem_or_base64_der(text: &str) -> Result<Self, DscError> {
        let mut trust = Self::new();
        trust.add_pem_or_base64_der(text)?;
        Ok(trust)
    }

    pub fn add_pem_or_base64_der(&mut self, text: &str) -> Result<(), DscError> {
        self.dscs.extend(super::dsc::parse_text(text)?);
        Ok(())
    }

    /// Adds one binary DER certificate.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), DscError> {
        self.dscs.push(Dsc::from_der(der)?);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.dscs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dscs.is_empty()
    }

    /// The trusted DSCs, in the order added.
    pub fn dscs(&self) -> &[Dsc] {
        &self.dscs
    }
}

/// Why a DCC payload fails the `schema` step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("DCC schema {version}: {message}")]
    Schema { version: &'static str, message: String },
    #[error("a DCC holds exactly one of v, t, r; this one holds {0}")]
    Kinds(usize),
    #[error("value set: {0}")]
    ValueSet(String),
}

impl PayloadError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Schema { .. } | Self::Kinds(_) => "schema_invalid",
            Self::ValueSet(_) => "value_set_invalid",
        }
    }
}

/// The type of a DCC payload: `Some` when exactly one of `v`, `t`, `r` is present.
pub fn kind_of(dcc: &serde_json::Value) -> Option<DccKind> {
    let kinds: Vec<DccKind> = [("v", DccKind::Vaccination), ("t", DccKind::Test), ("r", DccKind::Recovery)]
        .into_iter()
        .filter(|(k, _)| dcc.get(k).is_some())
        .map(|(_, kind)| kind)
        .collect();
    if let [kind] = kinds[..] { Some(kind) } else { None }
}

/// The `schema` step on its own: the JSON schema of the payload's `ver` (the newest for an
/// unknown one), exactly one of v/t/r, and the closed value sets.
pub fn check_payload(dcc: &serde_json::Value) -> Result<(), PayloadError> {
    let ver = dcc.get("ver").and_then(serde_json::Value::as_str);
    let (version, _) = schema::schema_for(ver);
    schema::validate(ver, dcc).map_err(|message| PayloadError::Schema { version, message })?;
    let kinds = ["v", "t", "r"].iter().filter(|k| dcc.get(**k).is_some()).count();
    if kinds != 1 {
        return Err(PayloadError::Kinds(kinds));
    }
    valuesets::check(dcc).map_err(PayloadError::ValueSet)
}

/// Verifies an `HC1:` text at time `at` against the trusted DSCs.
/// A trailing line break (text read from a file) is ignored; anything else is part of the
/// Base45 text, whose alphabet includes the space.
pub fn verify_dcc(input: &str, trust: &DccTrust, at: DateTime<Utc>) -> Report {
    let input = input.trim_end_matches(['\r', '\n']);
    let mut report = Report::new(Some(Format::EuDcc));
    if input.len() > MAX_INPUT {
        report.steps.prefix = Some(false);
        report.fail("input_too_large", format!("more than {MAX_INPUT} bytes"));
        return report.finish();
    }
    let Some(body) = input.strip_prefix(PREFIX) else {
        report.steps.prefix = Some(false);
        report.fail("prefix_unknown", "an EU DCC starts with HC1:");
        return report.finish();
    };
    report.steps.prefix = Some(true);
    let compressed = match crate::base45::decode(body) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.steps.base45 = Some(false);
            report.fail("base45_invalid", e.to_string());
            return report.finish();
        }
    };
    report.steps.base45 = Some(true);
    let cose = match crate::inflate::inflate(&compressed) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.steps.inflate = Some(false);
            let code = match e {
                crate::inflate::InflateError::TooLarge => "inflate_too_large",
                crate::inflate::InflateError::Corrupt(_) => "inflate_failed",
            };
            report.fail(code, e.to_string());
            return report.finish();
        }
    };
    report.steps.inflate = Some(true);
    check_cose(&mut report, &cose, trust, at);
    report.finish()
}

/// Verifies an already inflated COSE_Sign1 (the steps from `cose` on; the earlier ones stay
/// null). For callers that hold the binary form, and for the conformance tests, which check
/// each step on the test case's own `COSE` field.
pub fn verify_dcc_cose(cose: &[u8], trust: &DccTrust, at: DateTime<Utc>) -> Report {
    let mut report = Report::new(Some(Format::EuDcc));
    if cose.len() > crate::inflate::MAX_INFLATED {
        report.steps.cose = Some(false);
        report.fail("cose_malformed", "larger than any inflated DCC may be");
        return report.finish();
    }
    check_cose(&mut report, cose, trust, at);
    report.finish()
}

fn check_cose(report: &mut Report, bytes: &[u8], trust: &DccTrust, at: DateTime<Utc>) {
    let sign1 = match cose::parse(bytes) {
        Ok(s) => s,
        Err(e) => {
            report.steps.cose = Some(false);
            report.fail("cose_malformed", e);
            return;
        }
    };
    let claims = cwt::parse(sign1.inner.payload.as_deref().unwrap_or_default());
    match &claims {
        Ok(c) => {
            report.steps.cose = Some(true);
            report.claims = Some(json!({"issuer": c.iss, "iat": c.iat_json, "exp": c.exp_json, "dcc": c.dcc}));
        }
        Err(e) => {
            report.steps.cose = Some(false);
            report.fail("claims_invalid", e.clone());
        }
    }
    let dsc = check_signature(report, &sign1, trust);
    let Ok(claims) = claims else { return };
    check_expiry(report, &claims, dsc, at);
    match check_payload(&claims.dcc) {
        Ok(()) => report.steps.schema = Some(true),
        Err(e) => {
            report.steps.schema = Some(false);
            report.fail(e.code(), e.to_string());
        }
    }
    if let (Some(dsc), Some(kind)) = (dsc, kind_of(&claims.dcc)) {
        if dsc.allows(kind) {
            report.steps.key_usage = Some(true);
        } else {
            report.steps.key_usage = Some(false);
            report.fail(
                "key_usage_invalid",
                format!("the DSC's extended key usage does not allow {} certificates", kind.name()),
            );
        }
    }
}

/// The `signature` step. Returns the DSC that the kid names (the one that verified, or else
/// the first with that kid), so expiry and key usage can still be reported after a failure.
fn check_signature<'t>(report: &mut Report, sign1: &cose::Sign1, trust: &'t DccTrust) -> Option<&'t Dsc> {
    let candidates: Vec<&Dsc> = trust.dscs.iter().filter(|d| d.kid.as_slice() == sign1.kid.as_slice()).collect();
    let alg = match sign1.alg {
        Some(alg @ (cose::ES256 | cose::PS256)) => alg,
        Some(other) => {
            sig_fail(
                report,
                "alg_not_allowed",
                format!("algorithm {other} ({}); a DCC uses ES256 or PS256", cose::alg_name(other)),
            );
            return candidates.first().copied();
        }
        None => {
            sig_fail(report, "alg_not_allowed", "no algorithm in the protected header".into());
            return candidates.first().copied();
        }
    };
    if sign1.kid.is_empty() {
        sig_fail(report, "kid_unknown", "no kid in either header".into());
        return None;
    }
    if candidates.is_empty() {
        sig_fail(report, "kid_unknown", format!("no trusted DSC has kid {}", hex(&sign1.kid)));
        return None;
    }
    let mut mismatched = 0;
    for dsc in &candidates {
        match cose::verify(sign1, alg, dsc) {
            Ok(()) => {
                report.steps.signature = Some(true);
                return Some(dsc);
            }
            Err(cose::SigFailure::KeyMismatch) => mismatched += 1,
            Err(cose::SigFailure::Invalid) => {}
        }
    }
    if mismatched == candidates.len() {
        sig_fail(report, "alg_mismatch", format!("{} does not fit the DSC's key type", cose::alg_name(alg)));
    } else {
        sig_fail(report, "signature_invalid", format!("the {} signature does not verify", cose::alg_name(alg)));
    }
    candidates.first().copied()
}

fn sig_fail(report: &mut Report, code: &'static str, message: String) {
    report.steps.signature = Some(false);
    report.fail(code, message);
}

/// The `expiry` step: DSC notBefore ≤ iat ≤ at ≤ exp ≤ DSC notAfter (the DSC bounds only when
/// the kid named a trusted DSC).
fn check_expiry(report: &mut Report, claims: &cwt::Cwt, dsc: Option<&Dsc>, at: DateTime<Utc>) {
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        report.steps.expiry = Some(false);
        report.fail("claims_invalid", "a DCC carries both iat (6) and exp (4)");
        return;
    };
    let problem = if at < iat {
        Some(("not_yet_valid", format!("issued at {iat}, after the validation time")))
    } else if at > exp {
        Some(("expired", format!("expired at {exp}")))
    } else if let Some(d) = dsc.filter(|d| iat < d.not_before) {
        Some(("outside_dsc_validity", format!("issued before the DSC's notBefore {}", d.not_before)))
    } else {
        dsc.filter(|d| exp > d.not_after)
            .map(|d| ("outside_dsc_validity", format!("expires after the DSC's notAfter {}", d.not_after)))
    };
    report.steps.expiry = Some(problem.is_none());
    if let Some((code, message)) = problem {
        report.fail(code, message);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
