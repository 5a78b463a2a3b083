//! Our own token format end to end: issue, render, scan, verify, rotate, tamper.

mod batch;
mod robustness;
mod venue_code;

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use healthcode_core::{Color, RegionCode};
use healthcode_token::qr::{Qr, decode_image};
use healthcode_token::*;

pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

pub fn claims(kind: CodeKind, at: DateTime<Utc>, region: &str) -> HealthClaims {
    HealthClaims {
        issuer_region: RegionCode::parse(region).unwrap(),
        issuer_node: "hc1".into(),
        subject: "s7zzzzzzzzzzzzzzzzzzzzzzzz".into(),
        issued_at: at,
        expires_at: at + if kind == CodeKind::Phone { Duration::seconds(180) } else { Duration::days(365) },
        // A long masked name: four characters of three bytes each.
        masked_name: "欧**三".into(),
        kind,
        color: (kind == CodeKind::Phone).then_some(Color::Yellow),
        color_since: (kind == CodeKind::Phone).then_some(at - Duration::days(3)),
        rule_set_version: [0xab; 8],
        summary: Some(Summary { last_negative_test: Some(20270114), vaccine_doses: Some(3) }),
    }
}

/// A key folder with one issuer key for 420100/hc1, and its trust list.
pub struct Fixture {
    pub dir: std::path::PathBuf,
    pub ring: Keyring,
    pub trust: TrustList,
}

pub fn fixture(alg: Alg) -> Fixture {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("healthcode-keys-{}-{nanos}", std::process::id()));
    let ring =
        Keyring::generate(&dir, alg, RegionCode::parse("420100").unwrap(), "hc1", t0() - Duration::days(1)).unwrap();
    let trust = trust_of(&ring, t0());
    Fixture { dir, ring, trust }
}

impl Drop for Fixture {
    /// The key folder goes with the test.
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn trust_of(ring: &Keyring, now: DateTime<Utc>) -> TrustList {
    let payload = ring.trust_list(now, Duration::days(365), Duration::days(7));
    let signed = SignedTrustList::sign(&payload, ring.root());
    TrustList::verify(&signed.to_json(), &ring.root().public(), now).unwrap()
}

pub fn issue(f: &Fixture, c: &HealthClaims) -> String {
    sign_token(c, &f.ring.active().unwrap().secret)
}

fn check(token: &str, trust: &TrustList, at: DateTime<Utc>) -> Report {
    verify(token, trust, VerifyOptions::at(at)).0
}

fn error_code(r: &Report) -> &'static str {
    r.error.as_ref().map_or("", |e| e.code)
}

#[test]
fn a_phone_code_verifies_offline_with_every_step_passed() {
    for alg in [Alg::EdDSA, Alg::ES256] {
        let f = fixture(alg);
        let c = claims(CodeKind::Phone, t0(), "420102");
        let token = issue(&f, &c);
        assert!(token.starts_with("JKM1:"));
        let (report, verified) = verify(&token, &f.trust, VerifyOptions::at(t0() + Duration::seconds(60)));
        assert!(report.valid, "{report:?}");
        assert_eq!(report.format, Some(Format::Healthcode));
        let s = &report.steps;
        for step in [s.prefix, s.base45, s.inflate, s.cose, s.signature, s.expiry, s.schema, s.key_usage] {
            assert_eq!(step, Some(true));
        }
        assert_eq!(verified.unwrap().claims, c);
        let json = report.claims.unwrap();
        assert_eq!(json["color"], "yellow");
        assert_eq!(json["masked_name"], "欧**三");
        assert_eq!(json["issuer"], "420102/hc1");
    }
}

#[test]
fn a_phone_code_fits_qr_version_10_at_level_m() {
    for alg in [Alg::EdDSA, Alg::ES256] {
        let f = fixture(alg);
        let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
        let qr = Qr::new(&token).unwrap();
        assert!(qr.version() <= 10, "{alg}: {} characters need QR version {}", token.len(), qr.version());
        // Every character is in the QR alphanumeric set, so the encoder uses that mode.
        assert!(token.bytes().all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b)));
    }
}

