//! What tracing looks at, indexed for the sweep: visits by venue (sorted by entry) and by
//! person, trips by vehicle and by person, household links.
//!
//! Filled by the caller in batches (several store queries may return the same visit; it is
//! kept once, by its venue, key and entry). Each `add_*` keeps the indexes sorted.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::SubjectId;
use crate::rules::Carrier;

/// A person's presence at a venue from `entered_at` to `left_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// The store's key of the visit: with `venue_id` and `entered_at`, what identifies it
    /// (the same visit returned by two queries is kept once).
    pub key: String,
    pub subject: SubjectId,
    pub venue_id: String,
    pub entered_at: DateTime<Utc>,
    pub left_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueInfo {
    pub venue_id: String,
    pub name: String,
    /// Decides the minimum co-presence ([`TracingParams::min_overlap_for`](super::TracingParams::min_overlap_for)).
    pub category: String,
}

/// A registered person's seat on a train or flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub record_id: String,
    pub subject: SubjectId,
    pub carrier: Carrier,
    pub number: String,
    /// Local day of departure.
    pub date: NaiveDate,
    pub coach: Option<String>,
    pub row: String,
    pub seat: String,
}

/// The vehicle of a seat: carrier, number (upper case, trimmed) and day.
pub(crate) type Vehicle = (Carrier, String, NaiveDate);

pub(crate) fn vehicle(s: &Seat) -> Vehicle {
    (s.carrier, s.number.trim().to_ascii_uppercase(), s.date)
}

#[derive(Debug, Default)]
pub(crate) struct VenueVisits {
    /// Sorted by `entered_at` (then key, then venue), each visit once.
    pub visits: Vec<Visit>,
    /// The longest visit here: how far back from a window's start the sweep must look.
    pub longest: TimeDelta,
    /// Visits were added since the list was last sorted.
    unsorted: bool,
}

/// A person's visits, sorted as a venue's are.
#[derive(Debug, Default)]
pub(crate) struct SubjectVisits {
    visits: Vec<Visit>,
    unsorted: bool,
}

/// Sorts by entry, key and venue and drops repeats: the same visit (venue, key and entry, the
/// stores' unique key) from two batches sits next to itself once sorted, so no set of keys is
/// needed to keep it once.
fn sort_dedup(visits: &mut Vec<Visit>) {
    visits.sort_by(|a, b| {
        a.entered_at.cmp(&b.entered_at).then_with(|| a.key.cmp(&b.key)).then_with(|| a.venue_id.cmp(&b.venue_id))
    });
    visits.dedup_by(|a, b| a.entered_at == b.entered_at && a.key == b.key && a.venue_id == b.venue_id);
}

/// Everything one tracing job looks at.
#[derive(Debug, Default)]
pub struct TraceData {
    pub(crate) by_venue: HashMap<String, VenueVisits>,
    by_subject: HashMap<SubjectId, SubjectVisits>,
    pub(crate) venues: HashMap<String, VenueInfo>,
    seat_keys: HashSet<String>,
    pub(crate) seats_by_subject: HashMap<SubjectId, Vec<Seat>>,
    pub(crate) seats_by_vehicle: HashMap<Vehicle, Vec<Seat>>,
    pub(crate) guardian_of: HashMap<SubjectId, Option<SubjectId>>,
    pub(crate) dependents_of: HashMap<SubjectId, Vec<SubjectId>>,
}

impl TraceData {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds visits of the people traced: indexed by person (their own visits, swept against
    /// others') and by venue. One already added (same venue, key and entry) is kept once.
    pub fn add_visits(&mut self, visits: impl IntoIterator<Item = Visit>) {
        self.add(visits, true);
    }

    /// Adds visits found at venues, indexed by venue only: the people who made them are
    /// looked for there, not traced from here (a person traced later is added with
    /// [`add_visits`](Self::add_visits)). Most of a job's visits are these; skipping the
    /// person index for them halves the work of adding.
    pub fn add_visits_at_venues(&mut self, visits: impl IntoIterator<Item = Visit>) {
        self.add(visits, false);
    }

    fn add(&mut self, visits: impl IntoIterator<Item = Visit>, by_subject: bool) {
        // Tens of thousands of visits per job: map keys are cloned only for a new venue or
        // person, and each list is sorted once per call, not per visit.
        for v in visits {
            if v.left_at <= v.entered_at {
                continue;
            }
            if by_subject {
                let mine = match self.by_subject.get_mut(&v.subject) {
                    Some(list) => list,
                    None => self.by_subject.entry(v.subject.clone()).or_default(),
                };
                mine.visits.push(v.clone());
                mine.unsorted = true;
            }
            let at = match self.by_venue.get_mut(&v.venue_id) {
                Some(at) => at,
                None => self.by_venue.entry(v.venue_id.clone()).or_default(),
            };
            at.longest = at.longest.max(v.left_at - v.entered_at);
            at.visits.push(v);
            at.unsorted = true;
        }
        for at in self.by_venue.values_mut().filter(|at| at.unsorted) {
            sort_dedup(&mut at.visits);
            at.unsorted = false;
        }
        for mine in self.by_subject.values_mut().filter(|s| s.unsorted) {
            sort_dedup(&mut mine.visits);
            mine.unsorted = false;
        }
    }

    pub fn add_venues(&mut self, venues: impl IntoIterator<Item = VenueInfo>) {
        for v in venues {
            self.venues.insert(v.venue_id.clone(), v);
        }
    }

    /// Adds seats; one already added (same record id) is skipped.
    pub fn add_seats(&mut self, seats: impl IntoIterator<Item = Seat>) {
        for s in seats {
            if !self.seat_keys.insert(s.record_id.clone()) {
                continue;
            }
            self.seats_by_subject.entry(s.subject.clone()).or_default().push(s.clone());
            self.seats_by_vehicle.entry(vehicle(&s)).or_default().push(s);
        }
    }

    /// Adds a person and their guardian (if a dependent). The household of a person is their
    /// guardian, the guardian's other dependents, and their own dependents: add the traced
    /// people, their guardians and everyone whose guardian is one of those.
    pub fn add_person(&mut self, subject: SubjectId, guardian: Option<SubjectId>) {
        if self.guardian_of.contains_key(&subject) {
            return;
        }
        if let Some(g) = &guardian {
            self.dependents_of.entry(g.clone()).or_default().push(subject.clone());
        }
        self.guardian_of.insert(subject, guardian);
    }

    /// The venues visits were added for that have no [`VenueInfo`] yet.
    pub fn venues_missing(&self) -> Vec<String> {
        let mut out: Vec<_> = self.by_venue.keys().filter(|v| !self.venues.contains_key(*v)).cloned().collect();
        out.sort();
        out
    }

    /// Visits of a person, by entry time.
    pub fn visits_of(&self, subject: &SubjectId) -> &[Visit] {
        self.by_subject.get(subject).map_or(&[], |s| s.visits.as_slice())
    }

    /// Seats of a person.
    pub fn seats_of(&self, subject: &SubjectId) -> &[Seat] {
        self.seats_by_subject.get(subject).map_or(&[], Vec::as_slice)
    }
}
