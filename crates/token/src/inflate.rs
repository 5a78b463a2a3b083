//! zlib with a cap on the inflated size, so a small token cannot expand into a zip bomb.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

/// Largest inflated payload accepted: an EU DCC is ~1 KB, ours ~200 bytes.
pub const MAX_INFLATED: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("not zlib data: {0}")]
    Corrupt(String),
    #[error("inflates to more than {MAX_INFLATED} bytes")]
    TooLarge,
}

pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).expect("writing to a Vec");
    e.finish().expect("writing to a Vec")
}

pub fn inflate(data: &[u8]) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let mut reader = ZlibDecoder::new(data).take(MAX_INFLATED as u64 + 1);
    reader.read_to_end(&mut out).map_err(|e| InflateError::Corrupt(e.to_string()))?;
    if out.len() > MAX_INFLATED {
        return Err(InflateError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_caps_bombs() {
        assert_eq!(inflate(&compress(b"hello")).unwrap(), b"hello");
        let bomb = compress(&vec![0u8; MAX_INFLATED * 16]);
        assert!(bomb.len() < 4096, "{}", bomb.len());
        assert_eq!(inflate(&bomb), Err(InflateError::TooLarge));
        assert!(matches!(inflate(b"not zlib"), Err(InflateError::Corrupt(_))));
    }
}