#[test]
fn a_paper_code_carries_no_color_and_asks_for_a_lookup() {
    let f = fixture(Alg::EdDSA);
    let c = claims(CodeKind::Paper, t0(), "420102");
    assert_eq!(c.color, None);
    let token = issue(&f, &c);
    let r = check(&token, &f.trust, t0() + Duration::days(200));
    assert!(r.valid, "{r:?}");
    let json = r.claims.unwrap();
    assert_eq!(json["color"], serde_json::Value::Null);
    assert_eq!(json["color_needs_lookup"], true);
}

#[test]
fn each_failure_has_its_own_error() {
    let f = fixture(Alg::EdDSA);
    let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    // Expired, not yet valid (beyond the 30 s skew).
    assert_eq!(error_code(&check(&token, &f.trust, t0() + Duration::seconds(211))), "expired");
    assert!(check(&token, &f.trust, t0() + Duration::seconds(200)).valid, "within the skew");
    assert_eq!(error_code(&check(&token, &f.trust, t0() - Duration::seconds(31))), "not_yet_valid");
    // Wrong prefix; a foreign credential is recognised but is not ours.
    let r = check(&token.replacen("JKM1:", "JKM2:", 1), &f.trust, t0());
    assert_eq!((error_code(&r), r.steps.prefix), ("prefix_unknown", Some(false)));
    let r = check("HC1:6BFOXN", &f.trust, t0());
    assert_eq!(r.format, Some(Format::EuDcc));
    assert_eq!(error_code(&check("JKM1:not base45!", &f.trust, t0())), "base45_invalid");
    assert_eq!(error_code(&check(&format!("JKM1:{}", base45::encode(b"plain")), &f.trust, t0())), "inflate_failed");
    let bomb = {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, &vec![0u8; 1 << 20]).unwrap();
        e.finish().unwrap()
    };
    assert_eq!(error_code(&check(&format!("JKM1:{}", base45::encode(&bomb)), &f.trust, t0())), "inflate_too_large");
    assert_eq!(error_code(&check(&code::wrap(b"\x01\x02"), &f.trust, t0())), "cose_malformed");
    // A key that is not in the trust list.
    let stranger = fixture(Alg::EdDSA);
    let r = check(&issue(&stranger, &claims(CodeKind::Phone, t0(), "420102")), &f.trust, t0());
    assert_eq!((error_code(&r), r.steps.signature), ("kid_unknown", Some(false)));
    // An algorithm outside the allow-list, with our key id.
    let kid = f.ring.active().unwrap().secret.public().kid().to_vec();
    let bad_alg = coset::CoseSign1Builder::new()
        .protected(coset::HeaderBuilder::new().algorithm(coset::iana::Algorithm::ES384).key_id(kid.clone()).build())
        .payload(claims(CodeKind::Phone, t0(), "420102").to_cbor())
        .signature(vec![0; 96])
        .build();
    assert_eq!(error_code(&check(&code::wrap(&code::cose_bytes(bad_alg)), &f.trust, t0())), "alg_not_allowed");
    // Our kid, but claiming ES256 for an Ed25519 key.
    let mismatch = coset::CoseSign1Builder::new()
        .protected(coset::HeaderBuilder::new().algorithm(coset::iana::Algorithm::ES256).key_id(kid).build())
        .payload(claims(CodeKind::Phone, t0(), "420102").to_cbor())
        .signature(vec![0; 64])
        .build();
    assert_eq!(error_code(&check(&code::wrap(&code::cose_bytes(mismatch)), &f.trust, t0())), "alg_mismatch");
    // An issuer claiming a region its key does not cover.
    let r = check(&issue(&f, &claims(CodeKind::Phone, t0(), "110101")), &f.trust, t0());
    assert_eq!((error_code(&r), r.steps.key_usage), ("issuer_not_allowed", Some(false)));
    // Garbage images.
    assert_eq!(decode_image(b"GIF89a").unwrap_err().code(), "image_format");
}

