//! Real names as registered, and their masked display form (张*三).

use std::fmt;

/// A person's real name. No `Display`, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {MAX_CHARS} characters")]
    TooLong,
    #[error("the name contains control characters or digits")]
    Characters,
}

impl crate::Coded for NameError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "name_empty",
            Self::TooLong => "name_too_long",
            Self::Characters => "name_characters",
        }
    }
}

const MAX_CHARS: usize = 64;

impl PersonName {
    /// Trims white space and folds runs of inner white space to one space. Names of minority
    /// nationalities and foreigners may contain `·` and spaces; digits and control characters
    /// are refused.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let folded = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if folded.is_empty() {
            return Err(NameError::Empty);
        }
        if folded.chars().count() > MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if folded.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
            return Err(NameError::Characters);
        }
        Ok(Self(folded))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked display form: 张三 → 张*, 张小三 → 张*三, 欧阳小三 → 欧**三,
    /// one character stays as it is; spaces are masked like any other character.
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

/// Masks a name (see [`PersonName::masked`]).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 | 1 => name.to_string(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut out = String::new();
            out.push(chars[0]);
            out.extend(std::iter::repeat_n('*', n - 2));
            out.push(chars[n - 1]);
            out
        }
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_the_gate_screens_do() {
        assert_eq!(PersonName::parse("张三").unwrap().masked(), "张*");
        assert_eq!(PersonName::parse("张小三").unwrap().masked(), "张*三");
        assert_eq!(PersonName::parse("欧阳小三").unwrap().masked(), "欧**三");
        assert_eq!(PersonName::parse("买买提·艾力").unwrap().masked(), "买****力");
    }

    #[test]
    fn folds_white_space_and_refuses_junk() {
        assert_eq!(PersonName::parse("  John   Smith ").unwrap().expose(), "John Smith");
        assert_eq!(PersonName::parse("   "), Err(NameError::Empty));
        assert_eq!(PersonName::parse("张3"), Err(NameError::Characters));
        assert_eq!(PersonName::parse(&"张".repeat(65)), Err(NameError::TooLong));
    }
}
