//! Base45 (RFC 9285): the alphabet of QR alphanumeric mode, so a token fills the QR code at
//! 5.5 bits per character instead of 8.

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base45Error {
    #[error("character {character:?} at position {position} is not in the Base45 alphabet")]
    Character { position: usize, character: char },
    #[error("a Base45 text of length {0} leaves a single dangling character")]
    Length(usize),
    #[error("the group at position {0} encodes a value larger than its byte width allows")]
    Overflow(usize),
}

pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 3 / 2 + 2);
    for chunk in data.chunks(2) {
        let (n, digits) = match *chunk {
            [a, b] => (u32::from(a) * 256 + u32::from(b), 3),
            [a] => (u32::from(a), 2),
            _ => unreachable!("chunks of 1 or 2"),
        };
        let mut n = n;
        for _ in 0..digits {
            out.push(ALPHABET[(n % 45) as usize] as char);
            n /= 45;
        }
    }
    out
}

/// Value of each byte in the alphabet; 0xff for bytes outside it.
const VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 45 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn value(position: usize, c: u8) -> Result<u32, Base45Error> {
    match VALUES[c as usize] {
        0xff => Err(Base45Error::Character { position, character: c as char }),
        v => Ok(u32::from(v)),
    }
}

pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let bytes = text.as_bytes();
    if bytes.len() % 3 == 1 {
        return Err(Base45Error::Length(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() * 2 / 3);
    for (i, group) in bytes.chunks(3).enumerate() {
        let pos = i * 3;
        let mut n = 0u32;
        let mut scale = 1u32;
        for (j, &c) in group.iter().enumerate() {
            n += value(pos + j, c)? * scale;
            scale *= 45;
        }
        if group.len() == 3 {
            if n > 0xffff {
                return Err(Base45Error::Overflow(pos));
            }
            out.extend_from_slice(&[(n >> 8) as u8, n as u8]);
        } else {
            if n > 0xff {
                return Err(Base45Error::Overflow(pos));
            }
            out.push(n as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn round_trips_every_byte_pair() {
        for a in 0..=255u8 {
            let data = [a, 255 - a, a / 3];
            assert_eq!(decode(&encode(&data)).unwrap(), data);
        }
    }

    #[test]
    fn refuses_bad_text_with_its_position() {
        assert_eq!(decode("GGW"), Err(Base45Error::Overflow(0)));
        assert_eq!(decode("BB8a"), Err(Base45Error::Length(4)));
        assert_eq!(decode("BB8ab1"), Err(Base45Error::Character { position: 3, character: 'a' }));
    }
}
