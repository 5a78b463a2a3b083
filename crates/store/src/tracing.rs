//! Record types of contact tracing (R7): reported cases, the visits and trips tracing reads,
//! and the exposures it writes. The trait methods are the "contact tracing" block of
//! [`Store`](crate::Store); the behaviours both backends pass are in `conformance_tracing.rs`.
//!
//! The reads take batches (many people or venues with a time range each) so that tracing an
//! outbreak day of a thousand cases is a few set-based queries, not thousands.

use chrono::{DateTime, NaiveDate, Utc};
use healthcode_core::SubjectId;
use healthcode_core::rules::{Carrier, CaseStatus, ContactKind};

/// A case reported by a health officer (`POST /api/v1/cases`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceCaseRecord {
    pub case_id: String,
    pub subject_id: SubjectId,
    /// `confirmed` or `suspected`.
    pub status: CaseStatus,
    pub onset_date: Option<NaiveDate>,
    pub sampled_at: Option<DateTime<Utc>>,
    pub isolated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The officer (staff id) who reported it.
    pub created_by: String,
}

impl TraceCaseRecord {
    /// The case status written with the case, so that the case's own color follows the
    /// rules like an imported one: `case:<case_id>`, in force from the report.
    pub fn status_record_id(&self) -> String {
        format!("case:{}", self.case_id)
    }
}

/// A person and the time range whose visits are wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectWindow {
    pub subject_id: SubjectId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A venue and the time range whose visits are wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueWindow {
    pub venue_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A visit as tracing reads it (the `visits` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceVisit {
    pub visit_key: String,
    pub subject_id: SubjectId,
    pub venue_id: String,
    pub entered_at: DateTime<Utc>,
    pub left_at: DateTime<Utc>,
}

/// What tracing needs of a venue (its name for the evidence, its category for the minimum) and
/// a registered person's seat on a train or flight: read straight into the types of
/// `core::tracing`, which they are field for field.
pub use healthcode_core::tracing::{Seat as TraceSeat, VenueInfo as TraceVenue};

/// A registered person with their household key fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdMember {
    pub subject_id: SubjectId,
    pub guardian: Option<SubjectId>,
    /// The ID number's blind index: trips are stored under it.
    pub id_index: Vec<u8>,
}

/// A train or flight on a day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vehicle {
    pub carrier: Carrier,
    /// As imported; compared exactly (imports keep numbers as the carrier writes them).
    pub number: String,
    pub date: NaiveDate,
}

/// An exposure found by tracing: the fact the risk engine reads as `contact(kind = …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureRecord {
    /// `exp:<case_id>:<subject_id>:<kind>`: tracing the same case again updates, never adds.
    pub record_id: String,
    pub subject_id: SubjectId,
    pub kind: ContactKind,
    /// The last contact.
    pub at: DateTime<Utc>,
    pub case_id: String,
    /// For a secondary contact: the close contact it came through.
    pub via: Option<SubjectId>,
    /// The evidence list as JSON (`docs/tracing.md`).
    pub evidence: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl ExposureRecord {
    pub fn record_id_for(case_id: &str, subject: &SubjectId, kind: ContactKind) -> String {
        format!("exp:{case_id}:{subject}:{}", kind.as_str())
    }

    /// Where the (first) contact was, for explanations: `venue:<id>`, `trip:<number>`,
    /// `household`.
    pub fn source(&self) -> Option<String> {
        let first = self.evidence.get(0)?;
        let kind = first.get("kind")?.as_str()?;
        Some(match kind {
            "venue" => format!("venue:{}", first.get("venue_id")?.as_str()?),
            "trip" => format!("trip:{}", first.get("number")?.as_str()?),
            other => other.to_string(),
        })
    }
}

/// The stored text of a contact kind, read back.
pub fn contact_kind(s: &str) -> crate::StoreResult<ContactKind> {
    ContactKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("contact kind {s:?}")))
}

/// Rows per statement of the batched tracing reads (well under SQLite's 32,766 variables).
pub const TRACE_CHUNK: usize = 500;
