//! The contact tracing job (R7): reads what tracing needs from the store in a few set-based
//! queries, runs the pure computation of `healthcode_core::tracing`, and turns the result
//! into exposures. Tracing many cases at once (an outbreak day) is one job: each phase asks
//! the store once for every case (chunked), not once per case.
//!
//! Phases: (1) the cases' visits in their windows, everyone at those venues then, their
//! households and trips, and everyone on those vehicles; close contacts. (2) the same for the
//! close contacts from their first contact until now; secondary contacts.
//!
//! Used by `POST /api/v1/cases/{id}/trace`, `healthcode trace` and `healthcode bench tracing`;
//! it takes a store, not the server's state, so the CLI runs it without a server.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_core::rules::ContactKind;
use healthcode_core::tracing::{
    CaseTimes, Contact, TraceData, TracingParams, Visit, close_contacts, infectious_window, secondary_contacts,
};
use healthcode_store::{
    AuditEntry, ExposureRecord, Store, StoreResult, SubjectWindow, TraceCaseRecord, TraceVisit, Vehicle, VenueWindow,
};

/// What tracing found for one case.
#[derive(Debug, Clone)]
pub struct Traced {
    pub case_id: String,
    pub case_subject: SubjectId,
    pub close: Vec<Contact>,
    pub secondary: Vec<Contact>,
}

impl Traced {
    /// Everyone found, for recoloring.
    pub fn subjects(&self) -> impl Iterator<Item = &SubjectId> {
        self.close.iter().chain(&self.secondary).map(|c| &c.subject)
    }
}

fn visit(v: TraceVisit) -> Visit {
    Visit {
        key: v.visit_key,
        subject: v.subject_id,
        venue_id: v.venue_id,
        entered_at: v.entered_at,
        left_at: v.left_at,
    }
}

/// Adds to `data` what tracing needs to find who was near each person in their range.
async fn gather(
    store: &dyn Store,
    data: &mut TraceData,
    wanted: &[SubjectWindow],
    params: &TracingParams,
) -> StoreResult<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    // Their own visits, then everyone at those venues while they were there.
    let own = store.trace_visits_of(wanted).await?;
    let mut ranges: Vec<VenueWindow> =
        own.iter().map(|v| VenueWindow { venue_id: v.venue_id.clone(), from: v.entered_at, to: v.left_at }).collect();
    ranges.sort_by(|a, b| a.venue_id.cmp(&b.venue_id).then(a.from.cmp(&b.from)));
    // Overlapping ranges at one venue become one: fewer rows to send and read.
    let mut merged: Vec<VenueWindow> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if last.venue_id == r.venue_id && r.from <= last.to => last.to = last.to.max(r.to),
            _ => merged.push(r),
        }
    }
    let there = store.trace_visits_at(&merged, params.longest_visit).await?;
    data.add_visits(own.into_iter().map(visit));
    data.add_visits_at_venues(there.into_iter().map(visit));
    let missing = data.venues_missing();
    let venues = store.trace_venues(&missing).await?;
    data.add_venues(venues);

    // Households, and the trips of the people asked about.
    let subjects: Vec<SubjectId> =
        wanted.iter().map(|w| w.subject_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let members = store.trace_households(&subjects).await?;
    let asked: HashSet<&SubjectId> = subjects.iter().collect();
    let travellers: Vec<_> = members.iter().filter(|m| asked.contains(&m.subject_id)).cloned().collect();
    for m in members {
        data.add_person(m.subject_id, m.guardian);
    }
    let seats = store.trace_trips_of(&travellers).await?;
    let vehicles: Vec<Vehicle> = seats
        .iter()
        .map(|s| Vehicle { carrier: s.carrier, number: s.number.clone(), date: s.date })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let aboard = store.trace_trips_on(&vehicles).await?;
    data.add_seats(seats.into_iter().chain(aboard));
    Ok(())
}

