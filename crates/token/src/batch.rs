//! Many Ed25519 signatures verified at once, for a server checking the codes of many scans in
//! flight: one multi-scalar multiplication for the whole batch instead of one double scalar
//! multiplication per signature, so each signature costs a fraction of a single check.
//!
//! The batch equation, with a fresh random 128-bit `z_i` per signature (from the operating
//! system, so nobody can choose signatures that cancel out), `h_i = SHA-512(R_i ‖ A ‖ M_i)`,
//! and the terms of one key merged into a single point:
//!
//! ```text
//!   [8] ( −(Σ z_i·s_i)·B + Σ z_i·R_i + Σ_keys (Σ_{i of key} z_i·h_i)·A ) = identity
//! ```
//!
//! It is **cofactored** (the `[8]`), where the single check ([`PublicKey::verify`], dalek's
//! `verify_strict`) is cofactorless: `R = s·B − h·A` exactly. Both apply the same refusals
//! first (a non-canonical `s` or `R` encoding, an `R` that is not a point, a small-order `R`
//! or key), so they can disagree only on a signature whose `R` carries a small-order
//! component: the batch accepts it, the single check refuses it. Making one needs the private
//! key (it is an honest signature with a torsion point added to its `R`, the nonce commitment
//! re-hashed with it); our signer never does, and nobody without the key can make a signature
//! that passes either equation. A cofactorless batch would be worse: with random `z_i` such a
//! signature would pass or fail by chance (one time in eight). `docs/token-format.md` says
//! this for verifier writers.
//!
//! When a batch fails, each of its signatures is checked alone, so a forged code fails by
//! itself with its own reason and the honest ones in its batch still pass.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::alg::PublicKey;
use crate::verify::{SignatureVerdict, Signed};

/// Below this many Ed25519 signatures one at a time is as cheap (measured: the batch's fixed
/// cost is a few single checks).
pub const MIN_BATCH: usize = 4;

/// One Ed25519 signature that passed the refusals both checks share, ready for the equation.
struct Term {
    /// Its place in the caller's list.
    at: usize,
    /// Which of the batch's keys signed it.
    key: usize,
    r: EdwardsPoint,
    s: Scalar,
    h: Scalar,
}

/// Verifies every signature: valid where [`Signed::verify`] says `true` (see the module comment
/// for the one kind of signature where they differ, which only a key's holder can make).
pub fn verify_signatures(items: &[&Signed]) -> Vec<SignatureVerdict> {
    verdicts(items).into_iter().map(SignatureVerdict).collect()
}

fn verdicts(items: &[&Signed]) -> Vec<bool> {
    let mut valid = vec![false; items.len()];
    let mut keys: Vec<(&ed25519_dalek::VerifyingKey, EdwardsPoint)> = Vec::new();
    let mut terms = Vec::with_capacity(items.len());
    for (at, item) in items.iter().enumerate() {
        match &item.key {
            PublicKey::EdDSA(key) => {
                let key_at = match keys.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        keys.push((key, key.to_edwards()));
                        keys.len() - 1
                    }
                };
                // `None`: refused by the checks both paths share; stays false.
                if let Some(term) = prepare(at, key_at, key, item) {
                    terms.push(term);
                }
            }
            PublicKey::ES256(_) => valid[at] = item.verify(),
        }
    }
    if terms.len() >= MIN_BATCH && equation_holds(&terms, &keys) {
        for t in &terms {
            valid[t.at] = true;
        }
    } else {
        for t in &terms {
            valid[t.at] = items[t.at].verify();
        }
    }
    valid
}

/// The refusals of `verify_strict` before its equation, and `h`; `None` when refused.
fn prepare(at: usize, key_at: usize, key: &ed25519_dalek::VerifyingKey, item: &Signed) -> Option<Term> {
    let sig: &[u8; 64] = item.signature.as_slice().try_into().ok()?;
    let (r_bytes, s_bytes) = sig.split_at(32);
    let r_bytes: [u8; 32] = r_bytes.try_into().ok()?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes.try_into().ok()?))?;
    if !canonical_y(&r_bytes) || key.is_weak() {
        return None;
    }
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    if r.is_small_order() {
        return None;
    }
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(key.as_bytes());
    hash.update(&item.message);
    let h = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    Some(Term { at, key: key_at, r, s, h })
}

/// Whether the encoded y coordinate is below p = 2^255 − 19. The single check compares the
/// encoding of the point it computes (always canonical) with `R`'s bytes, so it refuses a
/// non-canonical `R`; decompressing alone would accept one.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

