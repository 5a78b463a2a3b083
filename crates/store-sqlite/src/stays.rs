//! Telecom stays (R5, R11) on SQLite: the bulk import of millions of rows, a person's stays,
//! and who stayed in a region. The layout is migrations 0009's and 0013's (`docs/benchmarks.md`).

use std::ops::Range;

use chrono::{DateTime, Utc};
use healthcode_core::{RegionCode, SubjectId};
use healthcode_store::codec;
use healthcode_store::*;

use super::{SqliteStore, bulk, db_err, micros, time};
use crate::bulk::Value;
use crate::columns::Columns;

/// The key of `telecom_stays_by_phone`: the first 8 bytes of a phone's blind index.
pub(crate) fn phone_key(phone_index: &[u8]) -> &[u8] {
    &phone_index[..phone_index.len().min(8)]
}

/// One phone's stays that ended since a time (`?1` phone key, `?2` blind index, `?3` since).
pub(crate) const STAYS_OF: &str = "SELECT s.record_id, s.phone_index, s.region, s.start_at, s.end_at \
     FROM telecom_stays_by_phone b JOIN telecom_stays s ON s.id = b.stay_id \
     WHERE b.phone_key = ?1 AND s.phone_index = ?2 AND s.end_at >= ?3 ORDER BY s.start_at, s.record_id";

pub(crate) fn stay_from_row(r: &impl Columns) -> StoreResult<StayRecord> {
    Ok(StayRecord {
        record_id: r.text(0)?.to_string(),
        phone_index: r.blob(1)?.to_vec(),
        region: codec::region(r.text(2)?)?,
        start: time(r.int(3)?)?,
        end: time(r.int(4)?)?,
    })
}

/// A batch of stays packed for the writer's thread: their texts and blind indexes in two
/// buffers instead of two allocations per row (a batch is a million rows; cloning them was a
/// tenth of the parser's time and freeing them as much of the writer's). Packed in the
/// region index's order, `(region, end_at)`, so the writer reads them in the order it
/// inserts them.
struct Packed {
    text: String,
    phones: Vec<u8>,
    rows: Vec<PackedStay>,
}

struct PackedStay {
    record_id: Range<usize>,
    phone: Range<usize>,
    region: Range<usize>,
    start: i64,
    end: i64,
    /// Its place in the batch as given: of a record id repeated in a batch, the first is kept.
    arrival: u32,
}

impl From<&[StayRecord]> for Packed {
    fn from(stays: &[StayRecord]) -> Self {
        // `RegionCode` orders as its six digits do, so as the region index's text.
        let mut order: Vec<(RegionCode, i64, u32)> =
            stays.iter().enumerate().map(|(i, s)| (s.region, micros(s.end), i as u32)).collect();
        order.sort_unstable();
        let mut p = Packed {
            text: String::with_capacity(stays.len() * 24),
            phones: Vec::with_capacity(stays.len() * 32),
            rows: Vec::with_capacity(stays.len()),
        };
        for (_, end, arrival) in order {
            let s = &stays[arrival as usize];
            let record_id = p.text.len()..p.text.len() + s.record_id.len();
            p.text.push_str(&s.record_id);
            let region = p.text.len()..p.text.len() + 6;
            p.text.push_str(s.region.digits().as_str());
            debug_assert_eq!(p.text.len(), region.end);
            let phone = p.phones.len()..p.phones.len() + s.phone_index.len();
            p.phones.extend_from_slice(&s.phone_index);
            p.rows.push(PackedStay { record_id, phone, region, start: micros(s.start), end, arrival });
        }
        p
    }
}

impl Packed {
    fn record_id(&self, place: usize) -> &str {
        &self.text[self.rows[place].record_id.clone()]
    }

    /// The places of the rows in record-id order, a record id repeated in the batch in
    /// arrival order.
    fn record_order(&self) -> Vec<u32> {
        // The first 16 bytes as a number settle most comparisons without following pointers.
        let prefix = |place: usize| {
            let mut b = [0u8; 16];
            let id = self.record_id(place).as_bytes();
            let n = id.len().min(16);
            b[..n].copy_from_slice(&id[..n]);
            u128::from_be_bytes(b)
        };
        let mut keys: Vec<(u128, u32)> = (0..self.rows.len()).map(|p| (prefix(p), p as u32)).collect();
        keys.sort_unstable_by(|a, b| {
            let (pa, pb) = (a.1 as usize, b.1 as usize);
            a.0.cmp(&b.0)
                .then_with(|| self.record_id(pa).cmp(self.record_id(pb)))
                .then(self.rows[pa].arrival.cmp(&self.rows[pb].arrival))
        });
        keys.into_iter().map(|k| k.1).collect()
    }
}

