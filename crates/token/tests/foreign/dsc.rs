//! The Document Signer Certificate quirks that SOURCE.md names, read leniently.

use healthcode_token::foreign::dcc::{DccKind, DccTrust};

use super::support::read_json;

fn trust(case: &str) -> DccTrust {
    let c = read_json(&format!("dgc-testdata/{case}"));
    DccTrust::from_pem_or_base64_der(c["TESTCTX"]["CERTIFICATE"].as_str().unwrap()).unwrap()
}

#[test]
fn finnish_dscs_with_explicit_ca_false_list_all_three_types() {
    for n in 1..=10 {
        let t = trust(&format!("FI/2DCode/raw/{n}.json"));
        let dsc = &t.dscs()[0];
        let eku = dsc.eku.as_ref().expect("an EKU");
        assert_eq!(eku.len(), 3, "FI/{n}: {eku:?}");
        assert!(eku.iter().all(|o| o.starts_with("1.3.6.1.4.1.0.1847.2021.1.")), "FI/{n}: {eku:?}");
        assert!([DccKind::Test, DccKind::Vaccination, DccKind::Recovery].iter().all(|k| dsc.allows(*k)));
    }
}

#[test]
fn an_empty_eku_allows_every_type_and_a_foreign_one_none() {
    let co15 = trust("common/2DCode/raw/CO15.json");
    assert_eq!(co15.dscs()[0].eku, Some(vec![]));
    assert!(co15.dscs()[0].allows(DccKind::Recovery));
    let is3 = trust("IS/2DCode/raw/3.json");
    assert_eq!(is3.dscs()[0].eku.as_deref(), Some(&["2.23.136.1.1.14.2".to_string()][..]));
    assert!(!is3.dscs()[0].allows(DccKind::Test));
}

#[test]
fn trust_reads_pem_and_several_certificates() {
    let b64 =
        |case: &str| read_json(&format!("dgc-testdata/{case}"))["TESTCTX"]["CERTIFICATE"].as_str().unwrap().to_string();
    let (a, b) = (b64("common/2DCode/raw/CO1.json"), b64("common/2DCode/raw/CO3.json"));
    let wrapped: String = a.as_bytes().chunks(64).map(|l| format!("{}\n", std::str::from_utf8(l).unwrap())).collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{wrapped}-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n{b}\n-----END CERTIFICATE-----\n"
    );
    assert_eq!(DccTrust::from_pem_or_base64_der(&pem).unwrap().len(), 2);
    assert_eq!(DccTrust::from_pem_or_base64_der(&wrapped).unwrap().len(), 1);
    assert_eq!(DccTrust::from_pem_or_base64_der(&format!("{a}\n{b}\n")).unwrap().len(), 2);
    let err = DccTrust::from_pem_or_base64_der("MIIB").unwrap_err();
    assert_eq!(err.code(), "dsc_invalid");
}
