//! A batch of telecom stays prepared for a bulk write, on the caller's thread.
//!
//! An import hands the store a million stays at a time, and the SQLite store writes each of
//! its B-trees in that tree's own key order (`docs/benchmarks.md`, "Import"). Packing the
//! rows and sorting them by each key took 0.2–0.4 µs a row on the writer's thread, between
//! two writes, where nothing else could run. [`StayBatch::new`] does it where the rows are
//! parsed instead, so the import's parser prepares the next batch while the store writes
//! the last one, and the rows' own allocations are freed there too.

use std::ops::Range;

use chrono::{DateTime, Utc};
use healthcode_core::RegionCode;

use crate::StayRecord;

/// Stays packed for a bulk write: their texts and blind indexes in two buffers (not two
/// allocations per row), in the order of the region index `(region, end)`, with the places
/// of the rows in record-id order and in phone-key order computed once.
pub struct StayBatch {
    text: String,
    phones: Vec<u8>,
    rows: Vec<PackedStay>,
    /// The record ids again, in record-id order, so a writer claiming them in that order
    /// reads one buffer front to back (read through `rows`, each was a cache miss: a
    /// thirteenth of the writer's time).
    record_text: String,
    record_order: Vec<Keyed>,
    /// The phone keys (first 8 bytes of the blind indexes) in key order, likewise.
    phone_keys: Vec<u8>,
    phone_order: Vec<Keyed>,
}

/// A row's place, and where its key is in the buffer of its order.
struct Keyed {
    place: u32,
    key: Range<usize>,
}

struct PackedStay {
    record_id: Range<usize>,
    phone: Range<usize>,
    /// Its six digits, in `text`.
    region_text: Range<usize>,
    region: RegionCode,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Its place in the rows as given: of a record id repeated in a batch, the first is kept.
    arrival: u32,
}

/// The first 8 bytes of a phone's blind index, the key the SQLite store files stays under,
/// as a big-endian number (zero-padded if shorter), which orders as the bytes do.
fn phone_number(phone: &[u8]) -> u64 {
    let mut number = [0u8; 8];
    let n = phone.len().min(8);
    number[..n].copy_from_slice(&phone[..n]);
    u64::from_be_bytes(number)
}

impl StayBatch {
    /// Packs and sorts `rows`, then frees them.
    pub fn new(rows: Vec<StayRecord>) -> Self {
        Self::from_slice(&rows)
    }

