//! Durations, positions in the rule file, and the words explanations are made of.

use chrono::{DateTime, NaiveDate, Utc};

use super::facts::{CaseStatus, ContactKind, QuarantineKind, TestResult};
use crate::{Color, RiskLevel, Symptom};

pub(crate) const SECOND: i64 = 1_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// Parses a duration: one or more `<number><unit>` with units `d`, `h`, `m`, `s` in that
/// order, e.g. `14d`, `4h`, `3h59m`, `90s`. Returns milliseconds, or the byte offset of the
/// problem and a message.
pub(crate) fn parse_duration(s: &str) -> Result<i64, (usize, String)> {
    const UNITS: [(u8, i64); 4] = [(b'd', DAY), (b'h', HOUR), (b'm', MINUTE), (b's', SECOND)];
    let b = s.as_bytes();
    if b.is_empty() {
        return Err((0, "empty duration; write e.g. 14d, 4h, 30m".into()));
    }
    let mut i = 0;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            let msg = match s[i..].chars().next() {
                Some(c) if i > 0 => {
                    format!("unexpected `{c}` in duration `{s}`; units are single letters d, h, m, s (e.g. 14d, 3h59m)")
                }
                _ => format!("expected a number in duration `{s}`; write e.g. 14d, 4h, 3h59m"),
            };
            return Err((i, msg));
        }
        if i - start > 9 {
            return Err((start, format!("number too large in duration `{s}`")));
        }
        let n: i64 = s[start..i].parse().map_err(|_| (start, format!("bad number in duration `{s}`")))?;
        let Some(&u) = b.get(i) else {
            return Err((
                i,
                format!("duration `{s}` needs a unit after {n}: d (days), h (hours), m (minutes) or s (seconds)"),
            ));
        };
        let Some(k) = UNITS.iter().position(|(c, _)| *c == u) else {
            return Err((i, format!("unknown unit `{}` in duration `{s}`; units are d, h, m, s", char::from(u))));
        };
        if k < next_unit {
            return Err((i, format!("units in duration `{s}` must go from large to small, each once (e.g. 1d12h)")));
        }
        next_unit = k + 1;
        total += n * UNITS[k].1;
        i += 1;
    }
    Ok(total)
}

/// The canonical text of a duration: `14d`, `3h59m`, `0m`.
pub(crate) fn duration_text(ms: i64) -> String {
    let mut out = String::new();
    let mut rest = ms;
    for (unit, len) in [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND)] {
        let n = rest / len;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            rest -= n * len;
        }
    }
    if out.is_empty() { "0m".into() } else { out }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Zh,
    En,
}

/// A duration in words: `14天`, `3小时59分钟`; `14 days`, `3 hours 59 minutes`.
pub(crate) fn duration_words(ms: i64, lang: Lang) -> String {
    let mut parts = Vec::new();
    let mut rest = ms;
    for (zh, en, len) in
        [("天", "day", DAY), ("小时", "hour", HOUR), ("分钟", "minute", MINUTE), ("秒", "second", SECOND)]
    {
        let n = rest / len;
        if n > 0 {
            parts.push(match lang {
                Lang::Zh => format!("{n}{zh}"),
                Lang::En => format!("{n} {en}{}", if n == 1 { "" } else { "s" }),
            });
            rest -= n * len;
        }
    }
    if parts.is_empty() {
        return match lang {
            Lang::Zh => "0分钟".into(),
            Lang::En => "0 minutes".into(),
        };
    }
    parts.join(if lang == Lang::Zh { "" } else { " " })
}

/// Hours with one decimal when needed: `4`, `5.5`, `3.98` is shown `3.9` (never rounded up
/// over a threshold).
pub(crate) fn hours_text(ms: i64) -> String {
    let tenths = ms / (HOUR / 10);
    if tenths % 10 == 0 { format!("{}", tenths / 10) } else { format!("{}.{}", tenths / 10, tenths % 10) }
}

