//! zlib with a cap on the inflated size, so a small token cannot expand into a zip bomb.
//!
//! The decompressor state is kept per thread and reset between uses: allocating it afresh
//! for every token cost more than parsing the token.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};

/// Largest inflated payload accepted: an EU DCC is ~1 KB, ours ~200 bytes.
pub const MAX_INFLATED: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("not zlib data: {0}")]
    Corrupt(String),
    #[error("inflates to more than {MAX_INFLATED} bytes")]
    TooLarge,
}

thread_local! {
    static DECOMPRESS: RefCell<Decompress> = RefCell::new(Decompress::new(true));
}

/// A zlib stream (RFC 1950) of `data` in stored deflate blocks.
///
/// A signed token does not compress: its ~175 bytes are mostly a signature and a random
/// pseudonym, and deflate at every level gives 186 bytes, all in stored blocks (measured).
/// Writing those blocks directly gives the same stream in a fraction of a microsecond,
/// where resetting a deflate state cost 11 µs, a quarter of an Ed25519 signature. Any zlib
/// reader (ours, `zlib`, an EU DCC verifier's) reads it.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 6 + 5 * (data.len() / 65_535 + 1));
    // CMF: deflate, 32K window; FLG: no dictionary, fastest level, check bits so that
    // CMF*256+FLG is a multiple of 31.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// Reads a zlib stream made only of byte-aligned stored blocks (what [`compress`] writes)
/// without a decompressor; `None` when the stream is anything else, for the full path.
fn stored_only(data: &[u8]) -> Option<Result<Vec<u8>, InflateError>> {
    let [cmf, flg, rest @ ..] = data else { return None };
    if cmf & 0x0f != 8 || (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 != 0 || flg & 0x20 != 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = rest;
    loop {
        // Block header byte: BFINAL, BTYPE = 00, five zero padding bits.
        let [head, l0, l1, n0, n1, body @ ..] = at else { return None };
        if head & !1 != 0 {
            return None;
        }
        let len = u16::from_le_bytes([*l0, *l1]);
        if len != !u16::from_le_bytes([*n0, *n1]) || body.len() < usize::from(len) {
            return None;
        }
        if out.len() + usize::from(len) > MAX_INFLATED {
            return Some(Err(InflateError::TooLarge));
        }
        out.extend_from_slice(&body[..usize::from(len)]);
        at = &body[usize::from(len)..];
        if head & 1 == 1 {
            break;
        }
    }
    let check: [u8; 4] = at.try_into().ok()?;
    if u32::from_be_bytes(check) != adler32(&out) {
        return Some(Err(InflateError::Corrupt("the Adler-32 checksum does not match".into())));
    }
    Some(Ok(out))
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65_521;
        b %= 65_521;
    }
    (b << 16) | a
}

pub fn inflate(data: &[u8]) -> Result<Vec<u8>, InflateError> {
    if let Some(out) = stored_only(data) {
        return out;
    }
    DECOMPRESS.with(|d| {
        let mut d = d.borrow_mut();
        d.reset(true);
        let mut out = Vec::with_capacity((data.len() * 4).clamp(64, MAX_INFLATED + 1));
        loop {
            if out.len() == out.capacity() {
                // Grow, but never past one byte over the cap (which proves the cap exceeded).
                let room = (out.capacity()).min(MAX_INFLATED + 1 - out.len());
                out.reserve_exact(room.max(1));
            }
            let before = (d.total_in(), d.total_out());
            let rest = &data[before.0 as usize..];
            let status = d
                .decompress_vec(rest, &mut out, FlushDecompress::None)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            if out.len() > MAX_INFLATED {
                return Err(InflateError::TooLarge);
            }
            if status == Status::StreamEnd {
                return Ok(out);
            }
            if (d.total_in(), d.total_out()) == before {
                return Err(InflateError::Corrupt("the stream ends early".into()));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_caps_bombs() {
        assert_eq!(inflate(&compress(b"hello")).unwrap(), b"hello");
        let big: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(inflate(&compress(&big)).unwrap(), big);
        // A real deflate bomb: 1 MiB of zeros in about 1 KB.
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, &vec![0u8; MAX_INFLATED * 16]).unwrap();
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 4096, "{}", bomb.len());
        assert_eq!(inflate(&bomb), Err(InflateError::TooLarge));
        // What we write, zlib itself reads.
        let ours = compress(&big);
        let mut d = flate2::read::ZlibDecoder::new(&ours[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut back).unwrap();
        assert_eq!(back, big);
        assert!(matches!(inflate(b"not zlib"), Err(InflateError::Corrupt(_))));
        let good = compress(b"hello world");
        assert!(matches!(inflate(&good[..good.len() - 3]), Err(InflateError::Corrupt(_))), "truncated");
        assert_eq!(inflate(&compress(b"")).unwrap(), b"");
        let mut bad_sum = compress(b"hello");
        *bad_sum.last_mut().unwrap() ^= 1;
        assert!(matches!(inflate(&bad_sum), Err(InflateError::Corrupt(_))));
        // Compressed streams take the full path.
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, &[b'a'; 1000]).unwrap();
        assert_eq!(inflate(&e.finish().unwrap()).unwrap(), vec![b'a'; 1000]);
    }
}
