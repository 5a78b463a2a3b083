//! EU DCC and SMART Health Card verification from the command line: reads the trust material
//! and hands over to `healthcode_token::foreign`.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use healthcode_token::foreign::dcc::{DccTrust, verify_dcc};
use healthcode_token::foreign::shc::{Jwks, verify_shc};
use healthcode_token::{Format, Report};

fn failed(format: Format, code: &'static str, message: String) -> Report {
    let mut r = Report::new(Some(format));
    r.fail(code, message);
    r
}

/// `--dsc FILE`: a Document Signer Certificate as PEM, base64 DER or binary DER.
pub fn dcc(text: &str, dsc: Option<&Path>, at: DateTime<Utc>) -> Result<Report> {
    let Some(path) = dsc else {
        return Ok(failed(Format::EuDcc, "trust_material_missing", "an EU DCC needs --dsc FILE".into()));
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let trust = match std::str::from_utf8(&bytes) {
        Ok(pem_or_b64) => DccTrust::from_pem_or_base64_der(pem_or_b64),
        Err(_) => {
            let mut t = DccTrust::default();
            t.add_der(&bytes).map(|()| t)
        }
    };
    Ok(match trust {
        Ok(trust) => verify_dcc(text, &trust, at),
        Err(e) => failed(Format::EuDcc, e.code(), format!("--dsc {}: {e}", path.display())),
    })
}

/// `--jwks FILE`: the issuer's JSON Web Key Set.
pub fn shc(text: &str, jwks: Option<&Path>, at: DateTime<Utc>) -> Result<Report> {
    let Some(path) = jwks else {
        return Ok(failed(Format::Shc, "trust_material_missing", "a SMART Health Card needs --jwks FILE".into()));
    };
    let json = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(match Jwks::from_json(&json) {
        Ok(jwks) => verify_shc(text, &jwks, at),
        Err(e) => failed(Format::Shc, e.code(), format!("--jwks {}: {e}", path.display())),
    })
}