/// The local (UTC+8) wall-clock time of an instant; `None` at the very ends of the range,
/// where `local_time::to_local` would panic.
fn local_naive(t: DateTime<Utc>) -> Option<chrono::NaiveDateTime> {
    t.naive_utc().checked_add_signed(chrono::TimeDelta::hours(i64::from(crate::LOCAL_OFFSET_HOURS)))
}

/// The local day of an instant (as `local_time::local_day`, without panicking at the ends).
pub(crate) fn local_day(t: DateTime<Utc>) -> Option<NaiveDate> {
    local_naive(t).map(|n| n.date())
}

/// An instant in local time (UTC+8): `2022-04-01 14:30`.
pub(crate) fn local_text(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    local_naive(t)
        .map_or_else(|| "—".to_string(), |n| format!("{} {:02}:{:02}", day_text(n.date()), n.hour(), n.minute()))
}

/// A day as `2022-04-01`. Written field by field: `format("%Y-%m-%d")` parses its pattern at
/// every call, and a recoloring writes a few dates into each of a million explanations.
pub(crate) fn day_text(d: NaiveDate) -> String {
    use chrono::Datelike;
    let year = d.year();
    if (0..=9999).contains(&year) {
        format!("{year:04}-{:02}-{:02}", d.month(), d.day())
    } else {
        d.format("%Y-%m-%d").to_string()
    }
}

pub(crate) fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

pub(crate) fn color_word(c: Color, lang: Lang) -> &'static str {
    match (c, lang) {
        (Color::Green, Lang::Zh) => "绿码",
        (Color::Yellow, Lang::Zh) => "黄码",
        (Color::Red, Lang::Zh) => "红码",
        (Color::Green, Lang::En) => "green",
        (Color::Yellow, Lang::En) => "yellow",
        (Color::Red, Lang::En) => "red",
    }
}

pub(crate) fn level_word(l: RiskLevel, lang: Lang) -> &'static str {
    match (l, lang) {
        (RiskLevel::Low, Lang::Zh) => "低风险",
        (RiskLevel::Medium, Lang::Zh) => "中风险",
        (RiskLevel::High, Lang::Zh) => "高风险",
        (RiskLevel::Low, Lang::En) => "low-risk",
        (RiskLevel::Medium, Lang::En) => "medium-risk",
        (RiskLevel::High, Lang::En) => "high-risk",
    }
}

pub(crate) fn contact_word(k: ContactKind, lang: Lang) -> &'static str {
    match (k, lang) {
        (ContactKind::Close, Lang::Zh) => "密切接触者",
        (ContactKind::Secondary, Lang::Zh) => "次密切接触者",
        (ContactKind::Companion, Lang::Zh) => "时空伴随者",
        (ContactKind::Close, Lang::En) => "close contact",
        (ContactKind::Secondary, Lang::En) => "secondary contact",
        (ContactKind::Companion, Lang::En) => "spatiotemporal companion",
    }
}

pub(crate) fn case_word(s: CaseStatus, lang: Lang) -> &'static str {
    match (s, lang) {
        (CaseStatus::Suspected, Lang::Zh) => "疑似病例",
        (CaseStatus::Confirmed, Lang::Zh) => "确诊病例",
        (CaseStatus::Asymptomatic, Lang::Zh) => "无症状感染者",
        (CaseStatus::Recovered, Lang::Zh) => "治愈出院",
        (CaseStatus::Excluded, Lang::Zh) => "已排除",
        (CaseStatus::Suspected, Lang::En) => "suspected case",
        (CaseStatus::Confirmed, Lang::En) => "confirmed case",
        (CaseStatus::Asymptomatic, Lang::En) => "asymptomatic infection",
        (CaseStatus::Recovered, Lang::En) => "recovered",
        (CaseStatus::Excluded, Lang::En) => "ruled out",
    }
}

pub(crate) fn test_word(r: TestResult, lang: Lang) -> &'static str {
    match (r, lang) {
        (TestResult::Negative, Lang::Zh) => "阴性",
        (TestResult::Positive, Lang::Zh) => "阳性",
        (TestResult::Pending, Lang::Zh) => "待出结果",
        (TestResult::Invalid, Lang::Zh) => "无效",
        (r, Lang::En) => r.as_str(),
    }
}

