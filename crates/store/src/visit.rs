//! Venues and visits (R6): the records behind checkpoint scans, self check-ins and imported
//! paper registers. A visit holds the person's pseudonym only — never a name, phone or ID
//! number — so the table can be handed to tracing and kept for weeks without exposing anyone.

use chrono::{DateTime, Utc};
use healthcode_core::{RegionCode, SubjectId, VenueCategory, VenueId};

/// A registered venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueRecord {
    pub venue_id: VenueId,
    pub name: String,
    pub address: String,
    pub region: RegionCode,
    pub category: VenueCategory,
    pub created_at: DateTime<Utc>,
    /// The staff account that registered it.
    pub created_by: String,
}

/// Where a visit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisitSource {
    /// A checkpoint device scanned the person's code.
    Scan,
    /// The person scanned the venue code.
    Checkin,
    /// A venue's paper register or an older system, imported later.
    Import,
}

impl VisitSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::Checkin => "checkin",
            Self::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scan" => Some(Self::Scan),
            "checkin" => Some(Self::Checkin),
            "import" => Some(Self::Import),
            _ => None,
        }
    }
}

/// A person at a venue from `entered_at` to `left_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    /// What makes a write idempotent: `scan:<device id>:<idempotency key>`,
    /// `checkin:<subject id>:<venue id>:<at micros>`, `import:<record id>`. Unique together
    /// with `venue_id` and `entered_at` (PostgreSQL partitions by `entered_at`; SQLite's table
    /// is clustered by venue and entry): a replay names the same venue, since a device is
    /// bound to one.
    pub visit_key: String,
    pub subject_id: SubjectId,
    pub venue_id: VenueId,
    pub entered_at: DateTime<Utc>,
    /// The exit scan's time when `closed`, else `entered_at` + the category's dwell.
    pub left_at: DateTime<Utc>,
    /// `left_at` comes from an exit scan.
    pub closed: bool,
    pub source: VisitSource,
}

/// One visit to write. An exit scan is written as a visit of no length (`entered_at =
/// left_at`, closed: the person was seen there then) with `closes_open` set: when it is new,
/// the same transaction closes the person's latest open visit at that venue that began in the
/// day before it, at its time. A replayed exit therefore closes nothing a second time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitWrite {
    pub visit: VisitRecord,
    pub closes_open: bool,
}

/// A visit written on a condition (a checkpoint scan of a phone code): not when the person's
/// stored decision is red since a time after `unless_red_since` (the code's issue time), since
/// the server then knows better than the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedWrite {
    pub write: VisitWrite,
    pub unless_red_since: Option<DateTime<Utc>>,
}

/// What became of a [`CheckedWrite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    /// Stored before (a replay): nothing written.
    Duplicate,
    /// Not written: the person's decision turned red after the code was issued.
    TurnedRed,
}

impl CheckedWrite {
    /// Whether the condition fails, given since when the person's stored decision is red
    /// (`None`: no decision, or not red).
    pub fn turned_red(&self, red_since: Option<DateTime<Utc>>) -> bool {
        self.unless_red_since.zip(red_since).is_some_and(|(issued, since)| since > issued)
    }
}

/// The outcome of each checked write, from which ones turned red and, for the others in
/// order, whether each was new (`visits_write`'s answer for them).
pub fn merge_written(turned_red: &[bool], new: Vec<bool>) -> Vec<Written> {
    let mut new = new.into_iter();
    turned_red
        .iter()
        .map(|red| match red {
            true => Written::TurnedRed,
            false if new.next().unwrap_or(false) => Written::New,
            false => Written::Duplicate,
        })
        .collect()
}

/// A scan that was denied before a visit could be recorded (forged, expired, unknown issuer…):
/// kept without any personal data, to count and investigate attacks on a venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanAttempt {
    /// `scan:<device id>:<idempotency key>` when the device sent one: a replayed attempt is
    /// recorded once.
    pub attempt_key: Option<String>,
    pub venue_id: VenueId,
    /// The checkpoint device's staff id.
    pub device_id: String,
    pub at: DateTime<Utc>,
    /// The verifier's error code (`signature_invalid`, `expired`, `issuer_not_allowed`, …).
    pub reason: String,
}
