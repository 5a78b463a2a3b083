//! What an evaluation returns: the color, the reasons with their evidence, and when to look
//! again. Stored decisions keep exactly this record less its texts, which the rule set of its
//! version renders again (`RuleSet::explain`); it serialises and deserialises.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::facts::{CaseStatus, ContactKind, QuarantineKind, TestResult};
use crate::{Color, RegionCode, RiskLevel, Symptom};

/// The fast answer: color, since when, and the next review. Computed without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub color: Color,
    /// When the reasons for this color started to hold (the earliest among the decisive
    /// reasons). `None` for green without a reason: the engine does not keep history, so
    /// the caller carries the time of the last change forward.
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub since: Option<DateTime<Utc>>,
    /// The earliest instant at which, with no new facts, any rule may start or stop holding.
    /// `None`: nothing changes by time alone.
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub next_review_at: Option<DateTime<Utc>>,
}

/// A full decision with its explanation (R12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub color: Color,
    /// See [`Verdict::since`].
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub since: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub evaluated_at: DateTime<Utc>,
    /// Every rule that holds: the decisive ones first, then by color (highest first), then
    /// in file order.
    pub reasons: Vec<Reason>,
    pub rule_set_version: String,
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub next_review_at: Option<DateTime<Utc>>,
    /// How and when the color returns to green; `None` when it is green.
    pub to_green: Option<ToGreen>,
}

impl Decision {
    pub fn verdict(&self) -> Verdict {
        Verdict { color: self.color, since: self.since, next_review_at: self.next_review_at }
    }
}

/// One rule that holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub rule_id: String,
    pub color: Color,
    /// Whether this reason sets the color (its color is the decision's, and no `final` rule
    /// of another rule overrides it).
    pub decisive: bool,
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub since: Option<DateTime<Utc>>,
    /// When it stops holding if nothing new happens; `None`: not by time alone.
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub until: Option<DateTime<Utc>>,
    /// Empty in a stored decision ([`super::RuleSet::evaluate_unexplained`]), and then left
    /// out of its JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_zh: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_en: String,
    pub evidence: Vec<Evidence>,
}

impl Reason {
    /// The text for a requested language: English for `en…`, Chinese otherwise.
    pub fn text(&self, lang: &str) -> &str {
        if lang.starts_with("en") { &self.text_en } else { &self.text_zh }
    }
}

/// What turns the person green.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToGreen {
    /// Empty in a stored decision, as the reasons' texts are.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub zh: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub en: String,
    /// When every current reason will have expired, if nothing new happens; `None` when some
    /// reason does not expire by time (a case, an open quarantine, a missing test).
    #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
    pub at: Option<DateTime<Utc>>,
}

impl ToGreen {
    /// The hint for a requested language: English for `en…`, Chinese otherwise.
    pub fn text(&self, lang: &str) -> &str {
        if lang.starts_with("en") { &self.en } else { &self.zh }
    }
}

/// A fact a reason rests on, named by its record id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    Stay {
        record_id: String,
        region: RegionCode,
        /// Full name, province first: `湖北省 武汉市 江岸区`.
        region_name: String,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        start: DateTime<Utc>,
        #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
        end: Option<DateTime<Utc>>,
        /// Minutes counted at the required level (the part of the stay while the region was
        /// at that level, reduced to the reported dwell).
        counted_minutes: i64,
        /// The level of the declaration that applied.
        level: RiskLevel,
        /// The region the declaration was made for (the stay's region or one above it).
        risk_region: Option<RegionCode>,
        risk_record_id: Option<String>,
    },
    Contact {
        record_id: String,
        contact_kind: ContactKind,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        at: DateTime<Utc>,
        case_id: Option<String>,
        source: Option<String>,
    },
    Case {
        record_id: String,
        status: CaseStatus,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        at: DateTime<Utc>,
    },
    Declaration {
        record_id: String,
        day: NaiveDate,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        declared_at: DateTime<Utc>,
        temperature: Option<f64>,
        symptoms: Vec<Symptom>,
        suspected_contact: bool,
    },
    Test {
        record_id: String,
        result: TestResult,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        sampled_at: DateTime<Utc>,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        known_at: DateTime<Utc>,
    },
    MissedDeclarations {
        last_declared_day: Option<NaiveDate>,
        #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
        registered_at: Option<DateTime<Utc>>,
        /// Whole local days since the last declaration (or registration), today excluded.
        missed_days: u32,
    },
    Quarantine {
        record_id: String,
        quarantine_kind: QuarantineKind,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        start: DateTime<Utc>,
        #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
        end: Option<DateTime<Utc>>,
    },
    Override {
        record_id: String,
        color: Color,
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        from: DateTime<Utc>,
        #[serde(serialize_with = "crate::rfc3339::serialize_opt")]
        until: Option<DateTime<Utc>>,
        legal_basis: String,
        reason: String,
        approved_by: String,
    },
    Vaccination {
        record_id: String,
        /// When the required dose count was reached.
        #[serde(serialize_with = "crate::rfc3339::serialize")]
        at: DateTime<Utc>,
        doses: u32,
    },
}

impl Evidence {
    /// The record this evidence names (`None` for missed declarations, which name an absence).
    pub fn record_id(&self) -> Option<&str> {
        match self {
            Evidence::Stay { record_id, .. }
            | Evidence::Contact { record_id, .. }
            | Evidence::Case { record_id, .. }
            | Evidence::Declaration { record_id, .. }
            | Evidence::Test { record_id, .. }
            | Evidence::Quarantine { record_id, .. }
            | Evidence::Override { record_id, .. }
            | Evidence::Vaccination { record_id, .. } => Some(record_id),
            Evidence::MissedDeclarations { .. } => None,
        }
    }
}