pub(crate) fn quarantine_word(k: QuarantineKind, lang: Lang) -> &'static str {
    match (k, lang) {
        (QuarantineKind::Centralized, Lang::Zh) => "集中隔离",
        (QuarantineKind::Home, Lang::Zh) => "居家隔离",
        (QuarantineKind::Centralized, Lang::En) => "centralized quarantine",
        (QuarantineKind::Home, Lang::En) => "home quarantine",
    }
}

pub(crate) fn symptom_word(s: Symptom, lang: Lang) -> &'static str {
    match (s, lang) {
        (Symptom::Fever, Lang::Zh) => "发热",
        (Symptom::Cough, Lang::Zh) => "咳嗽",
        (Symptom::Fatigue, Lang::Zh) => "乏力",
        (Symptom::SoreThroat, Lang::Zh) => "咽痛",
        (Symptom::LossOfSmell, Lang::Zh) => "嗅觉丧失",
        (Symptom::ShortnessOfBreath, Lang::Zh) => "呼吸困难",
        (Symptom::Diarrhea, Lang::Zh) => "腹泻",
        (Symptom::SoreThroat, Lang::En) => "sore throat",
        (Symptom::LossOfSmell, Lang::En) => "loss of smell",
        (Symptom::ShortnessOfBreath, Lang::En) => "shortness of breath",
        (s, Lang::En) => s.as_str(),
    }
}

/// Line and column (both 1-based; the column counts characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Where each byte of a decoded TOML string value sits in the file, so that errors found
/// inside the value (an expression, a template, a duration) point at the right line and
/// column even across escapes and multi-line strings.
pub(crate) struct StrMap {
    /// `offsets[i]`: file offset of decoded byte `i`; one extra entry for the end.
    offsets: Vec<usize>,
    fallback: usize,
}

impl StrMap {
    /// `span` is the span of the value in `file`, delimiters included; `decoded` its value.
    pub(crate) fn new(file: &str, span: std::ops::Range<usize>, decoded: &str) -> Self {
        let fallback = span.start;
        // Multi-line strings may come back with CRLF turned into LF, or not: try both.
        for crlf_to_lf in [true, false] {
            if let Some((text, offsets)) = decode_offsets(file, span.clone(), crlf_to_lf)
                && text == decoded
            {
                return Self { offsets, fallback };
            }
        }
        Self { offsets: Vec::new(), fallback }
    }

    pub(crate) fn file_offset(&self, decoded_offset: usize) -> usize {
        self.offsets.get(decoded_offset).or(self.offsets.last()).copied().unwrap_or(self.fallback)
    }
}

