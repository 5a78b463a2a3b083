//! Examples that ship with a rule set: facts → expected color (`healthcode rules test FILE`).
//!
//! The format is TOML (see `docs/rules.md`): a top-level `now`, shared `[[region_risk]]`
//! periods, and `[[example]]`s with their facts as sub-tables (`[[example.stay]]`, …). Times
//! are TOML offset date-times (`2022-04-15T12:00:00+08:00`), RFC 3339 strings, or strings
//! relative to the example's `now`: `"now"`, `"now - 14d"`, `"now - 13d23h59m + 30s"`.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::load::{error_at, toml_error};
use super::text::{StrMap, local_day, parse_duration};
use super::{
    Carrier, CaseRecord, CaseStatus, ContactKind, DeclarationFact, Exposure, Facts, LabTest, Override, Quarantine,
    QuarantineKind, RegionRisk, RiskPeriod, RuleError, RuleSet, Stay, StaySource, TestKind, TestResult, Trip,
    Vaccination,
};
use crate::{Color, RegionCode, RiskLevel, Symptom, Temperature};

/// The outcome of running a rule set's examples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExamplesReport {
    pub rule_set_version: String,
    pub results: Vec<ExampleResult>,
    /// Errors in the examples file itself (nothing is run when there are any).
    pub errors: Vec<RuleError>,
}

impl ExamplesReport {
    /// No file errors and every example passed.
    pub fn passed(&self) -> bool {
        self.errors.is_empty() && self.results.iter().all(|r| r.pass)
    }

    pub fn failures(&self) -> impl Iterator<Item = &ExampleResult> {
        self.results.iter().filter(|r| !r.pass)
    }

