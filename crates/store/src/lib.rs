//! The storage interface of healthcode.
//!
//! Invariants:
//! - The store never sees a clear ID number, phone number or name: it keeps what the vault
//!   sealed and the blind indexes it computed, and cannot open either.
//! - Staff reads of personal data are scoped *in the query* (an officer's regions are joined in
//!   SQL, not filtered afterwards) and append their audit record in the same transaction.
//! - Every write that can fail half-way runs in one transaction.
//! - Times are kept to the microsecond (both backends); callers should not rely on more.
//! - Rules that must hold on both backends (the OTP state machine) live in `healthcode-core`;
//!   backends load, apply and save.
//!
//! [`conformance`] is the one suite every backend passes; see `store_conformance_tests!`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use healthcode_core::otp::{OtpOutcome, OtpPolicy, OtpRefusal};
use healthcode_core::{Declaration, RegionCode, Relation, RiskLevel, Role, SubjectId, VenueId};
use serde::Serialize;

pub mod bulk;
pub mod codec;
pub mod conformance;
pub mod conformance_bulk;
pub mod conformance_tracing;
pub mod conformance_visits;
pub mod otp;
pub mod packed;
pub mod stays;
pub use stays::StayBatch;
pub mod visit;

pub use visit::{CheckedWrite, ScanAttempt, VenueRecord, VisitRecord, VisitSource, VisitWrite, Written, merge_written};
pub mod tracing;

pub use tracing::{
    ExposureRecord, HouseholdMember, SubjectWindow, TraceCaseRecord, TraceSeat, TraceVenue, TraceVisit, Vehicle,
    VenueWindow,
};

pub use bulk::{FactRecords, StoredColor};
pub mod overrides;

pub use overrides::{Approval, OverrideRecord, OverrideStatus, QuarantineRecord};

/// A unique constraint that a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    IdNumber,
    Phone,
    StaffToken,
    StaffId,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0:?}")]
    Duplicate(Unique),
    #[error("not found")]
    NotFound,
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A person as stored in the identity table. Sealed fields are opened by the server's vault.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRecord {
    pub subject_id: SubjectId,
    /// Blind index of the ID number: the one-person-one-code key.
    pub id_index: Vec<u8>,
    pub id_number_sealed: String,
    pub name_sealed: String,
    /// Display form (张*三); kept clear because it travels on codes and gate screens anyway.
    pub masked_name: String,
    /// Absent for dependents without a phone.
    pub phone_index: Option<Vec<u8>>,
    pub phone_sealed: Option<String>,
    pub household_region: RegionCode,
    /// From the latest declaration.
    pub current_region: Option<RegionCode>,
    pub guardian: Option<Guardian>,
    pub created_at: DateTime<Utc>,
}

impl PersonRecord {
    /// The keys the person's facts are filed under, and nothing personal.
    pub fn keys(&self) -> PersonKeys {
        PersonKeys {
            subject_id: self.subject_id.clone(),
            id_index: self.id_index.clone(),
            phone_index: self.phone_index.clone(),
            created_at: self.created_at,
        }
    }
}

/// What recoloring needs of a person: the keys their facts are filed under (telecom data by
/// the phone's blind index, health records by the ID number's, the rest by the subject id)
/// and when they registered. No sealed value: reading a million of these stays cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonKeys {
    pub subject_id: SubjectId,
    pub id_index: Vec<u8>,
    pub phone_index: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardian {
    pub subject_id: SubjectId,
    pub relation: Relation,
}

/// A citizen's login session; it belongs to a phone, which may not be registered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: Vec<u8>,
    pub phone_index: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A declaration as stored, with its place in the day's history.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDeclaration {
    pub id: i64,
    pub declaration: Declaration,
    /// Set when a later declaration for the same day replaced this one.
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclarationReceipt {
    pub id: i64,
    /// Whether it replaced an earlier declaration of the same day.
    pub replaced: bool,
}

