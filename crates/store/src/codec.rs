//! Conversions between domain values and the plain columns both backends store them in, so
//! the two backends read and write the same text for the same value.

use healthcode_core::{RegionCode, Relation, RiskLevel, Role, SubjectId, Symptom};

use crate::{StoreError, StoreResult};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub fn region(s: &str) -> StoreResult<RegionCode> {
    RegionCode::parse(s).map_err(|_| corrupt("region", s))
}

pub fn subject(s: &str) -> StoreResult<SubjectId> {
    SubjectId::parse(s).map_err(|_| corrupt("subject id", s))
}

pub fn role(s: &str) -> StoreResult<Role> {
    Role::parse(s).ok_or_else(|| corrupt("role", s))
}

pub fn relation(s: &str) -> StoreResult<Relation> {
    Relation::parse(s).ok_or_else(|| corrupt("relation", s))
}

/// Symptoms as a comma-separated list of their API names (`fever,cough`).
pub fn symptoms_to_text(symptoms: &[Symptom]) -> String {
    symptoms.iter().map(Symptom::as_str).collect::<Vec<_>>().join(",")
}

pub fn symptoms_from_text(s: &str) -> StoreResult<Vec<Symptom>> {
    s.split(',').filter(|x| !x.is_empty()).map(|x| Symptom::parse(x).ok_or_else(|| corrupt("symptom", x))).collect()
}

/// A list of short names (import kinds) as comma-separated text.
pub fn list_to_text(items: &[String]) -> String {
    items.join(",")
}

pub fn list_from_text(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// The `LIKE` pattern matching every region under `region` (`42%` for 420000).
pub fn region_pattern(region: &RegionCode) -> String {
    format!("{}%", region.prefix())
}

pub fn risk_level_to_text(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Low => "low",
        RiskLevel::Medium => "medium",
        RiskLevel::High => "high",
    }
}

pub fn risk_level(s: &str) -> StoreResult<RiskLevel> {
    match s {
        "low" => Ok(RiskLevel::Low),
        "medium" => Ok(RiskLevel::Medium),
        "high" => Ok(RiskLevel::High),
        other => Err(corrupt("risk level", other)),
    }
}

/// Rows per multi-row INSERT: few enough to stay under both databases' bind limits
/// (SQLite 32766, PostgreSQL 65535) with five columns.
pub const INSERT_CHUNK: usize = 500;

/// `(?, ?, …), (?, ?, …)…`: placeholders for `rows` rows of `columns` columns, numbered
/// (`$1`) for PostgreSQL when `numbered`.
pub fn placeholders(rows: usize, columns: usize, numbered: bool) -> String {
    let mut out = String::with_capacity(rows * (columns * 4 + 4));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            n += 1;
            if numbered {
                out.push_str(&format!("${n}"));
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

pub fn test_result(s: &str) -> StoreResult<healthcode_core::rules::TestResult> {
    healthcode_core::rules::TestResult::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| corrupt("test result", s))
}

pub fn case_status(s: &str) -> StoreResult<healthcode_core::rules::CaseStatus> {
    healthcode_core::rules::CaseStatus::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| corrupt("case status", s))
}

pub fn color(s: &str) -> StoreResult<healthcode_core::Color> {
    healthcode_core::Color::parse(s).ok_or_else(|| corrupt("color", s))
}

pub fn carrier(s: &str) -> StoreResult<healthcode_core::rules::Carrier> {
    match s {
        "train" => Ok(healthcode_core::rules::Carrier::Train),
        "flight" => Ok(healthcode_core::rules::Carrier::Flight),
        other => Err(corrupt("carrier", other)),
    }
}

pub fn carrier_to_text(c: healthcode_core::rules::Carrier) -> &'static str {
    match c {
        healthcode_core::rules::Carrier::Train => "train",
        healthcode_core::rules::Carrier::Flight => "flight",
    }
}

pub fn quarantine_kind(s: &str) -> StoreResult<healthcode_core::rules::QuarantineKind> {
    healthcode_core::rules::QuarantineKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| corrupt("quarantine kind", s))
}

pub fn override_status(s: &str) -> StoreResult<crate::OverrideStatus> {
    match s {
        "pending" => Ok(crate::OverrideStatus::Pending),
        "approved" => Ok(crate::OverrideStatus::Approved),
        other => Err(corrupt("override status", other)),
    }
}
