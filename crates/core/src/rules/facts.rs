//! Facts about one person, as the risk engine sees them.
//!
//! Plain data: the store (or the examples file) fills these in, the engine only reads them.
//! Every fact carries a `record_id` so that an explanation can name the record it rests on.
//! Times are instants (`DateTime<Utc>`); the engine shows them in local time (UTC+8).
//!
//! The lists need not be sorted, may be empty, and may hold records from the future
//! (relative to the `now` of an evaluation): those are not yet in force, but the engine
//! schedules a review for when they start. Region risk levels are shared by everybody and
//! live apart, in [`RegionRisk`](super::RegionRisk).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{Color, Declaration, RegionCode, Symptom, Temperature};

/// Everything known about one person that a rule may look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// When the person registered; the missed-declarations rule counts from here when the
    /// person has never declared. Unknown: that rule does not fire.
    pub registered_at: Option<DateTime<Utc>>,
    pub declarations: Vec<DeclarationFact>,
    pub stays: Vec<Stay>,
    pub trips: Vec<Trip>,
    pub tests: Vec<LabTest>,
    pub vaccinations: Vec<Vaccination>,
    /// Case status history as recorded by health officials: each record holds from its time
    /// until the next record.
    pub cases: Vec<CaseRecord>,
    /// Exposures found by contact tracing.
    pub exposures: Vec<Exposure>,
    pub quarantines: Vec<Quarantine>,
    /// Approved overrides only (an appeal that was granted, a manual color set by an official).
    pub overrides: Vec<Override>,
}

/// One daily health declaration (R3), reduced to what rules use.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclarationFact {
    pub record_id: String,
    /// The local day it is for.
    pub day: NaiveDate,
    pub declared_at: DateTime<Utc>,
    pub temperature: Option<Temperature>,
    pub symptoms: Vec<Symptom>,
    pub suspected_contact: bool,
    pub region: Option<RegionCode>,
}

impl DeclarationFact {
    pub fn from_declaration(record_id: impl Into<String>, d: &Declaration) -> Self {
        Self {
            record_id: record_id.into(),
            day: d.day,
            declared_at: d.declared_at,
            temperature: Some(d.temperature),
            symptoms: d.symptoms.clone(),
            suspected_contact: d.contact_with_suspected_case,
            region: Some(d.current_region),
        }
    }

    /// Fever either measured (≥ 37.3 °C) or declared as a symptom.
    pub fn has_fever(&self) -> bool {
        self.temperature.is_some_and(|t| t.is_fever()) || self.symptoms.contains(&Symptom::Fever)
    }

    /// The declared symptoms as a bit set (bit = position in [`Symptom::ALL`]); a measured
    /// fever sets the fever bit.
    pub(crate) fn symptom_bits(&self) -> u16 {
        let mut bits = 0u16;
        for s in &self.symptoms {
            bits |= symptom_bit(*s);
        }
        if self.temperature.is_some_and(|t| t.is_fever()) {
            bits |= symptom_bit(Symptom::Fever);
        }
        bits
    }
}

pub(crate) fn symptom_bit(s: Symptom) -> u16 {
    1 << Symptom::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// Where a stay record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StaySource {
    /// The telecom itinerary (通信大数据行程卡): base stations, so borders are fuzzy (R11).
    #[default]
    Telecom,
    /// Declared by the person.
    Declared,
    /// Derived from a venue scan or a trip.
    Scan,
}

/// A stay in a region: from `start` to `end` (`None`: still there).
#[derive(Debug, Clone, PartialEq)]
pub struct Stay {
    pub record_id: String,
    pub region: RegionCode,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// Time actually seen in the region within `start..end`, when the provider reports it
    /// (a phone seen at 10:00 and at 18:00 with a dwell of 20 minutes).
    pub dwell: Option<TimeDelta>,
    pub source: StaySource,
}

/// Who carried the trip (the `carrier` of the `trips` import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Train,
    Flight,
}

