//! Venues (场所): their ids, categories with a default dwell, and the scan policy that says
//! which code colors a category admits.

use std::fmt;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::Color;

/// What kind of place a venue is. The category sets how long a visit without an exit scan is
/// assumed to last and which colors the entrance admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueCategory {
    Restaurant,
    Retail,
    Office,
    School,
    Hospital,
    Transit,
    Residential,
    Park,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown venue category; known: restaurant, retail, office, school, hospital, transit, residential, park, other"
)]
pub struct VenueCategoryError;

impl crate::Coded for VenueCategoryError {
    fn code(&self) -> &'static str {
        "venue_category_unknown"
    }
}

impl VenueCategory {
    pub const ALL: [VenueCategory; 9] = [
        Self::Restaurant,
        Self::Retail,
        Self::Office,
        Self::School,
        Self::Hospital,
        Self::Transit,
        Self::Residential,
        Self::Park,
        Self::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Restaurant => "restaurant",
            Self::Retail => "retail",
            Self::Office => "office",
            Self::School => "school",
            Self::Hospital => "hospital",
            Self::Transit => "transit",
            Self::Residential => "residential",
            Self::Park => "park",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, VenueCategoryError> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or(VenueCategoryError)
    }

    /// The label on gate screens and printed venue codes.
    pub fn label_zh(&self) -> &'static str {
        match self {
            Self::Restaurant => "餐饮",
            Self::Retail => "商超",
            Self::Office => "办公",
            Self::School => "学校",
            Self::Hospital => "医院",
            Self::Transit => "交通",
            Self::Residential => "小区",
            Self::Park => "公园",
            Self::Other => "其他",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Self::Restaurant => "Restaurant",
            Self::Retail => "Shop",
            Self::Office => "Office",
            Self::School => "School",
            Self::Hospital => "Hospital",
            Self::Transit => "Transit",
            Self::Residential => "Residential compound",
            Self::Park => "Park",
            Self::Other => "Other",
        }
    }

    /// How long a visit is assumed to last when nobody scans out. Most people never scan out,
    /// so tracing needs a plausible stay to overlap visits: a meal (90 min), a shopping trip
    /// (60 min), a working or school day (8 h), an outpatient visit with waiting (3 h), a
    /// station or airport transfer (30 min), a night at home (12 h), a walk in the park (2 h).
    /// Too long flags strangers as contacts; too short misses real overlaps; these are the
    /// typical stays, and an exit scan replaces them with the truth.
    pub fn default_dwell(&self) -> Duration {
        match self {
            Self::Restaurant => Duration::minutes(90),
            Self::Retail => Duration::minutes(60),
            Self::Office | Self::School => Duration::hours(8),
            Self::Hospital => Duration::hours(3),
            Self::Transit => Duration::minutes(30),
            Self::Residential => Duration::hours(12),
            Self::Park => Duration::hours(2),
            Self::Other => Duration::minutes(60),
        }
    }

    fn index(&self) -> usize {
        Self::ALL.iter().position(|c| c == self).expect("every category is in ALL")
    }
}

/// A venue's id: `v_` and 1–40 characters of `[a-z0-9_-]`. Generated ids are `v_` + 20 hex
/// characters of randomness (the caller's), so an id says nothing about the place.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VenueId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a venue id is `v_` followed by 1–40 characters of a-z, 0-9, _ or -")]
pub struct VenueIdError;

impl crate::Coded for VenueIdError {
    fn code(&self) -> &'static str {
        "venue_id_format"
    }
}

impl VenueId {
    pub fn from_random(bytes: [u8; 10]) -> Self {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("v_{hex}"))
    }

    pub fn parse(s: &str) -> Result<Self, VenueIdError> {
        let body = s.strip_prefix("v_").ok_or(VenueIdError)?;
        let ok = (1..=40).contains(&body.len())
            && body.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok { Ok(Self(s.to_string())) } else { Err(VenueIdError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VenueId {
    type Error = VenueIdError;
    fn try_from(s: String) -> Result<Self, VenueIdError> {
        Self::parse(&s)
    }
}

impl From<VenueId> for String {
    fn from(v: VenueId) -> String {
        v.0
    }
}

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VenueId({})", self.0)
    }
}

/// Which colors each category admits at its entrance.
///
/// Default: green only, except
/// - `hospital` admits yellow too: a yellow code means "test and watch", and people who must
///   be tested or treated have to get in. Red is denied at the general entrance: red codes are
///   taken to the fever clinic (发热门诊) through its own entrance, which a deployment
///   registers as a venue of its own and, if it wants, admits red for (`Hospital` policy
///   override, or category `other` with its own policy);
/// - `residential` admits yellow too: a yellow code is told to stay home, so the compound gate
///   must let them reach it.
///
/// A deployment overrides categories with [`ScanPolicy::parse_overrides`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanPolicy {
    /// Per category (in `VenueCategory::ALL` order): admits green, yellow, red.
    admits: [[bool; 3]; 9],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scan policy: {0}")]
pub struct ScanPolicyError(pub String);

impl crate::Coded for ScanPolicyError {
    fn code(&self) -> &'static str {
        "scan_policy_invalid"
    }
}

