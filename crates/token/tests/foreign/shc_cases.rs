//! Runs one SMART Health Cards spec example (`smart-health-cards/examples/example-NN-*`)
//! against its verdict in `EXPECTED.json`: the QR text (all its chunks) decodes to the JWS of
//! the `d` file, which is also the one in the `.smart-health-card` file; the signature verifies
//! with the JWKS key named by `kid`; the payload equals the `c` file and its bundle the `a`
//! file; and the card is valid, or revoked, as stated. The QR images are SVG, which our image
//! decoder does not read, so the QR step starts from the `f` texts.

use chrono::{DateTime, Duration, Utc};
use healthcode_token::Report;
use healthcode_token::foreign::shc::{Jwks, verify_shc, verify_shc_jws};
use serde_json::Value;

use super::support::{path, read, read_json};

struct Example {
    id: String,
    expect: Value,
    nbf: DateTime<Utc>,
}

fn example(id: &str) -> Example {
    let expected = read_json("smart-health-cards/EXPECTED.json");
    let entry = expected["examples"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["id"] == format!("example-{id}")))
        .unwrap_or_else(|| panic!("EXPECTED.json has no example-{id}"))
        .clone();
    let nbf = entry["nbf"].as_f64().unwrap_or_else(|| panic!("example-{id}: no nbf in EXPECTED.json"));
    let nbf = DateTime::from_timestamp_millis((nbf * 1000.0).round() as i64).expect("nbf in range");
    Example { id: id.to_string(), expect: entry["expect"].clone(), nbf }
}

/// The issuer's keys, with the revocation list of every key that announces one (`crlVersion`).
fn trust(with_crls: bool) -> Jwks {
    let issuer = read_json("smart-health-cards/EXPECTED.json")["issuer"].clone();
    let mut jwks = Jwks::from_json(&read(&format!("smart-health-cards/{}", issuer["jwks_file"].as_str().unwrap())))
        .expect("the example JWKS reads");
    if with_crls {
        for (kid, key) in issuer["keys"].as_object().expect("keys") {
            if !key["crlVersion"].is_null() {
                let crl = format!("smart-health-cards/{}{kid}.json", issuer["crl_dir"].as_str().unwrap());
                jwks = jwks.with_crl(&read(&crl)).expect("the example CRL reads");
            }
        }
    }
    jwks
}

/// All QR chunks of an example, in file order (`-f-qr-code-numeric-value-K.txt`).
fn qr_text(id: &str) -> String {
    let mut chunks = Vec::new();
    for k in 0.. {
        let rel = format!("smart-health-cards/examples/example-{id}-f-qr-code-numeric-value-{k}.txt");
        if !path(&rel).exists() {
            break;
        }
        chunks.push(read(&rel).trim().to_string());
    }
    assert!(!chunks.is_empty(), "example-{id} has no QR text");
    // Scanned chunks can arrive in any order; reassembly must not depend on it.
    chunks.reverse();
    chunks.join("\n")
}

fn steps(r: &Report) -> String {
    format!("{:?} error {:?}", r.steps, r.error.as_ref().map(|e| (e.code, &e.message)))
}

pub fn run(id: &str) {
    let ex = example(id);
    let flag = |k: &str| ex.expect[k].as_bool();
    let jws = read(&format!("smart-health-cards/examples/example-{id}-d-jws.txt")).trim().to_string();
    let file = read_json(&format!("smart-health-cards/examples/example-{id}-e-file.smart-health-card"));
    assert_eq!(file["verifiableCredential"][0].as_str(), Some(jws.as_str()), "the e file holds the d JWS");

    // A day after nbf: inside every example's validity, and where EXPECTED.json judges them.
    let at = ex.nbf + Duration::days(1);
    let jwks = trust(true);
    let report = verify_shc(&qr_text(id), &jwks, at);
    let s = &report.steps;
    assert_eq!(flag("qr_decodes_to_jws"), Some(s.prefix == Some(true) && s.base45 == Some(true)), "{}", steps(&report));
    assert_eq!(flag("signature_valid"), Some(s.signature == Some(true)), "{}", steps(&report));
    assert_eq!(s.inflate, Some(true), "{}", steps(&report));
    assert_eq!(s.schema, Some(true), "{}", steps(&report));
    assert_eq!(s.expiry, Some(true), "{}", steps(&report));

    let claims = report.claims.clone().expect("claims of a decoded card");
    let minified = read_json(&format!("smart-health-cards/examples/example-{id}-c-jws-payload-minified.json"));
    assert_eq!(flag("payload_equals_minified_json"), Some(claims == minified));
    let bundle = read_json(&format!("smart-health-cards/examples/example-{}-a-fhirBundle.json", ex.id));
    assert_eq!(flag("fhirBundle_equals_a_file"), Some(claims["vc"]["credentialSubject"]["fhirBundle"] == bundle));

    let revoked = flag("revoked").expect("EXPECTED.json states revocation");
    assert_eq!(s.key_usage.is_some(), !claims["vc"]["rid"].is_null(), "revocation is checked when the card has a rid");
    assert_eq!(s.key_usage == Some(false), revoked, "{}", steps(&report));
    assert_eq!(report.valid, !revoked, "{}", steps(&report));
    if revoked {
        assert_eq!(report.error.as_ref().map(|e| e.code), Some("revoked"));
    }

    // The JWS on its own (as in the .smart-health-card file) verifies the same way.
    let from_file = verify_shc_jws(&jws, &jwks, at);
    assert_eq!((from_file.valid, &from_file.claims), (report.valid, &report.claims), "{}", steps(&from_file));
    // Without the revocation list, revocation is not checked (null), not passed.
    let unchecked = verify_shc(&qr_text(id), &trust(false), at);
    assert_eq!((unchecked.steps.key_usage, unchecked.valid), (None, true), "{}", steps(&unchecked));

    match ex.expect["expired"].as_bool() {
        Some(false) => {
            // No exp: still valid ten years on (bar revocation).
            let later = verify_shc(&qr_text(id), &jwks, at + Duration::days(3650));
            assert_eq!((later.steps.expiry, later.valid), (Some(true), !revoked), "{}", steps(&later));
        }
        _ => {
            // EXPECTED.json: "expired for any clock after 1718986764.657".
            let after = DateTime::from_timestamp(1_718_986_765, 0).expect("in range");
            let before = verify_shc(&qr_text(id), &jwks, after - Duration::seconds(2));
            assert_eq!(before.steps.expiry, Some(true), "{}", steps(&before));
            let later = verify_shc(&qr_text(id), &jwks, after);
            assert_eq!(later.steps.expiry, Some(false), "{}", steps(&later));
            assert_eq!(later.error.as_ref().map(|e| e.code), Some("expired"));
        }
    }
    // Before nbf nothing is valid yet.
    let early = verify_shc(&qr_text(id), &jwks, ex.nbf - Duration::seconds(1));
    assert_eq!(early.error.as_ref().map(|e| e.code), Some("not_yet_valid"), "{}", steps(&early));
}