    /// `34 examples: 34 passed, 0 failed`.
    pub fn summary(&self) -> String {
        let failed = self.failures().count();
        format!("{} examples: {} passed, {failed} failed", self.results.len(), self.results.len() - failed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExampleResult {
    pub name: String,
    /// Line of the `[[example]]` header.
    pub line: usize,
    pub expected: Color,
    pub got: Color,
    /// Ids of the rules that hold.
    pub got_rules: Vec<String>,
    pub pass: bool,
    /// What did not match, one line each.
    pub problems: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    now: Option<Spanned<toml::Value>>,
    #[serde(default)]
    region_risk: Vec<RawRisk>,
    #[serde(default)]
    example: Vec<Spanned<RawExample>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRisk {
    id: Option<String>,
    region: Spanned<String>,
    level: Spanned<String>,
    from: Spanned<toml::Value>,
    to: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    name: String,
    now: Option<Spanned<toml::Value>>,
    expect: Spanned<String>,
    expect_rules: Option<Vec<String>>,
    expect_since: Option<Spanned<toml::Value>>,
    expect_next_review: Option<Spanned<toml::Value>>,
    registered: Option<Spanned<toml::Value>>,
    #[serde(default)]
    region_risk: Vec<RawRisk>,
    #[serde(default)]
    declaration: Vec<RawDeclaration>,
    #[serde(default)]
    stay: Vec<RawStay>,
    #[serde(default)]
    trip: Vec<RawTrip>,
    #[serde(default)]
    test: Vec<RawTest>,
    #[serde(default)]
    vaccination: Vec<RawVaccination>,
    #[serde(default)]
    case: Vec<RawCase>,
    #[serde(default)]
    contact: Vec<RawContact>,
    #[serde(default)]
    quarantine: Vec<RawQuarantine>,
    #[serde(default, rename = "override")]
    overrides: Vec<RawOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaration {
    id: Option<String>,
    at: Spanned<toml::Value>,
    day: Option<Spanned<String>>,
    temperature: Option<Spanned<f64>>,
    #[serde(default)]
    symptoms: Vec<Spanned<String>>,
    #[serde(default)]
    suspected_contact: bool,
    region: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStay {
    id: Option<String>,
    region: Spanned<String>,
    start: Spanned<toml::Value>,
    end: Option<Spanned<toml::Value>>,
    dwell: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrip {
    id: Option<String>,
    carrier: Spanned<String>,
    number: String,
    date: Spanned<String>,
    coach: Option<String>,
    row: Option<String>,
    seat: Option<String>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    id: Option<String>,
    kind: Option<Spanned<String>>,
    result: Spanned<String>,
    sampled: Spanned<toml::Value>,
    reported: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVaccination {
    id: Option<String>,
    at: Spanned<toml::Value>,
    dose: Option<u8>,
    product: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: Option<String>,
    status: Spanned<String>,
    at: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    id: Option<String>,
    kind: Spanned<String>,
    at: Spanned<toml::Value>,
    case: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuarantine {
    id: Option<String>,
    kind: Spanned<String>,
    start: Spanned<toml::Value>,
    end: Option<Spanned<toml::Value>>,
    ended: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    id: Option<String>,
    color: Spanned<String>,
    from: Spanned<toml::Value>,
    until: Option<Spanned<toml::Value>>,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    approved_by: String,
}

/// Errors while building one example, at file offsets.
struct Cx<'a> {
    file: &'a str,
    errors: Vec<(usize, String)>,
    now: Option<DateTime<Utc>>,
}

impl Cx<'_> {
    fn err(&mut self, at: usize, msg: impl Into<String>) {
        self.errors.push((at, msg.into()));
    }

    fn time(&mut self, v: &Spanned<toml::Value>) -> Option<DateTime<Utc>> {
        match v.get_ref() {
            toml::Value::Datetime(dt) => {
                if dt.offset.is_none() || dt.time.is_none() {
                    self.err(v.span().start, "give a full date-time with an offset, e.g. 2022-04-15T12:00:00+08:00");
                    return None;
                }
                match DateTime::parse_from_rfc3339(&dt.to_string()) {
                    Ok(t) => Some(t.to_utc()),
                    Err(e) => {
                        self.err(v.span().start, format!("bad date-time: {e}"));
                        None
                    }
                }
            }
            toml::Value::String(s) => match self.relative(s) {
                Ok(t) => Some(t),
                Err((off, msg)) => {
                    let at = StrMap::new(self.file, v.span(), s).file_offset(off);
                    self.err(at, msg);
                    None
                }
            },
            _ => {
                self.err(v.span().start, "a time is a date-time (2022-04-15T12:00:00+08:00) or \"now - 14d\"");
                None
            }
        }
    }

    fn relative(&self, s: &str) -> Result<DateTime<Utc>, (usize, String)> {
        if !s.starts_with("now") {
            return DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).map_err(|_| {
                (0, format!("`{s}` is neither an RFC 3339 date-time nor `now ± duration` (e.g. \"now - 14d\")"))
            });
        }
        let Some(mut t) = self.now else {
            return Err((0, "`now` is not set: give `now` at the top of the file or in the example".into()));
        };
        let mut i = 3;
        let b = s.as_bytes();
        loop {
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if i == b.len() {
                return Ok(t);
            }
            let sign = match b[i] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err((i, "expected `+` or `-` and a duration after `now`".into())),
            };
            i += 1;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let d = parse_duration(&s[start..i]).map_err(|(off, msg)| (start + off, msg))?;
            t = t
                .checked_add_signed(TimeDelta::milliseconds(sign * d))
                .ok_or_else(|| (start, format!("`{s}` is out of range")))?;
        }
    }

    fn word<T: Copy>(&mut self, v: &Spanned<String>, what: &str, all: &[(T, &str)]) -> Option<T> {
        match all.iter().find(|(_, n)| *n == v.get_ref()) {
            Some((x, _)) => Some(*x),
            None => {
                let known: Vec<_> = all.iter().map(|(_, n)| *n).collect();
                self.err(v.span().start, format!("unknown {what} `{}`; known: {}", v.get_ref(), known.join(", ")));
                None
            }
        }
    }

    fn region(&mut self, v: &Spanned<String>) -> Option<RegionCode> {
        match RegionCode::parse(v.get_ref()) {
            Ok(r) => Some(r),
            Err(e) => {
                self.err(v.span().start, e.to_string());
                None
            }
        }
    }

    fn day(&mut self, v: &Spanned<String>) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(v.get_ref(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(v.span().start, "a day is written YYYY-MM-DD");
                None
            }
        }
    }

    fn risk(&mut self, r: &RawRisk, n: usize) -> Option<RiskPeriod> {
        let levels = [(RiskLevel::Low, "low"), (RiskLevel::Medium, "medium"), (RiskLevel::High, "high")];
        let region = self.region(&r.region);
        let level = self.word(&r.level, "level", &levels);
        let from = self.time(&r.from);
        let to = r.to.as_ref().map(|t| self.time(t));
        Some(RiskPeriod {
            record_id: r.id.clone().unwrap_or_else(|| format!("risk-{n}")),
            region: region?,
            level: level?,
            from: from?,
            to: match to {
                Some(t) => Some(t?),
                None => None,
            },
        })
    }
}

fn opt_time(cx: &mut Cx, v: &Option<Spanned<toml::Value>>) -> Result<Option<DateTime<Utc>>, ()> {
    match v {
        None => Ok(None),
        Some(v) => cx.time(v).map(Some).ok_or(()),
    }
}

fn id(given: &Option<String>, kind: &str, n: usize) -> String {
    given.clone().unwrap_or_else(|| format!("{kind}-{}", n + 1))
}

/// Builds the facts of one example; `None` if anything in it is wrong (errors in `cx`).
fn build_facts(cx: &mut Cx, e: &RawExample) -> Option<Facts> {
    let before = cx.errors.len();
    let mut f = Facts { registered_at: opt_time(cx, &e.registered).ok().flatten(), ..Facts::default() };
    for (n, d) in e.declaration.iter().enumerate() {
        let at = cx.time(&d.at);
        let day = match &d.day {
            Some(s) => cx.day(s),
            None => at.and_then(local_day),
        };
        let temperature = d.temperature.as_ref().and_then(|t| match Temperature::from_celsius(*t.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                cx.err(t.span().start, e.to_string());
                None
            }
        });
        let mut symptoms = Vec::new();
        for s in &d.symptoms {
            match Symptom::parse(s.get_ref()) {
                Some(x) => symptoms.push(x),
                None => cx.err(s.span().start, format!("unknown symptom `{}`", s.get_ref())),
            }
        }
        let region = d.region.as_ref().and_then(|r| cx.region(r));
        if let (Some(at), Some(day)) = (at, day) {
            f.declarations.push(DeclarationFact {
                record_id: id(&d.id, "declaration", n),
                day,
                declared_at: at,
                temperature,
                symptoms,
                suspected_contact: d.suspected_contact,
                region,
            });
        }
    }
    let sources = [(StaySource::Telecom, "telecom"), (StaySource::Declared, "declared"), (StaySource::Scan, "scan")];
    for (n, s) in e.stay.iter().enumerate() {
        let region = cx.region(&s.region);
        let start = cx.time(&s.start);
        let end = opt_time(cx, &s.end);
        let dwell = s.dwell.as_ref().and_then(|d| match parse_duration(d.get_ref()) {
            Ok(ms) => Some(TimeDelta::milliseconds(ms)),
            Err((off, msg)) => {
                let at = StrMap::new(cx.file, d.span(), d.get_ref()).file_offset(off);
                cx.err(at, msg);
                None
            }
        });
        let source = s.source.as_ref().map(|v| cx.word(v, "stay source", &sources));
        if let (Some(region), Some(start), Ok(end)) = (region, start, end) {
            f.stays.push(Stay {
                record_id: id(&s.id, "stay", n),
                region,
                start,
                end,
                dwell,
                source: source.flatten().unwrap_or_default(),
            });
        }
    }
    for (n, t) in e.trip.iter().enumerate() {
        let carrier = cx.word(&t.carrier, "carrier", &[(Carrier::Train, "train"), (Carrier::Flight, "flight")]);
        let date = cx.day(&t.date);
        let from = t.from.as_ref().map(|r| cx.region(r));
        let to = t.to.as_ref().map(|r| cx.region(r));
        if let (Some(carrier), Some(date)) = (carrier, date) {
            f.trips.push(Trip {
                record_id: id(&t.id, "trip", n),
                carrier,
                number: t.number.clone(),
                date,
                coach: t.coach.clone(),
                row: t.row.clone(),
                seat: t.seat.clone(),
                from: from.flatten(),
                to: to.flatten(),
            });
        }
    }
    let results = TestResult::ALL.map(|r| (r, r.as_str()));
    for (n, t) in e.test.iter().enumerate() {
        let kind =
            t.kind.as_ref().map(|k| cx.word(k, "test kind", &[(TestKind::Pcr, "pcr"), (TestKind::Antigen, "antigen")]));
        let result = cx.word(&t.result, "test result", &results);
        let sampled = cx.time(&t.sampled);
        let reported = opt_time(cx, &t.reported);
        if let (Some(result), Some(sampled_at), Ok(reported_at)) = (result, sampled, reported) {
            f.tests.push(LabTest {
                record_id: id(&t.id, "test", n),
                kind: kind.flatten().unwrap_or(TestKind::Pcr),
                sampled_at,
                reported_at,
                result,
            });
        }
    }
    for (n, v) in e.vaccination.iter().enumerate() {
        if let Some(at) = cx.time(&v.at) {
            f.vaccinations.push(Vaccination {
                record_id: id(&v.id, "vaccination", n),
                at,
                dose: v.dose.unwrap_or(u8::try_from(n + 1).unwrap_or(u8::MAX)),
                product: v.product.clone(),
            });
        }
    }
    let statuses = CaseStatus::ALL.map(|s| (s, s.as_str()));
    for (n, c) in e.case.iter().enumerate() {
        let status = cx.word(&c.status, "case status", &statuses);
        let at = cx.time(&c.at);
        if let (Some(status), Some(at)) = (status, at) {
            f.cases.push(CaseRecord { record_id: id(&c.id, "case", n), status, at });
        }
    }
    let kinds = ContactKind::ALL.map(|k| (k, k.as_str()));
    for (n, c) in e.contact.iter().enumerate() {
        let kind = cx.word(&c.kind, "contact kind", &kinds);
        let at = cx.time(&c.at);
        if let (Some(kind), Some(at)) = (kind, at) {
            f.exposures.push(Exposure {
                record_id: id(&c.id, "contact", n),
                kind,
                at,
                case_id: c.case.clone(),
                source: c.source.clone(),
            });
        }
    }
    let qkinds = QuarantineKind::ALL.map(|k| (k, k.as_str()));
    for (n, q) in e.quarantine.iter().enumerate() {
        let kind = cx.word(&q.kind, "quarantine kind", &qkinds);
        let start = cx.time(&q.start);
        let planned_end = opt_time(cx, &q.end);
        let ended_at = opt_time(cx, &q.ended);
        if let (Some(kind), Some(start), Ok(planned_end), Ok(ended_at)) = (kind, start, planned_end, ended_at) {
            f.quarantines.push(Quarantine {
                record_id: id(&q.id, "quarantine", n),
                kind,
                start,
                planned_end,
                ended_at,
            });
        }
    }
    let colors = [(Color::Green, "green"), (Color::Yellow, "yellow"), (Color::Red, "red")];
    for (n, o) in e.overrides.iter().enumerate() {
        let color = cx.word(&o.color, "color", &colors);
        let from = cx.time(&o.from);
        let until = opt_time(cx, &o.until);
        if let (Some(color), Some(from), Ok(until)) = (color, from, until) {
            f.overrides.push(Override {
                record_id: id(&o.id, "override", n),
                color,
                from,
                until,
                legal_basis: o.legal_basis.clone(),
                reason: o.reason.clone(),
                approved_by: o.approved_by.clone(),
            });
        }
    }
    (cx.errors.len() == before).then_some(f)
}

/// One example, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    /// Line of the `[[example]]` header.
    pub line: usize,
    pub now: DateTime<Utc>,
    pub expect: Color,
    /// The exact set of rules expected to hold, if given.
    pub expect_rules: Option<Vec<String>>,
    pub expect_since: Option<DateTime<Utc>>,
    pub expect_next_review: Option<DateTime<Utc>>,
    pub facts: Facts,
    /// The shared region risk periods plus the example's own.
    pub regions: Arc<RegionRisk>,
}

/// Parses an examples file.
pub fn load(text: &str) -> Result<Vec<Example>, Vec<RuleError>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![toml_error(text, &e)])?;
    let mut cx = Cx { file: text, errors: Vec::new(), now: None };
    let top_now = raw.now.as_ref().and_then(|v| cx.time(v));
    cx.now = top_now;
    let shared: Vec<RiskPeriod> = raw.region_risk.iter().enumerate().filter_map(|(n, r)| cx.risk(r, n)).collect();
    if raw.example.is_empty() {
        cx.err(text.len(), "no examples: add `[[example]]` tables");
    }
    let shared_risk = Arc::new(RegionRisk::new(shared.iter().cloned()));
    let mut out = Vec::new();
    for spanned in &raw.example {
        let e = spanned.get_ref();
        let line = super::text::line_col(text, spanned.span().start).0;
        cx.now = top_now;
        if let Some(v) = &e.now {
            cx.now = cx.time(v);
        }
        let Some(now) = cx.now else {
            if e.now.is_none() {
                cx.err(spanned.span().start, format!("example `{}` has no `now` (and the file has none)", e.name));
            }
            continue;
        };
        let colors = [(Color::Green, "green"), (Color::Yellow, "yellow"), (Color::Red, "red")];
        let expect = cx.word(&e.expect, "color", &colors);
        let since = opt_time(&mut cx, &e.expect_since);
        let next = opt_time(&mut cx, &e.expect_next_review);
        let own: Vec<RiskPeriod> =
            e.region_risk.iter().enumerate().filter_map(|(n, r)| cx.risk(r, shared.len() + n)).collect();
        let facts = build_facts(&mut cx, e);
        if let (Some(expect), Some(facts), Ok(expect_since), Ok(expect_next_review)) = (expect, facts, since, next) {
            let regions = if e.region_risk.is_empty() {
                shared_risk.clone()
            } else {
                Arc::new(RegionRisk::new(shared.iter().cloned().chain(own)))
            };
            out.push(Example {
                name: e.name.clone(),
                line,
                now,
                expect,
                expect_rules: e.expect_rules.clone(),
                expect_since,
                expect_next_review,
                facts,
                regions,
            });
        }
    }
    if !cx.errors.is_empty() {
        cx.errors.sort_by_key(|(o, _)| *o);
        cx.errors.dedup();
        return Err(cx.errors.into_iter().map(|(o, m)| error_at(text, o, m)).collect());
    }
    Ok(out)
}

