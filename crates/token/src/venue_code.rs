//! The venue code (场所码): `JKV1:` + Base45(zlib(COSE_Sign1(claims))), signed with the same
//! issuer keys and checked against the same trust list as health codes (`docs/token-format.md`,
//! "Venue codes"). 健康码 venue → JianKang Venue → `JKV`.
//!
//! A venue code is valid for one local day (Asia/Shanghai) and a short grace after the next
//! midnight: a photo of yesterday's code stops working, which is the point (in 2022 codes
//! scanned from shared photos put people at venues they never visited).
//!
//! ```text
//! {  1 (iss): "420100/hc1"       issuer, as on health codes
//!    2 (sub): "v_…"              the venue id
//!    6 (iat): 1800000000         issued at, seconds
//!   -65538 (venue, private use): { 1: 20270115 }   the local day it is valid for (YYYYMMDD)
//! }
//! ```

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ciborium::Value;
use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use healthcode_core::local_time::{local_day, local_midnight};
use healthcode_core::{RegionCode, VenueId};

use crate::alg::SecretKey;
use crate::report::{Format, Report};
use crate::trust_list::TrustList;

pub const VENUE_PREFIX: &str = "JKV1:";

/// Private-use claim key of the venue claims (the health code uses -65537).
pub const VENUE_CLAIM: i64 = -65538;

/// How long after local midnight yesterday's code is still accepted: a code displayed on a
/// screen refreshes at midnight, a printed one is replaced when the venue opens; ten minutes
/// covers a scan that started just before midnight and clocks that are a little off.
pub const MIDNIGHT_GRACE: Duration = Duration::minutes(10);

/// A verified venue code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueCode {
    pub venue_id: VenueId,
    pub day: NaiveDate,
    pub issuer_region: RegionCode,
    pub issuer_node: String,
    pub issued_at: DateTime<Utc>,
}

impl VenueCode {
    pub fn to_cbor(&self) -> Vec<u8> {
        let int = |v: i64| Value::Integer(v.into());
        let day = i64::from(self.day.year()) * 10_000 + i64::from(self.day.month()) * 100 + i64::from(self.day.day());
        let map = Value::Map(vec![
            (int(1), Value::Text(format!("{}/{}", self.issuer_region, self.issuer_node))),
            (int(2), Value::Text(self.venue_id.to_string())),
            (int(6), int(self.issued_at.timestamp())),
            (int(VENUE_CLAIM), Value::Map(vec![(int(1), int(day))])),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&map, &mut out).expect("writing to a Vec");
        out
    }

    /// Parses the claims; unknown or duplicate keys and wrong types are refused.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, String> {
        let value: Value = ciborium::from_reader(bytes).map_err(|e| format!("not CBOR: {e}"))?;
        let Value::Map(entries) = value else { return Err("not a map".into()) };
        let (mut iss, mut sub, mut iat, mut venue) = (None, None, None, None);
        for (k, v) in entries {
            let key = int_of(&k).ok_or("claim keys are integers")?;
            let slot = match key {
                1 => &mut iss,
                2 => &mut sub,
                6 => &mut iat,
                VENUE_CLAIM => &mut venue,
                other => return Err(format!("unknown claim {other}")),
            };
            if slot.replace(v).is_some() {
                return Err(format!("claim {key} appears twice"));
            }
        }
        let Some(Value::Text(iss)) = iss else { return Err("iss is missing or not text".into()) };
        let (region, node) = iss.split_once('/').ok_or("iss is not REGION/NODE")?;
        let issuer_region = RegionCode::parse(region).map_err(|e| format!("iss: {e}"))?;
        if node.is_empty() || node.len() > 32 {
            return Err("iss node must be 1–32 characters".into());
        }
        let Some(Value::Text(sub)) = sub else { return Err("sub is missing or not text".into()) };
        let venue_id = VenueId::parse(&sub).map_err(|e| format!("sub: {e}"))?;
        let issued_at = iat
            .as_ref()
            .and_then(int_of)
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or("iat is missing or not a time")?;
        let Some(Value::Map(venue)) = venue else { return Err("the venue claim is missing or not a map".into()) };
        let mut day = None;
        for (k, v) in venue {
            match int_of(&k) {
                Some(1) if day.is_none() => day = int_of(&v),
                _ => return Err("the venue claim holds only the day, once".into()),
            }
        }
        let day = day.ok_or("the day is missing")?;
        let day = NaiveDate::from_ymd_opt((day / 10_000) as i32, (day / 100 % 100) as u32, (day % 100) as u32)
            .ok_or("the day is not a date")?;
        Ok(Self { venue_id, day, issuer_region, issuer_node: node.to_string(), issued_at })
    }
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

/// Signs the venue's code for the local day of `now`; returns the QR text.
pub fn sign_venue_code(
    venue_id: &VenueId,
    issuer_region: RegionCode,
    issuer_node: &str,
    now: DateTime<Utc>,
    key: &SecretKey,
) -> String {
    let code = VenueCode {
        venue_id: venue_id.clone(),
        day: local_day(now),
        issuer_region,
        issuer_node: issuer_node.to_string(),
        issued_at: now,
    };
    let protected = HeaderBuilder::new().algorithm(key.alg().cose()).key_id(key.public().kid().to_vec()).build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(code.to_cbor())
        .create_signature(b"", |data| key.sign(data))
        .build();
    let cose = sign1.to_tagged_vec().expect("encoding a COSE_Sign1 we built");
    format!("{VENUE_PREFIX}{}", crate::base45::encode(&crate::inflate::compress(&cose)))
}

/// Verifies a venue code at `at`: the shared envelope steps (prefix `JKV1:`, Base45, inflate,
/// COSE, signature against the trust list), the claims, the issuer's key and region, and the
/// day. Errors: those of health codes, plus `venue_code_stale` (the day is over, grace
/// included) and `not_yet_valid` (a day that has not begun).
pub fn check_venue_code(text: &str, trust: &TrustList, at: DateTime<Utc>) -> Result<VenueCode, Report> {
    let mut r = Report::new(Some(Format::Healthcode));
    let Some((payload, entry, _kid)) = crate::verify::open_signed(text, VENUE_PREFIX, trust, &mut r) else {
        return Err(r.finish());
    };
    let code = match VenueCode::from_cbor(&payload) {
        Ok(c) => c,
        Err(e) => {
            r.steps.schema = Some(false);
            r.fail("claims_invalid", e);
            return Err(r.finish());
        }
    };
    r.steps.schema = Some(true);
    let skew = Duration::seconds(30);
    let starts = local_midnight(code.day);
    let ends = starts + Duration::days(1) + MIDNIGHT_GRACE;
    if at + skew < starts || code.issued_at > at + skew {
        r.steps.expiry = Some(false);
        r.fail("not_yet_valid", format!("the code is for {}, which has not begun", code.day));
    } else if at >= ends {
        r.steps.expiry = Some(false);
        r.fail("venue_code_stale", format!("the code was for {}; scan today's code", code.day));
    } else if code.issued_at + skew < entry.not_before || code.issued_at > entry.not_after + skew {
        r.steps.expiry = Some(false);
        r.fail("key_not_valid_then", "the key was not valid when the code was issued");
    } else {
        r.steps.expiry = Some(true);
    }
    let allowed = entry.region.covers(code.issuer_region) && entry.node == code.issuer_node;
    r.steps.key_usage = Some(allowed);
    if !allowed {
        r.fail("issuer_not_allowed", "the key may not issue for this issuer");
    }
    let r = r.finish();
    if r.valid { Ok(code) } else { Err(r) }
}
