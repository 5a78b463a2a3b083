//! The daily health declaration (每日健康打卡, R3).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{RegionCode, SubjectId};

/// Symptoms a person can declare: a fixed list so that rules can name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symptom {
    Fever,
    Cough,
    Fatigue,
    SoreThroat,
    LossOfSmell,
    ShortnessOfBreath,
    Diarrhea,
}

impl Symptom {
    pub const ALL: [Symptom; 7] = [
        Symptom::Fever,
        Symptom::Cough,
        Symptom::Fatigue,
        Symptom::SoreThroat,
        Symptom::LossOfSmell,
        Symptom::ShortnessOfBreath,
        Symptom::Diarrhea,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Fever => "fever",
            Self::Cough => "cough",
            Self::Fatigue => "fatigue",
            Self::SoreThroat => "sore_throat",
            Self::LossOfSmell => "loss_of_smell",
            Self::ShortnessOfBreath => "shortness_of_breath",
            Self::Diarrhea => "diarrhea",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Body temperature in tenths of a degree Celsius, 34.0–43.0 °C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Temperature(i16);

/// Measured temperature at or above which a declaration counts as fever.
pub const FEVER_FROM_TENTHS: i16 = 373;

impl Temperature {
    pub fn from_celsius(c: f64) -> Result<Self, DeclarationError> {
        if !c.is_finite() || !(34.0..=43.0).contains(&c) {
            return Err(DeclarationError::Temperature);
        }
        Ok(Self((c * 10.0).round() as i16))
    }

    pub fn from_tenths(t: i16) -> Self {
        Self(t)
    }

    pub fn tenths(&self) -> i16 {
        self.0
    }

    pub fn celsius(&self) -> f64 {
        f64::from(self.0) / 10.0
    }

    pub fn is_fever(&self) -> bool {
        self.0 >= FEVER_FROM_TENTHS
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error("temperature must be a number of degrees Celsius between 34.0 and 43.0")]
    Temperature,
    #[error(
        "unknown symptom {0:?}; known: fever, cough, fatigue, sore_throat, loss_of_smell, shortness_of_breath, diarrhea"
    )]
    Symptom(String),
}

impl crate::Coded for DeclarationError {
    fn code(&self) -> &'static str {
        match self {
            Self::Temperature => "temperature_range",
            Self::Symptom(_) => "symptom_unknown",
        }
    }
}

/// Parses the symptom list; duplicates are folded and the order made canonical.
pub fn parse_symptoms<S: AsRef<str>>(items: &[S]) -> Result<Vec<Symptom>, DeclarationError> {
    let mut out = items
        .iter()
        .map(|s| Symptom::parse(s.as_ref()).ok_or_else(|| DeclarationError::Symptom(s.as_ref().to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// One declaration as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    pub subject_id: SubjectId,
    /// The local (Asia/Shanghai) day it is for.
    pub day: NaiveDate,
    pub temperature: Temperature,
    pub symptoms: Vec<Symptom>,
    pub contact_with_suspected_case: bool,
    pub current_region: RegionCode,
    /// Who submitted it: the person, or their guardian.
    pub declared_by: SubjectId,
    pub declared_at: DateTime<Utc>,
}

impl Declaration {
    /// Fever either measured or declared as a symptom.
    pub fn has_fever(&self) -> bool {
        self.temperature.is_fever() || self.symptoms.contains(&Symptom::Fever)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_are_bounded_and_rounded() {
        assert_eq!(Temperature::from_celsius(36.54).unwrap().tenths(), 365);
        assert!(Temperature::from_celsius(37.3).unwrap().is_fever());
        assert!(!Temperature::from_celsius(37.2).unwrap().is_fever());
        for bad in [33.9, 43.1, f64::NAN, f64::INFINITY] {
            assert_eq!(Temperature::from_celsius(bad), Err(DeclarationError::Temperature));
        }
    }

    #[test]
    fn symptoms_come_from_the_fixed_list() {
        assert_eq!(parse_symptoms(&["cough", "fever", "cough"]).unwrap(), vec![Symptom::Fever, Symptom::Cough]);
        assert_eq!(parse_symptoms(&["sneezing"]), Err(DeclarationError::Symptom("sneezing".into())));
    }
}
