//! The `shc:/` QR text: numeric-mode digits, two per character (`chr(dd + 45)`, so `-` is 00
//! and `z` is 77), optionally split into chunks `shc:/C/N/…` (deprecated, but example 02 of
//! the spec uses it).

pub const PREFIX: &str = "shc:/";

/// Largest chunk count accepted; the spec's deprecated chunking never needed more than a few.
const MAX_CHUNKS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumericError {
    #[error("a SMART Health Card QR starts with shc:/")]
    Prefix,
    #[error("chunk header {0:?} is not C/N/ with 1 ≤ C ≤ N ≤ {MAX_CHUNKS}")]
    ChunkHeader(String),
    #[error("chunks do not form one whole card: {0}")]
    Chunks(String),
    #[error("odd number of digits")]
    OddLength,
    #[error("{0:?} at digit {1} is not a digit pair from 00 to 77")]
    Digit(String, usize),
}

impl NumericError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Prefix => "prefix_unknown",
            Self::ChunkHeader(_) | Self::Chunks(_) => "chunks_invalid",
            Self::OddLength | Self::Digit(..) => "numeric_invalid",
        }
    }

    /// True for the errors of the `prefix` step, false for the numeric decoding (`base45`).
    pub fn is_prefix(&self) -> bool {
        matches!(self, Self::Prefix | Self::ChunkHeader(_) | Self::Chunks(_))
    }
}

/// Splits the input (one QR text, or several chunks separated by white space) into the digit
/// strings in chunk order.
pub fn unchunk(input: &str) -> Result<Vec<&str>, NumericError> {
    let texts: Vec<&str> = input.split_whitespace().collect();
    let mut bodies = Vec::with_capacity(texts.len());
    for text in &texts {
        bodies.push(text.strip_prefix(PREFIX).ok_or(NumericError::Prefix)?);
    }
    match bodies[..] {
        [] => Err(NumericError::Prefix),
        [single] if !single.contains('/') => Ok(vec![single]),
        _ => {
            let mut slots: Vec<Option<&str>> = Vec::new();
            for body in bodies {
                let (index, total, digits) = chunk_header(body)?;
                if slots.is_empty() {
                    slots = vec![None; total];
                } else if slots.len() != total {
                    return Err(NumericError::Chunks("chunks disagree on the total".into()));
                }
                if slots[index - 1].replace(digits).is_some() {
                    return Err(NumericError::Chunks(format!("chunk {index} appears twice")));
                }
            }
            let missing: Vec<String> =
                slots.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| (i + 1).to_string()).collect();
            if !missing.is_empty() {
                return Err(NumericError::Chunks(format!("missing chunk {} of {}", missing.join(", "), slots.len())));
            }
            Ok(slots.into_iter().flatten().collect())
        }
    }
}

fn chunk_header(body: &str) -> Result<(usize, usize, &str), NumericError> {
    let bad = || NumericError::ChunkHeader(body.chars().take(12).collect());
    let mut parts = body.splitn(3, '/');
    let (Some(c), Some(n), Some(digits)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (number(c), number(n)) {
        (Some(c), Some(n)) if (1..=n).contains(&c) && n <= MAX_CHUNKS => Ok((c, n, digits)),
        _ => Err(bad()),
    }
}

/// Digit pairs to text: the compact JWS.
pub fn decode(chunks: &[&str]) -> Result<String, NumericError> {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut out = String::with_capacity(total / 2);
    let mut position = 0;
    for chunk in chunks {
        let bytes = chunk.as_bytes();
        if !bytes.len().is_multiple_of(2) {
            return Err(NumericError::OddLength);
        }
        for pair in bytes.chunks(2) {
            let value = match pair {
                [a @ b'0'..=b'9', b @ b'0'..=b'9'] => (a - b'0') * 10 + (b - b'0'),
                _ => 99,
            };
            if value > 77 {
                return Err(NumericError::Digit(String::from_utf8_lossy(pair).into_owned(), position));
            }
            out.push(char::from(value + 45));
            position += 2;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_digit_pairs_to_characters() {
        assert_eq!(decode(&["0077"]).unwrap(), "-z");
        assert_eq!(decode(&["5676", "29"]).unwrap(), "eyJ");
        assert_eq!(decode(&["78"]), Err(NumericError::Digit("78".into(), 0)));
        assert_eq!(decode(&["0a"]), Err(NumericError::Digit("0a".into(), 0)));
        assert_eq!(decode(&["123"]), Err(NumericError::OddLength));
    }

    #[test]
    fn reassembles_chunks_in_order() {
        assert_eq!(unchunk("shc:/0102").unwrap(), ["0102"]);
        assert_eq!(unchunk("shc:/2/2/22\nshc:/1/2/11").unwrap(), ["11", "22"]);
        assert_eq!(unchunk("shc:/1/1/11").unwrap(), ["11"]);
        assert_eq!(unchunk("shc:/1/3/11 shc:/3/3/33").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("shc:/1/2/11 shc:/1/2/11").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("shc:/1/2/11 shc:/2/3/11").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("shc:/0/2/11").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("shc:/3/2/11").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("shc:/1/99/11").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("shc:/1/2").unwrap_err().code(), "chunks_invalid");
        assert_eq!(unchunk("HC1:xyz").unwrap_err(), NumericError::Prefix);
        assert_eq!(unchunk("  ").unwrap_err(), NumericError::Prefix);
        assert_eq!(unchunk("shc:/11 shc:/22").unwrap_err().code(), "chunks_invalid");
    }
}
