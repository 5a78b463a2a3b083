//! The offline verifier of our codes. Every step is recorded in the [`Report`]; the first
//! failure names its own error code (listed in `docs/token-format.md`).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::alg::hex;
use crate::claims::{CodeKind, HealthClaims};
use crate::code::{PREFIX, parse_cose};
use crate::report::{Format, Report};
use crate::trust_list::{TrustList, Trusted};

#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// The validation clock.
    pub at: DateTime<Utc>,
    /// Tolerated clock difference between issuer and verifier.
    pub skew: Duration,
}

impl VerifyOptions {
    pub fn at(at: DateTime<Utc>) -> Self {
        Self { at, skew: Duration::seconds(30) }
    }
}

/// A verified code: the claims, and whether the verifier must ask the issuer for the color.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: HealthClaims,
    pub kid: [u8; 8],
}

/// Which credential format a text claims to be, by its prefix.
pub fn detect(text: &str) -> Option<Format> {
    if text.starts_with(PREFIX) {
        Some(Format::Healthcode)
    } else if text.starts_with("HC1:") {
        Some(Format::EuDcc)
    } else if text.starts_with("shc:/") {
        Some(Format::Shc)
    } else {
        None
    }
}

/// Verifies one of our codes; the report says what passed and, if anything failed, what
/// first, and carries the decoded claims as JSON.
pub fn verify(text: &str, trust: &TrustList, opts: VerifyOptions) -> (Report, Option<Verified>) {
    let mut r = Report::new(Some(Format::Healthcode));
    let verified = run(text, trust, opts, &mut r, true);
    (r.finish(), verified)
}

/// The same checks without building the claims JSON: the path a checkpoint takes per scan.
pub fn check(text: &str, trust: &TrustList, opts: VerifyOptions) -> Result<Verified, Report> {
    let mut r = Report::new(Some(Format::Healthcode));
    match run(text, trust, opts, &mut r, false) {
        Some(v) => Ok(v),
        None => Err(r.finish()),
    }
}

/// The steps every signed text of ours shares (prefix, Base45, inflate, COSE, signature),
/// recorded in the report; on success the signed payload, the trust-list entry of its key and
/// the key id. Health codes and venue codes (`venue_code.rs`) both go through here.
pub(crate) fn open_signed<'t>(
    text: &str,
    prefix: &str,
    trust: &'t TrustList,
    r: &mut Report,
) -> Option<(Vec<u8>, &'t Trusted, Vec<u8>)> {
    let text = text.trim();
    let Some(b45) = text.strip_prefix(prefix) else {
        r.steps.prefix = Some(false);
        r.format = detect(text);
        r.fail("prefix_unknown", format!("a code of this kind starts with {prefix}"));
        return None;
    };
    r.steps.prefix = Some(true);
    let compressed = match crate::base45::decode(b45) {
        Ok(b) => b,
        Err(e) => {
            r.steps.base45 = Some(false);
            r.fail("base45_invalid", e.to_string());
            return None;
        }
    };
    r.steps.base45 = Some(true);
    let cose = match crate::inflate::inflate(&compressed) {
        Ok(b) => b,
        Err(e) => {
            r.steps.inflate = Some(false);
            let code = match e {
                crate::inflate::InflateError::TooLarge => "inflate_too_large",
                crate::inflate::InflateError::Corrupt(_) => "inflate_failed",
            };
            r.fail(code, e.to_string());
            return None;
        }
    };
    r.steps.inflate = Some(true);
    let parsed = match parse_cose(&cose) {
        Ok(p) => p,
        Err(e) => {
            r.steps.cose = Some(false);
            r.fail("cose_malformed", e);
            return None;
        }
    };
    r.steps.cose = Some(true);
    let Some(alg) = parsed.alg else {
        r.steps.signature = Some(false);
        r.fail("alg_not_allowed", "the algorithm is not EdDSA or ES256");
        return None;
    };
    let Some(entry) = trust.get(&parsed.kid) else {
        r.steps.signature = Some(false);
        r.fail("kid_unknown", format!("key {} is not in the trust list", hex(&parsed.kid)));
        return None;
    };
    if entry.key.alg() != alg {
        r.steps.signature = Some(false);
        r.fail("alg_mismatch", format!("key {} is {}, the token says {alg}", hex(&parsed.kid), entry.key.alg()));
        return None;
    }
    if parsed
        .sign1
        .verify_signature(b"", |sig, data| if entry.key.verify(data, sig) { Ok(()) } else { Err(()) })
        .is_err()
    {
        r.steps.signature = Some(false);
        r.fail("signature_invalid", "the signature does not verify");
        return None;
    }
    r.steps.signature = Some(true);
    let payload = parsed.sign1.payload.unwrap_or_default();
    Some((payload, entry, parsed.kid))
}

fn run(text: &str, trust: &TrustList, opts: VerifyOptions, r: &mut Report, with_json: bool) -> Option<Verified> {
    let (payload, entry, kid) = open_signed(text, PREFIX, trust, r)?;
    let claims = match HealthClaims::from_cbor(&payload) {
        Ok(c) => c,
        Err(e) => {
            r.steps.schema = Some(false);
            r.fail("claims_invalid", e.to_string());
            return None;
        }
    };
    r.steps.schema = Some(true);
    if with_json {
        let mut c = serde_json::to_value(&claims).unwrap_or_default();
        c["issuer"] = json!(claims.issuer());
        c["kid"] = json!(hex(&kid));
        c["color_needs_lookup"] = json!(claims.kind == CodeKind::Paper);
        r.claims = Some(c);
    }

    let (at, skew) = (opts.at, opts.skew);
    if claims.issued_at > at + skew {
        r.steps.expiry = Some(false);
        r.fail("not_yet_valid", format!("issued at {}, after the validation time", claims.issued_at));
    } else if claims.expires_at + skew <= at {
        r.steps.expiry = Some(false);
        r.fail("expired", format!("expired at {}", claims.expires_at));
    } else if claims.issued_at + skew < entry.not_before || claims.issued_at > entry.not_after + skew {
        r.steps.expiry = Some(false);
        r.fail("key_not_valid_then", "the key was not valid when the token was issued");
    } else if claims.expires_at <= claims.issued_at {
        r.steps.expiry = Some(false);
        r.fail("expired", "the token expires before it was issued");
    } else {
        r.steps.expiry = Some(true);
    }
    let allowed = entry.region.covers(claims.issuer_region) && entry.node == claims.issuer_node;
    r.steps.key_usage = Some(allowed);
    if !allowed {
        r.fail(
            "issuer_not_allowed",
            format!("key {} may issue for {}/{}, not for {}", hex(&kid), entry.region, entry.node, claims.issuer()),
        );
    }
    let kid = kid.as_slice().try_into().ok()?;
    r.error.is_none().then_some(Verified { claims, kid })
}