/// Traces the cases together: close contacts in each case's infectious window, then secondary
/// contacts from each close contact's first contact until `now`.
pub async fn trace_cases(
    store: &dyn Store,
    cases: &[TraceCaseRecord],
    now: DateTime<Utc>,
    params: &TracingParams,
) -> StoreResult<Vec<Traced>> {
    let windows: Vec<_> = cases
        .iter()
        .map(|c| {
            let times = CaseTimes {
                onset_date: c.onset_date,
                sampled_at: c.sampled_at,
                isolated_at: c.isolated_at,
                reported_at: c.created_at,
            };
            infectious_window(&times, now, params)
        })
        .collect();
    let mut data = TraceData::new();
    let first: Vec<SubjectWindow> = cases
        .iter()
        .zip(&windows)
        .filter(|(_, w)| !w.is_empty())
        .map(|(c, w)| SubjectWindow { subject_id: c.subject_id.clone(), from: w.from, to: w.to })
        .collect();
    gather(store, &mut data, &first, params).await?;
    let closes: Vec<Vec<Contact>> =
        cases.iter().zip(&windows).map(|(c, w)| close_contacts(&c.subject_id, *w, &data, params)).collect();

    let second: Vec<SubjectWindow> = closes
        .iter()
        .flatten()
        .filter(|c| c.first < now)
        .map(|c| SubjectWindow { subject_id: c.subject.clone(), from: c.first, to: now })
        .collect();
    gather(store, &mut data, &second, params).await?;
    Ok(cases
        .iter()
        .zip(closes)
        .map(|(c, close)| Traced {
            case_id: c.case_id.clone(),
            case_subject: c.subject_id.clone(),
            secondary: secondary_contacts(&c.subject_id, &close, now, &data, params),
            close,
        })
        .collect())
}

/// The exposures a trace writes: one per case, person and kind, dated at the last contact.
pub fn exposures(traced: &[Traced], now: DateTime<Utc>) -> Vec<ExposureRecord> {
    let mut out = Vec::new();
    for t in traced {
        for c in t.close.iter().chain(&t.secondary) {
            out.push(ExposureRecord {
                record_id: ExposureRecord::record_id_for(&t.case_id, &c.subject, c.kind),
                subject_id: c.subject.clone(),
                kind: c.kind,
                at: c.last,
                case_id: t.case_id.clone(),
                via: c.via.clone(),
                evidence: serde_json::to_value(&c.evidence).unwrap_or_default(),
                created_at: now,
            });
        }
    }
    out
}

/// Traces and stores the exposures with `audit` in one transaction; the audit detail gets the
/// counts. Returns what was found.
pub async fn trace_and_record(
    store: &dyn Store,
    cases: &[TraceCaseRecord],
    now: DateTime<Utc>,
    params: &TracingParams,
    mut audit: AuditEntry,
) -> StoreResult<Vec<Traced>> {
    let traced = trace_cases(store, cases, now, params).await?;
    let rows = exposures(&traced, now);
    let count = |k: ContactKind| rows.iter().filter(|e| e.kind == k).count();
    audit.detail = serde_json::json!({
        "case_ids": cases.iter().map(|c| c.case_id.as_str()).collect::<Vec<_>>(),
        "close_contacts": count(ContactKind::Close),
        "secondary_contacts": count(ContactKind::Secondary),
    });
    store.exposures_save(&rows, &audit).await?;
    Ok(traced)
}

/// A contact as answered by `POST /api/v1/cases/{id}/trace` and printed by `healthcode trace`.
#[derive(Debug, serde::Serialize)]
pub struct ContactView {
    pub subject_id: String,
    /// For a secondary contact: the close contact it came through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The last contact: the exposure's time, from which the rules count.
    pub last_contact_at: DateTime<chrono::FixedOffset>,
    pub evidence: Vec<healthcode_core::tracing::Evidence>,
}

/// The answer of a trace (API.md: `{case_id, close_contacts, secondary_contacts}`).
#[derive(Debug, serde::Serialize)]
pub struct TraceReport {
    pub case_id: String,
    pub close_contacts: Vec<ContactView>,
    pub secondary_contacts: Vec<ContactView>,
}

impl From<&Traced> for TraceReport {
    fn from(t: &Traced) -> Self {
        let view = |c: &Contact| ContactView {
            subject_id: c.subject.to_string(),
            via: c.via.as_ref().map(ToString::to_string),
            last_contact_at: healthcode_core::local_time::to_local(c.last),
            evidence: c.evidence.clone(),
        };
        Self {
            case_id: t.case_id.clone(),
            close_contacts: t.close.iter().map(view).collect(),
            secondary_contacts: t.secondary.iter().map(view).collect(),
        }
    }
}
