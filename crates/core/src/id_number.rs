//! Resident identity card numbers (公民身份号码) per GB 11643-1999.
//!
//! Layout: 6-digit address code, 8-digit birth date (YYYYMMDD), 3-digit sequence, and a check
//! character computed with ISO 7064 MOD 11-2. Only the province part of the address code is
//! checked: region codes are renumbered over the years and a number keeps the code of the
//! place and year it was issued, so a full table lookup would refuse real people.

use std::fmt;

use chrono::NaiveDate;

/// Weights of the first 17 digits (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum mod 11.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";
/// Province prefixes that GB 11643 numbers may carry: the 31 mainland provinces, Taiwan (71),
/// and the residence permits of Hong Kong (81), Macao (82) and Taiwan (83) residents.
const PROVINCES: [u8; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82, 83,
];
/// Nobody alive was born before this; older dates are typing errors.
const EARLIEST_BIRTH_YEAR: i32 = 1890;

/// A well-formed 18-character resident ID number, upper-case `X` normalised.
///
/// Deliberately has no `Display`: the clear number must not slip into a log line or a format
/// string by accident. Use [`IdNumber::expose`] where it is really needed (encryption, hashing)
/// and [`IdNumber::masked`] for display.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("15-digit ID numbers were retired in 2013; enter the 18-character number on the current card")]
    Legacy15Digit,
    #[error("an ID number has 18 characters, this has {0}")]
    Length(usize),
    #[error("the first 17 characters must be digits and the last a digit or X")]
    Characters,
    #[error("{0:02} is not a province prefix of an ID number")]
    Province(u8),
    #[error("the birth date {0} does not exist")]
    BirthDateInvalid(String),
    #[error("the birth date {0} is in the future")]
    BirthDateFuture(NaiveDate),
    #[error("the birth date {0} is too early")]
    BirthDateTooEarly(NaiveDate),
    #[error("the check character is wrong (a typing error?)")]
    CheckCharacter,
}

impl crate::Coded for IdNumberError {
    fn code(&self) -> &'static str {
        match self {
            Self::Legacy15Digit => "id_number_legacy_15_digit",
            Self::Length(_) => "id_number_length",
            Self::Characters => "id_number_characters",
            Self::Province(_) => "id_number_province",
            Self::BirthDateInvalid(_) => "id_number_birth_date_invalid",
            Self::BirthDateFuture(_) => "id_number_birth_date_future",
            Self::BirthDateTooEarly(_) => "id_number_birth_date_too_early",
            Self::CheckCharacter => "id_number_check_character",
        }
    }
}

/// The check character for the first 17 digits (which must be ASCII digits).
pub fn check_character(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses an ID number as typed. Surrounding white space is ignored and a lower-case `x`
    /// accepted; `today` (the local date) bounds the birth date.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, IdNumberError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() == 15 && b.iter().all(u8::is_ascii_digit) {
            return Err(IdNumberError::Legacy15Digit);
        }
        if b.len() != 18 {
            return Err(IdNumberError::Length(s.chars().count()));
        }
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        let province = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !PROVINCES.contains(&province) {
            return Err(IdNumberError::Province(province));
        }
        let birth = &s[6..14];
        let date = NaiveDate::parse_from_str(birth, "%Y%m%d")
            .map_err(|_| IdNumberError::BirthDateInvalid(birth.to_string()))?;
        if date > today {
            return Err(IdNumberError::BirthDateFuture(date));
        }
        if date < NaiveDate::from_ymd_opt(EARLIEST_BIRTH_YEAR, 1, 1).expect("valid date") {
            return Err(IdNumberError::BirthDateTooEarly(date));
        }
        if check_character(&b[..17]) != b[17] {
            return Err(IdNumberError::CheckCharacter);
        }
        Ok(Self(s))
    }

    /// The clear number. Only for encryption and keyed hashing, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Birth date encoded in the number.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("checked in parse")
    }

    /// Display form keeping the first 4 and last 2 characters: `4201************1X`.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 4, 2)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// Replaces all but the first `keep_start` and last `keep_end` characters with `*`.
pub fn mask_middle(s: &str, keep_start: usize, keep_end: usize) -> String {
    let n = s.chars().count();
    if n <= keep_start + keep_end {
        return "*".repeat(n);
    }
    s.chars().enumerate().map(|(i, c)| if i < keep_start || i >= n - keep_end { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    /// Builds a valid number from 17 digits by appending its check character.
    fn with_check(first17: &str) -> String {
        let c = check_character(first17.as_bytes()) as char;
        format!("{first17}{c}")
    }

    #[test]
    fn accepts_the_standard_example() {
        // The worked example of GB 11643-1999, Appendix A.
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
    }

    #[test]
    fn normalises_lower_case_x_and_trims() {
        let id = IdNumber::parse(" 11010519491231002x ", today()).unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
    }

    #[test]
    fn refuses_a_wrong_check_character() {
        assert_eq!(IdNumber::parse("110105194912310021", today()), Err(IdNumberError::CheckCharacter));
    }

    #[test]
    fn every_single_digit_change_is_caught() {
        let good = with_check("42010219900307123");
        for pos in 0..17 {
            for d in b'0'..=b'9' {
                let mut b = good.clone().into_bytes();
                if b[pos] == d {
                    continue;
                }
                b[pos] = d;
                let s = String::from_utf8(b).unwrap();
                assert!(IdNumber::parse(&s, today()).is_err(), "{s} passed");
            }
        }
    }

    #[test]
    fn refuses_legacy_15_digit_numbers_with_their_own_error() {
        let e = IdNumber::parse("110105491231002", today()).unwrap_err();
        assert_eq!(e, IdNumberError::Legacy15Digit);
        assert!(e.to_string().contains("15-digit"));
    }

    #[test]
    fn refuses_impossible_and_future_birth_dates() {
        let feb30 = with_check("42010219900230123");
        assert!(matches!(IdNumber::parse(&feb30, today()), Err(IdNumberError::BirthDateInvalid(_))));
        let leap = with_check("42010220000229123");
        assert!(IdNumber::parse(&leap, today()).is_ok(), "2000-02-29 exists");
        let not_leap = with_check("42010219000229123");
        assert!(matches!(IdNumber::parse(&not_leap, today()), Err(IdNumberError::BirthDateInvalid(_))));
        let future = with_check("42010220261129123");
        assert!(matches!(IdNumber::parse(&future, today()), Err(IdNumberError::BirthDateFuture(_))));
        let born_today = with_check("42010220261128123");
        assert!(IdNumber::parse(&born_today, today()).is_ok());
        let ancient = with_check("42010218000101123");
        assert!(matches!(IdNumber::parse(&ancient, today()), Err(IdNumberError::BirthDateTooEarly(_))));
    }

    #[test]
    fn refuses_unknown_province_prefixes() {
        let id = with_check("99010219900307123");
        assert_eq!(IdNumber::parse(&id, today()), Err(IdNumberError::Province(99)));
        let hk_permit = with_check("81000019900307123");
        assert!(IdNumber::parse(&hk_permit, today()).is_ok());
    }

    #[test]
    fn refuses_wrong_length_and_characters() {
        assert_eq!(IdNumber::parse("4201021990", today()), Err(IdNumberError::Length(10)));
        assert_eq!(IdNumber::parse("4201021990030712X3", today()), Err(IdNumberError::Characters));
        assert_eq!(IdNumber::parse("", today()), Err(IdNumberError::Length(0)));
    }

    #[test]
    fn debug_and_mask_hide_the_number() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.masked(), "1101************2X");
        assert!(!format!("{id:?}").contains("19491231"));
    }
}
