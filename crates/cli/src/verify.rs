//! `healthcode verify INPUT`: one credential, offline, against the trust material given.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use clap::Args;
use healthcode_token::{Alg, Format, PublicKey, Report, TrustList, VerifyOptions};

#[derive(Args)]
pub struct VerifyArgs {
    /// Token text (JKM1:…, HC1:…, shc:/…), a PNG or JPEG of a QR code, a file holding the
    /// text, or - for standard input.
    input: String,
    /// Our signed trust list (from /.well-known/healthcode/trust-list.json or `keys trust-list`).
    #[arg(long)]
    trust_list: Option<PathBuf>,
    /// The pinned root key of the trust list: `EdDSA:BASE64`, or a file holding it.
    #[arg(long, env = "HEALTHCODE_ROOT_KEY")]
    root_key: Option<String>,
    /// EU DCC: a Document Signer Certificate, PEM or base64 DER.
    #[arg(long)]
    dsc: Option<PathBuf>,
    /// SMART Health Cards: the issuer's JWKS.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// Validation time (RFC 3339; without an offset, UTC). Default: now.
    #[arg(long)]
    at: Option<String>,
    /// Tolerated clock difference, in seconds.
    #[arg(long, default_value_t = 30)]
    skew: i64,
    /// Print the per-step JSON record.
    #[arg(long)]
    json: bool,
}

fn parse_at(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc())
        .with_context(|| format!("--at {s:?}: expected an RFC 3339 time"))
}

/// Reads INPUT: an image is decoded to its QR text; anything else is text.
fn input_text(input: &str) -> Result<Result<String, Report>> {
    let bytes = if input == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        buf
    } else if std::path::Path::new(input).is_file() {
        std::fs::read(input).with_context(|| format!("reading {input}"))?
    } else {
        return Ok(Ok(input.trim().to_string()));
    };
    if bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xff, 0xd8]) {
        return Ok(healthcode_token::qr::decode_image(&bytes).map_err(|e| {
            let mut r = Report::new(None);
            r.fail(e.code(), e.to_string());
            r
        }));
    }
    Ok(Ok(String::from_utf8_lossy(&bytes).trim().to_string()))
}

fn root_key(spec: &str) -> Result<PublicKey> {
    let text = match std::fs::read_to_string(spec) {
        Ok(t) => t,
        Err(_) => spec.to_string(),
    };
    let text = text.trim();
    let (alg, b64) =
        text.split_once(':').context("--root-key: expected ALG:BASE64 (as `healthcode keys list` prints)")?;
    let alg = Alg::parse(alg).with_context(|| format!("--root-key: unknown algorithm {alg:?}"))?;
    let raw = STANDARD.decode(b64).context("--root-key: not base64")?;
    PublicKey::from_bytes(alg, &raw).context("--root-key: not a key of that algorithm")
}

fn ours(text: &str, args: &VerifyArgs, at: DateTime<Utc>) -> Result<Report> {
    let mut failed = Report::new(Some(Format::Healthcode));
    let (Some(list), Some(root)) = (&args.trust_list, &args.root_key) else {
        failed.fail("trust_list_missing", "our codes need --trust-list FILE and --root-key KEY");
        return Ok(failed);
    };
    let json = std::fs::read_to_string(list).with_context(|| format!("reading {}", list.display()))?;
    let trust = match TrustList::verify(&json, &root_key(root)?, at) {
        Ok(t) => t,
        Err(e) => {
            failed.fail(e.code(), e.to_string());
            return Ok(failed);
        }
    };
    let opts = VerifyOptions { at, skew: Duration::seconds(args.skew) };
    Ok(healthcode_token::verify(text, &trust, opts).0)
}

/// Runs the verification; returns whether the credential is valid.
pub fn run(args: VerifyArgs) -> Result<bool> {
    let at = args.at.as_deref().map(parse_at).transpose()?.unwrap_or_else(Utc::now);
    let report = match input_text(&args.input)? {
        Err(report) => report,
        Ok(text) => match healthcode_token::detect(&text) {
            Some(Format::Healthcode) => ours(&text, &args, at)?,
            Some(Format::EuDcc) => crate::foreign::dcc(&text, args.dsc.as_deref(), at)?,
            Some(Format::Shc) => crate::foreign::shc(&text, args.jwks.as_deref(), at)?,
            None => {
                let mut r = Report::new(None);
                r.steps.prefix = Some(false);
                r.fail("prefix_unknown", "not a health code (JKM1:), EU DCC (HC1:) or SMART Health Card (shc:/)");
                r
            }
        },
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(report.valid)
}

fn print_human(r: &Report) {
    let format = match r.format {
        Some(Format::Healthcode) => "health code",
        Some(Format::EuDcc) => "EU Digital COVID Certificate",
        Some(Format::Shc) => "SMART Health Card",
        None => "unknown credential",
    };
    match &r.error {
        None => println!("VALID {format}"),
        Some(e) => println!("INVALID {format}: {} ({})", e.message, e.code),
    }
    let s = &r.steps;
    let steps = [
        ("prefix", s.prefix),
        ("base45", s.base45),
        ("inflate", s.inflate),
        ("cose", s.cose),
        ("signature", s.signature),
        ("expiry", s.expiry),
        ("schema", s.schema),
        ("key_usage", s.key_usage),
    ];
    let line: Vec<String> =
        steps.iter().map(|(name, v)| format!("{name}={}", v.map_or("-", |b| if b { "ok" } else { "FAIL" }))).collect();
    println!("  {}", line.join(" "));
    if let Some(c) = &r.claims {
        println!("  {}", serde_json::to_string(c).unwrap_or_default());
    }
}
