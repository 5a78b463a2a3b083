//! Many codes checked at once (`check_many`, signatures verified as a batch) give exactly the
//! decision and the report that checking each alone gives: good, forged, expired, foreign and
//! mutated codes mixed in one batch.

use chrono::Duration;
use healthcode_token::*;

use super::{claims, fixture, issue, t0};

/// Compares the batch's outcome for every code with the single check's.
fn same_as_single(codes: &[(&str, VerifyOptions)], trust: &TrustList) -> Vec<Option<&'static str>> {
    let batch = check_many(codes, trust);
    assert_eq!(batch.len(), codes.len());
    codes
        .iter()
        .zip(batch)
        .map(|((text, opts), b)| match (check(text, trust, *opts), b) {
            (Ok(single), Ok(b)) => {
                assert_eq!((single.claims, single.kid), (b.claims, b.kid));
                None
            }
            (Err(single), Err(b)) => {
                assert_eq!(single, b, "{text}");
                Some(single.error.map_or("", |e| e.code))
            }
            (single, b) => panic!("{text}: single {single:?}, batch {b:?}"),
        })
        .collect()
}

/// A code carrying `f`'s key id, signed by another key: a forgery.
fn forged(f: &super::Fixture, stranger: &SecretKey) -> String {
    let kid = f.ring.active().unwrap().secret.public().kid().to_vec();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(coset::HeaderBuilder::new().algorithm(stranger.alg().cose()).key_id(kid).build())
        .payload(claims(CodeKind::Phone, t0(), "420102").to_cbor())
        .create_signature(b"", |data| stranger.sign(data))
        .build();
    code::wrap(&code::cose_bytes(sign1))
}

#[test]
fn a_batch_of_good_forged_expired_and_foreign_codes_decides_each_as_alone() {
    for alg in [Alg::EdDSA, Alg::ES256] {
        let f = fixture(alg);
        let stranger = fixture(alg);
        let now = VerifyOptions::at(t0() + Duration::seconds(60));
        let good: Vec<String> = (0..20)
            .map(|i| {
                let mut c = claims(CodeKind::Phone, t0() + Duration::seconds(i), "420102");
                c.subject = format!("s{i:026}");
                issue(&f, &c)
            })
            .collect();
        let forgery = forged(&f, &stranger.ring.active().unwrap().secret);
        let foreign = issue(&stranger, &claims(CodeKind::Phone, t0(), "420102"));
        let other_region = issue(&f, &claims(CodeKind::Phone, t0(), "110101"));
        let mut texts: Vec<(&str, VerifyOptions)> = good.iter().map(|g| (g.as_str(), now)).collect();
        texts.insert(3, (&forgery, now));
        texts.insert(8, (&good[0], VerifyOptions::at(t0() + Duration::seconds(600))));
        texts.insert(12, (&foreign, now));
        texts.insert(15, (&other_region, now));
        texts.insert(17, ("JKM1:not base45!", now));
        let outcomes = same_as_single(&texts, &f.trust);
        let failed: Vec<(usize, &str)> = outcomes.iter().enumerate().filter_map(|(i, o)| o.map(|c| (i, c))).collect();
        assert_eq!(
            failed,
            vec![
                (3, "signature_invalid"),
                (8, "expired"),
                (12, "kid_unknown"),
                (15, "issuer_not_allowed"),
                (17, "base45_invalid")
            ],
            "{alg}"
        );
        // All good, and a batch of one.
        let all_good: Vec<(&str, VerifyOptions)> = good.iter().map(|g| (g.as_str(), now)).collect();
        assert!(same_as_single(&all_good, &f.trust).iter().all(Option::is_none));
        assert_eq!(same_as_single(&[(&forgery, now)], &f.trust), vec![Some("signature_invalid")]);
    }
}

#[test]
fn every_single_byte_change_fails_in_a_batch_as_it_fails_alone() {
    let f = fixture(Alg::EdDSA);
    let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    let cose = inflate::inflate(&base45::decode(&token[5..]).unwrap()).unwrap();
    let at = VerifyOptions::at(t0());
    for flip in [0x01u8, 0x80, 0xff] {
        let mutated: Vec<String> = (0..cose.len())
            .map(|i| {
                let mut bytes = cose.clone();
                bytes[i] ^= flip;
                code::wrap(&bytes)
            })
            .collect();
        // Each mutated code between two good ones.
        let mut texts = Vec::new();
        for m in &mutated {
            texts.extend([(token.as_str(), at), (m.as_str(), at)]);
        }
        texts.push((token.as_str(), at));
        let outcomes = same_as_single(&texts, &f.trust);
        for (i, o) in outcomes.iter().enumerate() {
            assert_eq!(o.is_none(), i % 2 == 0, "code {i} (flip {flip:#x}): {o:?}");
        }
    }
}
