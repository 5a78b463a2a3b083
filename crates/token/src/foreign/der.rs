//! A lenient DER reader: just enough TLV walking to pull the public key, validity and extended
//! key usage out of a Document Signer Certificate.
//!
//! Lenient on purpose: real DSCs break DER rules that strict parsers enforce (the Finnish test
//! DSCs encode `cA=FALSE` explicitly, common/CO15 has an empty EKU SEQUENCE). We only read
//! fields from certificates the operator chose to trust, and never check their signatures, so
//! accepting BER-ish encodings here costs nothing. Definite lengths only: indefinite lengths are
//! not valid in any certificate we need.

/// One TLV: its tag byte and its content.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const BOOLEAN: u8 = 0x01;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;

/// Reads consecutive TLVs from a byte slice.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV, or `None` when the data ends or is malformed.
    pub fn next(&mut self) -> Option<Tlv<'a>> {
        let data = self.rest;
        let (&tag, after_tag) = data.split_first()?;
        // High tag numbers (0x1f) never occur in the certificate fields we read.
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, after_len) = after_tag.split_first()?;
        let (len, after_len) = if first < 0x80 {
            (usize::from(first), after_len)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is indefinite length; more than 4 length bytes cannot fit our inputs.
            if n == 0 || n > 4 || after_len.len() < n {
                return None;
            }
            let len = after_len[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &after_len[n..])
        };
        if after_len.len() < len {
            return None;
        }
        self.rest = &after_len[len..];
        Some(Tlv { tag, content: &after_len[..len] })
    }

    /// The next TLV if it has `tag`, otherwise `None` (and nothing consumed).
    pub fn next_if(&mut self, tag: u8) -> Option<Tlv<'a>> {
        let saved = self.rest;
        match self.next() {
            Some(t) if t.tag == tag => Some(t),
            _ => {
                self.rest = saved;
                None
            }
        }
    }

    /// The next TLV, required to have `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        self.next().filter(|t| t.tag == tag)
    }
}

/// Dotted text of an OBJECT IDENTIFIER's content ("1.3.6.1.4.1.1847.2021.1.2").
pub fn oid_to_string(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u128> = Vec::new();
    let mut value: u128 = 0;
    let mut in_arc = false;
    for &b in content {
        // A 128-bit arc is far beyond any OID in use; refuse rather than wrap.
        if value >> 121 != 0 {
            return None;
        }
        value = (value << 7) | u128::from(b & 0x7f);
        in_arc = true;
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
            in_arc = false;
        }
    }
    if in_arc || arcs.is_empty() {
        return None;
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in &arcs[1..] {
        out.push('.');
        out.push_str(&arc.to_string());
    }
    Some(out)
}

/// Strips the leading zero bytes of a DER INTEGER's content (kept for the sign bit).
pub fn unsigned_integer(content: &[u8]) -> &[u8] {
    let first_nonzero = content.iter().position(|&b| b != 0).unwrap_or(content.len());
    &content[first_nonzero..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_tlvs_and_refuses_truncation() {
        let data = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xff];
        let mut r = Reader::new(&data);
        let seq = r.expect(SEQUENCE).unwrap();
        assert!(r.is_empty());
        let mut inner = Reader::new(seq.content);
        assert_eq!(inner.expect(INTEGER).unwrap().content, [5]);
        assert!(inner.next_if(BOOLEAN).is_none());
        assert_eq!(inner.expect(OCTET_STRING).unwrap().content, [0xff]);
        assert!(Reader::new(&[0x30, 0x05, 0x01]).next().is_none());
        assert!(Reader::new(&[0x30, 0x80, 0x00, 0x00]).next().is_none());
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).next().is_none());
        assert!(Reader::new(&[]).next().is_none());
    }

    #[test]
    fn long_lengths() {
        let mut data = vec![0x04, 0x81, 0x80];
        data.extend(std::iter::repeat_n(7u8, 0x80));
        data.extend([0x05, 0x00]);
        let mut r = Reader::new(&data);
        let t = r.next().unwrap();
        assert_eq!(t.content.len(), 0x80);
        assert_eq!(r.next().unwrap().tag, 0x05);
    }

    #[test]
    fn oids_print_in_dotted_form() {
        // 1.3.6.1.4.1.1847.2021.1.2
        let oid = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x8e, 0x37, 0x8f, 0x65, 0x01, 0x02];
        assert_eq!(oid_to_string(&oid).unwrap(), "1.3.6.1.4.1.1847.2021.1.2");
        assert_eq!(oid_to_string(&[0x55, 0x1d, 0x25]).unwrap(), "2.5.29.37");
        assert!(oid_to_string(&[0x8e]).is_none());
        assert!(oid_to_string(&[]).is_none());
        assert!(oid_to_string(&[0xff; 40]).is_none());
    }
}
