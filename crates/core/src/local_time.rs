//! Local time of the deployment: China Standard Time, UTC+8.
//!
//! China has had one time zone without daylight saving since 1991, so a fixed offset is exact
//! and saves a time-zone database. "One declaration per local day" means a day in this zone.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

pub const LOCAL_OFFSET_HOURS: i32 = 8;

pub fn offset() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_HOURS * 3600).expect("valid offset")
}

/// The local (Asia/Shanghai) calendar day of an instant.
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&offset()).date_naive()
}

/// The instant a local day begins (what a source that gives only a date means).
pub fn local_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN)
        .and_local_timezone(offset())
        .single()
        .expect("a fixed offset maps every local time to one instant")
        .to_utc()
}

/// An instant shown in local time, as RFC 3339 with `+08:00`.
pub fn to_local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_day_starts_at_16_utc() {
        let before = DateTime::parse_from_rfc3339("2026-03-01T15:59:59Z").unwrap().to_utc();
        let after = DateTime::parse_from_rfc3339("2026-03-01T16:00:00Z").unwrap().to_utc();
        assert_eq!(local_day(before), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(local_day(after), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(local_midnight(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()), after);
    }
}
