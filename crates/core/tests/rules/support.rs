//! Helpers shared by the rule tests.

#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use healthcode_core::rules::{
    CaseRecord, CaseStatus, ContactKind, DeclarationFact, Exposure, LabTest, Override, Quarantine, QuarantineKind,
    RegionRisk, RiskPeriod, RuleSet, Stay, StaySource, TestKind, TestResult, Vaccination,
};
use healthcode_core::{Color, RegionCode, RiskLevel, Symptom, Temperature};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// The `now` of most tests: 2022-04-15 12:00 local.
pub fn now() -> DateTime<Utc> {
    t("2022-04-15T12:00:00+08:00")
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

pub fn days(d: i64) -> TimeDelta {
    TimeDelta::days(d)
}

pub fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

pub fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

pub fn default_rules() -> RuleSet {
    parse(healthcode_core::rules::DEFAULT_RULES)
}

pub fn parse(text: &str) -> RuleSet {
    RuleSet::parse(text).unwrap_or_else(|e| {
        panic!("rules do not parse:\n{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    })
}

/// A rule set with one red rule `r` and, optionally, parameters and `holds`.
pub fn one_rule(params: &str, holds: Option<&str>, when: &str) -> RuleSet {
    let holds = holds.map(|h| format!("holds = \"{h}\"\n")).unwrap_or_default();
    parse(&format!(
        "[parameters]\n{params}\n[[rule]]\nid = \"r\"\ncolor = \"red\"\n{holds}when = '''{when}'''\nexplain.zh = \"理由\"\nexplain.en = \"reason\"\nto_green.zh = \"等待\"\nto_green.en = \"wait\"\n"
    ))
}

/// `[start, end)` a risk level of a region.
pub fn risk(code: &str, level: RiskLevel, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> RiskPeriod {
    RiskPeriod { record_id: format!("risk-{code}"), region: region(code), level, from, to }
}

pub fn risk_table(periods: Vec<RiskPeriod>) -> RegionRisk {
    RegionRisk::new(periods)
}

/// 420102 (武汉市 江岸区) high from long before the tests' now, open.
pub fn jiang_an_high() -> RegionRisk {
    RegionRisk::new([risk("420102", RiskLevel::High, t("2022-01-01T00:00:00Z"), None)])
}

pub fn stay(id: &str, code: &str, start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Stay {
    Stay { record_id: id.into(), region: region(code), start, end, dwell: None, source: StaySource::Telecom }
}

pub fn exposure(id: &str, kind: ContactKind, at: DateTime<Utc>) -> Exposure {
    Exposure { record_id: id.into(), kind, at, case_id: Some("case-1".into()), source: None }
}

pub fn case(id: &str, status: CaseStatus, at: DateTime<Utc>) -> CaseRecord {
    CaseRecord { record_id: id.into(), status, at }
}

pub fn declaration(
    id: &str,
    at: DateTime<Utc>,
    celsius: f64,
    symptoms: &[Symptom],
    suspected: bool,
) -> DeclarationFact {
    DeclarationFact {
        record_id: id.into(),
        // The local day; at the very ends of time (robustness tests) the UTC one.
        day: at.naive_utc().checked_add_signed(TimeDelta::hours(8)).map_or(at.date_naive(), |n| n.date()),
        declared_at: at,
        temperature: Some(Temperature::from_celsius(celsius).unwrap()),
        symptoms: symptoms.to_vec(),
        suspected_contact: suspected,
        region: None,
    }
}

pub fn test(id: &str, result: TestResult, sampled: DateTime<Utc>, reported: Option<DateTime<Utc>>) -> LabTest {
    LabTest { record_id: id.into(), kind: TestKind::Pcr, sampled_at: sampled, reported_at: reported, result }
}

pub fn quarantine(id: &str, kind: QuarantineKind, start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Quarantine {
    Quarantine { record_id: id.into(), kind, start, planned_end: end, ended_at: None }
}

pub fn override_(id: &str, color: Color, from: DateTime<Utc>, until: Option<DateTime<Utc>>) -> Override {
    Override {
        record_id: id.into(),
        color,
        from,
        until,
        legal_basis: "appeal".into(),
        reason: "核实 / verified".into(),
        approved_by: "staff-1".into(),
    }
}

pub fn vaccination(id: &str, at: DateTime<Utc>, dose: u8) -> Vaccination {
    Vaccination { record_id: id.into(), at, dose, product: None }
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}