    /// Packs and sorts a copy of `rows`.
    pub fn from_slice(stays: &[StayRecord]) -> Self {
        // `RegionCode` orders as its six digits do, so as the region index's text.
        let mut order: Vec<(RegionCode, i64, u32)> =
            stays.iter().enumerate().map(|(i, s)| (s.region, s.end.timestamp_micros(), i as u32)).collect();
        order.sort_unstable();
        let mut text = String::with_capacity(stays.len() * 24);
        let mut phones = Vec::with_capacity(stays.len() * 32);
        let mut rows = Vec::with_capacity(stays.len());
        for (_, _, arrival) in order {
            let s = &stays[arrival as usize];
            let record_id = text.len()..text.len() + s.record_id.len();
            text.push_str(&s.record_id);
            let region_text = text.len()..text.len() + 6;
            text.push_str(s.region.digits().as_str());
            debug_assert_eq!(text.len(), region_text.end);
            let phone = phones.len()..phones.len() + s.phone_index.len();
            phones.extend_from_slice(&s.phone_index);
            rows.push(PackedStay {
                record_id,
                phone,
                region_text,
                region: s.region,
                start: s.start,
                end: s.end,
                arrival,
            });
        }
        let mut batch = Self {
            text,
            phones,
            rows,
            record_text: String::new(),
            record_order: Vec::new(),
            phone_keys: Vec::new(),
            phone_order: Vec::new(),
        };
        let by_record = batch.sort_by_record();
        let mut record_text = String::with_capacity(batch.text.len());
        let mut record_order = Vec::with_capacity(batch.len());
        for place in by_record {
            let start = record_text.len();
            record_text.push_str(batch.record_id(place as usize));
            record_order.push(Keyed { place, key: start..record_text.len() });
        }
        let mut keys: Vec<(u64, u32)> =
            (0..batch.len()).map(|place| (phone_number(batch.phone(place)), place as u32)).collect();
        keys.sort_unstable();
        let mut phone_keys = Vec::with_capacity(keys.len() * 8);
        let mut phone_order = Vec::with_capacity(keys.len());
        for (_, place) in keys {
            let start = phone_keys.len();
            let phone = batch.phone(place as usize);
            phone_keys.extend_from_slice(&phone[..phone.len().min(8)]);
            phone_order.push(Keyed { place, key: start..phone_keys.len() });
        }
        (batch.record_text, batch.record_order, batch.phone_keys, batch.phone_order) =
            (record_text, record_order, phone_keys, phone_order);
        batch
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The record id of the row at `place` (places are in the region index's order).
    #[inline]
    pub fn record_id(&self, place: usize) -> &str {
        &self.text[self.rows[place].record_id.clone()]
    }

    /// The phone's blind index of the row at `place`.
    #[inline]
    pub fn phone(&self, place: usize) -> &[u8] {
        &self.phones[self.rows[place].phone.clone()]
    }

    /// The region's six digits of the row at `place`.
    #[inline]
    pub fn region_digits(&self, place: usize) -> &str {
        &self.text[self.rows[place].region_text.clone()]
    }

    #[inline]
    pub fn start(&self, place: usize) -> DateTime<Utc> {
        self.rows[place].start
    }

    #[inline]
    pub fn end(&self, place: usize) -> DateTime<Utc> {
        self.rows[place].end
    }

    /// The rows' places with their record ids, in record-id order; a record id repeated in
    /// the batch in the order the rows were given (so the first given comes first).
    #[inline]
    pub fn record_order(&self) -> impl Iterator<Item = (usize, &str)> {
        self.record_order.iter().map(|k| (k.place as usize, &self.record_text[k.key.clone()]))
    }

    /// The rows' places with the first 8 bytes of their phones' blind indexes (fewer if the
    /// index is shorter), in the order of those bytes, rows of one key in place order.
    #[inline]
    pub fn phone_order(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.phone_order.iter().map(|k| (k.place as usize, &self.phone_keys[k.key.clone()]))
    }

    /// The rows again, in place order (for a store that takes them as records).
    pub fn to_records(&self) -> Vec<StayRecord> {
        (0..self.len())
            .map(|place| StayRecord {
                record_id: self.record_id(place).to_string(),
                phone_index: self.phone(place).to_vec(),
                region: self.rows[place].region,
                start: self.start(place),
                end: self.end(place),
            })
            .collect()
    }

    fn sort_by_record(&self) -> Vec<u32> {
        // The first 16 bytes as a number settle most comparisons without following pointers.
        let prefix = |place: usize| {
            let mut b = [0u8; 16];
            let id = self.record_id(place).as_bytes();
            let n = id.len().min(16);
            b[..n].copy_from_slice(&id[..n]);
            u128::from_be_bytes(b)
        };
        let mut keys: Vec<(u128, u32)> = (0..self.len()).map(|p| (prefix(p), p as u32)).collect();
        keys.sort_unstable_by(|a, b| {
            let (pa, pb) = (a.1 as usize, b.1 as usize);
            a.0.cmp(&b.0)
                .then_with(|| self.record_id(pa).cmp(self.record_id(pb)))
                .then(self.rows[pa].arrival.cmp(&self.rows[pb].arrival))
        });
        keys.into_iter().map(|k| k.1).collect()
    }
}

impl From<Vec<StayRecord>> for StayBatch {
    fn from(rows: Vec<StayRecord>) -> Self {
        Self::new(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stay(id: &str, phone: &[u8], region: &str, end: i64) -> StayRecord {
        StayRecord {
            record_id: id.into(),
            phone_index: phone.to_vec(),
            region: RegionCode::parse(region).unwrap(),
            start: DateTime::from_timestamp(end - 10, 7).unwrap(),
            end: DateTime::from_timestamp(end, 0).unwrap(),
        }
    }

    #[test]
    fn rows_in_region_order_with_both_key_orders() {
        let rows = vec![
            stay("b", &[9; 32], "420106", 100),
            stay("a-long-record-id-beyond-16", &[1; 32], "420102", 300),
            stay("a-long-record-id-beyond-16-x", &[5; 32], "420102", 200),
            stay("b", &[2; 32], "420102", 300),
            stay("c", &[1, 0, 0, 0, 0, 0, 0, 0, 9], "420106", 50),
        ];
        let batch = StayBatch::new(rows.clone());
        // Region, then end, then arrival.
        let ids: Vec<_> = (0..batch.len()).map(|p| batch.record_id(p)).collect();
        assert_eq!(ids, ["a-long-record-id-beyond-16-x", "a-long-record-id-beyond-16", "b", "c", "b"]);
        assert_eq!(batch.region_digits(0), "420102");
        assert_eq!(batch.region_digits(4), "420106");
        // Record ids sorted as text past the 16-byte prefix; of the two "b", the first given first.
        let by_record: Vec<_> = batch
            .record_order()
            .map(|(p, id)| {
                assert_eq!(id, batch.record_id(p));
                (id, batch.phone(p)[0])
            })
            .collect();
        assert_eq!(
            by_record,
            [("a-long-record-id-beyond-16", 1), ("a-long-record-id-beyond-16-x", 5), ("b", 9), ("b", 2), ("c", 1)]
        );
        // Phone keys as bytes; the two keys starting [1, 0, ...] and [1, 1, ...] in byte order,
        // places ascending within one key.
        let by_phone: Vec<_> = batch
            .phone_order()
            .map(|(p, key)| {
                assert_eq!(key, &batch.phone(p)[..8]);
                key[..2].to_vec()
            })
            .collect();
        assert_eq!(by_phone, [vec![1, 0], vec![1, 1], vec![2, 2], vec![5, 5], vec![9, 9]]);
        // Nothing is lost on the way back, nanoseconds included.
        let mut back = batch.to_records();
        let mut given = rows;
        back.sort_by(|a, b| (&a.record_id, &a.phone_index).cmp(&(&b.record_id, &b.phone_index)));
        given.sort_by(|a, b| (&a.record_id, &a.phone_index).cmp(&(&b.record_id, &b.phone_index)));
        assert_eq!(back, given);
    }
}
