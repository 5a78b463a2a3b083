//! Region risk levels over time (低/中/高风险地区), shared by every evaluation.
//!
//! Officials declare a level for a region from one instant until another. A declaration
//! covers the region and everything under it: a high-risk city makes each of its districts
//! high-risk. Declarations only raise: a region is at the highest level any declaration
//! covering it gives at that instant, and `low` is the level of everything undeclared.
//!
//! A stay recorded at a coarser region than a declaration (a stay "in 武汉市" while only
//! 江岸区 is high-risk) is **not** covered: the engine does not guess that the person was in
//! the risky part (R11: avoid hurting normal people).
//!
//! Built once (for example when officials change a level) and shared by reference; lookups
//! do not allocate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::{RegionCode, RiskLevel};

/// A declared risk level of one region.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskPeriod {
    /// The announcement it comes from, cited in explanations.
    pub record_id: String,
    pub region: RegionCode,
    pub level: RiskLevel,
    pub from: DateTime<Utc>,
    /// `None`: until further notice.
    pub to: Option<DateTime<Utc>>,
}

/// A half-open interval of milliseconds since the epoch; `end == i64::MAX` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: i64,
    pub end: i64,
}

pub(crate) const OPEN: i64 = i64::MAX;

#[derive(Debug, Clone, Default)]
struct Effective {
    /// Where the level is medium or above, sorted and disjoint.
    medium: Vec<Span>,
    /// Where the level is high, sorted and disjoint.
    high: Vec<Span>,
}

/// A small multiplicative hasher for region codes (a `u32` each): the risk table is read
/// once per stay per rule, and SipHash would dominate an evaluation.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(SEED);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(SEED);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

static REGIONS_CSV: &str = include_str!("../../data/regions.csv");

/// Region risk levels with their history.
#[derive(Debug, Clone, Default)]
pub struct RegionRisk {
    declared: FastMap<RegionCode, Vec<RiskPeriod>>,
    /// For every region covered by some declaration (the declared regions and everything
    /// under them): the union of the declarations covering it.
    effective: FastMap<RegionCode, Effective>,
}

impl RegionRisk {
    /// No region is at risk.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds the table. Periods that end before they start are ignored.
    pub fn new(periods: impl IntoIterator<Item = RiskPeriod>) -> Self {
        let mut declared: FastMap<RegionCode, Vec<RiskPeriod>> = FastMap::default();
        for p in periods {
            declared.entry(p.region).or_default().push(p);
        }
        for list in declared.values_mut() {
            list.sort_by_key(|p| p.from);
        }
        let mut effective = FastMap::default();
        if !declared.is_empty() {
            for (code, ancestors) in all_regions() {
                let chain = std::iter::once(*code).chain(ancestors.iter().copied());
                if !chain.clone().any(|r| declared.contains_key(&r)) {
                    continue;
                }
                let mut medium = Vec::new();
                let mut high = Vec::new();
                for r in chain {
                    for p in declared.get(&r).into_iter().flatten() {
                        let span =
                            Span { start: p.from.timestamp_millis(), end: p.to.map_or(OPEN, |t| t.timestamp_millis()) };
                        if span.start >= span.end {
                            continue;
                        }
                        if p.level >= RiskLevel::Medium {
                            medium.push(span);
                        }
                        if p.level >= RiskLevel::High {
                            high.push(span);
                        }
                    }
                }
                if !medium.is_empty() {
                    effective.insert(*code, Effective { medium: merge(medium), high: merge(high) });
                }
            }
        }
        Self { declared, effective }
    }

    /// Whether no region has a declared level.
    pub fn is_empty(&self) -> bool {
        self.declared.is_empty()
    }

    /// The periods declared for exactly this region (not those of the regions above it),
    /// sorted by start.
    pub fn periods(&self, region: RegionCode) -> &[RiskPeriod] {
        self.declared.get(&region).map_or(&[], |v| v.as_slice())
    }

    /// Every declared period.
    pub fn all_periods(&self) -> impl Iterator<Item = &RiskPeriod> {
        self.declared.values().flatten()
    }