/// A staff account or device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: String,
    pub role: Role,
    pub name: String,
    /// For officers: the regions they act in (each covers every region under it), sorted.
    pub regions: Vec<RegionCode>,
    /// For checkpoint devices: the venue they are bound to.
    pub venue_id: Option<String>,
    /// For partners: the import kinds they may send.
    pub import_kinds: Vec<String>,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// Who did something, as written to the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// `staff`, `bootstrap_admin`, `citizen`
    pub kind: String,
    pub id: String,
    pub role: Option<String>,
}

/// One audit record to append.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// A stable action name such as `person.read`.
    pub action: String,
    pub subject_id: Option<SubjectId>,
    /// The reason the actor gave.
    pub purpose: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// What a staff read of personal data is for; goes into the audit record.
#[derive(Debug, Clone)]
pub struct StaffRead<'a> {
    pub staff_id: &'a str,
    pub purpose: &'a str,
    pub at: DateTime<Utc>,
}

/// A telecom stay (行程卡 data): a phone was in a region from `start` to `end`. Keyed by the
/// phone's blind index, so stays of people who register later still count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayRecord {
    /// The source's own id; importing it again changes nothing.
    pub record_id: String,
    pub phone_index: Vec<u8>,
    pub region: RegionCode,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A region's risk level over a period (`effective_to` open while in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionRiskRecord {
    pub record_id: String,
    pub region: RegionCode,
    pub level: RiskLevel,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
}

/// A lab test result (核酸检测), keyed by the ID number's blind index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabTestRecord {
    pub record_id: String,
    pub id_index: Vec<u8>,
    pub sampled_at: DateTime<Utc>,
    pub result: healthcode_core::rules::TestResult,
}

/// A case status set by health officials, in force from `at` until the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStatusRecord {
    pub record_id: String,
    pub id_index: Vec<u8>,
    pub status: healthcode_core::rules::CaseStatus,
    pub at: DateTime<Utc>,
}

/// A train or flight trip (R5, R7), keyed by the ID number's blind index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripRecord {
    pub record_id: String,
    pub id_index: Vec<u8>,
    /// `train` or `flight`.
    pub carrier: healthcode_core::rules::Carrier,
    /// Train or flight number (`G1234`, `CA1501`).
    pub number: String,
    /// Local day of departure.
    pub date: NaiveDate,
    pub coach: Option<String>,
    pub row: String,
    pub seat: String,
}

/// A vaccination, keyed by the ID number's blind index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaccinationRecord {
    pub record_id: String,
    pub id_index: Vec<u8>,
    /// Local day it was given.
    pub date: NaiveDate,
    pub dose: u8,
    pub product: String,
}

/// The last decision about a person's color, as stored (R9, R12): the full record, and the
/// fields the scheduler and history need.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub subject_id: SubjectId,
    pub color: healthcode_core::Color,
    pub since: DateTime<Utc>,
    pub rule_set_version: String,
    pub next_review_at: Option<DateTime<Utc>>,
    pub evaluated_at: DateTime<Utc>,
    /// The decision exactly as the engine gave it (reasons, evidence, way back to green).
    pub record: DecisionJson,
    /// The rules gave this color no start of its own (green without a reason): when saved, it
    /// keeps the stored decision's `since` if that is of the same color, and takes `since` as
    /// given otherwise. The writer decides, as it sees the color it replaces; the caller need
    /// not read it first (a recoloring of a million people read each stored color for this
    /// alone). Always false in a decision read back.
    pub keeps_since: bool,
}

/// A decision's record: a JSON document, made once from the engine's decision and stored as
/// it is. Made from a decision it is packed ([`packed`]: about a quarter of the JSON's size, and
/// cheaper to make than its text), which SQLite stores as it is; read back, or made from text,
/// it is the JSON text. (As a `serde_json::Value` tree a million decisions of a recoloring were
/// built, turned into text and dropped node by node: a sixth of its CPU.) Equal when the JSON
/// values are equal, so a backend that normalizes JSON (PostgreSQL's `jsonb`) gives an equal
/// record back.
#[derive(Debug, Clone)]
pub struct DecisionJson(Form);

#[derive(Debug, Clone)]
enum Form {
    Text(String),
    Packed(Vec<u8>),
}