/// Runs the examples in `text` against `rules`.
pub fn run(rules: &RuleSet, text: &str) -> ExamplesReport {
    let mut report = ExamplesReport { rule_set_version: rules.version(), results: Vec::new(), errors: Vec::new() };
    let examples = match load(text) {
        Ok(x) => x,
        Err(errors) => {
            report.errors = errors;
            return report;
        }
    };
    for e in examples {
        let decision = rules.evaluate(&e.facts, &e.regions, e.now);
        let got_rules: Vec<String> = decision.reasons.iter().map(|r| r.rule_id.clone()).collect();
        let mut problems = Vec::new();
        if decision.color != e.expect {
            problems.push(format!("expected {}, got {}", e.expect.as_str(), decision.color.as_str()));
        }
        if let Some(want) = &e.expect_rules {
            let (mut a, mut b) = (want.clone(), got_rules.clone());
            a.sort();
            b.sort();
            if a != b {
                problems.push(format!("expected rules [{}], got [{}]", want.join(", "), got_rules.join(", ")));
            }
        }
        if let Some(want) = e.expect_since
            && decision.since != Some(want)
        {
            problems.push(format!("expected since {}, got {}", show(Some(want)), show(decision.since)));
        }
        if let Some(want) = e.expect_next_review
            && decision.next_review_at != Some(want)
        {
            problems.push(format!("expected next review {}, got {}", show(Some(want)), show(decision.next_review_at)));
        }
        report.results.push(ExampleResult {
            name: e.name,
            line: e.line,
            expected: e.expect,
            got: decision.color,
            got_rules,
            pass: problems.is_empty(),
            problems,
        });
    }
    report
}

fn show(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "none".into(), super::text::local_text)
}