    /// The level of a region at an instant, declarations of the regions above it included.
    pub fn level_at(&self, region: RegionCode, at: DateTime<Utc>) -> RiskLevel {
        let t = at.timestamp_millis();
        let Some(e) = self.effective.get(&region) else { return RiskLevel::Low };
        let inside = |spans: &[Span]| spans.iter().any(|s| s.start <= t && t < s.end);
        if inside(&e.high) {
            RiskLevel::High
        } else if inside(&e.medium) {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }

    /// Sorted disjoint spans where `region` is at `level` or above; `None` for `low` (always).
    pub(crate) fn spans(&self, region: RegionCode, level: RiskLevel) -> Option<&[Span]> {
        let e = self.effective.get(&region);
        match level {
            RiskLevel::Low => None,
            RiskLevel::Medium => Some(e.map_or(&[], |e| e.medium.as_slice())),
            RiskLevel::High => Some(e.map_or(&[], |e| e.high.as_slice())),
        }
    }

    /// The declaration (of the region or one above it) that puts `region` at `level` or
    /// above during part of `start..end`, for explanations: one at exactly `level` if there
    /// is one (a yellow medium-risk reason names the medium-risk declaration), else the highest.
    pub(crate) fn declaration_for(
        &self,
        region: RegionCode,
        level: RiskLevel,
        start: i64,
        end: i64,
    ) -> Option<&RiskPeriod> {
        let rank = |p: &RiskPeriod| (p.level == level, p.level);
        let mut best: Option<&RiskPeriod> = None;
        let mut cur = Some(region);
        while let Some(r) = cur {
            for p in self.periods(r) {
                let (s, e) = (p.from.timestamp_millis(), p.to.map_or(OPEN, |t| t.timestamp_millis()));
                if p.level >= level && s < end && start < e && best.is_none_or(|b| rank(p) > rank(b)) {
                    best = Some(p);
                }
            }
            cur = r.parent();
        }
        best
    }
}

fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| s.start);
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Every region of the table with the regions above it, nearest first.
fn all_regions() -> &'static [(RegionCode, Vec<RegionCode>)] {
    static ALL: OnceLock<Vec<(RegionCode, Vec<RegionCode>)>> = OnceLock::new();
    ALL.get_or_init(|| {
        REGIONS_CSV
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .filter_map(|c| RegionCode::parse(c).ok())
            .map(|code| (code, std::iter::successors(code.parent(), |p| p.parent()).collect()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn period(region: &str, level: RiskLevel, from: &str, to: Option<&str>) -> RiskPeriod {
        RiskPeriod {
            record_id: format!("r-{region}"),
            region: RegionCode::parse(region).unwrap(),
            level,
            from: t(from),
            to: to.map(t),
        }
    }

    #[test]
    fn a_declaration_covers_the_regions_under_it_and_only_raises() {
        let risk = RegionRisk::new([
            period("420100", RiskLevel::High, "2022-04-01T00:00:00Z", Some("2022-04-10T00:00:00Z")),
            period("420102", RiskLevel::Medium, "2022-04-05T00:00:00Z", None),
            period("420103", RiskLevel::Low, "2022-04-05T00:00:00Z", None),
        ]);
        let jiang_an = RegionCode::parse("420102").unwrap();
        let jiang_han = RegionCode::parse("420103").unwrap();
        let wuhan = RegionCode::parse("420100").unwrap();
        let hubei = RegionCode::parse("420000").unwrap();
        assert_eq!(risk.level_at(jiang_an, t("2022-04-02T00:00:00Z")), RiskLevel::High);
        assert_eq!(risk.level_at(jiang_an, t("2022-04-12T00:00:00Z")), RiskLevel::Medium);
        assert_eq!(risk.level_at(jiang_han, t("2022-04-06T00:00:00Z")), RiskLevel::High);
        assert_eq!(risk.level_at(jiang_han, t("2022-04-10T00:00:00Z")), RiskLevel::Low);
        assert_eq!(risk.level_at(wuhan, t("2022-04-12T00:00:00Z")), RiskLevel::Low);
        assert_eq!(risk.level_at(hubei, t("2022-04-02T00:00:00Z")), RiskLevel::Low);
        assert_eq!(risk.periods(wuhan).len(), 1);
        assert!(RegionRisk::empty().is_empty());
    }

    #[test]
    fn touching_periods_merge() {
        assert_eq!(
            merge(vec![Span { start: 5, end: 9 }, Span { start: 0, end: 5 }, Span { start: 11, end: 12 }]),
            vec![Span { start: 0, end: 9 }, Span { start: 11, end: 12 }]
        );
    }
}
