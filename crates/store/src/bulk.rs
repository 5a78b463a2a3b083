//! Set-based reads and writes, for recoloring many people at once (a region turning
//! high-risk touches a million): what the per-person reads give, for many people per query.

use chrono::{DateTime, Utc};
use healthcode_core::{Color, SubjectId};

use crate::{
    CaseStatusRecord, LabTestRecord, OverrideRecord, QuarantineRecord, StayRecord, StoredDeclaration, TripRecord,
    VaccinationRecord,
};

/// Everything stored about one person that the rules read, as records. The server turns it
/// into the engine's facts in one place (`risk.rs`), whichever way it was read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactRecords {
    /// Declarations not superseded, made at or after `since`, newest first.
    pub declarations: Vec<StoredDeclaration>,
    /// Telecom stays of the person's phone that end at or after `since`, oldest first.
    pub stays: Vec<StayRecord>,
    /// Lab tests sampled at or after `since`, oldest first.
    pub tests: Vec<LabTestRecord>,
    pub cases: Vec<CaseStatusRecord>,
    pub trips: Vec<TripRecord>,
    pub vaccinations: Vec<VaccinationRecord>,
    /// Approved overrides (as `overrides_for`).
    pub overrides: Vec<OverrideRecord>,
    pub quarantines: Vec<QuarantineRecord>,
    /// Exposures found by contact tracing (as `exposures_for`).
    pub exposures: Vec<crate::ExposureRecord>,
}

/// A person's stored color and since when (from the last decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredColor {
    pub subject_id: SubjectId,
    pub color: Color,
    pub since: DateTime<Utc>,
}

/// Ids per query of the set-based reads: big enough that a million people take a hundred
/// queries, small enough that one query's rows stay a few megabytes.
pub const MANY_CHUNK: usize = 10_000;
