//! Packed JSON: a JSON document in a compact binary form, written straight from a serde value
//! (no JSON text on the way) and turned back into exactly the text `serde_json::to_string`
//! writes for that value. SQLite keeps decision records this way (issue 4).
//!
//! Why: recoloring a district stores a million records. As JSON text a record was ~900 bytes,
//! two thirds of them field names, times and the 64-digit rule-set version, and writing those
//! pages (to the WAL, then into the file) was most of the writer's time; formatting the text was
//! a tenth of all the CPU time (`docs/benchmarks.md`, "Recolor"). Packed, the same record is
//! ~290 bytes (913 as text):
//! - strings from a fixed table of field names and values ([`KNOWN`]) are one byte;
//! - a string that is a UTC time in the exact form `rfc3339.rs` and chrono write
//!   (`2026-12-06T21:55:33.036Z`) is its seconds and fraction as numbers;
//! - a string of 64 lowercase hex digits (a SHA-256) is its 32 bytes;
//! - numbers are variable-length integers, or the bits of the float;
//! - arrays and objects end with a marker, so no length is needed up front.
//!
//! Every rule is exact both ways: a string that only looks like a time (a fraction of other
//! length, `24:00:00`, 31 February) stays a string. The format is fixed once written: [`KNOWN`]
//! only ever grows at its end, and a new encoding gets a new tag. Pure: no I/O.

use std::fmt;

use serde::ser::{self, Serialize};

/// First byte of a packed document: never the first byte of UTF-8 text, so a column holding
/// either is told apart by its first byte as well as by its type.
const FORMAT: u8 = 0xB1;

// Tags, one byte before each value.
const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
/// A non-negative integer, then its varint.
const UINT: u8 = 3;
/// A negative integer `n`, then the varint of `-1 - n`.
const NINT: u8 = 4;
/// An `f64`, then its 8 bytes (little-endian).
const F64: u8 = 5;
/// An `f32` (serde_json writes it with its own shortest digits), then its 4 bytes.
const F32: u8 = 6;
/// A string, then the varint of its length and its UTF-8 bytes.
const STR: u8 = 7;
/// A string of [`KNOWN`], then its index (one byte).
const KNOWN_STR: u8 = 8;
/// A time string, then the zigzag varint of its Unix seconds and the varint of
/// `fraction << 2 | digits` (digits 0: none, 1: three, 2: six, 3: nine).
const TIME: u8 = 9;
/// 64 lowercase hex digits, then their 32 bytes.
const HEX64: u8 = 10;
/// An array: its values, then [`END`].
const ARRAY: u8 = 11;
/// An object: key and value pairs (keys are strings, of any string tag), then [`END`].
const OBJECT: u8 = 12;
const END: u8 = 13;
/// A number too wide for 64 bits (`i128`, `u128`), then its decimal text as a [`STR`] would be.
const WIDE: u8 = 14;

/// Field names and values of decision records, one byte each when packed. Append only: a
/// stored record names these by position.
const KNOWN: &[&str] = &[
    // Decision, Reason, ToGreen.
    "color",
    "since",
    "evaluated_at",
    "reasons",
    "rule_set_version",
    "next_review_at",
    "to_green",
    "rule_id",
    "decisive",
    "until",
    "text_zh",
    "text_en",
    "evidence",
    "zh",
    "en",
    "at",
    // Evidence.
    "kind",
    "record_id",
    "region",
    "region_name",
    "start",
    "end",
    "counted_minutes",
    "level",
    "risk_region",
    "risk_record_id",
    "contact_kind",
    "case_id",
    "source",
    "status",
    "day",
    "declared_at",
    "temperature",
    "symptoms",
    "suspected_contact",
    "result",
    "sampled_at",
    "known_at",
    "last_declared_day",
    "registered_at",
    "missed_days",
    "quarantine_kind",
    "from",
    "legal_basis",
    "reason",
    "approved_by",
    "doses",
    // Evidence kinds.
    "stay",
    "contact",
    "case",
    "declaration",
    "test",
    "missed_declarations",
    "quarantine",
    "override",
    "vaccination",
    // Colors and risk levels.
    "green",
    "yellow",
    "red",
    "low",
    "medium",
    "high",
    // Contact kinds, case statuses, test results, quarantine kinds.
    "close",
    "secondary",
    "companion",
    "suspected",
    "confirmed",
    "asymptomatic",
    "recovered",
    "excluded",
    "negative",
    "positive",
    "pending",
    "invalid",
    "centralized",
    "home",
    // Symptoms.
    "fever",
    "cough",
    "fatigue",
    "sore_throat",
    "loss_of_smell",
    "shortness_of_breath",
    "diarrhea",
    // Rule ids of the default rule set (those not above).
    "recovered-monitoring",
    "close-contact",
    "secondary-contact",
    "high-risk-stay",
    "medium-risk-stay",
    "suspected-contact",
    "missed-declarations",
    "centralized-quarantine",
    "home-quarantine",
    "override-red",
    "override-yellow",
    "override-green",
];

