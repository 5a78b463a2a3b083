//! Mainland mobile phone numbers, the login identity of citizens.

use std::fmt;

/// An 11-digit mainland mobile number (`1[3-9]` + 9 digits). No `Display`: phones stay out of
/// logs; use [`Phone::masked`] to show one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a mobile number has 11 digits and starts with 13–19 (an optional +86 in front)")]
    Format,
}

impl crate::Coded for PhoneError {
    fn code(&self) -> &'static str {
        "phone_format"
    }
}

impl Phone {
    /// Accepts `13800138000`, `+86 138 0013 8000`, `86-138-0013-8000`.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let digits: String =
            input.chars().filter(|c| !matches!(c, ' ' | '-')).collect::<String>().trim_start_matches('+').to_string();
        let national = match digits.strip_prefix("86") {
            Some(rest) if rest.len() == 11 => rest,
            _ => digits.as_str(),
        };
        let b = national.as_bytes();
        if b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            Ok(Self(national.to_string()))
        } else {
            Err(PhoneError::Format)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `138****8000`
    pub fn masked(&self) -> String {
        crate::id_number::mask_middle(&self.0, 3, 4)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_country_code_and_separators() {
        for s in ["13800138000", "+86 138 0013 8000", "86-138-0013-8000", "+8613800138000"] {
            assert_eq!(Phone::parse(s).unwrap().expose(), "13800138000", "{s}");
        }
        assert_eq!(Phone::parse("13800138000").unwrap().masked(), "138****8000");
    }

    #[test]
    fn refuses_non_mobile_numbers() {
        for s in ["12800138000", "1380013800", "138001380000", "027-8888888", "abc", ""] {
            assert_eq!(Phone::parse(s), Err(PhoneError::Format), "{s}");
        }
    }
}
