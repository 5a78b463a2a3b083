//! The import kinds of API.md: their columns, and how a row becomes a store record.

use chrono::{Duration, NaiveDate};
use healthcode_core::rules::{Carrier, CaseStatus, TestResult};
use healthcode_core::{Coded, IdNumber, Phone, RegionCode, RiskLevel, local_day, local_time::local_midnight};
use healthcode_store::{
    CaseStatusRecord, ImportOutcome, LabTestRecord, RegionRiskRecord, StayBatch, StayRecord, Store, StoreResult,
    TripRecord, VaccinationRecord,
};

use super::fields::{self, FieldError, Fields, err};
use super::{FileError, ImportContext, RawRow};
use crate::identity::{ID_NUMBER_DOMAIN, phone_index};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TelecomStays,
    RegionRisk,
    LabTests,
    Cases,
    Trips,
    Vaccinations,
    /// Venues' paper registers (`visits.rs`).
    Visits,
}

impl Kind {
    /// The import kinds of API.md.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "telecom-stays" => Some(Self::TelecomStays),
            "region-risk" => Some(Self::RegionRisk),
            "lab-tests" => Some(Self::LabTests),
            "cases" => Some(Self::Cases),
            "trips" => Some(Self::Trips),
            "vaccinations" => Some(Self::Vaccinations),
            "visits" => Some(Self::Visits),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TelecomStays => "telecom-stays",
            Self::RegionRisk => "region-risk",
            Self::LabTests => "lab-tests",
            Self::Cases => "cases",
            Self::Trips => "trips",
            Self::Vaccinations => "vaccinations",
            Self::Visits => "visits",
        }
    }

    /// (required, optional) columns.
    fn columns(&self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Self::TelecomStays => (&["record_id", "phone", "region", "start", "end"], &[]),
            Self::RegionRisk => (&["record_id", "region", "level", "effective_from"], &["effective_to"]),
            Self::LabTests => (&["record_id", "id_number", "sampled_at", "result"], &[]),
            Self::Cases => (&["record_id", "id_number", "status"], &["onset_date", "sampled_at"]),
            Self::Trips => (&["record_id", "id_number", "carrier", "number", "date", "row", "seat"], &["coach"]),
            Self::Vaccinations => (&["record_id", "id_number", "date", "dose", "product"], &[]),
            Self::Visits => (&["record_id", "venue_id", "at"], &["phone", "id_number", "left_at"]),
        }
    }
}

pub fn check_header(kind: Kind, header: &[String]) -> Result<(), FileError> {
    let (required, optional) = kind.columns();
    for h in header {
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            let all: Vec<_> = required.iter().chain(optional).copied().collect();
            return Err(FileError::Header {
                line: 1,
                code: "unknown_column",
                message: format!("unknown column {h:?}; {} takes {}", kind.as_str(), all.join(", ")),
            });
        }
    }
    if let Some((i, h)) = header.iter().enumerate().find(|(i, h)| header[..*i].contains(h)) {
        return Err(FileError::Header {
            line: 1,
            code: "duplicate_column",
            message: format!(
                "column {h:?} appears twice (columns {} and {})",
                header[..i].iter().position(|x| x == h).unwrap_or(0) + 1,
                i + 1
            ),
        });
    }
    for r in required {
        if !header.iter().any(|h| h == r) {
            return Err(FileError::Header {
                line: 1,
                code: "missing_column",
                message: format!("column {r:?} is missing"),
            });
        }
    }
    Ok(())
}

pub enum Row {
    Stay(StayRecord),
    RegionRisk(RegionRiskRecord),
    LabTest(LabTestRecord),
    Case(CaseStatusRecord),
    Trip(TripRecord),
    Vaccination(VaccinationRecord),
    Visit(super::visits::PendingVisit),
}

/// A local date, `YYYY-MM-DD`.
fn date(row: &Fields, field: &str) -> Result<NaiveDate, FieldError> {
    let v = fields::required(row, field)?;
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| err(field, "date_format", format!("{v:?} is not a date (YYYY-MM-DD)")))
}

/// A short code (train number, coach, row, seat): 1–`max` letters and digits, upper-cased.
fn short_code(row: &Fields, field: &str, max: usize) -> Result<String, FieldError> {
    let v = fields::required(row, field)?;
    if v.len() > max || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err(field, "code_format", format!("{field} has 1–{max} letters and digits")));
    }
    Ok(v.to_ascii_uppercase())
}

/// The blind index of a row's ID number, the key labs and health officials have.
fn id_index(row: &Fields, ctx: &ImportContext<'_>) -> Result<Vec<u8>, FieldError> {
    let v = fields::required(row, "id_number")?;
    let id = IdNumber::parse(v, local_day(ctx.now)).map_err(|e| err("id_number", e.code(), e.to_string()))?;
    Ok(ctx.vault.blind_index(ID_NUMBER_DOMAIN, id.expose()))
}

