//! Every error code on purpose-built input, and hostile input: changed bytes never pass,
//! nothing panics, nothing allocates without bound. (cargo-fuzz needs nightly; these property
//! tests push arbitrary and mutated input through the public entry points instead.)

use chrono::{DateTime, Duration, Utc};
use coset::{CborSerializable, CoseSign1, Header, ProtectedHeader, TaggedCborSerializable, iana};
use healthcode_token::foreign::dcc::{DccTrust, verify_dcc, verify_dcc_cose};
use healthcode_token::foreign::shc::{Jwks, verify_shc, verify_shc_jws};
use healthcode_token::{Report, base45};
use proptest::prelude::*;

use super::support::{parse_instant, read, read_json, unhex};

/// A valid ES256 case (common/CO3), its DSC, and its validation clock.
struct Dcc {
    cose: Vec<u8>,
    prefix: String,
    trust: DccTrust,
    at: DateTime<Utc>,
}

fn dcc(case: &str) -> Dcc {
    let c = read_json(&format!("dgc-testdata/common/2DCode/raw/{case}.json"));
    Dcc {
        cose: unhex(c["COSE"].as_str().unwrap()).unwrap(),
        prefix: c["PREFIX"].as_str().unwrap().to_string(),
        trust: DccTrust::from_pem_or_base64_der(c["TESTCTX"]["CERTIFICATE"].as_str().unwrap()).unwrap(),
        at: parse_instant(c["TESTCTX"]["VALIDATIONCLOCK"].as_str().unwrap()).unwrap(),
    }
}

fn code(r: &Report) -> Option<&'static str> {
    r.error.as_ref().map(|e| e.code)
}

/// zlib at the best level (our own `inflate::compress` writes stored blocks, which would
/// make a bomb as large as what it inflates to).
fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn hc1(cose: &[u8]) -> String {
    format!("HC1:{}", base45::encode(&zlib(cose)))
}

/// Re-encodes the case's COSE after changing it (the protected header is re-serialised).
fn changed(d: &Dcc, change: impl FnOnce(&mut CoseSign1, &mut Header)) -> Vec<u8> {
    let mut s = CoseSign1::from_tagged_slice(&d.cose).unwrap();
    let mut protected = s.protected.header.clone();
    change(&mut s, &mut protected);
    s.protected = ProtectedHeader { original_data: None, header: protected };
    s.to_tagged_vec().unwrap()
}

#[test]
fn dcc_error_codes() {
    let d = dcc("CO3");
    let v = |text: &str| code(&verify_dcc(text, &d.trust, d.at));
    assert_eq!(v(&d.prefix), None);
    assert_eq!(v(&format!("{}\r\n", d.prefix)), None);
    assert_eq!(v(""), Some("prefix_unknown"));
    assert_eq!(v(&d.prefix.replacen("HC1:", "HC2:", 1)), Some("prefix_unknown"));
    assert_eq!(v(&"HC1:".repeat(20_000)), Some("input_too_large"));
    assert_eq!(v("HC1:abc"), Some("base45_invalid"));
    assert_eq!(v(&format!("HC1:{}", base45::encode(b"not zlib"))), Some("inflate_failed"));
    assert_eq!(v(&hc1(&vec![0; 1 << 20])), Some("inflate_too_large"));
    assert_eq!(v(&hc1(b"\x01")), Some("cose_malformed"));

    let c = |bytes: &[u8], at: DateTime<Utc>| code(&verify_dcc_cose(bytes, &d.trust, at));
    assert_eq!(c(&d.cose, d.at), None);
    let eddsa = changed(&d, |_, p| p.alg = Some(coset::Algorithm::Assigned(iana::Algorithm::EdDSA)));
    assert_eq!(c(&eddsa, d.at), Some("alg_not_allowed"));
    let ps256 = changed(&d, |_, p| p.alg = Some(coset::Algorithm::Assigned(iana::Algorithm::PS256)));
    assert_eq!(c(&ps256, d.at), Some("alg_mismatch"));
    let other_kid = changed(&d, |_, p| p.key_id = vec![0; 8]);
    assert_eq!(c(&other_kid, d.at), Some("kid_unknown"));
    let short_kid = changed(&d, |_, p| p.key_id.truncate(7));
    assert_eq!(c(&short_kid, d.at), Some("kid_unknown"));
    let no_kid = changed(&d, |s, p| {
        p.key_id.clear();
        s.unprotected.key_id.clear();
    });
    assert_eq!(c(&no_kid, d.at), Some("kid_unknown"));
    let flipped = changed(&d, |s, _| s.signature[10] ^= 1);
    assert_eq!(c(&flipped, d.at), Some("signature_invalid"));
    // CO24: a DER-encoded (longer) ECDSA signature is refused, not parsed.
    let der_sig = changed(&d, |s, _| {
        s.signature = [&[0x30, 0x44, 0x02, 0x20][..], &s.signature[..32], &[0x02, 0x20], &s.signature[32..]].concat()
    });
    assert_eq!(c(&der_sig, d.at), Some("signature_invalid"));
    let not_cwt = changed(&d, |s, _| s.payload = Some(vec![0x80]));
    assert_eq!(c(&not_cwt, d.at), Some("claims_invalid"));
    let untagged = CoseSign1::from_tagged_slice(&d.cose).unwrap().to_vec().unwrap();
    assert_eq!(c(&untagged, d.at), None);

    let r = verify_dcc_cose(&d.cose, &d.trust, d.at);
    let claims = r.claims.unwrap();
    let iat = DateTime::from_timestamp(claims["iat"].as_i64().unwrap(), 0).unwrap();
    let exp = DateTime::from_timestamp(claims["exp"].as_i64().unwrap(), 0).unwrap();
    assert_eq!(c(&d.cose, iat - Duration::seconds(1)), Some("not_yet_valid"));
    assert_eq!(c(&d.cose, iat), None);
    assert_eq!(c(&d.cose, exp), None);
    assert_eq!(c(&d.cose, exp + Duration::seconds(1)), Some("expired"));
    assert_eq!(code(&verify_dcc_cose(&d.cose, &DccTrust::new(), d.at)), Some("kid_unknown"));
}