impl DecisionJson {
    /// The record of a serializable value (a decision), packed.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Self {
        // Packing a decision cannot fail (string keys only); should it, the record says so
        // rather than losing the decision.
        Self(match packed::to_packed(value) {
            Ok(bytes) => Form::Packed(bytes),
            Err(e) => Form::Text(format!("{{\"error\":{:?}}}", e.to_string())),
        })
    }

    /// Stored JSON text, checked to be JSON.
    pub fn parse(text: String) -> StoreResult<Self> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .map_err(|e| StoreError::Corrupt(format!("decision record: {e}")))?;
        Ok(Self(Form::Text(text)))
    }

    /// A stored packed record, read back into its JSON text (which checks it whole).
    pub fn unpack(bytes: &[u8]) -> StoreResult<Self> {
        let text = packed::to_json(bytes).map_err(|e| StoreError::Corrupt(format!("decision record: {e}")))?;
        Ok(Self(Form::Text(text)))
    }

    /// The JSON text.
    pub fn json(&self) -> std::borrow::Cow<'_, str> {
        match &self.0 {
            Form::Text(text) => text.as_str().into(),
            // Made by `of` from a value: reads back unless this file has a bug.
            Form::Packed(bytes) => {
                packed::to_json(bytes).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string())).into()
            }
        }
    }

    /// The packed form.
    pub fn packed(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.0 {
            Form::Packed(bytes) => bytes.as_slice().into(),
            Form::Text(text) => {
                let value = serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();
                packed::to_packed(&value).expect("a JSON value packs").into()
            }
        }
    }

    /// The record as a JSON value.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.json()).unwrap_or_default()
    }
}

impl From<serde_json::Value> for DecisionJson {
    fn from(v: serde_json::Value) -> Self {
        Self(Form::Text(v.to_string()))
    }
}

impl PartialEq for DecisionJson {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json() || self.value() == other.value()
    }
}

/// One change of a person's color.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColorChange {
    pub at: DateTime<Utc>,
    pub from: Option<healthcode_core::Color>,
    pub to: healthcode_core::Color,
    pub rule_set_version: String,
}

/// What a batch import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// New records.
    pub accepted: u64,
    /// Records whose `record_id` was already stored (a replayed file): left unchanged.
    pub duplicates: u64,
}

impl std::ops::AddAssign for ImportOutcome {
    fn add_assign(&mut self, o: ImportOutcome) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
    }
}