/// Why a value cannot be packed, or bytes cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Whether `bytes` start as a packed document does (and so are not JSON text).
pub fn is_packed(bytes: &[u8]) -> bool {
    bytes.first() == Some(&FORMAT)
}

/// `value` packed, as serde_json would see it: the same errors (a map key that is not a
/// string or a number), the same `null` for a float that is not finite.
pub fn to_packed<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    // A recoloring's record packs to ~300 bytes: room for it without growing.
    let mut out = Vec::with_capacity(512);
    out.push(FORMAT);
    value.serialize(&mut Packer { out: &mut out })?;
    Ok(out)
}

/// The JSON text of a packed document, byte for byte what `serde_json::to_string` gave for
/// the value it was packed from.
pub fn to_json(packed: &[u8]) -> Result<String, Error> {
    let Some((&FORMAT, rest)) = packed.split_first() else {
        return Err(Error("not a packed document".into()));
    };
    let mut reader = Reader { bytes: rest, out: Vec::with_capacity(packed.len() * 4) };
    let tag = reader.byte()?;
    reader.value(tag)?;
    if !reader.bytes.is_empty() {
        return Err(Error(format!("{} bytes after the document", reader.bytes.len())));
    }
    String::from_utf8(reader.out).map_err(|_| Error("not UTF-8".into()))
}

