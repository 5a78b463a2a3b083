//! Every threshold of tracing, as configuration.

use std::collections::BTreeMap;

use chrono::TimeDelta;

/// The parameters of tracing; [`Default`] gives the values of `docs/tracing.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingParams {
    /// How long before onset (or the positive sample) a case counts as infectious.
    pub before_onset: TimeDelta,
    /// Minimum co-presence at a venue for a close contact, when the category has no entry.
    pub min_overlap: TimeDelta,
    /// Per venue category (`restaurant`, `hospital`, …) minimum co-presence.
    pub min_overlap_by_category: BTreeMap<String, TimeDelta>,
    /// Rows apart that still count as a close contact on the same train coach or flight.
    pub max_row_distance: u32,
    /// The longest visit the store is asked about: visits that began this long before a
    /// window are still looked at, longer ones are not (it bounds the venue query).
    pub longest_visit: TimeDelta,
}

impl Default for TracingParams {
    fn default() -> Self {
        Self {
            before_onset: TimeDelta::days(2),
            min_overlap: TimeDelta::minutes(15),
            min_overlap_by_category: BTreeMap::new(),
            max_row_distance: 3,
            longest_visit: TimeDelta::hours(24),
        }
    }
}

impl TracingParams {
    /// The minimum co-presence at a venue of this category.
    pub fn min_overlap_for(&self, category: &str) -> TimeDelta {
        self.min_overlap_by_category.get(category).copied().unwrap_or(self.min_overlap)
    }
}