impl SqliteStore {
    pub(crate) async fn stays_import_impl(&self, rows: &[StayRecord]) -> StoreResult<ImportOutcome> {
        use bulk::Value;
        // Millions of rows arrive here (telecom operators): the bulk path. Each B-tree is
        // written in its own key order, so each of its pages is written once per batch
        // (migration 0013): the record ids first, in their order, each claiming the stay id
        // planned for it (a conflict is a duplicate); then the new stays in region order,
        // with those ids (the table and its region index grow in key order); then the phone
        // index, keyed by random blind indexes, in its order (migration 0009).
        let batch = Packed::from(rows);
        bulk::write(&self.writer, move |db| {
            // A row's planned id is its place in region order after the last stay, so the
            // stays go in with ascending ids; duplicates leave gaps.
            let mut first_id = 1;
            db.prepare("SELECT coalesce(max(id), 0) + 1 FROM telecom_stays")?.query_each(&[], |r| {
                first_id = r.int(0)?;
                Ok(())
            })?;
            let claim = db.prepare(
                "INSERT INTO telecom_stays_by_record (record_id, stay_id) VALUES (?1, ?2) \
                 ON CONFLICT (record_id) DO NOTHING",
            )?;
            let mut new = vec![false; batch.rows.len()];
            for place in batch.record_order() {
                let place = place as usize;
                let id = first_id + place as i64;
                new[place] = claim.run(&[Value::Text(batch.record_id(place)), Value::Int(id)])? == 1;
            }
            let stay = db.prepare(
                "INSERT INTO telecom_stays (id, record_id, phone_index, region, start_at, end_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            // Each phone key with its bytes as a number, which the sort compares (a key shorter
            // than 8 bytes, zero-padded, may land off its place: that costs time, not correctness).
            let mut keys: Vec<(u64, i64, &[u8])> = Vec::with_capacity(batch.rows.len());
            for (place, r) in batch.rows.iter().enumerate().filter(|(place, _)| new[*place]) {
                let id = first_id + place as i64;
                let phone = &batch.phones[r.phone.clone()];
                stay.run(&[
                    Value::Int(id),
                    Value::Text(&batch.text[r.record_id.clone()]),
                    Value::Blob(phone),
                    Value::Text(&batch.text[r.region.clone()]),
                    Value::Int(r.start),
                    Value::Int(r.end),
                ])?;
                let key = phone_key(phone);
                let mut number = [0u8; 8];
                number[..key.len()].copy_from_slice(key);
                keys.push((u64::from_be_bytes(number), id, key));
            }
            keys.sort_unstable_by_key(|k| (k.0, k.1));
            let by_phone = db.prepare("INSERT INTO telecom_stays_by_phone (phone_key, stay_id) VALUES (?1, ?2)")?;
            for (_, id, key) in &keys {
                by_phone.run(&[Value::Blob(key), Value::Int(*id)])?;
            }
            let accepted = keys.len() as u64;
            Ok(ImportOutcome { accepted, duplicates: batch.rows.len() as u64 - accepted })
        })
        .await
    }

    pub(crate) async fn stays_for_impl(
        &self,
        phone_index: &[u8],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<StayRecord>> {
        let rows = sqlx::query(STAYS_OF)
            .bind(phone_key(phone_index))
            .bind(phone_index)
            .bind(micros(since))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(stay_from_row).collect()
    }

    pub(crate) async fn subjects_with_stays_impl(
        &self,
        region: &RegionCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SubjectId>> {
        // Every region under `region` as a range of text, not `LIKE`: SQLite's LIKE ignores
        // case, so it cannot use the (region, end_at) index and scanned every stay.
        let low = region.prefix();
        let mut high = low.clone().into_bytes();
        if let Some(last) = high.last_mut() {
            *last += 1;
        }
        let high = String::from_utf8(high).map_err(|_| StoreError::Corrupt("region prefix".into()))?;
        let (from, to) = (micros(from), micros(to));
        // The stays in the region, read in the region index's order (a range of it, on one
        // connection), then each phone's person from the covering index `persons_phone_subject`
        // (migration 0012) by seeks in parts at once: a region turning high-risk has a million
        // stays, and a join with DISTINCT and ORDER BY through sqlx took ~8 s for them.
        let mut phones = bulk::read(&self.reader, move |db| {
            db.prepare(
                "SELECT phone_index FROM telecom_stays INDEXED BY telecom_stays_region \
                 WHERE region >= ?1 AND region < ?2 AND end_at >= ?3 AND start_at < ?4",
            )?
            .query_all(&[Value::Text(&low), Value::Text(&high), Value::Int(from), Value::Int(to)], |r| {
                Ok(r.blob(0)?.to_vec())
            })
        })
        .await?;
        phones.sort_unstable();
        phones.dedup();
        let mut subjects = crate::many::read_by_subject(&self.reader, phones, |db, part| {
            let person =
                db.prepare("SELECT subject_id FROM persons INDEXED BY persons_phone_subject WHERE phone_index = ?1")?;
            let mut out = Vec::with_capacity(part.len());
            for phone in part {
                out.extend(person.query_all(&[Value::Blob(phone)], |r| codec::subject(r.text(0)?))?);
            }
            Ok(out)
        })
        .await?;
        subjects.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        subjects.dedup();
        Ok(subjects)
    }
}
