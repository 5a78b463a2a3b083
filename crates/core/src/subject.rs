//! The pseudonymous subject id: how a person is known everywhere outside the identity table.

use std::fmt;

use serde::{Deserialize, Serialize};

/// 26 characters of Crockford-style base32 (lower case) over 128 random bits, prefixed `s`.
/// Random, so it reveals nothing about the person; the randomness comes from the caller.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubjectId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a subject id is `s` followed by 26 base32 characters")]
pub struct SubjectIdError;

impl crate::Coded for SubjectIdError {
    fn code(&self) -> &'static str {
        "subject_id_format"
    }
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Which bytes are in `ALPHABET`: a subject id is parsed for every scan and every stored
/// decision read, and a table lookup per byte is cheaper than searching the alphabet.
const IN_ALPHABET: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = true;
        i += 1;
    }
    table
};

impl SubjectId {
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut n = u128::from_be_bytes(bytes);
        let mut out = [0u8; 26];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(n & 31) as usize];
            n >>= 5;
        }
        Self(format!("s{}", std::str::from_utf8(&out).expect("ascii")))
    }

    pub fn parse(s: &str) -> Result<Self, SubjectIdError> {
        let body = s.strip_prefix('s').ok_or(SubjectIdError)?;
        // 26 characters of 5 bits carry 130 bits; the first must be < 8 to stay within 128.
        if body.len() == 26 && body.bytes().all(|b| IN_ALPHABET[usize::from(b)]) && body.as_bytes()[0] < b'8' {
            Ok(Self(s.to_string()))
        } else {
            Err(SubjectIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({})", self.0)
    }
}

impl TryFrom<String> for SubjectId {
    type Error = SubjectIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SubjectId> for String {
    fn from(s: SubjectId) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_back() {
        for bytes in [[0u8; 16], [0xff; 16], *b"0123456789abcdef"] {
            let id = SubjectId::from_random(bytes);
            assert_eq!(id.as_str().len(), 27);
            assert_eq!(SubjectId::parse(id.as_str()), Ok(id));
        }
        assert!(SubjectId::parse("s123").is_err());
        assert!(SubjectId::parse("x0000000000000000000000000a").is_err());
        assert!(SubjectId::parse("s9zzzzzzzzzzzzzzzzzzzzzzzz").is_err());
    }

    #[test]
    fn only_the_alphabet_parses() {
        let valid = "s0123456789abcdefghjkmnpqrs";
        assert!(SubjectId::parse(valid).is_ok());
        // Crockford leaves out i, l, o and u; ids are lower case; no other byte belongs.
        for bad in ['i', 'l', 'o', 'u', 'A', 'Z', '-', ' ', '\0', 'é'] {
            let id = format!("s012345678{bad}abcdefghjkmnpqrs");
            let id = if bad.len_utf8() > 1 { id.replacen('a', "", 1) } else { id };
            assert!(SubjectId::parse(&id).is_err(), "{id:?} parsed");
        }
    }
}