fn decode_offsets(file: &str, span: std::ops::Range<usize>, crlf_to_lf: bool) -> Option<(String, Vec<usize>)> {
    let raw = file.get(span.clone())?;
    let (delim, literal, multi) = if raw.starts_with("'''") {
        ("'''", true, true)
    } else if raw.starts_with("\"\"\"") {
        ("\"\"\"", false, true)
    } else if raw.starts_with('\'') {
        ("'", true, false)
    } else if raw.starts_with('"') {
        ("\"", false, false)
    } else {
        return None;
    };
    if raw.len() < 2 * delim.len() || !raw.ends_with(delim) {
        return None;
    }
    let mut i = delim.len();
    let end = raw.len() - delim.len();
    if multi {
        if raw[i..].starts_with("\r\n") {
            i += 2;
        } else if raw[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut text = String::new();
    let mut offsets = Vec::new();
    let push = |text: &mut String, offsets: &mut Vec<usize>, c: char, at: usize| {
        text.push(c);
        offsets.extend(std::iter::repeat_n(span.start + at, c.len_utf8()));
    };
    while i < end {
        if multi && crlf_to_lf && raw[i..].starts_with("\r\n") {
            push(&mut text, &mut offsets, '\n', i);
            i += 2;
            continue;
        }
        let c = raw[i..].chars().next()?;
        if literal || c != '\\' {
            push(&mut text, &mut offsets, c, i);
            i += c.len_utf8();
            continue;
        }
        let esc = raw[i + 1..].chars().next()?;
        let (decoded, len) = match esc {
            'b' => ('\u{8}', 2),
            't' => ('\t', 2),
            'n' => ('\n', 2),
            'f' => ('\u{c}', 2),
            'r' => ('\r', 2),
            'e' => ('\u{1b}', 2),
            '"' => ('"', 2),
            '\\' => ('\\', 2),
            'u' | 'U' => {
                let n = if esc == 'u' { 4 } else { 8 };
                let hex = raw.get(i + 2..i + 2 + n)?;
                (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 2 + n)
            }
            c if multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r') => {
                // Line-ending backslash: skip whitespace and newlines.
                let mut j = i + 1;
                while j < end && matches!(raw.as_bytes()[j], b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                i = j;
                continue;
            }
            _ => return None,
        };
        push(&mut text, &mut offsets, decoded, i);
        i += len;
    }
    offsets.push(span.start + end);
    Some((text, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("14d"), Ok(14 * DAY));
        assert_eq!(parse_duration("3h59m"), Ok(3 * HOUR + 59 * MINUTE));
        assert_eq!(parse_duration("1d12h30m15s"), Ok(DAY + 12 * HOUR + 30 * MINUTE + 15 * SECOND));
        assert_eq!(parse_duration("14").unwrap_err().0, 2);
        assert_eq!(parse_duration("14x").unwrap_err().0, 2);
        assert_eq!(parse_duration("4h1d").unwrap_err().0, 3);
        assert_eq!(parse_duration("h").unwrap_err().0, 0);
        assert_eq!(duration_text(3 * HOUR + 59 * MINUTE), "3h59m");
        assert_eq!(duration_words(14 * DAY, Lang::Zh), "14天");
        assert_eq!(duration_words(DAY + HOUR, Lang::En), "1 day 1 hour");
        assert_eq!(hours_text(4 * HOUR - MINUTE), "3.9");
        assert_eq!(hours_text(5 * HOUR + 30 * MINUTE), "5.5");
    }

    #[test]
    fn local_times_and_days_print_as_chrono_formats_them() {
        let t = DateTime::parse_from_rfc3339("2022-03-31T16:05:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(local_text(t), "2022-04-01 00:05");
        for (y, m, d) in [(2022, 4, 1), (1, 1, 9), (9999, 12, 31), (-44, 3, 15), (10000, 1, 1)] {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(day_text(day), day.format("%Y-%m-%d").to_string());
        }
        assert_eq!(local_text(DateTime::<Utc>::MAX_UTC), "—");
    }

    #[test]
    fn positions_inside_toml_strings() {
        let file = "a = \"x\\u00e9y\"\nb = '''\nfoo\n bar'''\nc = \"\"\"\\\n   z\"\"\"";
        let m = StrMap::new(file, 4..14, "xéy");
        assert_eq!(m.file_offset(0), 5);
        assert_eq!(m.file_offset(1), 6);
        assert_eq!(m.file_offset(3), 12);
        let start = file.find("'''").unwrap();
        let end = file.rfind("'''").unwrap() + 3;
        let m = StrMap::new(file, start..end, "foo\n bar");
        assert_eq!(line_col(file, m.file_offset(5)), (4, 2));
        let start = file.find("\"\"\"").unwrap();
        let m = StrMap::new(file, start..file.len(), "z");
        assert_eq!(line_col(file, m.file_offset(0)), (6, 4));
        let crlf = "w = '''\r\nab\r\ncd'''";
        let m = StrMap::new(crlf, 4..crlf.len(), "ab\ncd");
        assert_eq!(line_col(crlf, m.file_offset(3)), (3, 1));
        assert_eq!(line_col("ab\n中文x", 9), (2, 3));
    }
}
