//! Runs one EU DCC test case (`dgc-testdata/<CC>/2DCode/raw/<name>.json`): every EXPECTED*
//! flag the file states is compared with our result for that step.
//!
//! As in the upstream harness, each step runs on the case's own field for it (`BASE45`,
//! `COMPRESSED`, `COSE`, …), through our public API: `verify_dcc` for text steps,
//! `verify_dcc_cose` for the COSE steps. When a case lacks the field a step starts from, the
//! step runs from `PREFIX` through the whole chain instead of being skipped. And whenever
//! `PREFIX` decodes to the case's `COSE`, the full-chain report must equal the COSE one, so
//! the `HC1:` path the CLI uses is checked on every consistent case.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use healthcode_token::Report;
use healthcode_token::foreign::dcc::{DccTrust, check_payload, verify_dcc, verify_dcc_cose};
use serde_json::Value;

use super::dcc_corrections;
use super::support::{parse_instant, read_json, same_json, unhex};

/// The verifier-side flags, in pipeline order.
const FLAGS: &[&str] = &[
    "EXPECTEDPICTUREDECODE",
    "EXPECTEDUNPREFIX",
    "EXPECTEDB45DECODE",
    "EXPECTEDCOMPRESSION",
    "EXPECTEDVERIFY",
    "EXPECTEDDECODE",
    "EXPECTEDVALIDJSON",
    "EXPECTEDSCHEMAVALIDATION",
    "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDKEYUSAGE",
];

/// Flags about how the case was generated (JSON valid for TESTCTX.SCHEMA, CBOR built from
/// JSON); the upstream CI never checks them and they say nothing about a verifier.
const GENERATION_FLAGS: &[&str] = &["EXPECTEDVALIDOBJECT", "EXPECTEDENCODE"];

/// Nonstandard keys that SOURCE.md lists: a misspelled flag (BG/1–4) with no step of its own
/// (their expiry flag is absent), and a nested `EXPECTEDRESULTS: true` (ES, not included).
const TOLERATED: &[&str] = &["EXPTECTEDEXPIRED", "EXPECTEDRESULTS"];

struct Ctx<'a> {
    case: &'a Value,
    trust: DccTrust,
    trust_error: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

impl Ctx<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        self.case.get(name).and_then(Value::as_str)
    }

    fn prefix_report(&self) -> Option<Report> {
        Some(verify_dcc(self.field("PREFIX")?, &self.trust, self.at))
    }

    /// The report the COSE-level steps are judged on: from `COSE`, else from `PREFIX`.
    fn cose_report(&self) -> Option<Report> {
        match self.field("COSE") {
            Some(hex) => Some(verify_dcc_cose(&unhex(hex).unwrap_or_default(), &self.trust, self.at)),
            None => self.prefix_report(),
        }
    }

    /// Our result for one flag: `None` when the case has no input for that step.
    fn evaluate(&self, flag: &str) -> Option<(bool, String)> {
        let step = |r: &Report, s: Option<bool>| (s == Some(true), describe(r));
        match flag {
            "EXPECTEDPICTUREDECODE" => {
                let image = self.field("2DCODE").or(self.field("_2DCODE"))?;
                let prefix = self.field("PREFIX")?;
                let decoded = STANDARD
                    .decode(image.trim())
                    .map_err(|e| e.to_string())
                    .and_then(|png| healthcode_token::qr::decode_image(&png).map_err(|e| e.code().to_string()));
                Some(match decoded {
                    Ok(text) => (text == prefix, format!("decoded {} chars", text.len())),
                    Err(code) => (false, code),
                })
            }
            "EXPECTEDUNPREFIX" => {
                let prefix = self.field("PREFIX")?;
                let r = self.prefix_report()?;
                let same = self.field("BASE45").is_none_or(|b| prefix.strip_prefix("HC1:") == Some(b));
                Some((r.steps.prefix == Some(true) && same, describe(&r)))
            }
            "EXPECTEDB45DECODE" => {
                let b45 = self.field("BASE45")?;
                let r = verify_dcc(&format!("HC1:{b45}"), &self.trust, self.at);
                let decoded = healthcode_token::base45::decode(b45).ok();
                let same = self.field("COMPRESSED").is_none_or(|c| decoded == unhex(c));
                Some((r.steps.base45 == Some(true) && same, describe(&r)))
            }
            "EXPECTEDCOMPRESSION" => {
                let compressed = unhex(self.field("COMPRESSED")?)?;
                let text = format!("HC1:{}", healthcode_token::base45::encode(&compressed));
                let r = verify_dcc(&text, &self.trust, self.at);
                let inflated = healthcode_token::inflate::inflate(&compressed).ok();
                let same = self.field("COSE").is_none_or(|c| inflated == unhex(c));
                Some((r.steps.inflate == Some(true) && same, describe(&r)))
            }
            "EXPECTEDVERIFY" => {
                let r = self.cose_report()?;
                let note = self.trust_error.clone().unwrap_or_default();
                Some((r.steps.signature == Some(true), format!("{}{note}", describe(&r))))
            }
            "EXPECTEDDECODE" => self.decodes_to_json(&self.cose_report()?),
            "EXPECTEDVALIDJSON" => self.decodes_to_json(&self.prefix_report()?),
            "EXPECTEDSCHEMAVALIDATION" => self.cose_report().map(|r| {
                // The report keeps only the first error; name the schema step's own.
                let own = r.claims.as_ref().and_then(|c| check_payload(&c["dcc"]).err()).map(|e| e.to_string());
                (r.steps.schema == Some(true), own.unwrap_or_else(|| describe(&r)))
            }),
            "EXPECTEDEXPIRATIONCHECK" => self.cose_report().map(|r| step(&r, r.steps.expiry)),
            "EXPECTEDKEYUSAGE" => self.cose_report().map(|r| step(&r, r.steps.key_usage)),
            _ => None,
        }
    }

    /// The payload decodes and equals the case's `JSON` (when it has one).
    fn decodes_to_json(&self, r: &Report) -> Option<(bool, String)> {
        let decoded = r.claims.as_ref().and_then(|c| c.get("dcc"));
        let same = match (self.case.get("JSON"), decoded) {
            (Some(json), Some(ours)) => same_json(ours, json),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let what =
            if r.steps.cose == Some(true) && !same { "decoded payload differs from JSON".into() } else { describe(r) };
        Some((r.steps.cose == Some(true) && same, what))
    }

    /// When `PREFIX` decodes to exactly the case's `COSE`, both paths must agree entirely.
    fn paths_agree(&self) -> Result<(), String> {
        let (Some(prefix), Some(cose)) = (self.field("PREFIX"), self.field("COSE").and_then(unhex)) else {
            return Ok(());
        };
        let inflated = prefix
            .strip_prefix("HC1:")
            .and_then(|b| healthcode_token::base45::decode(b).ok())
            .and_then(|z| healthcode_token::inflate::inflate(&z).ok());
        if inflated.as_deref() != Some(cose.as_slice()) {
            return Ok(());
        }
        let full = verify_dcc(prefix, &self.trust, self.at);
        let part = verify_dcc_cose(&cose, &self.trust, self.at);
        let tail = |r: &Report| {
            let s = &r.steps;
            (s.cose, s.signature, s.expiry, s.schema, s.key_usage, r.error.clone(), r.claims.clone(), r.valid)
        };
        let prefix_steps_ok = full.steps.prefix == Some(true) && full.steps.base45 == Some(true);
        if prefix_steps_ok && full.steps.inflate == Some(true) && tail(&full) == tail(&part) {
            Ok(())
        } else {
            Err(format!("the HC1: chain and the COSE field disagree: {} vs {}", describe(&full), describe(&part)))
        }
    }
}

