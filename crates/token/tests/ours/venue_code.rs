//! Venue codes (`JKV1:`): valid for one local day plus a short grace, forged or foreign ones
//! refused with their own codes.

use chrono::{DateTime, Duration, Utc};
use healthcode_core::local_time::{local_day, local_midnight};
use healthcode_core::{RegionCode, VenueId};
use healthcode_token::qr::Qr;
use healthcode_token::venue_code::MIDNIGHT_GRACE;
use healthcode_token::*;

use super::{Fixture, claims, fixture, issue, t0};

fn venue() -> VenueId {
    VenueId::parse("v_0123456789abcdef0123").unwrap()
}

fn sign(f: &Fixture, at: DateTime<Utc>) -> String {
    let key = f.ring.active().unwrap();
    sign_venue_code(&venue(), key.region, &key.node, at, &key.secret)
}

fn code_of(text: &str, f: &Fixture, at: DateTime<Utc>) -> &'static str {
    match check_venue_code(text, &f.trust, at) {
        Ok(_) => "",
        Err(r) => r.error.unwrap().code,
    }
}

#[test]
fn a_venue_code_is_valid_for_its_local_day_and_a_short_grace() {
    let f = fixture(Alg::EdDSA);
    let text = sign(&f, t0());
    assert!(text.starts_with(VENUE_PREFIX));
    let day = local_day(t0());
    let v = check_venue_code(&text, &f.trust, t0() + Duration::hours(1)).unwrap();
    assert_eq!((v.venue_id, v.day), (venue(), day));
    let next_midnight = local_midnight(day + Duration::days(1));
    assert_eq!(code_of(&text, &f, next_midnight + MIDNIGHT_GRACE - Duration::seconds(1)), "");
    assert_eq!(code_of(&text, &f, next_midnight + MIDNIGHT_GRACE), "venue_code_stale");
    assert_eq!(code_of(&text, &f, next_midnight + Duration::days(3)), "venue_code_stale");
    // Issued today: not valid for a scan the day before.
    assert_eq!(code_of(&text, &f, local_midnight(day) - Duration::hours(1)), "not_yet_valid");
    // Within the QR size health codes keep to (version 10 at level M).
    assert!(Qr::new(&text).unwrap().version() <= 10, "{}", text.len());
}

#[test]
fn forged_foreign_and_other_prefix_codes_are_refused_with_their_own_codes() {
    let f = fixture(Alg::EdDSA);
    let other = fixture(Alg::EdDSA);
    let at = t0() + Duration::minutes(5);
    let text = sign(&f, t0());
    // Signed by a key the trust list does not know.
    assert_eq!(code_of(&sign(&other, t0()), &f, at), "kid_unknown");
    // A health code is not a venue code, and a venue code is not a health code.
    let health = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    assert_eq!(code_of(&health, &f, at), "prefix_unknown");
    let (report, _) = verify(&text, &f.trust, VerifyOptions::at(at));
    assert_eq!(report.error.unwrap().code, "prefix_unknown");
    // Every changed character of the Base45 body is refused (never accepted, never a panic).
    let body = &text[VENUE_PREFIX.len()..];
    for i in (0..body.len()).step_by(3) {
        let mut bytes = body.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let forged = format!("{VENUE_PREFIX}{}", String::from_utf8(bytes).unwrap());
        if forged != text {
            assert_ne!(code_of(&forged, &f, at), "", "position {i}");
        }
    }
    assert_eq!(code_of("JKV1:%%%", &f, at), "base45_invalid");
}

#[test]
fn a_venue_code_from_a_key_of_another_region_is_refused() {
    let f = fixture(Alg::EdDSA);
    let key = f.ring.active().unwrap();
    let text = sign_venue_code(&venue(), RegionCode::parse("110000").unwrap(), &key.node, t0(), &key.secret);
    assert_eq!(code_of(&text, &f, t0()), "issuer_not_allowed");
}
