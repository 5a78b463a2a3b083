//! A UTC time as RFC 3339 text, byte for byte as chrono's serde writes it (`AutoSi` fraction:
//! none, milli-, micro- or nanoseconds, whichever is exact; `Z`), written into a stack buffer
//! instead of through `fmt`. A stored decision holds about eight times, and chrono's
//! formatting, character by character through serde_json's `collect_str`, was about a tenth
//! of a recoloring's CPU time (`docs/benchmarks.md`). Reading is chrono's own.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// The longest text written here: `9999-12-31T23:59:60.999999999Z`.
const LONGEST: usize = 30;

/// Writes `t` into `out` and gives its length; `None` for a year outside 0–9999 (chrono then
/// writes a sign).
fn write(t: &DateTime<Utc>, out: &mut [u8; LONGEST]) -> Option<usize> {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (mut sec, mut nano) = (t.second(), t.nanosecond());
    if nano >= 1_000_000_000 {
        // A leap second, as chrono writes it: second 60.
        sec += 1;
        nano -= 1_000_000_000;
    }
    let fraction = match nano {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    let mut at = 0;
    let mut put = |value: u32, width: usize, then: u8| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out[at + width] = then;
        at += width + 1;
    };
    put(year as u32, 4, b'-');
    put(t.month(), 2, b'-');
    put(t.day(), 2, b'T');
    put(t.hour(), 2, b':');
    put(t.minute(), 2, b':');
    match fraction {
        None => put(sec, 2, b'Z'),
        Some((value, width)) => {
            put(sec, 2, b'.');
            put(value, width, b'Z');
        }
    }
    Some(at)
}

/// `#[serde(serialize_with = "crate::rfc3339::serialize")]`
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; LONGEST];
    match write(t, &mut buf) {
        // ASCII digits and separators only.
        Some(len) => s.serialize_str(std::str::from_utf8(&buf[..len]).expect("ASCII")),
        None => t.serialize(s),
    }
}

/// `#[serde(serialize_with = "crate::rfc3339::serialize_opt")]`: `null` for `None`.
pub fn serialize_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn ours(t: &DateTime<Utc>) -> String {
        serialize(t, serde_json::value::Serializer).unwrap().as_str().unwrap().to_string()
    }

    fn chronos(t: &DateTime<Utc>) -> String {
        serde_json::to_value(t).unwrap().as_str().unwrap().to_string()
    }

    #[test]
    fn writes_exactly_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2026, 12, 7, 22, 0, 12).unwrap();
        let mut cases = vec![
            base,
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        ];
        for nanos in [0, 1, 9, 10, 999, 1_000, 1_001, 113_788_000, 674_000_000, 674_206_000, 999_999_999, 100_000_000] {
            cases.push(base + chrono::Duration::nanoseconds(nanos));
        }
        // Every second of a day, and times spread over centuries, with varied fractions.
        for i in 0..86_400i64 {
            cases.push(base + chrono::Duration::seconds(i) + chrono::Duration::microseconds(i * 7919 % 1_000_000));
        }
        for i in 0..20_000i64 {
            cases.push(base - chrono::Duration::days(i * 37) + chrono::Duration::nanoseconds(i * 104_729));
        }
        for t in &cases {
            assert_eq!(ours(t), chronos(t), "{t:?}");
        }
    }

    #[test]
    fn leap_seconds_and_years_outside_four_digits_are_written_as_chrono_writes_them() {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        assert_eq!(ours(&leap), "2016-12-31T23:59:60.500Z");
        assert_eq!(ours(&leap), chronos(&leap));
        for year in [-1, 10_000, 262_000] {
            let t = Utc.with_ymd_and_hms(year, 3, 4, 5, 6, 7).unwrap();
            assert_eq!(ours(&t), chronos(&t));
        }
        assert_eq!(serialize_opt(&None, serde_json::value::Serializer).unwrap(), serde_json::Value::Null);
    }
}