fn color_index(c: Color) -> usize {
    match c {
        Color::Green => 0,
        Color::Yellow => 1,
        Color::Red => 2,
    }
}

impl Default for ScanPolicy {
    fn default() -> Self {
        let mut admits = [[true, false, false]; 9];
        admits[VenueCategory::Hospital.index()] = [true, true, false];
        admits[VenueCategory::Residential.index()] = [true, true, false];
        Self { admits }
    }
}

impl ScanPolicy {
    pub fn admits(&self, category: VenueCategory, color: Color) -> bool {
        self.admits[category.index()][color_index(color)]
    }

    /// Sets the colors a category admits.
    pub fn set(&mut self, category: VenueCategory, colors: &[Color]) {
        let mut row = [false; 3];
        for c in colors {
            row[color_index(*c)] = true;
        }
        self.admits[category.index()] = row;
    }

    /// The default with overrides such as `hospital=green+yellow+red, park=green+yellow`
    /// (categories separated by `,` or `;`, colors by `+`). An empty text is the default.
    pub fn parse_overrides(text: &str) -> Result<Self, ScanPolicyError> {
        let mut policy = Self::default();
        for part in text.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
            let (cat, colors) =
                part.split_once('=').ok_or_else(|| ScanPolicyError(format!("`{part}` is not CATEGORY=COLOR+COLOR")))?;
            let cat = VenueCategory::parse(cat.trim()).map_err(|e| ScanPolicyError(format!("`{cat}`: {e}")))?;
            let mut list = Vec::new();
            for c in colors.split('+').map(str::trim) {
                list.push(Color::parse(c).ok_or_else(|| ScanPolicyError(format!("`{c}` is not a color")))?);
            }
            policy.set(cat, &list);
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_and_have_dwells() {
        for c in VenueCategory::ALL {
            assert_eq!(VenueCategory::parse(c.as_str()), Ok(c));
            assert!(c.default_dwell() >= Duration::minutes(30) && c.default_dwell() <= Duration::hours(12));
        }
        assert_eq!(VenueCategory::Restaurant.default_dwell(), Duration::minutes(90));
        assert_eq!(VenueCategory::Office.default_dwell(), Duration::hours(8));
        assert!(VenueCategory::parse("bar").is_err());
    }

    #[test]
    fn venue_ids_parse() {
        let v = VenueId::from_random([0xab; 10]);
        assert_eq!(VenueId::parse(v.as_str()), Ok(v));
        for bad in ["", "v_", "x_1", "v_A", "v_中", &format!("v_{}", "a".repeat(41))] {
            assert!(VenueId::parse(bad).is_err(), "{bad}");
        }
        assert!(VenueId::parse("v_gate-1").is_ok());
    }

    #[test]
    fn the_default_policy_admits_green_and_yellow_only_where_needed() {
        let p = ScanPolicy::default();
        for c in VenueCategory::ALL {
            assert!(p.admits(c, Color::Green));
            assert!(!p.admits(c, Color::Red));
        }
        assert!(p.admits(VenueCategory::Hospital, Color::Yellow));
        assert!(!p.admits(VenueCategory::Restaurant, Color::Yellow));
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let p = ScanPolicy::parse_overrides("hospital=green+yellow+red; park = green+yellow").unwrap();
        assert!(p.admits(VenueCategory::Hospital, Color::Red));
        assert!(p.admits(VenueCategory::Park, Color::Yellow));
        assert!(!p.admits(VenueCategory::Office, Color::Yellow));
        assert_eq!(ScanPolicy::parse_overrides("").unwrap(), ScanPolicy::default());
        assert!(ScanPolicy::parse_overrides("bar=green").is_err());
        assert!(ScanPolicy::parse_overrides("park=blue").is_err());
        assert!(ScanPolicy::parse_overrides("park").is_err());
    }
}
