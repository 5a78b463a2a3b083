//! Parsing one field of an import row. Each error is `(field, code, message)`.

use chrono::{DateTime, NaiveDateTime, Utc};
use healthcode_core::local_time;

pub type FieldError = (Option<String>, &'static str, String);

pub fn err(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    (Some(field.to_string()), code, message.into())
}

/// One row's fields as (name, text) pairs. A handful of columns: a linear search by name is
/// cheaper than hashing it (import rows come by the million), and a CSV reader refills the
/// values in place, so a row costs no allocation once the buffers have grown.
#[derive(Debug, Default, Clone)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Empty values under `names` (a CSV header), to be refilled row by row.
    pub fn named(names: &[String]) -> Self {
        Self(names.iter().map(|n| (n.clone(), String::new())).collect())
    }

    /// The value of `name`, as read (untrimmed).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// Sets the values in column order, reusing their buffers.
    pub fn refill<'a>(&mut self, values: impl Iterator<Item = &'a str>) {
        for ((_, slot), value) in self.0.iter_mut().zip(values) {
            slot.clear();
            slot.push_str(value);
        }
    }

    fn insert(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name, value)),
        }
    }
}

/// An NDJSON line as field → text; strings as they are, numbers and booleans in their JSON
/// form, null as absent.
pub fn ndjson_row(text: &str) -> Result<Fields, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else { return Err("not a JSON object".into()) };
    let mut out = Fields::default();
    for (k, v) in map {
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => return Err(format!("field {k:?} is {other}, not a string or number")),
        };
        out.insert(k, text);
    }
    Ok(out)
}

pub fn required<'a>(row: &'a Fields, field: &str) -> Result<&'a str, FieldError> {
    match row.get(field).map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(err(field, "required", "this field is required")),
    }
}

pub fn optional<'a>(row: &'a Fields, field: &str) -> Option<&'a str> {
    row.get(field).map(str::trim).filter(|s| !s.is_empty())
}

/// A source's record id: 1–128 printable characters.
pub fn record_id(row: &Fields) -> Result<String, FieldError> {
    let v = required(row, "record_id")?;
    if v.chars().count() > 128 || v.chars().any(char::is_control) {
        return Err(err("record_id", "record_id_format", "a record id has 1–128 printable characters"));
    }
    Ok(v.to_string())
}

/// A time: RFC 3339 with an offset, or without one as local time (UTC+8), which is how
/// domestic partners usually write it. `2027-03-01 08:30:00` and `2027-03-01T08:30` work.
pub fn time(row: &Fields, field: &str) -> Result<DateTime<Utc>, FieldError> {
    let v = required(row, field)?;
    parse_time(v).ok_or_else(|| {
        err(field, "time_format", format!("{v:?} is not a time (RFC 3339, or YYYY-MM-DD HH:MM[:SS] local time)"))
    })
}

pub fn optional_time(row: &Fields, field: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    optional(row, field).map(|_| time(row, field)).transpose()
}

fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = local_seconds(v) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.to_utc());
    }
    let normalised = v.replacen(' ', "T", 1);
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"].iter().find_map(|f| {
        NaiveDateTime::parse_from_str(&normalised, f)
            .ok()
            .and_then(|t| t.and_local_timezone(local_time::offset()).single())
            .map(|t| t.to_utc())
    })
}

/// The usual form of bulk files, `YYYY-MM-DD HH:MM:SS` in local time, read without chrono's
/// format machinery (a tenth of an import's parsing otherwise); anything else is `None` and
/// takes the general path.
fn local_seconds(v: &str) -> Option<DateTime<Utc>> {
    let b = v.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let day = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let t = day.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    t.and_local_timezone(local_time::offset()).single().map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_offsets() {
        let utc = DateTime::parse_from_rfc3339("2027-03-01T00:30:00Z").unwrap().to_utc();
        for v in ["2027-03-01T00:30:00Z", "2027-03-01T08:30:00+08:00", "2027-03-01 08:30:00", "2027-03-01T08:30"] {
            assert_eq!(parse_time(v), Some(utc), "{v}");
        }
        assert_eq!(parse_time("2027-03-01T08:30:00"), Some(utc));
        for bad in ["2027-02-30 08:00:00", "yesterday", "2027-03-01", "2027-03-01 24:00:00", "2027-03-01 08:3a:00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
