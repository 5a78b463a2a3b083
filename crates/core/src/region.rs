//! GB/T 2260 administrative division codes, checked against the vendored table in
//! `data/regions.csv` (source and date in `data/SOURCE.md`).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

static TABLE_CSV: &str = include_str!("../data/regions.csv");

/// A six-digit region code known to the table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(u32);

/// A region code's six ASCII digits ([`RegionCode::digits`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RegionDigits([u8; 6]);

impl RegionDigits {
    pub fn as_str(&self) -> &str {
        // Six ASCII digits, made by `digits`, are always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("000000")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("a region code has six digits")]
    Format,
    #[error("{0} is not a region code in the GB/T 2260 table")]
    Unknown(String),
}

impl crate::Coded for RegionError {
    fn code(&self) -> &'static str {
        match self {
            Self::Format => "region_format",
            Self::Unknown(_) => "region_unknown",
        }
    }
}

struct Entry {
    name: &'static str,
    parent: Option<u32>,
}

fn table() -> &'static HashMap<u32, Entry> {
    static TABLE: OnceLock<HashMap<u32, Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        TABLE_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let mut f = line.split(',');
                let code = f.next().and_then(|c| c.parse().ok()).expect("regions.csv: code");
                let name = f.next().expect("regions.csv: name");
                let parent = f.next().and_then(|p| p.parse().ok());
                (code, Entry { name, parent })
            })
            .collect()
    })
}

impl RegionCode {
    pub fn parse(input: &str) -> Result<Self, RegionError> {
        let s = input.trim();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::Format);
        }
        let code: u32 = s.parse().map_err(|_| RegionError::Format)?;
        if table().contains_key(&code) { Ok(Self(code)) } else { Err(RegionError::Unknown(s.to_string())) }
    }

    pub fn name(&self) -> &'static str {
        table()[&self.0].name
    }

    pub fn parent(&self) -> Option<RegionCode> {
        table()[&self.0].parent.map(RegionCode)
    }

    pub fn level(&self) -> RegionLevel {
        if self.0.is_multiple_of(10_000) {
            RegionLevel::Province
        } else if self.0.is_multiple_of(100) {
            RegionLevel::City
        } else {
            RegionLevel::County
        }
    }

    /// The six digits, without allocating (bulk imports write one per row).
    pub fn digits(&self) -> RegionDigits {
        let mut out = [b'0'; 6];
        let mut n = self.0;
        for d in out.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        RegionDigits(out)
    }

    /// The leading digits shared by every region under this one: `42` for 420000, `4201` for
    /// 420100, all six digits for a county. Storage uses it as a `LIKE 'prefix%'` pattern.
    pub fn prefix(&self) -> String {
        let s = self.to_string();
        let n = match self.level() {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
        };
        s[..n].to_string()
    }

    /// Whether `other` is this region or lies under it (420000 covers 420102).
    pub fn covers(&self, other: RegionCode) -> bool {
        other.to_string().starts_with(&self.prefix())
    }

    /// Full name from the province down, e.g. `湖北省 武汉市 江岸区`.
    pub fn full_name(&self) -> String {
        let mut parts = vec![self.name()];
        let mut cur = self.parent();
        while let Some(p) = cur {
            parts.push(p.name());
            cur = p.parent();
        }
        parts.reverse();
        parts.join(" ")
    }

    /// How many regions the table knows.
    pub fn table_len() -> usize {
        table().len()
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.digits().as_str())
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({:06})", self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_the_code_as_written() {
        for code in ["420102", "110000", "659000"] {
            let r = RegionCode::parse(code).unwrap();
            assert_eq!(r.digits().as_str(), code);
            assert_eq!(r.to_string(), code);
        }
    }

    #[test]
    fn knows_provinces_cities_and_counties() {
        assert!(RegionCode::table_len() > 3000);
        let jiang_an = RegionCode::parse("420102").unwrap();
        assert_eq!(jiang_an.name(), "江岸区");
        assert_eq!(jiang_an.level(), RegionLevel::County);
        assert_eq!(jiang_an.full_name(), "湖北省 武汉市 江岸区");
        assert_eq!(RegionCode::parse("420000").unwrap().level(), RegionLevel::Province);
        assert_eq!(RegionCode::parse("420100").unwrap().level(), RegionLevel::City);
    }

    #[test]
    fn refuses_unknown_and_malformed_codes() {
        assert_eq!(RegionCode::parse("429999"), Err(RegionError::Unknown("429999".into())));
        assert_eq!(RegionCode::parse("42010"), Err(RegionError::Format));
        assert_eq!(RegionCode::parse("42010a"), Err(RegionError::Format));
    }

    #[test]
    fn a_region_covers_everything_under_it() {
        let hubei = RegionCode::parse("420000").unwrap();
        let wuhan = RegionCode::parse("420100").unwrap();
        let jiang_an = RegionCode::parse("420102").unwrap();
        let changsha = RegionCode::parse("430100").unwrap();
        assert!(hubei.covers(jiang_an) && wuhan.covers(jiang_an) && jiang_an.covers(jiang_an));
        assert!(!wuhan.covers(hubei) && !hubei.covers(changsha) && !jiang_an.covers(wuhan));
        assert_eq!(hubei.prefix(), "42");
        assert_eq!(wuhan.prefix(), "4201");
    }
}