/// A change to a phone's one-time-password state.
#[derive(Debug, Clone)]
pub enum OtpTransition {
    Issue { code_hash: Vec<u8> },
    Verify { code_hash: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpResult {
    Issued,
    Refused(OtpRefusal),
    Checked(OtpOutcome),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is (`sqlite`, `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // --- one-time passwords and sessions ---
    async fn otp_apply(
        &self,
        phone_index: &[u8],
        transition: OtpTransition,
        now: DateTime<Utc>,
        policy: &OtpPolicy,
    ) -> StoreResult<OtpResult>;
    async fn session_create(&self, session: &Session) -> StoreResult<()>;
    /// The session, if it exists and has not expired at `now`.
    async fn session_get(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<Session>>;
    async fn session_delete(&self, token_hash: &[u8]) -> StoreResult<()>;

    // --- identity ---
    /// Registers a person (or, with `guardian` set, a dependent). Fails with
    /// `Duplicate(IdNumber)` or `Duplicate(Phone)`, or `NotFound` when the guardian does not
    /// exist, and then writes nothing.
    async fn person_insert(&self, person: &PersonRecord) -> StoreResult<()>;
    async fn person_get(&self, subject_id: &SubjectId) -> StoreResult<Option<PersonRecord>>;
    async fn person_by_phone(&self, phone_index: &[u8]) -> StoreResult<Option<PersonRecord>>;
    async fn dependents(&self, guardian: &SubjectId) -> StoreResult<Vec<PersonRecord>>;

    // --- declarations ---
    /// Records a declaration; an earlier one for the same subject and day is marked
    /// superseded (kept in the history), and the person's current region updated.
    async fn declaration_submit(&self, declaration: &Declaration) -> StoreResult<DeclarationReceipt>;
    /// Newest first, superseded ones included.
    async fn declarations(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<StoredDeclaration>>;
    /// Deletes the declarations (superseded ones too) of days before `day`: retention.
    /// Returns how many went.
    async fn declarations_drop_before(&self, day: NaiveDate) -> StoreResult<u64>;
    /// The declaration in force for a day.
    async fn declaration_for_day(
        &self,
        subject_id: &SubjectId,
        day: NaiveDate,
    ) -> StoreResult<Option<StoredDeclaration>>;

    // --- staff ---
    /// Creates an account and appends `audit` in the same transaction.
    async fn staff_insert(&self, staff: &Staff, audit: &AuditEntry) -> StoreResult<()>;
    async fn staff_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Staff>>;

    // --- scoped staff reads; each appends an audit record when it returns data ---
    /// The person, if the staff member is an officer whose regions cover the person's
    /// household or current region; `None` otherwise (out of scope looks like absent).
    async fn person_for_officer(
        &self,
        read: &StaffRead<'_>,
        subject_id: &SubjectId,
    ) -> StoreResult<Option<PersonRecord>>;
    /// The declaration history, under the same scope rule.
    async fn declarations_for_officer(
        &self,
        read: &StaffRead<'_>,
        subject_id: &SubjectId,
        limit: u32,
    ) -> StoreResult<Option<Vec<StoredDeclaration>>>;

    // --- facts ---
    /// Stores stays in one transaction; a `record_id` already stored counts as a duplicate.
    async fn stays_import(&self, rows: &[StayRecord]) -> StoreResult<ImportOutcome>;
    /// As `stays_import`, for a batch the caller has prepared (packed and sorted on its own
    /// thread, so a bulk import prepares the next batch while this one is written).
    async fn stays_import_batch(&self, batch: StayBatch) -> StoreResult<ImportOutcome> {
        self.stays_import(&batch.to_records()).await
    }
    /// Stays of one phone that end at or after `since`, oldest first.
    async fn stays_for(&self, phone_index: &[u8], since: DateTime<Utc>) -> StoreResult<Vec<StayRecord>>;
    /// Registered people with a stay in a region under `region` overlapping `[from, to)`.
    async fn subjects_with_stays(
        &self,
        region: &RegionCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SubjectId>>;
    /// Stores region risk periods in one transaction (same duplicate rule).
    async fn region_risk_import(&self, rows: &[RegionRiskRecord]) -> StoreResult<ImportOutcome>;
    /// Sets a region's level from `record.effective_from` on: the region's open periods that
    /// began earlier end then, and the new one is stored, in one transaction.
    async fn region_risk_set(&self, record: &RegionRiskRecord) -> StoreResult<()>;
    /// Every region risk period, ordered by region and start (a small table, cached by callers).
    async fn region_risk_all(&self) -> StoreResult<Vec<RegionRiskRecord>>;

    /// Stores lab tests in one transaction (same duplicate rule).
    async fn lab_tests_import(&self, rows: &[LabTestRecord]) -> StoreResult<ImportOutcome>;
    /// Lab tests of one person (by ID-number blind index) sampled at or after `since`, oldest first.
    async fn lab_tests_for(&self, id_index: &[u8], since: DateTime<Utc>) -> StoreResult<Vec<LabTestRecord>>;
    /// Stores case statuses in one transaction (same duplicate rule).
    async fn cases_import(&self, rows: &[CaseStatusRecord]) -> StoreResult<ImportOutcome>;
    /// Every case status of one person, oldest first.
    async fn cases_for(&self, id_index: &[u8]) -> StoreResult<Vec<CaseStatusRecord>>;

    /// Stores trips in one transaction (same duplicate rule).
    async fn trips_import(&self, rows: &[TripRecord]) -> StoreResult<ImportOutcome>;
    /// Trips of one person, oldest first.
    async fn trips_for(&self, id_index: &[u8]) -> StoreResult<Vec<TripRecord>>;
    /// Stores vaccinations in one transaction (same duplicate rule).
    async fn vaccinations_import(&self, rows: &[VaccinationRecord]) -> StoreResult<ImportOutcome>;
    /// Vaccinations of one person, oldest first.
    async fn vaccinations_for(&self, id_index: &[u8]) -> StoreResult<Vec<VaccinationRecord>>;

    // --- decisions ---
    /// Stores a decision; when the color differs from the stored one (or there was none),
    /// appends a color change in the same transaction and returns it.
    async fn decision_save(&self, decision: &DecisionRecord) -> StoreResult<Option<ColorChange>>;
    async fn decision_get(&self, subject_id: &SubjectId) -> StoreResult<Option<DecisionRecord>>;
    /// People whose decision is due for review at `now`, soonest first.
    async fn decisions_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SubjectId>>;
    /// Retention: deletes the records of superseded decisions made before `before` (each
    /// person's last decision stays, whatever its age); returns how many went. A backend that
    /// keeps only the last record has none to delete.
    async fn decision_records_drop_before(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Keeps a rule set's text under its version (the SHA-256 of the text), once: a stored
    /// decision keeps its rule ids, evidence and version but not its texts, which are rendered
    /// again from the rule set of that version (DESIGN §6). Keeping a version already kept
    /// changes nothing.
    async fn rule_set_keep(&self, version: &str, source: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// The text of a kept rule set.
    async fn rule_set_get(&self, version: &str) -> StoreResult<Option<String>>;
    /// Color changes of a person, newest first.
    async fn color_history(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<ColorChange>>;
    /// The registered person with this ID-number blind index.
    async fn person_by_id_index(&self, id_index: &[u8]) -> StoreResult<Option<PersonRecord>>;

    // --- audit ---
    async fn audit_append(&self, entry: &AuditEntry) -> StoreResult<i64>;
    /// Records about one subject, newest first.
    async fn audit_for_subject(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// Records after `after_seq`, oldest first. Sequence numbers are in commit order, so a
    /// reader paging with the last `seq` it saw never skips a record that committed late.
    async fn audit_since(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;

    // --- venues and visits (R6); record types in `visit.rs`, behaviours in `conformance_visits.rs` ---
    async fn venue_insert(&self, venue: &VenueRecord) -> StoreResult<()>;
    async fn venue_get(&self, venue_id: &VenueId) -> StoreResult<Option<VenueRecord>>;
    /// Writes visits in one transaction (the group commit of scans); a `(venue_id, visit_key,
    /// entered_at)` already stored, or repeated earlier in `writes`, is left as it is. Returns,
    /// in order, whether each write was new. New exits close the open visit they end.
    async fn visits_write(&self, writes: &[VisitWrite]) -> StoreResult<Vec<bool>>;
    /// Writes visits as `visits_write` does, except those whose condition fails
    /// ([`CheckedWrite`]); answers, in order, what became of each. Here the stored colors are
    /// read first (one query for the group), then the rest written in one transaction; a
    /// backend may do both in one transaction (SQLite does: its writer is single).
    async fn visits_write_checked(&self, writes: Vec<CheckedWrite>) -> StoreResult<Vec<Written>> {
        let mut subjects: Vec<SubjectId> =
            writes.iter().filter(|w| w.unless_red_since.is_some()).map(|w| w.write.visit.subject_id.clone()).collect();
        subjects.sort();
        subjects.dedup();
        let red_since: std::collections::HashMap<SubjectId, DateTime<Utc>> = if subjects.is_empty() {
            Default::default()
        } else {
            let colors = self.decisions_colors(&subjects).await?;
            colors
                .into_iter()
                .filter(|c| c.color == healthcode_core::Color::Red)
                .map(|c| (c.subject_id, c.since))
                .collect()
        };
        let turned_red: Vec<bool> =
            writes.iter().map(|w| w.turned_red(red_since.get(&w.write.visit.subject_id).copied())).collect();
        let kept: Vec<VisitWrite> =
            writes.into_iter().zip(&turned_red).filter(|(_, red)| !**red).map(|(w, _)| w.write).collect();
        let new = self.visits_write(&kept).await?;
        Ok(merge_written(&turned_red, new))
    }
    /// Imports visits in one transaction (same duplicate rule), counted.
    async fn visits_insert(&self, rows: &[VisitRecord]) -> StoreResult<ImportOutcome> {
        let writes: Vec<_> = rows.iter().map(|v| VisitWrite { visit: v.clone(), closes_open: false }).collect();
        let new = self.visits_write(&writes).await?;
        let accepted = new.iter().filter(|n| **n).count() as u64;
        Ok(ImportOutcome { accepted, duplicates: rows.len() as u64 - accepted })
    }
    /// Closes the person's latest open visit at the venue that began in the day before `at`
    /// (`left_at = at`, closed); `false` when there is none.
    async fn visit_close(&self, subject_id: &SubjectId, venue_id: &VenueId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Visits of a person overlapping `[from, to)` (`entered_at < to AND left_at > from`), oldest first.
    async fn visits_for_subject(
        &self,
        subject_id: &SubjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitRecord>>;
    /// Visits at a venue overlapping `[from, to)`, oldest first.
    async fn visits_at_venue(
        &self,
        venue_id: &VenueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitRecord>>;
    async fn scan_attempt_record(&self, attempt: &ScanAttempt) -> StoreResult<()>;
    /// Denied scan attempts at a venue with `from <= at < to`, oldest first.
    async fn scan_attempts_at(
        &self,
        venue_id: &VenueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ScanAttempt>>;
    /// Retention: removes visits and scan attempts that began before local day `day` (whole
    /// day partitions on PostgreSQL); returns how many visits went.
    async fn visits_drop_before(&self, day: NaiveDate) -> StoreResult<u64>;

    // --- contact tracing (R7); record types in `tracing.rs`, behaviours in `conformance_tracing.rs` ---
    /// Stores a reported case and its case status (`case:<case_id>`, under the person's ID
    /// number index) with the audit record, in one transaction — if the person exists and,
    /// when `officer` is given, is in that officer's regions. `false`: nothing written.
    async fn trace_case_insert(
        &self,
        officer: Option<&str>,
        case: &TraceCaseRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// The case; with `officer`, only if its person is in that officer's regions.
    async fn trace_case_get(&self, officer: Option<&str>, case_id: &str) -> StoreResult<Option<TraceCaseRecord>>;
    /// Visits of each person overlapping their range (`entered_at < to AND left_at > from`).
    async fn trace_visits_of(&self, wanted: &[SubjectWindow]) -> StoreResult<Vec<TraceVisit>>;
    /// Visits at each venue overlapping its range that began at most `longest` before it (the
    /// bound that keeps the query on the `(venue_id, entered_at)` index).
    async fn trace_visits_at(&self, wanted: &[VenueWindow], longest: chrono::TimeDelta)
    -> StoreResult<Vec<TraceVisit>>;
    /// Names and categories of venues; unknown ids are left out.
    async fn trace_venues(&self, ids: &[String]) -> StoreResult<Vec<TraceVenue>>;
    /// The people among `subjects`, their guardians, and everyone whose guardian is one of
    /// those: enough to know each one's household.
    async fn trace_households(&self, subjects: &[SubjectId]) -> StoreResult<Vec<HouseholdMember>>;
    /// Trips of these people (by ID number index), with their subject ids.
    async fn trace_trips_of(&self, people: &[HouseholdMember]) -> StoreResult<Vec<TraceSeat>>;
    /// Registered travellers on these vehicles (trips of unregistered people are left out).
    async fn trace_trips_on(&self, vehicles: &[Vehicle]) -> StoreResult<Vec<TraceSeat>>;
    /// Stores exposures with the audit record in one transaction: a `record_id` already
    /// stored is updated (a later trace may find a later contact); returns how many were new.
    async fn exposures_save(&self, rows: &[ExposureRecord], audit: &AuditEntry) -> StoreResult<u64>;
    /// Exposures of a person, oldest first.
    async fn exposures_for(&self, subject_id: &SubjectId) -> StoreResult<Vec<ExposureRecord>>;

    // --- overrides and quarantines (R12, R13); see `overrides.rs` ---
    /// Stores a pending override if its person is in officer `staff_id`'s regions, with the
    /// audit record in the same transaction; `false` (nothing written) when out of scope.
    async fn override_propose(&self, staff_id: &str, record: &OverrideRecord, audit: &AuditEntry) -> StoreResult<bool>;
    /// Approves a pending override by a second officer in scope; the audit record is written
    /// only when it is approved, with its `subject_id` set to the override's person.
    async fn override_approve(
        &self,
        staff_id: &str,
        override_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> StoreResult<Approval>;
    /// Approved overrides of a person (expired ones too: the engine reads their period).
    async fn overrides_for(&self, subject_id: &SubjectId) -> StoreResult<Vec<OverrideRecord>>;
    /// Stores a quarantine if its person is in officer `staff_id`'s regions (audited);
    /// `false` when out of scope.
    async fn quarantine_insert(
        &self,
        staff_id: &str,
        record: &QuarantineRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// Releases a person from quarantine at `at` (officer in scope, audited); `None` when there
    /// is no such quarantine in scope. Ending an ended quarantine keeps the first end. The
    /// audit record gets the quarantine's person as `subject_id`.
    async fn quarantine_end(
        &self,
        staff_id: &str,
        quarantine_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> StoreResult<Option<QuarantineRecord>>;
    async fn quarantines_for(&self, subject_id: &SubjectId) -> StoreResult<Vec<QuarantineRecord>>;

    // --- rule changes ---
    /// Makes every stored decision taken under a rule-set version other than `version` due
    /// for review at `at` (the scheduler then re-evaluates them); returns how many.
    async fn decisions_mark_due(&self, version: &str, at: DateTime<Utc>) -> StoreResult<u64>;
    /// Asks the servers' review scheduler to re-evaluate these people (the command line's way
    /// to recolor: it changes facts where no server runs). Unknown subjects are skipped; a
    /// person already waiting keeps their place. Returns how many were added.
    async fn reviews_request(&self, subjects: &[SubjectId], at: DateTime<Utc>) -> StoreResult<u64>;
    /// Takes up to `limit` waiting people, oldest request first, off the queue. Taking removes
    /// them (a crash before their re-evaluation loses the request, not the facts: codes
    /// evaluate live). On PostgreSQL concurrent takers never get the same person.
    async fn reviews_take(&self, limit: u32) -> StoreResult<Vec<SubjectId>>;
    /// The registered people with any of these phone or ID-number blind indexes (the people a
    /// batch of facts is about), set-based: a million keys are a thousand statements.
    async fn subjects_by_indexes(
        &self,
        phone_indexes: &[Vec<u8>],
        id_indexes: &[Vec<u8>],
    ) -> StoreResult<Vec<SubjectId>>;

    // --- bulk: set-based reads and writes for recoloring many people (`bulk.rs`) ---
    /// Registers many people in one transaction (seeding a benchmark, moving from another
    /// system), with `person_insert`'s rules: on `Duplicate` or `NotFound` nothing is written.
    async fn persons_insert_many(&self, persons: &[PersonRecord]) -> StoreResult<()>;
    /// The registered people among `subjects`, ordered by subject id; unknown ids are left out.
    async fn persons_keys_many(&self, subjects: &[SubjectId]) -> StoreResult<Vec<PersonKeys>>;
    /// The fact records of each person, in the order of `persons` (see [`FactRecords`]).
    async fn facts_for_many(&self, persons: &[PersonKeys], since: DateTime<Utc>) -> StoreResult<Vec<FactRecords>>;
    /// The stored colors (and since when) among `subjects`, ordered by subject id; people with
    /// no decision are left out. The full records are not read: recoloring needs only these.
    async fn decisions_colors(&self, subjects: &[SubjectId]) -> StoreResult<Vec<StoredColor>>;
    /// Stores many decisions in one transaction, each as `decision_save` would; returns the
    /// color changes with their person, in the order of `decisions`.
    async fn decisions_save_many(&self, decisions: &[DecisionRecord]) -> StoreResult<Vec<(SubjectId, ColorChange)>>;
}
