//! Close and secondary contacts, with the evidence for each.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::data::vehicle;
use super::{TraceData, TracingParams, Window, row_number};
use crate::SubjectId;
use crate::local_time::local_midnight;
use crate::rules::{Carrier, ContactKind};

/// How a household member is related to the person traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdRelation {
    /// The contact is the traced person's guardian.
    Guardian,
    /// The contact is a dependent of the traced person.
    Dependent,
    /// The contact and the traced person are dependents of the same guardian.
    SameGuardian,
}

/// Why someone is a contact. Times are UTC instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Both were at a venue over `[from, to)`, `minutes` long.
    Venue {
        venue_id: String,
        venue_name: Option<String>,
        category: Option<String>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        minutes: i64,
    },
    /// Both were on a train (same coach) or flight, `rows_apart` rows apart.
    Trip {
        carrier: Carrier,
        number: String,
        date: NaiveDate,
        coach: Option<String>,
        /// The traced person's row and seat.
        row: String,
        seat: String,
        /// The contact's row and seat.
        contact_row: String,
        contact_seat: String,
        rows_apart: u32,
    },
    Household {
        relation: HouseholdRelation,
    },
}

/// A person found by tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub subject: SubjectId,
    pub kind: ContactKind,
    /// Start of the earliest contact: a close contact's own contacts count from here.
    pub first: DateTime<Utc>,
    /// End of the latest contact: the exposure's time, from which the rules count.
    pub last: DateTime<Utc>,
    /// For a secondary contact: the close contact it came through.
    pub via: Option<SubjectId>,
    pub evidence: Vec<Evidence>,
}

/// The close contacts of `case` over its infectious `window`, ordered by subject id.
pub fn close_contacts(case: &SubjectId, window: Window, data: &TraceData, params: &TracingParams) -> Vec<Contact> {
    near(case, window, data, params, &|_| false)
        .into_iter()
        .map(|(subject, f)| Contact {
            subject,
            kind: ContactKind::Close,
            first: f.first,
            last: f.last,
            via: None,
            evidence: f.evidence,
        })
        .collect()
}

/// The secondary contacts of `case`: people near one of its `close` contacts from that
/// contact's first contact with the case until `until`. The case and its close contacts are
/// never secondary. Someone near several close contacts is listed once, through the one whose
/// contact with them was latest (ties: the first close contact in `close`'s order).
pub fn secondary_contacts(
    case: &SubjectId,
    close: &[Contact],
    until: DateTime<Utc>,
    data: &TraceData,
    params: &TracingParams,
) -> Vec<Contact> {
    let excluded: HashSet<&SubjectId> = close.iter().map(|c| &c.subject).chain([case]).collect();
    let mut best: BTreeMap<SubjectId, Contact> = BTreeMap::new();
    for c in close {
        let window = Window::new(c.first, until);
        for (subject, f) in near(&c.subject, window, data, params, &|s| excluded.contains(s)) {
            let candidate = Contact {
                subject: subject.clone(),
                kind: ContactKind::Secondary,
                first: f.first,
                last: f.last,
                via: Some(c.subject.clone()),
                evidence: f.evidence,
            };
            match best.get(&subject) {
                Some(existing) if existing.last >= candidate.last => {}
                _ => {
                    best.insert(subject, candidate);
                }
            }
        }
    }
    best.into_values().collect()
}

struct Found {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    evidence: Vec<Evidence>,
}

fn add(out: &mut BTreeMap<SubjectId, Found>, who: &SubjectId, first: DateTime<Utc>, last: DateTime<Utc>, e: Evidence) {
    let f = out.entry(who.clone()).or_insert(Found { first, last, evidence: Vec::new() });
    f.first = f.first.min(first);
    f.last = f.last.max(last);
    f.evidence.push(e);
}

/// Everyone near `subject` within `window` (venues, trips, household), except `skip`.
fn near(
    subject: &SubjectId,
    window: Window,
    data: &TraceData,
    params: &TracingParams,
    skip: &dyn Fn(&SubjectId) -> bool,
) -> BTreeMap<SubjectId, Found> {
    let mut out = BTreeMap::new();
    if window.is_empty() {
        return out;
    }
    let other = |s: &SubjectId| s != subject && !skip(s);
    at_venues(subject, window, data, params, &other, &mut out);
    on_trips(subject, window, data, params, &other, &mut out);
    at_home(subject, window, data, &other, &mut out);
    out
}

