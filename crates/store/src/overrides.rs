//! Manual color changes (overrides) and quarantines, as stored (R12, R13).
//!
//! An override is proposed by one officer and is in force only after a *different* officer
//! approves it; both must have the person in their regions. The store enforces both rules in
//! the same transaction as the write and its audit record, so no handler can skip them.

use chrono::{DateTime, Utc};
use healthcode_core::rules::QuarantineKind;
use healthcode_core::{Color, SubjectId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideStatus {
    /// Waiting for a second officer.
    Pending,
    /// In force from `approved_at` until `expires_at`.
    Approved,
}

impl OverrideStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRecord {
    pub override_id: String,
    pub subject_id: SubjectId,
    pub color: Color,
    /// The id of a [`healthcode_core::LegalBasis`].
    pub legal_basis: String,
    /// The officer's reason, sealed by the server's vault (it is about a person's health).
    pub reason_sealed: String,
    pub expires_at: DateTime<Utc>,
    pub status: OverrideStatus,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// What an approval did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Now in force; the record as approved.
    Approved(OverrideRecord),
    /// No such override, or its person is outside the approver's regions (not told apart,
    /// so an officer cannot probe other regions).
    NotFound,
    /// The proposer cannot approve their own override.
    SameOfficer,
    /// Already approved.
    NotPending,
    /// Its expiry has passed: it can no longer come into force.
    Expired,
}

/// A quarantine (隔离) ordered by a health officer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRecord {
    pub quarantine_id: String,
    pub subject_id: SubjectId,
    pub kind: QuarantineKind,
    pub start: DateTime<Utc>,
    pub planned_end: Option<DateTime<Utc>>,
    /// Set when the person was released.
    pub ended_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}