#[test]
fn dcc_key_usage_and_schema_codes() {
    let co6 = dcc("CO6"); // test OID, vaccination certificate
    assert_eq!(code(&verify_dcc(&co6.prefix, &co6.trust, co6.at)), Some("key_usage_invalid"));
    let dgc2 = read_json("dgc-testdata/common/2DCode/raw/DGC2.json"); // v and t together
    let r = verify_dcc(dgc2["PREFIX"].as_str().unwrap(), &DccTrust::new(), Utc::now());
    assert_eq!((r.steps.schema, r.error.map(|e| e.code)), (Some(false), Some("kid_unknown")));
}

#[test]
fn changing_any_byte_of_a_signed_dcc_fails() {
    for case in ["CO3", "CO1"] {
        let d = dcc(case);
        for i in 0..d.cose.len() {
            let mut bytes = d.cose.clone();
            bytes[i] ^= 0x01;
            let r = verify_dcc_cose(&bytes, &d.trust, d.at);
            assert!(!r.valid, "{case}: byte {i} flipped still verifies");
        }
    }
}

#[test]
fn changing_any_character_of_a_dcc_text_fails() {
    let d = dcc("CO3");
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    for i in 0..d.prefix.len() {
        let mut bytes = d.prefix.clone().into_bytes();
        let at = alphabet.iter().position(|&c| c == bytes[i]).unwrap_or(0);
        bytes[i] = alphabet[(at + 11) % alphabet.len()];
        let text = String::from_utf8(bytes).unwrap();
        assert!(!verify_dcc(&text, &d.trust, d.at).valid, "position {i} changed still verifies");
    }
}

/// Example 00's JWS, the issuer's keys and a time inside its validity.
fn shc() -> (String, Jwks, DateTime<Utc>) {
    let jws = read("smart-health-cards/examples/example-00-d-jws.txt").trim().to_string();
    let jwks = Jwks::from_json(&read("smart-health-cards/examples/issuer/.well-known/jwks.json")).unwrap();
    (jws, jwks, DateTime::from_timestamp(1_687_500_000, 0).unwrap())
}

fn qr(jws: &str) -> String {
    let digits: String = jws.bytes().map(|b| format!("{:02}", b - 45)).collect();
    format!("shc:/{digits}")
}