fn region(row: &Fields, field: &str, ctx: &ImportContext<'_>) -> Result<RegionCode, FieldError> {
    let v = fields::required(row, field)?;
    let code = RegionCode::parse(v).map_err(|e| err(field, e.code(), e.to_string()))?;
    if let Some(scope) = ctx.regions
        && !scope.iter().any(|s| s.covers(code))
    {
        return Err(err(field, "out_of_scope", format!("{code} is outside your regions")));
    }
    Ok(code)
}

pub fn parse(ctx: &ImportContext<'_>, kind: Kind, raw: &RawRow) -> Result<Row, FieldError> {
    let row = &raw.fields;
    let (required, optional) = kind.columns();
    if let Some(unknown) = row.names().find(|k| !required.contains(k) && !optional.contains(k)) {
        return Err(err(unknown, "unknown_column", format!("{} takes no field {unknown:?}", kind.as_str())));
    }
    let record_id = fields::record_id(row)?;
    match kind {
        Kind::TelecomStays => {
            let phone =
                Phone::parse(fields::required(row, "phone")?).map_err(|e| err("phone", e.code(), e.to_string()))?;
            let region = region(row, "region", ctx)?;
            let start = fields::time(row, "start")?;
            let end = fields::time(row, "end")?;
            if end < start {
                return Err(err("end", "end_before_start", "the stay ends before it starts"));
            }
            Ok(Row::Stay(StayRecord { record_id, phone_index: phone_index(ctx.vault, &phone), region, start, end }))
        }
        Kind::RegionRisk => {
            let region = region(row, "region", ctx)?;
            let level = match fields::required(row, "level")? {
                "low" => RiskLevel::Low,
                "medium" => RiskLevel::Medium,
                "high" => RiskLevel::High,
                other => return Err(err("level", "level_unknown", format!("{other:?} is not low, medium or high"))),
            };
            let effective_from = fields::time(row, "effective_from")?;
            let effective_to = fields::optional_time(row, "effective_to")?;
            if effective_to.is_some_and(|t| t <= effective_from) {
                return Err(err("effective_to", "end_before_start", "the period ends before it starts"));
            }
            Ok(Row::RegionRisk(RegionRiskRecord { record_id, region, level, effective_from, effective_to }))
        }
        Kind::LabTests => {
            let id_index = id_index(row, ctx)?;
            let sampled_at = fields::time(row, "sampled_at")?;
            let result = match fields::required(row, "result")? {
                "negative" => TestResult::Negative,
                "positive" => TestResult::Positive,
                other => return Err(err("result", "result_unknown", format!("{other:?} is not negative or positive"))),
            };
            if sampled_at > ctx.now + Duration::minutes(5) {
                return Err(err("sampled_at", "time_in_future", "sampled in the future"));
            }
            Ok(Row::LabTest(LabTestRecord { record_id, id_index, sampled_at, result }))
        }
        Kind::Cases => {
            let id_index = id_index(row, ctx)?;
            let status = match fields::required(row, "status")? {
                "confirmed" => CaseStatus::Confirmed,
                "suspected" => CaseStatus::Suspected,
                "recovered" => CaseStatus::Recovered,
                other => {
                    return Err(err(
                        "status",
                        "status_unknown",
                        format!("{other:?} is not confirmed, suspected or recovered"),
                    ));
                }
            };
            // In force from the sample, else the onset day (local midnight), else the import.
            let at = match (fields::optional_time(row, "sampled_at")?, fields::optional(row, "onset_date")) {
                (Some(t), _) => t,
                (None, Some(_)) => local_midnight(date(row, "onset_date")?),
                (None, None) => ctx.now,
            };
            Ok(Row::Case(CaseStatusRecord { record_id, id_index, status, at }))
        }
        Kind::Trips => {
            let id_index = id_index(row, ctx)?;
            let carrier = match fields::required(row, "carrier")? {
                "train" => Carrier::Train,
                "flight" => Carrier::Flight,
                other => return Err(err("carrier", "carrier_unknown", format!("{other:?} is not train or flight"))),
            };
            let coach = fields::optional(row, "coach").map(|_| short_code(row, "coach", 4)).transpose()?;
            Ok(Row::Trip(TripRecord {
                record_id,
                id_index,
                carrier,
                number: short_code(row, "number", 8)?,
                date: date(row, "date")?,
                coach,
                row: short_code(row, "row", 4)?,
                seat: short_code(row, "seat", 4)?,
            }))
        }
        Kind::Visits => Ok(Row::Visit(super::visits::parse(ctx, raw, record_id)?)),
        Kind::Vaccinations => {
            let id_index = id_index(row, ctx)?;
            let dose = fields::required(row, "dose")?
                .parse::<u8>()
                .ok()
                .filter(|d| (1..=10).contains(d))
                .ok_or_else(|| err("dose", "dose_range", "a dose number from 1 to 10"))?;
            let product = fields::required(row, "product")?;
            if product.chars().count() > 64 {
                return Err(err("product", "product_length", "a product name of at most 64 characters"));
            }
            Ok(Row::Vaccination(VaccinationRecord {
                record_id,
                id_index,
                date: date(row, "date")?,
                dose,
                product: product.to_string(),
            }))
        }
    }
}