fn describe(r: &Report) -> String {
    match &r.error {
        Some(e) => format!("{}: {}", e.code, e.message),
        None => "no error".into(),
    }
}

pub fn run(rel: &str) {
    let case = read_json(&format!("dgc-testdata/{rel}"));
    let expected =
        case.get("EXPECTEDRESULTS").and_then(Value::as_object).unwrap_or_else(|| panic!("{rel}: no EXPECTEDRESULTS"));
    for key in expected.keys() {
        let known = FLAGS.contains(&key.as_str())
            || GENERATION_FLAGS.contains(&key.as_str())
            || TOLERATED.contains(&key.as_str());
        assert!(known, "{rel}: unknown expectation {key}; teach dcc_cases.rs what it means");
    }
    let ctx_json = case.get("TESTCTX").cloned().unwrap_or(Value::Null);
    let clock = ctx_json.get("VALIDATIONCLOCK").or(ctx_json.get("validationClockInstant")).and_then(Value::as_str);
    let at = clock.and_then(parse_instant).unwrap_or_else(|| panic!("{rel}: no readable VALIDATIONCLOCK"));
    let (trust, trust_error) = match ctx_json.get("CERTIFICATE").and_then(Value::as_str) {
        Some(cert) => match DccTrust::from_pem_or_base64_der(cert) {
            Ok(t) => (t, None),
            Err(e) => (DccTrust::new(), Some(format!(" (DSC: {e})"))),
        },
        None => (DccTrust::new(), Some(" (no DSC)".into())),
    };
    let ctx = Ctx { case: &case, trust, trust_error, at };

    let mut failures = Vec::new();
    let mut checked = 0;
    for flag in FLAGS {
        let Some(file) = expected.get(*flag).and_then(Value::as_bool) else { continue };
        let Some((ours, detail)) = ctx.evaluate(flag) else { continue };
        checked += 1;
        let (want, correction) = dcc_corrections::expected(rel, flag, file, &case);
        if ours != want {
            let why = correction.map(|c| format!(" (corrected from {file}: {c})")).unwrap_or_default();
            failures.push(format!("{flag}: expected {want}{why}, ours {ours} [{detail}]"));
        }
    }
    if let Err(e) = ctx.paths_agree() {
        failures.push(e);
    }
    let stated = FLAGS.iter().filter(|f| expected.contains_key(**f)).count();
    assert!(checked > 0 || stated == 0, "{rel}: none of the {stated} stated flags could be checked");
    assert!(failures.is_empty(), "{rel}:\n  {}", failures.join("\n  "));
}