#[test]
fn shc_error_codes() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let (jws, jwks, at) = shc();
    let v = |text: &str| code(&verify_shc(text, &jwks, at));
    assert_eq!(v(&qr(&jws)), None);
    assert_eq!(v("HC1:xyz"), Some("prefix_unknown"));
    assert_eq!(v(&"shc:/".repeat(20_000)), Some("input_too_large"));
    assert_eq!(v("shc:/1/2/0000"), Some("chunks_invalid"));
    assert_eq!(v("shc:/999"), Some("numeric_invalid"));
    assert_eq!(v("shc:/7899"), Some("numeric_invalid"));
    assert_eq!(v(&qr("notajws")), Some("jws_malformed"));

    let parts: Vec<&str> = jws.split('.').collect();
    let with_header = |h: &str| format!("{}.{}.{}", B64.encode(h), parts[1], parts[2]);
    let kid = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s";
    let j = |text: &str| code(&verify_shc_jws(text, &jwks, at));
    assert_eq!(j(&with_header(&format!(r#"{{"zip":"DEF","alg":"ES256","kid":"{kid}"}}"#))), None);
    // The same header, written in another order: the signature covers the bytes.
    assert_eq!(j(&with_header(&format!(r#"{{"alg":"ES256","zip":"DEF","kid":"{kid}"}}"#))), Some("signature_invalid"));
    assert_eq!(j(&with_header(&format!(r#"{{"zip":"DEF","alg":"none","kid":"{kid}"}}"#))), Some("alg_not_allowed"));
    assert_eq!(j(&with_header(r#"{"zip":"DEF","alg":"ES256","kid":"nobody"}"#)), Some("kid_unknown"));
    assert_eq!(j(&with_header(&format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#))), Some("inflate_failed"));
    let mut sig = B64.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    assert_eq!(j(&format!("{}.{}.{}", parts[0], parts[1], B64.encode(&sig))), Some("signature_invalid"));
    let bomb = {
        use std::io::Write;
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b' '; 1 << 20]).unwrap();
        e.finish().unwrap()
    };
    assert_eq!(j(&format!("{}.{}.{}", parts[0], B64.encode(bomb), parts[2])), Some("inflate_too_large"));
}

#[test]
fn changing_any_character_of_a_card_fails() {
    let (jws, jwks, at) = shc();
    let text = qr(&jws);
    for i in "shc:/".len()..text.len() {
        let mut bytes = text.clone().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let changed = String::from_utf8(bytes).unwrap();
        assert!(!verify_shc(&changed, &jwks, at).valid, "digit {i} changed still verifies");
    }
}

#[test]
fn trust_material_never_panics_on_mutation() {
    let c = read_json("dgc-testdata/common/2DCode/raw/CO1.json");
    let der = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(c["TESTCTX"]["CERTIFICATE"].as_str().unwrap()).unwrap()
    };
    for i in 0..der.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bytes = der.clone();
            bytes[i] ^= flip;
            let _ = DccTrust::new().add_der(&bytes);
        }
        let _ = DccTrust::new().add_der(&der[..i]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,300}") {
        let d = dcc_cached();
        let (_, jwks, at) = shc();
        let _ = verify_dcc(&s, &d.trust, d.at);
        let _ = verify_dcc(&format!("HC1:{s}"), &d.trust, d.at);
        let _ = verify_shc(&s, &jwks, at);
        let _ = verify_shc(&format!("shc:/{s}"), &jwks, at);
        let _ = verify_shc_jws(&s, &jwks, at);
        let _ = DccTrust::from_pem_or_base64_der(&s);
        let _ = Jwks::from_json(&s);
    }

    #[test]
    fn arbitrary_digits_and_bytes_never_panic(digits in "[0-9/]{0,400}", bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let d = dcc_cached();
        let (_, jwks, at) = shc();
        let _ = verify_shc(&format!("shc:/{digits}"), &jwks, at);
        let _ = verify_dcc_cose(&bytes, &d.trust, d.at);
        let _ = verify_dcc(&hc1(&bytes), &d.trust, d.at);
        let _ = DccTrust::new().add_der(&bytes);
    }

    #[test]
    fn mutated_cose_never_panics_or_passes(i in 0usize..2000, xor in 1u8..=255, cut in 0usize..2000) {
        let d = dcc_cached();
        let mut bytes = d.cose.clone();
        let n = bytes.len();
        bytes[i % n] ^= xor;
        prop_assert!(!verify_dcc_cose(&bytes, &d.trust, d.at).valid);
        prop_assert!(!verify_dcc_cose(&d.cose[..cut % n], &d.trust, d.at).valid);
    }
}

fn dcc_cached() -> &'static Dcc {
    static CACHE: std::sync::OnceLock<Dcc> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| dcc("CO3"))
}