/// Rows waiting to be written, one vector per kind.
#[derive(Default)]
pub struct Batch {
    stays: Vec<StayRecord>,
    /// The stays packed and sorted for the store ([`Batch::prepare`]).
    prepared_stays: Option<StayBatch>,
    risks: Vec<RegionRiskRecord>,
    tests: Vec<LabTestRecord>,
    cases: Vec<CaseStatusRecord>,
    trips: Vec<TripRecord>,
    vaccinations: Vec<VaccinationRecord>,
    visits: Vec<super::visits::PendingVisit>,
    /// Visit rows the writer could not store (unknown person or venue), with their lines.
    pub rejected: Vec<super::Rejected>,
    /// Whose facts the written rows are about.
    pub touched: crate::recolor::Touched,
}

impl Batch {
    pub fn push(&mut self, row: Row) {
        let t = &mut self.touched;
        match &row {
            Row::Stay(s) => {
                t.phone_indexes.insert(s.phone_index.clone());
            }
            Row::RegionRisk(r) => t.regions.push((r.region, r.effective_from, r.effective_to)),
            Row::LabTest(l) => {
                t.id_indexes.insert(l.id_index.clone());
            }
            Row::Case(c) => {
                t.id_indexes.insert(c.id_index.clone());
            }
            Row::Vaccination(v) => {
                t.id_indexes.insert(v.id_index.clone());
            }
            // Trips change no color by themselves: tracing turns shared trips into exposures.
            Row::Trip(_) => {}
            // Visits change no color by themselves either: tracing reads them.
            Row::Visit(_) => {}
        }
        match row {
            Row::Stay(s) => self.stays.push(s),
            Row::RegionRisk(r) => self.risks.push(r),
            Row::LabTest(t) => self.tests.push(t),
            Row::Case(c) => self.cases.push(c),
            Row::Trip(t) => self.trips.push(t),
            Row::Vaccination(v) => self.vaccinations.push(v),
            Row::Visit(v) => self.visits.push(v),
        }
    }

    /// Does the work a store would otherwise do before writing the batch, on this thread
    /// (the parser's): the stays are packed and sorted, and their rows freed, while the store
    /// is still writing the previous batch.
    pub fn prepare(&mut self) {
        if !self.stays.is_empty() {
            self.prepared_stays = Some(StayBatch::new(std::mem::take(&mut self.stays)));
        }
    }

    pub fn len(&self) -> usize {
        self.stays.len()
            + self.prepared_stays.as_ref().map_or(0, StayBatch::len)
            + self.risks.len()
            + self.tests.len()
            + self.cases.len()
            + self.trips.len()
            + self.vaccinations.len()
            + self.visits.len()
    }

    /// Writes and empties the batch.
    pub async fn flush(&mut self, store: &dyn Store) -> StoreResult<ImportOutcome> {
        use std::mem::take;
        // An import is of one kind, so at most one of these is not empty.
        let mut total = ImportOutcome::default();
        self.prepare();
        if let Some(stays) = self.prepared_stays.take() {
            total += store.stays_import_batch(stays).await?;
        }
        if !self.risks.is_empty() {
            total += store.region_risk_import(&take(&mut self.risks)).await?;
        }
        if !self.tests.is_empty() {
            total += store.lab_tests_import(&take(&mut self.tests)).await?;
        }
        if !self.cases.is_empty() {
            total += store.cases_import(&take(&mut self.cases)).await?;
        }
        if !self.trips.is_empty() {
            total += store.trips_import(&take(&mut self.trips)).await?;
        }
        if !self.vaccinations.is_empty() {
            total += store.vaccinations_import(&take(&mut self.vaccinations)).await?;
        }
        if !self.visits.is_empty() {
            let (written, mut rejected) = super::visits::write(store, take(&mut self.visits)).await?;
            total += written;
            self.rejected.append(&mut rejected);
        }
        Ok(total)
    }
}