// ---------------------------------------------------------------------------------------------
// Writing.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The index of `s` in [`KNOWN`]: by length first, as most strings are of no known length.
fn known_index(s: &str) -> Option<u8> {
    use std::sync::OnceLock;
    static BY_LEN: OnceLock<Vec<Vec<(&'static str, u8)>>> = OnceLock::new();
    let by_len = BY_LEN.get_or_init(|| {
        let mut by_len = vec![Vec::new(); KNOWN.iter().map(|k| k.len()).max().unwrap_or(0) + 1];
        for (i, k) in KNOWN.iter().enumerate() {
            by_len[k.len()].push((*k, i as u8));
        }
        by_len
    });
    by_len.get(s.len())?.iter().find(|(k, _)| *k == s).map(|(_, i)| *i)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    if let Some(i) = known_index(s) {
        out.extend_from_slice(&[KNOWN_STR, i]);
    } else if let Some((secs, fraction)) = time_of(s.as_bytes()) {
        out.push(TIME);
        put_varint(out, ((secs << 1) ^ (secs >> 63)) as u64);
        put_varint(out, fraction);
    } else if let Some(bytes) = hex64_of(s.as_bytes()) {
        out.push(HEX64);
        out.extend_from_slice(&bytes);
    } else {
        out.push(STR);
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z` with a real date and time (no second 60)
/// and the fraction as short as exact (what chrono's `AutoSi` writes): Unix seconds, and
/// `fraction << 2 | digits code`. Anything else is not a time here.
fn time_of(s: &[u8]) -> Option<(i64, u64)> {
    if !(20..=30).contains(&s.len()) || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' {
        return None;
    }
    if s[16] != b':' || s[s.len() - 1] != b'Z' {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u64> {
        s[from..to].iter().try_fold(0u64, |n, &c| c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0')))
    };
    let (year, month, day) = (digits(0, 4)? as i64, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let (fraction, code) = match s.len() {
        20 => (0, 0),
        24 | 27 | 30 if s[19] == b'.' => {
            let f = digits(20, s.len() - 1)?;
            let code = (s.len() as u64 - 21) / 3;
            // Shortest exact only: ".000" would have been written as none, and six or nine
            // digits ending in "000" as three fewer.
            let shorter = if code == 1 { f == 0 } else { f % 1000 == 0 };
            if shorter {
                return None;
            }
            (f, code)
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    Some((secs, (fraction << 2) | code))
}

fn days_in_month(year: i64, month: u64) -> u64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn hex64_of(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// The serializer: serde's data model mapped onto JSON as serde_json maps it.
struct Packer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Packer<'a> {
    fn int(&mut self, v: i64) {
        if v >= 0 {
            self.out.push(UINT);
            put_varint(self.out, v as u64);
        } else {
            self.out.push(NINT);
            put_varint(self.out, (-1 - v) as u64);
        }
    }

    fn wide(&mut self, text: String) {
        self.out.push(WIDE);
        put_varint(self.out, text.len() as u64);
        self.out.extend_from_slice(text.as_bytes());
    }

    /// `{"variant":` of an enum variant with content; the caller writes the content and then
    /// the object's [`END`].
    fn variant_key(&mut self, variant: &str) {
        self.out.push(OBJECT);
        put_str(self.out, variant);
    }

    /// Starts an array or object (`tag`), inside `{"variant": …}` for an enum variant's.
    fn open<'p>(&'p mut self, variant: Option<&str>, tag: u8) -> Compound<'p, 'a> {
        if let Some(variant) = variant {
            self.variant_key(variant);
        }
        self.out.push(tag);
        Compound { packer: self, close: 1 + usize::from(variant.is_some()) }
    }
}

/// A narrow integer, as its 64-bit kind.
macro_rules! widened {
    ($($method:ident: $type:ty => $wide:ident),*) => {$(
        fn $method(self, v: $type) -> Result<(), Error> {
            self.$wide(v.into())
        }
    )*};
}

impl<'p, 'a> ser::Serializer for &'p mut Packer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'p, 'a>;
    type SerializeTuple = Compound<'p, 'a>;
    type SerializeTupleStruct = Compound<'p, 'a>;
    type SerializeTupleVariant = Compound<'p, 'a>;
    type SerializeMap = Compound<'p, 'a>;
    type SerializeStruct = Compound<'p, 'a>;
    type SerializeStructVariant = Compound<'p, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }
    widened!(
        serialize_i8: i8 => serialize_i64,
        serialize_i16: i16 => serialize_i64,
        serialize_i32: i32 => serialize_i64,
        serialize_u8: u8 => serialize_u64,
        serialize_u16: u16 => serialize_u64,
        serialize_u32: u32 => serialize_u64
    );
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => self.wide(v.to_string()),
        }
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.out.push(UINT);
        put_varint(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(v) => self.serialize_u64(v),
            Err(_) => {
                self.wide(v.to_string());
                Ok(())
            }
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.out.push(F32);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.out.push(F64);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        put_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        // serde_json writes bytes as an array of numbers.
        self.out.push(ARRAY);
        for b in v {
            self.out.push(UINT);
            put_varint(self.out, u64::from(*b));
        }
        self.out.push(END);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(NULL);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push(NULL);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant_key(variant);
        value.serialize(&mut *self)?;
        self.out.push(END);
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'p, 'a>, Error> {
        Ok(self.open(None, ARRAY))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'p, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'p, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'p, 'a>, Error> {
        Ok(self.open(Some(variant), ARRAY))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'p, 'a>, Error> {
        Ok(self.open(None, OBJECT))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'p, 'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'p, 'a>, Error> {
        Ok(self.open(Some(variant), OBJECT))
    }
}

/// An array or object being written; `close` is how many [`END`]s finish it (two for an enum
/// variant's content inside its `{"variant": …}`).
struct Compound<'p, 'a> {
    packer: &'p mut Packer<'a>,
    close: usize,
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.packer)
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        key.serialize(KeyPacker { out: self.packer.out })
    }

    fn end(self) -> Result<(), Error> {
        for _ in 0..self.close {
            self.packer.out.push(END);
        }
        Ok(())
    }
}

/// The serde traits of arrays: each element or field is a value.
macro_rules! array_like {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                Compound::end(self)
            }
        }
    )*};
}

array_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

/// The serde traits of structs: each field is a key and a value.
macro_rules! object_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
                put_str(self.packer.out, key);
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                Compound::end(self)
            }
        }
    )*};
}

object_like!(SerializeStruct, SerializeStructVariant);

/// A map key, which JSON wants as a string: serde_json takes strings, chars, integers, bools
/// and floats (as their text), unit variants and newtype structs, and refuses the rest.
struct KeyPacker<'a> {
    out: &'a mut Vec<u8>,
}

/// An integer key: its decimal text, as serde_json writes it.
macro_rules! number_keys {
    ($($method:ident: $type:ty),*) => {$(
        fn $method(self, v: $type) -> Result<(), Error> {
            self.serialize_str(&v.to_string())
        }
    )*};
}

fn key_must_be_a_string() -> Error {
    Error("key must be a string".into())
}

impl ser::Serializer for KeyPacker<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        put_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.serialize_str(if v { "true" } else { "false" })
    }
    number_keys!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128
    );
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // serde_json's own text of the float, quoted; refused when not finite, as there.
        if !v.is_finite() {
            return Err(Error("float key must be finite (got NaN or +/-inf)".into()));
        }
        self.serialize_str(&serde_json::to_string(&v).map_err(|e| Error(e.to_string()))?)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(Error("float key must be finite (got NaN or +/-inf)".into()));
        }
        self.serialize_str(&serde_json::to_string(&v).map_err(|e| Error(e.to_string()))?)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Reading back as JSON text.

struct Reader<'a> {
    bytes: &'a [u8],
    out: Vec<u8>,
}

fn truncated() -> Error {
    Error("packed document ends early".into())
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self.bytes.split_first().ok_or_else(truncated)?;
        self.bytes = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.bytes.len() < n {
            return Err(truncated());
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error("varint longer than 64 bits".into()))
    }

    /// serde_json's text of a number or string (its escaping, its float digits).
    fn json<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        serde_json::to_writer(&mut self.out, v).map_err(|e| Error(e.to_string()))
    }

    /// A value whose tag has been read.
    fn value(&mut self, tag: u8) -> Result<(), Error> {
        match tag {
            NULL => self.out.extend_from_slice(b"null"),
            FALSE => self.out.extend_from_slice(b"false"),
            TRUE => self.out.extend_from_slice(b"true"),
            UINT => {
                let v = self.varint()?;
                self.json(&v)?;
            }
            NINT => {
                let v = i64::try_from(-1 - i128::from(self.varint()?))
                    .map_err(|_| Error("a negative number below i64".into()))?;
                self.json(&v)?;
            }
            F64 => {
                let v = f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
                self.json(&v)?;
            }
            F32 => {
                let v = f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
                self.json(&v)?;
            }
            WIDE => {
                let len = self.varint()? as usize;
                let text = self.take(len)?;
                if text.is_empty()
                    || !text.iter().enumerate().all(|(i, c)| c.is_ascii_digit() || (i == 0 && *c == b'-'))
                {
                    return Err(Error("a wide number that is not a number".into()));
                }
                self.out.extend_from_slice(text);
            }
            ARRAY => self.items(b'[', b']', |reader, tag| reader.value(tag))?,
            OBJECT => self.items(b'{', b'}', |reader, tag| {
                reader.string(tag)?;
                reader.out.push(b':');
                let tag = reader.byte()?;
                reader.value(tag)
            })?,
            _ => self.string(tag)?,
        }
        Ok(())
    }

    /// The items of an array or object up to its [`END`], between `open` and `close` and
    /// separated by commas; `item` reads one, its first tag read.
    fn items(&mut self, open: u8, close: u8, item: impl Fn(&mut Self, u8) -> Result<(), Error>) -> Result<(), Error> {
        self.out.push(open);
        let mut first = true;
        loop {
            let tag = self.byte()?;
            if tag == END {
                break;
            }
            if !std::mem::take(&mut first) {
                self.out.push(b',');
            }
            item(self, tag)?;
        }
        self.out.push(close);
        Ok(())
    }

    /// A string of any of the string tags, quoted and escaped.
    fn string(&mut self, tag: u8) -> Result<(), Error> {
        match tag {
            STR => {
                let len = self.varint()? as usize;
                let text = std::str::from_utf8(self.take(len)?).map_err(|_| Error("a string not in UTF-8".into()))?;
                self.json(text)?;
            }
            KNOWN_STR => {
                let i = self.byte()? as usize;
                let text = KNOWN.get(i).ok_or_else(|| Error(format!("no known string {i}")))?;
                self.json(*text)?;
            }
            TIME => {
                let zigzag = self.varint()?;
                let secs = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
                let fraction = self.varint()?;
                self.time(secs, fraction)?;
            }
            HEX64 => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let bytes: [u8; 32] = self.take(32)?.try_into().expect("32 bytes");
                self.out.push(b'"');
                for b in bytes {
                    self.out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
                }
                self.out.push(b'"');
            }
            other => return Err(Error(format!("unknown tag {other}"))),
        }
        Ok(())
    }

    fn time(&mut self, secs: i64, fraction: u64) -> Result<(), Error> {
        let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u64);
        let (year, month, day) = civil_from_days(days);
        let (code, value) = (fraction & 3, fraction >> 2);
        let width = code as usize * 3;
        if !(0..=9999).contains(&year) || (width > 0 && value >= 10u64.pow(width as u32)) {
            return Err(Error("a packed time out of range".into()));
        }
        let mut text =
            format!("\"{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", of_day / 3600, of_day / 60 % 60, of_day % 60);
        if width > 0 {
            text.push_str(&format!(".{value:0width$}"));
        }
        text.push_str("Z\"");
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use serde_json::json;

    use super::*;

    /// Packs `value` and checks that it reads back as serde_json's own text of it.
    fn round_trip<T: Serialize>(value: &T) -> usize {
        let packed = to_packed(value).expect("packs");
        let text = to_json(&packed).expect("reads back");
        assert_eq!(text, serde_json::to_string(value).expect("serde_json writes it"), "packed {packed:?}");
        packed.len()
    }

    #[test]
    fn json_values_come_back_as_serde_json_writes_them() {
        for v in [
            json!(null),
            json!(true),
            json!([false, 0, 1, -1, 127, 128, -129, u64::MAX, i64::MIN, i64::MAX, 1.5, -0.0, 1e300, 2.5e-8]),
            json!({"a": {"b": [], "c": {}}, "": "", "quote\"and\\slash/": "line\nfeed\ttab\u{1}\u{7f}é中文😀"}),
            json!({"color": "red", "since": null, "reasons": [{"rule_id": "high-risk-stay", "evidence": []}]}),
        ] {
            round_trip(&v);
        }
    }

    #[test]
    fn the_serde_data_model_maps_as_serde_json_maps_it() {
        #[derive(Serialize)]
        enum E {
            Unit,
            Newtype(u8),
            Tuple(i16, String),
            Struct { a: Option<f32>, b: () },
        }
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Tagged {
            One {
                x: i32,
            },
            Two {
                #[serde(skip_serializing_if = "Option::is_none")]
                y: Option<u32>,
            },
        }
        #[derive(Serialize)]
        struct Unit;
        #[derive(Serialize)]
        struct Newtype(&'static str);
        #[derive(Serialize)]
        struct All {
            e: Vec<E>,
            t: Vec<Tagged>,
            unit: Unit,
            newtype: Newtype,
            bytes: serde_bytes_like::Bytes,
            chars: (char, char),
            wide: (i128, u128, i128),
            floats: (f32, f64, f64, f32),
            keys: BTreeMap<i32, bool>,
            bool_keys: BTreeMap<bool, u8>,
            char_keys: BTreeMap<char, u8>,
        }
        let all = All {
            e: vec![E::Unit, E::Newtype(7), E::Tuple(-3, "x".into()), E::Struct { a: Some(0.1), b: () }],
            t: vec![Tagged::One { x: -1 }, Tagged::Two { y: None }, Tagged::Two { y: Some(9) }],
            unit: Unit,
            newtype: Newtype("n"),
            bytes: serde_bytes_like::Bytes(vec![0, 255, 16]),
            chars: ('a', '中'),
            wide: (i128::MIN, u128::MAX, 5),
            floats: (f32::MAX, f64::NAN, f64::INFINITY, 2.75),
            keys: [(-5, true), (12, false)].into(),
            bool_keys: [(true, 1)].into(),
            char_keys: [('k', 2)].into(),
        };
        round_trip(&all);
    }

    /// `serialize_bytes` without a dependency: what `serde_bytes` does.
    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn keys_json_cannot_take_are_refused_as_serde_json_refuses_them() {
        let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(serde_json::to_string(&map).is_err());
        assert_eq!(to_packed(&map).unwrap_err().to_string(), "key must be a string");
    }

    #[test]
    fn times_in_their_exact_form_pack_and_others_stay_strings() {
        use chrono::{DateTime, TimeZone, Utc};
        // Every time the engine writes goes through core's writer: whole seconds, milli-,
        // micro- and nanoseconds, across the years and leap days.
        #[derive(Serialize)]
        struct T(#[serde(serialize_with = "healthcode_core::rfc3339::serialize")] DateTime<Utc>);
        let mut n = 0;
        // From before 1970 to 2100, in steps that land on every time of day and leap days.
        for secs in (-100_000_000i64..4_110_000_000).step_by(86_413 * 7 + 1) {
            for nanos in [0, 123_000_000, 456_789_000, 1, 999_999_999] {
                let t = Utc.timestamp_opt(secs, nanos).single().expect("a time");
                let len = round_trip(&T(t));
                assert!(len <= 13, "{t} packs to {len} bytes");
                n += 1;
            }
        }
        assert!(n > 3000, "{n} times");
        for at in [
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap(),
        ] {
            round_trip(&json!(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        }
        // Looks like a time, is not one in the exact form: kept as the string it is.
        for s in [
            "2026-12-06T21:55:33.000Z",
            "2026-12-06T21:55:33.100000Z",
            "2026-12-06T21:55:33.1Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-12-06T24:00:00Z",
            "2026-12-06T23:59:60Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-12-06 21:55:33Z",
            "2026-12-06T21:55:33+00:00",
            "+12026-12-06T21:55:33Z",
            "2026-1a-06T21:55:33Z",
        ] {
            let packed = to_packed(s).unwrap();
            assert_eq!(packed[1], STR, "{s} stays a string");
            round_trip(&s);
        }
    }

    #[test]
    fn known_strings_and_hashes_pack_small() {
        assert_eq!(to_packed("high-risk-stay").unwrap().len(), 3);
        let hash = "44fcf30e7488d36d2cbb01567a4700fa7cbbb8215b092001ff68f373e2e94b43";
        assert_eq!(to_packed(hash).unwrap().len(), 34);
        round_trip(&hash);
        // Upper case is not how a hash is written here: kept as it is.
        round_trip(&hash.to_uppercase());
        assert_eq!(to_packed(&hash.to_uppercase()).unwrap()[1], STR);
        assert!(KNOWN.len() <= 256);
        for k in KNOWN {
            round_trip(k);
        }
    }

    #[test]
    fn damaged_documents_are_refused_not_misread() {
        let good = to_packed(&json!({"color": "red", "n": [1, 2.5, "x"]})).unwrap();
        assert!(is_packed(&good) && !is_packed(b"{\"color\":\"red\"}"));
        for cut in 0..good.len() {
            assert!(to_json(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.clone();
        extra.push(NULL);
        assert!(to_json(&extra).is_err());
        assert!(to_json(&[FORMAT, 99]).is_err());
        assert!(to_json(&[FORMAT, KNOWN_STR, 255]).is_err());
        assert!(to_json(&[FORMAT, OBJECT, UINT, 1, NULL, END]).is_err(), "a number as a key");
        assert!(to_json(&[FORMAT, STR, 2, 0xC3, 0x28]).is_err(), "not UTF-8");
        assert!(to_json(&[FORMAT, UINT, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
    }
    #[test]
    fn a_recoloring_record_packs_to_under_a_third_of_its_text() {
        // A record as a recoloring stored it (a high-risk stay, missed declarations): 913
        // bytes of JSON, 290 packed.
        let text = r#"{"color":"red","since":"2026-12-06T21:55:33.036Z","evaluated_at":"2026-12-07T23:55:33.426527Z","reasons":[{"rule_id":"high-risk-stay","color":"red","decisive":true,"since":"2026-12-06T21:55:33.036Z","until":"2026-12-20T21:55:33.036Z","evidence":[{"kind":"stay","record_id":"cmcc-1939","region":"420103","region_name":"湖北省 武汉市 江汉区","start":"2026-12-06T17:55:33.036518Z","end":"2026-12-06T21:55:33.036518Z","counted_minutes":240,"level":"high","risk_region":"420103","risk_record_id":"nhc-bench"}]},{"rule_id":"missed-declarations","color":"yellow","decisive":false,"since":"2026-09-12T16:00:00Z","until":null,"evidence":[{"kind":"missed_declarations","last_declared_day":null,"registered_at":"2026-09-08T23:55:33.036518Z","missed_days":89}]}],"rule_set_version":"44fcf30e7488d36d2cbb01567a4700fa7cbbb8215b092001ff68f373e2e94b43","next_review_at":"2026-12-20T21:55:33.036Z","to_green":{"at":null}}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        // (A `Value` sorts its keys: the same length, another order.)
        assert_eq!(serde_json::to_string(&value).unwrap().len(), text.len());
        let len = round_trip(&value);
        assert!(len * 3 < text.len(), "{len} bytes packed, {} as text", text.len());
    }
}