/// A train or flight trip (R5, R7). Tracing turns shared trips into [`Exposure`]s; no
/// default rule reads trips directly.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub record_id: String,
    pub carrier: Carrier,
    /// Train or flight number, e.g. `G1234`, `CA1501`.
    pub number: String,
    /// Local day of departure.
    pub date: NaiveDate,
    pub coach: Option<String>,
    pub row: Option<String>,
    pub seat: Option<String>,
    pub from: Option<RegionCode>,
    pub to: Option<RegionCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    Pcr,
    Antigen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    Negative,
    Positive,
    /// Sampled, no result yet.
    Pending,
    Invalid,
}

impl TestResult {
    pub const ALL: [TestResult; 4] = [Self::Negative, Self::Positive, Self::Pending, Self::Invalid];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Negative => "negative",
            Self::Positive => "positive",
            Self::Pending => "pending",
            Self::Invalid => "invalid",
        }
    }
}

/// A lab test (核酸/抗原).
#[derive(Debug, Clone, PartialEq)]
pub struct LabTest {
    pub record_id: String,
    pub kind: TestKind,
    pub sampled_at: DateTime<Utc>,
    /// When the result became known; `None`: at sampling (the result is taken as known then).
    pub reported_at: Option<DateTime<Utc>>,
    pub result: TestResult,
}

impl LabTest {
    /// When the result is known: the report time, never before sampling.
    pub fn known_at(&self) -> DateTime<Utc> {
        self.reported_at.map_or(self.sampled_at, |r| r.max(self.sampled_at))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vaccination {
    pub record_id: String,
    /// When it was given (an import that has only the date gives local midnight).
    pub at: DateTime<Utc>,
    /// Dose number as recorded (1, 2, booster 3 …); the engine counts records.
    pub dose: u8,
    pub product: Option<String>,
}

/// Case status as set by health officials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// 疑似病例
    Suspected,
    /// 确诊病例
    Confirmed,
    /// 无症状感染者
    Asymptomatic,
    /// 治愈出院 / 解除隔离
    Recovered,
    /// 排除 (a suspected case ruled out)
    Excluded,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] =
        [Self::Suspected, Self::Confirmed, Self::Asymptomatic, Self::Recovered, Self::Excluded];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Suspected => "suspected",
            Self::Confirmed => "confirmed",
            Self::Asymptomatic => "asymptomatic",
            Self::Recovered => "recovered",
            Self::Excluded => "excluded",
        }
    }
}

/// A case status from `at` on (until the next record).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    pub record_id: String,
    pub status: CaseStatus,
    pub at: DateTime<Utc>,
}

/// How a person was exposed, as contact tracing classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// 密切接触者
    Close,
    /// 次密切接触者 (contact of a close contact)
    Secondary,
    /// 时空伴随者 (same place and time as a case, from phone data)
    Companion,
}

impl ContactKind {
    pub const ALL: [ContactKind; 3] = [Self::Close, Self::Secondary, Self::Companion];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Close => "close",
            Self::Secondary => "secondary",
            Self::Companion => "companion",
        }
    }
}

/// An exposure found by tracing: the last contact was at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure {
    pub record_id: String,
    pub kind: ContactKind,
    pub at: DateTime<Utc>,
    /// The case (or close contact) it traces back to, if known.
    pub case_id: Option<String>,
    /// Where it was found: a venue, a trip, a household.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    /// 集中隔离
    Centralized,
    /// 居家隔离
    Home,
}

impl QuarantineKind {
    pub const ALL: [QuarantineKind; 2] = [Self::Centralized, Self::Home];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Centralized => "centralized",
            Self::Home => "home",
        }
    }
}

/// A quarantine: in force from `start` until `ended_at` if released, else `planned_end`,
/// else open.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantine {
    pub record_id: String,
    pub kind: QuarantineKind,
    pub start: DateTime<Utc>,
    pub planned_end: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Quarantine {
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.ended_at.or(self.planned_end)
    }
}

/// An approved override: `color` from `from` until `until` (`None`: until withdrawn).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub record_id: String,
    pub color: Color,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub legal_basis: String,
    pub reason: String,
    pub approved_by: String,
}

pub(crate) fn color_bit(c: Color) -> u8 {
    match c {
        Color::Green => 1,
        Color::Yellow => 2,
        Color::Red => 4,
    }
}
