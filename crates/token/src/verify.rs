//! The offline verifier of our codes. Every step is recorded in the [`Report`]; the first
//! failure names its own error code (listed in `docs/token-format.md`).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::alg::{PublicKey, hex};
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

/// What a signature check needs: the key, the signed bytes (the COSE `Sig_structure`) and
/// the signature. Checked alone ([`PublicKey::verify`](crate::PublicKey::verify)) or with
/// others ([`crate::batch::verify_signatures`]).
#[derive(Debug, Clone)]
pub struct Signed {
    pub key: PublicKey,
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Signed {
    /// The single-signature check (Ed25519 strictly).
    pub fn verify(&self) -> bool {
        self.key.verify(&self.message, &self.signature)
    }

    /// The single-signature check, as the verdict [`Opened::finish`] takes.
    pub fn check(&self) -> SignatureVerdict {
        SignatureVerdict(self.verify())
    }
}

/// Whether a signature verified, as only this crate's checks can say: [`Opened::finish`]
/// takes one of these rather than a `bool`, so a caller cannot declare a code signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureVerdict(pub(crate) bool);

impl SignatureVerdict {
    pub fn valid(self) -> bool {
        self.0
    }
}

/// A signed text of ours whose envelope steps (prefix, Base45, inflate, COSE, algorithm, key)
/// passed and were recorded: only the signature and what follows it are left.
pub(crate) struct Envelope {
    pub signed: Signed,
    pub payload: Vec<u8>,
    pub entry: Arc<Trusted>,
    pub kid: Vec<u8>,
}

/// The envelope steps every signed text of ours shares, recorded in the report. Health codes
/// and venue codes (`venue_code.rs`) both go through here.
pub(crate) fn open_envelope(text: &str, prefix: &str, trust: &TrustList, r: &mut Report) -> Option<Envelope> {
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
    let Some(entry) = trust.get_shared(&parsed.kid) else {
        r.steps.signature = Some(false);
        r.fail("kid_unknown", format!("key {} is not in the trust list", hex(&parsed.kid)));
        return None;
    };
    if entry.key.alg() != alg {
        r.steps.signature = Some(false);
        r.fail("alg_mismatch", format!("key {} is {}, the token says {alg}", hex(&parsed.kid), entry.key.alg()));
        return None;
    }
    let message = parsed.sign1.tbs_data(b"");
    let sign1 = parsed.sign1;
    let signed = Signed { key: entry.key.clone(), message, signature: sign1.signature };
    Some(Envelope { signed, payload: sign1.payload.unwrap_or_default(), entry, kid: parsed.kid })
}

/// Records the signature step's outcome; the envelope's payload when it verified.
pub(crate) fn signature_step(
    envelope: Envelope,
    valid: bool,
    r: &mut Report,
) -> Option<(Vec<u8>, Arc<Trusted>, Vec<u8>)> {
    r.steps.signature = Some(valid);
    if !valid {
        r.fail("signature_invalid", "the signature does not verify");
        return None;
    }
    Some((envelope.payload, envelope.entry, envelope.kid))
}

/// The envelope steps and the signature, checked alone: on success the signed payload, the
/// trust-list entry of its key and the key id.
pub(crate) fn open_signed(
    text: &str,
    prefix: &str,
    trust: &TrustList,
    r: &mut Report,
) -> Option<(Vec<u8>, Arc<Trusted>, Vec<u8>)> {
    let envelope = open_envelope(text, prefix, trust, r)?;
    let valid = envelope.signed.verify();
    signature_step(envelope, valid, r)
}

/// A health code opened up to its signature: every step before it passed. Its signature is
/// checked alone or in a batch with others', then [`Opened::finish`] runs the steps after.
/// Either way the outcome is [`check`]'s.
pub struct Opened {
    report: Report,
    envelope: Envelope,
}

/// The steps before the signature; a code that fails one of them is refused here.
pub fn open(text: &str, trust: &TrustList) -> Result<Opened, Report> {
    let mut report = Report::new(Some(Format::Healthcode));
    match open_envelope(text, PREFIX, trust, &mut report) {
        Some(envelope) => Ok(Opened { report, envelope }),
        None => Err(report.finish()),
    }
}

impl Opened {
    /// What the signature check needs.
    pub fn signed(&self) -> &Signed {
        &self.envelope.signed
    }

    /// The steps from the signature on, given the verdict on this code's signature (from
    /// [`Signed::check`] or [`crate::batch::verify_signatures`]).
    pub fn finish(self, signature: SignatureVerdict, opts: VerifyOptions) -> Result<Verified, Report> {
        let Opened { mut report, envelope } = self;
        let verified = signature_step(envelope, signature.valid(), &mut report)
            .and_then(|signed| claims_steps(signed, opts, &mut report, false));
        verified.ok_or_else(|| report.finish())
    }
}

/// Many codes at once, with their signatures verified as a batch ([`crate::batch`]): the same
/// outcome as [`check`] for each.
pub fn check_many(codes: &[(&str, VerifyOptions)], trust: &TrustList) -> Vec<Result<Verified, Report>> {
    let opened: Vec<_> = codes.iter().map(|(text, _)| open(text, trust)).collect();
    let signed: Vec<&Signed> = opened.iter().filter_map(|o| o.as_ref().ok().map(Opened::signed)).collect();
    let mut valid = crate::batch::verify_signatures(&signed).into_iter();
    opened
        .into_iter()
        .zip(codes)
        .map(|(o, (_, opts))| o.and_then(|o| o.finish(valid.next().unwrap_or(SignatureVerdict(false)), *opts)))
        .collect()
}

fn run(text: &str, trust: &TrustList, opts: VerifyOptions, r: &mut Report, with_json: bool) -> Option<Verified> {
    let signed = open_signed(text, PREFIX, trust, r)?;
    claims_steps(signed, opts, r, with_json)
}

/// The steps after the signature: claims, validity period, key usage.
fn claims_steps(
    (payload, entry, kid): (Vec<u8>, Arc<Trusted>, Vec<u8>),
    opts: VerifyOptions,
    r: &mut Report,
    with_json: bool,
) -> Option<Verified> {
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
