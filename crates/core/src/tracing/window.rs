//! The infectious window of a case.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::TracingParams;
use crate::local_time::local_midnight;

/// A half-open interval of time `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        // An inverted window (isolated before the onset was known) is empty, not negative.
        Self { from, to: to.max(from) }
    }

    pub fn is_empty(&self) -> bool {
        self.to <= self.from
    }

    /// The part of `[from, to)` inside this window, if any.
    pub fn clip(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Window> {
        let w = Window { from: from.max(self.from), to: to.min(self.to) };
        (w.to > w.from).then_some(w)
    }
}

/// What is known of a case's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseTimes {
    /// Local day symptoms began.
    pub onset_date: Option<NaiveDate>,
    /// When the positive sample was taken.
    pub sampled_at: Option<DateTime<Utc>>,
    /// When the case was isolated; contacts after it are not traced.
    pub isolated_at: Option<DateTime<Utc>>,
    /// When the case was reported: the fallback start when neither onset nor sample is known.
    pub reported_at: DateTime<Utc>,
}

/// From `before_onset` before the onset day's local midnight (else before the sample, else
/// before the report) to isolation (else `now`).
pub fn infectious_window(case: &CaseTimes, now: DateTime<Utc>, params: &TracingParams) -> Window {
    let start = match (case.onset_date, case.sampled_at) {
        (Some(day), _) => local_midnight(day),
        (None, Some(sampled)) => sampled,
        (None, None) => case.reported_at,
    };
    let from = start.checked_sub_signed(params.before_onset).unwrap_or(DateTime::<Utc>::MIN_UTC);
    Window::new(from, case.isolated_at.unwrap_or(now))
}