/// The sweep: each of the person's visits, clipped to the window, against the venue's visits
/// sorted by entry, starting from the first that could still be there (entry after the
/// clipped start minus the venue's longest visit).
fn at_venues(
    subject: &SubjectId,
    window: Window,
    data: &TraceData,
    params: &TracingParams,
    other: &dyn Fn(&SubjectId) -> bool,
    out: &mut BTreeMap<SubjectId, Found>,
) {
    for v in data.visits_of(subject) {
        let Some(w) = window.clip(v.entered_at, v.left_at) else { continue };
        let Some(at) = data.by_venue.get(&v.venue_id) else { continue };
        let info = data.venues.get(&v.venue_id);
        let min = params.min_overlap_for(info.map_or("", |i| i.category.as_str()));
        let earliest = w.from.checked_sub_signed(at.longest).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let start = at.visits.partition_point(|o| o.entered_at <= earliest);
        for o in &at.visits[start..] {
            if o.entered_at >= w.to {
                break;
            }
            if !other(&o.subject) {
                continue;
            }
            let Some(both) = w.clip(o.entered_at, o.left_at) else { continue };
            if both.to - both.from < min {
                continue;
            }
            let e = Evidence::Venue {
                venue_id: v.venue_id.clone(),
                venue_name: info.map(|i| i.name.clone()),
                category: info.map(|i| i.category.clone()),
                from: both.from,
                to: both.to,
                minutes: (both.to - both.from).num_minutes(),
            };
            add(out, &o.subject, both.from, both.to, e);
        }
    }
}

/// Coach names compare without case, spaces or leading zeros (`05` is coach `5`).
fn same_coach(a: &Option<String>, b: &Option<String>) -> bool {
    let norm = |c: &str| c.trim().trim_start_matches('0').to_ascii_uppercase();
    matches!((a, b), (Some(a), Some(b)) if norm(a) == norm(b))
}

/// Seats on the same vehicle on a day inside the window: a train's same coach, or the same
/// flight, within `max_row_distance` rows. The contact is dated over that local day.
fn on_trips(
    subject: &SubjectId,
    window: Window,
    data: &TraceData,
    params: &TracingParams,
    other: &dyn Fn(&SubjectId) -> bool,
    out: &mut BTreeMap<SubjectId, Found>,
) {
    for s in data.seats_of(subject) {
        let Some(next) = s.date.succ_opt() else { continue };
        let Some(day) = window.clip(local_midnight(s.date), local_midnight(next)) else { continue };
        let Some(row) = row_number(&s.row) else { continue };
        let Some(aboard) = data.seats_by_vehicle.get(&vehicle(s)) else { continue };
        for o in aboard {
            if !other(&o.subject) || (s.carrier == Carrier::Train && !same_coach(&s.coach, &o.coach)) {
                continue;
            }
            let Some(their_row) = row_number(&o.row) else { continue };
            let apart = row.abs_diff(their_row);
            if apart > params.max_row_distance {
                continue;
            }
            let e = Evidence::Trip {
                carrier: s.carrier,
                number: s.number.clone(),
                date: s.date,
                coach: s.coach.clone(),
                row: s.row.clone(),
                seat: s.seat.clone(),
                contact_row: o.row.clone(),
                contact_seat: o.seat.clone(),
                rows_apart: apart,
            };
            add(out, &o.subject, day.from, day.to, e);
        }
    }
}

/// Household members count over the whole window: they live together.
fn at_home(
    subject: &SubjectId,
    window: Window,
    data: &TraceData,
    other: &dyn Fn(&SubjectId) -> bool,
    out: &mut BTreeMap<SubjectId, Found>,
) {
    let mut members = Vec::new();
    if let Some(Some(g)) = data.guardian_of.get(subject) {
        members.push((g, HouseholdRelation::Guardian));
        for d in data.dependents_of.get(g).into_iter().flatten() {
            members.push((d, HouseholdRelation::SameGuardian));
        }
    }
    for d in data.dependents_of.get(subject).into_iter().flatten() {
        members.push((d, HouseholdRelation::Dependent));
    }
    for (who, relation) in members {
        if other(who) {
            add(out, who, window.from, window.to, Evidence::Household { relation });
        }
    }
}