/// The cofactored batch equation with random weights; false also when no randomness is to be
/// had (the caller then checks one by one).
fn equation_holds(terms: &[Term], keys: &[(&ed25519_dalek::VerifyingKey, EdwardsPoint)]) -> bool {
    let mut random = vec![0u8; 16 * terms.len()];
    if getrandom::fill(&mut random).is_err() {
        return false;
    }
    let mut b_coefficient = Scalar::ZERO;
    let mut key_coefficients = vec![Scalar::ZERO; keys.len()];
    let mut scalars = Vec::with_capacity(terms.len() + keys.len() + 1);
    let mut points = Vec::with_capacity(terms.len() + keys.len() + 1);
    for (t, z) in terms.iter().zip(random.chunks_exact(16)) {
        let z = Scalar::from(u128::from_le_bytes(z.try_into().expect("16 bytes")));
        b_coefficient += z * t.s;
        key_coefficients[t.key] += z * t.h;
        scalars.push(z);
        points.push(t.r);
    }
    scalars.push(-b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    for ((_, a), c) in keys.iter().zip(key_coefficients) {
        scalars.push(c);
        points.push(*a);
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::{Alg, SecretKey};

    fn signed(key: &SecretKey, msg: &[u8]) -> Signed {
        Signed { key: key.public(), message: msg.to_vec(), signature: key.sign(msg) }
    }

    #[test]
    fn a_batch_agrees_with_single_checks_for_good_forged_and_malformed_signatures() {
        let (k1, k2, p) =
            (SecretKey::generate(Alg::EdDSA), SecretKey::generate(Alg::EdDSA), SecretKey::generate(Alg::ES256));
        let mut items: Vec<Signed> =
            (0..40u32).map(|i| signed(if i % 3 == 0 { &k2 } else { &k1 }, &i.to_be_bytes())).collect();
        items.push(signed(&p, b"es256"));
        assert!(verify_signatures(&items.iter().collect::<Vec<_>>()).iter().all(|v| v.valid()));

        // A wrong message, a flipped signature bit, a signature by another key, a truncated one,
        // s + l (non-canonical), R with y + p (non-canonical): each fails alone, the rest pass.
        let mut bad = items.clone();
        bad[3].message.push(0);
        bad[7].signature[10] ^= 1;
        bad[11].key = k2.public();
        bad[13].signature.truncate(63);
        let mut s = [0u8; 32];
        s.copy_from_slice(&bad[17].signature[32..]);
        let plus_l = add_le(&s, &L_BYTES);
        bad[17].signature[32..].copy_from_slice(&plus_l);
        bad[40].signature[0] ^= 1;
        let refs: Vec<&Signed> = bad.iter().collect();
        let batch: Vec<bool> = verify_signatures(&refs).into_iter().map(SignatureVerdict::valid).collect();
        let single: Vec<bool> = bad.iter().map(Signed::verify).collect();
        assert_eq!(batch, single);
        let failed: Vec<usize> = (0..bad.len()).filter(|i| !batch[*i]).collect();
        assert_eq!(failed, vec![3, 7, 11, 13, 17, 40]);
    }

    #[test]
    fn the_equation_holds_for_good_signatures_and_not_with_one_bad() {
        // Checked directly: a failing equation falls back to single checks, which would hide a
        // broken batch behind the right answers.
        let k = SecretKey::generate(Alg::EdDSA);
        let mut items: Vec<Signed> = (0..16u32).map(|i| signed(&k, &i.to_be_bytes())).collect();
        let PublicKey::EdDSA(key) = k.public() else { unreachable!() };
        let keys = [(&key, key.to_edwards())];
        let terms = |items: &[Signed]| -> Vec<Term> {
            items.iter().enumerate().map(|(i, s)| prepare(i, 0, &key, s).unwrap()).collect()
        };
        assert!(equation_holds(&terms(&items), &keys));
        items[5].message[0] ^= 1;
        assert!(!equation_holds(&terms(&items), &keys));
    }

    #[test]
    fn non_canonical_encodings_of_r_are_refused_as_the_single_check_does() {
        // y = p + 1 encodes the same point as y = 1 (the identity, also small order) and
        // y = p + 5 one that may or may not be on the curve: the byte check refuses both
        // before any decompression.
        let mut y = [0xffu8; 32];
        y[31] = 0x7f;
        y[0] = 0xee;
        assert!(!canonical_y(&y));
        y[0] = 0xec;
        assert!(canonical_y(&y), "p − 1 is canonical");
        y[31] = 0xff;
        y[0] = 0xf2;
        assert!(!canonical_y(&y), "the sign bit is not part of y");
    }

    /// The group order l, little-endian.
    const L_BYTES: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        out
    }
}
