//! The decoder never passes a changed token, never panics, never allocates without bound.
//! (cargo-fuzz needs nightly, which this machine does not have; these property tests push
//! arbitrary and mutated input through the same entry point a fuzz target would.)

use healthcode_token::*;
use proptest::prelude::*;

use super::{claims, fixture, issue, t0};

fn failure(token: &str, trust: &TrustList) -> Option<&'static str> {
    let r = verify(token, trust, VerifyOptions::at(t0())).0;
    r.error.map(|e| e.code)
}

#[test]
fn changing_any_single_byte_of_the_signed_structure_fails() {
    let f = fixture(Alg::EdDSA);
    let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    let cose = inflate::inflate(&base45::decode(&token[5..]).unwrap()).unwrap();
    for i in 0..cose.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bytes = cose.clone();
            bytes[i] ^= flip;
            let code = failure(&code::wrap(&bytes), &f.trust);
            assert!(
                matches!(
                    code,
                    Some("cose_malformed" | "signature_invalid" | "kid_unknown" | "alg_not_allowed" | "alg_mismatch")
                ),
                "byte {i} ^ {flip:#x} gave {code:?}"
            );
        }
    }
}

#[test]
fn changing_any_single_character_of_the_text_fails() {
    let f = fixture(Alg::EdDSA);
    let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        let original = bytes[i];
        bytes[i] = alphabet[(alphabet.iter().position(|&c| c == original).unwrap_or(0) + 7) % alphabet.len()];
        let changed = String::from_utf8(bytes).unwrap();
        assert!(failure(&changed, &f.trust).is_some(), "position {i} still verifies");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,400}") {
        let f = fixture_cached();
        let _ = verify(&s, &f.trust, VerifyOptions::at(t0()));
        let _ = verify(&format!("JKM1:{s}"), &f.trust, VerifyOptions::at(t0()));
    }

    #[test]
    fn arbitrary_bytes_behind_valid_framing_never_pass(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = fixture_cached();
        prop_assert!(failure(&code::wrap(&bytes), &f.trust).is_some());
        let text = format!("JKM1:{}", base45::encode(&bytes));
        prop_assert!(failure(&text, &f.trust).is_some());
    }

    #[test]
    fn mutated_valid_tokens_never_pass(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let f = fixture_cached();
        let token = issue(f, &claims(CodeKind::Phone, t0(), "420102"));
        let mut cose = inflate::inflate(&base45::decode(&token[5..]).unwrap()).unwrap();
        let original = cose.clone();
        for (at, value) in edits {
            let i = at % cose.len();
            cose[i] = value;
        }
        prop_assume!(cose != original);
        prop_assert!(failure(&code::wrap(&cose), &f.trust).is_some());
    }

    #[test]
    fn arbitrary_images_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&bytes);
        let _ = qr::decode_image(&png);
        let mut jpeg = vec![0xff, 0xd8];
        jpeg.extend_from_slice(&bytes);
        let _ = qr::decode_image(&jpeg);
    }
}

/// One fixture for every generated case. A static is never dropped, so its key folder goes
/// at once: the keys are in memory, and nothing here reads the folder again.
fn fixture_cached() -> &'static super::Fixture {
    static F: std::sync::OnceLock<super::Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let f = fixture(Alg::EdDSA);
        std::fs::remove_dir_all(&f.dir).ok();
        f
    })
}