#[test]
fn tokens_signed_before_a_rotation_keep_verifying_until_they_expire() {
    let f = fixture(Alg::EdDSA);
    let paper = issue(&f, &claims(CodeKind::Paper, t0(), "420102"));
    let old_phone = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    let rotated_at = t0() + Duration::seconds(10);
    let (old_kid, new_kid) = Keyring::rotate(&f.dir, None, rotated_at).unwrap();
    assert_ne!(old_kid, new_kid);
    let ring = Keyring::load(&f.dir).unwrap();
    assert_eq!(ring.active().unwrap().kid_hex(), new_kid);
    let trust = trust_of(&ring, rotated_at + Duration::seconds(1));
    assert_eq!(trust.len(), 2);
    let new_phone = sign_token(&claims(CodeKind::Phone, rotated_at, "420102"), &ring.active().unwrap().secret);
    assert!(check(&old_phone, &trust, rotated_at + Duration::seconds(60)).valid);
    assert!(check(&new_phone, &trust, rotated_at + Duration::seconds(60)).valid);
    assert!(check(&paper, &trust, rotated_at + Duration::days(100)).valid);
    // The old key is listed until the longest-lived token it signed (a paper code) expires.
    let much_later = rotated_at + Duration::days(366);
    assert_eq!(trust_of(&ring, much_later).len(), 1);
    // A token the retired key signed after its retirement is refused.
    let old_key = ring.issuers().iter().find(|k| k.kid_hex() == old_kid).unwrap();
    let late = sign_token(&claims(CodeKind::Phone, rotated_at + Duration::days(2), "420102"), &old_key.secret);
    let trust_then = trust_of(&ring, rotated_at + Duration::days(2));
    assert!(
        check(&late, &trust_then, rotated_at + Duration::days(2)).valid,
        "retired keys remain trusted for paper codes"
    );
}

#[test]
fn key_files_are_private_and_generate_is_idempotent() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture(Alg::ES256);
    let mut files = 0;
    for entry in std::fs::read_dir(&f.dir).unwrap() {
        let meta = entry.unwrap().metadata().unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        files += 1;
    }
    assert_eq!(files, 2, "a root key and one issuer key");
    let again = Keyring::generate(&f.dir, Alg::EdDSA, RegionCode::parse("110000").unwrap(), "x", t0()).unwrap();
    assert_eq!(again.active().unwrap().kid_hex(), f.ring.active().unwrap().kid_hex());
    // A key file others can read is refused.
    let path = std::fs::read_dir(&f.dir).unwrap().next().unwrap().unwrap().path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(Keyring::load(&f.dir), Err(KeyringError::Permissions(..))));
}

#[test]
fn zbarimg_reads_our_png_back_to_the_exact_token() {
    let f = fixture(Alg::EdDSA);
    let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    let png = Qr::new(&token).unwrap().png();
    assert_eq!(decode_image(&png).unwrap(), token, "rqrr");
    let path = f.dir.join("code.png");
    std::fs::write(&path, &png).unwrap();
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&path)
        .output()
        .expect("zbarimg (apt zbar-tools) must be installed: scripts/test.sh installs it");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end_matches('\n'), token);
}

/// A phone photo of a code on a screen: turned 8°, scaled by 1.7, on a grey background with
/// lower contrast and noise, saved as a JPEG at quality 70. The verifier reads it.
#[test]
fn a_photo_of_a_code_is_read_and_verified() {
    let f = fixture(Alg::EdDSA);
    let token = issue(&f, &claims(CodeKind::Phone, t0(), "420102"));
    let png = Qr::new(&token).unwrap().png();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut src = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut src).unwrap();
    let (sw, sh) = (info.width as f64, info.height as f64);
    let (w, h) = (1100usize, 1000usize);
    let (angle, scale) = (8f64.to_radians(), 1.7);
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let mut seed = 12345u64;
    let mut noise = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        ((seed >> 33) % 41) as f64 - 20.0
    };
    let mut photo = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            // Inverse mapping from the photo back to the source image.
            let (dx, dy) = ((x as f64 - cx) / scale, (y as f64 - cy) / scale);
            let sx = dx * angle.cos() + dy * angle.sin() + sw / 2.0;
            let sy = -dx * angle.sin() + dy * angle.cos() + sh / 2.0;
            let v = if sx >= 0.0 && sy >= 0.0 && sx < sw && sy < sh {
                f64::from(src[sy as usize * info.width as usize + sx as usize])
            } else {
                170.0
            };
            // Screen glare and a dark sensor: the range 40–210 instead of 0–255.
            photo[y * w + x] = (40.0 + v * 170.0 / 255.0 + noise()).clamp(0.0, 255.0) as u8;
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 70)
        .encode(&photo, w as u16, h as u16, jpeg_encoder::ColorType::Luma)
        .unwrap();
    assert_eq!(decode_image(&jpeg).unwrap(), token);
    assert!(check(&decode_image(&jpeg).unwrap(), &f.trust, t0()).valid);
}
