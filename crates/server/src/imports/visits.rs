//! The `visits` import kind: venues' paper registers (登记簿) and older check-in systems,
//! typed in after the fact, `{record_id, venue_id, phone or id_number, at, left_at?}`.
//!
//! Unlike the facts, a visit is stored under the person's subject id, so each row's person is
//! looked up (by the phone's or the ID number's blind index) when its batch is written; a row
//! for someone not registered, or at an unknown venue, is rejected with its line. Without
//! `left_at` the venue category's dwell applies, as for scans.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use healthcode_core::{Coded, IdNumber, Phone, RegionCode, SubjectId, VenueId, local_day};
use healthcode_store::{ImportOutcome, Store, StoreResult, VenueRecord, VisitRecord, VisitSource};

use super::fields::{self, FieldError, err};
use super::{ImportContext, RawRow, Rejected};
use crate::identity::{ID_NUMBER_DOMAIN, phone_index};

/// How a row names its person: the key the register has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PersonKey {
    Phone(Vec<u8>),
    IdNumber(Vec<u8>),
}

/// A parsed row, waiting for its person and venue to be looked up.
pub struct PendingVisit {
    line: u64,
    record_id: String,
    venue_id: VenueId,
    person: PersonKey,
    at: DateTime<Utc>,
    left_at: Option<DateTime<Utc>>,
    /// An officer's regions: the venue must be in them.
    scope: Option<Vec<RegionCode>>,
}

pub fn parse(ctx: &ImportContext<'_>, raw: &RawRow, record_id: String) -> Result<PendingVisit, FieldError> {
    let row = &raw.fields;
    let v = fields::required(row, "venue_id")?;
    let venue_id = VenueId::parse(v).map_err(|e| err("venue_id", e.code(), e.to_string()))?;
    let person = match (fields::optional(row, "id_number"), fields::optional(row, "phone")) {
        (Some(id), _) => {
            let id = IdNumber::parse(id, local_day(ctx.now)).map_err(|e| err("id_number", e.code(), e.to_string()))?;
            PersonKey::IdNumber(ctx.vault.blind_index(ID_NUMBER_DOMAIN, id.expose()))
        }
        (None, Some(p)) => {
            let phone = Phone::parse(p).map_err(|e| err("phone", e.code(), e.to_string()))?;
            PersonKey::Phone(phone_index(ctx.vault, &phone))
        }
        (None, None) => return Err(err("phone", "required", "a visit names its person by phone or id_number")),
    };
    let at = fields::time(row, "at")?;
    if at > ctx.now + Duration::minutes(5) {
        return Err(err("at", "time_in_future", "a visit in the future"));
    }
    let kept_from = crate::retention::first_kept_day(ctx.now, ctx.visit_retention_days);
    if local_day(at) < kept_from {
        return Err(err(
            "at",
            "visit_too_old",
            format!("visits are kept {} days; this one is older and would be deleted", ctx.visit_retention_days),
        ));
    }
    let left_at = fields::optional_time(row, "left_at")?;
    if left_at.is_some_and(|l| l < at) {
        return Err(err("left_at", "end_before_start", "left before arriving"));
    }
    if left_at.is_some_and(|l| l - at > Duration::days(1)) {
        return Err(err("left_at", "visit_too_long", "a visit lasts at most a day"));
    }
    let scope = ctx.regions.map(<[RegionCode]>::to_vec);
    Ok(PendingVisit { line: raw.line, record_id, venue_id, person, at, left_at, scope })
}

fn reject(p: &PendingVisit, field: &str, code: &'static str, message: &str) -> Rejected {
    Rejected { line: p.line, field: Some(field.into()), code, message: message.into() }
}

/// Looks up the rows' people and venues, stores the visits (one transaction), and returns
/// the rows that could not be stored, each with its reason.
pub async fn write(store: &dyn Store, pending: Vec<PendingVisit>) -> StoreResult<(ImportOutcome, Vec<Rejected>)> {
    let mut people: HashMap<PersonKey, Option<SubjectId>> = HashMap::new();
    let mut venues: HashMap<VenueId, Option<VenueRecord>> = HashMap::new();
    let (mut rows, mut rejected) = (Vec::new(), Vec::new());
    for p in pending {
        if !people.contains_key(&p.person) {
            let found = match &p.person {
                PersonKey::Phone(i) => store.person_by_phone(i).await?,
                PersonKey::IdNumber(i) => store.person_by_id_index(i).await?,
            };
            people.insert(p.person.clone(), found.map(|f| f.subject_id));
        }
        if !venues.contains_key(&p.venue_id) {
            venues.insert(p.venue_id.clone(), store.venue_get(&p.venue_id).await?);
        }
        let Some(Some(venue)) = venues.get(&p.venue_id) else {
            rejected.push(reject(&p, "venue_id", "venue_unknown", "no venue with this id is registered"));
            continue;
        };
        if p.scope.as_ref().is_some_and(|s| !s.iter().any(|r| r.covers(venue.region))) {
            rejected.push(reject(&p, "venue_id", "out_of_scope", "the venue is outside your regions"));
            continue;
        }
        let Some(Some(subject)) = people.get(&p.person) else {
            let field = if matches!(p.person, PersonKey::Phone(_)) { "phone" } else { "id_number" };
            rejected.push(reject(&p, field, "person_not_registered", "nobody registered has this key"));
            continue;
        };
        rows.push(VisitRecord {
            visit_key: format!("import:{}", p.record_id),
            subject_id: subject.clone(),
            venue_id: p.venue_id,
            entered_at: p.at,
            left_at: p.left_at.unwrap_or(p.at + venue.category.default_dwell()),
            closed: p.left_at.is_some(),
            source: VisitSource::Import,
        });
    }
    let outcome = if rows.is_empty() { ImportOutcome::default() } else { store.visits_insert(&rows).await? };
    Ok((outcome, rejected))
}
