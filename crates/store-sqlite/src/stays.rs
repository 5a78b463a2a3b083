//! Telecom stays (R5, R11) on SQLite: the bulk import of millions of rows, a person's stays,
//! and who stayed in a region. The layout is migrations 0009's and 0013's (`docs/benchmarks.md`).

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

impl SqliteStore {
    pub(crate) async fn stays_import_impl(&self, batch: StayBatch) -> StoreResult<ImportOutcome> {
        use bulk::Value;
        // Millions of rows arrive here (telecom operators): the bulk path. Each B-tree is
        // written in its own key order, so each of its pages is written once per batch
        // (migration 0013): the record ids first, in their order, each claiming the stay id
        // planned for it (a conflict is a duplicate); then the new stays in region order,
        // with those ids (the table and its region index grow in key order); then the phone
        // index, keyed by random blind indexes, in its order (migration 0009). The batch
        // comes packed and sorted in those orders (`StayBatch`), so this thread only writes.
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
            let mut new = vec![false; batch.len()];
            for (place, record_id) in batch.record_order() {
                new[place] = claim.insert(&[Value::Text(record_id), Value::Int(first_id + place as i64)])? == 1;
            }
            let stay = db.prepare(
                "INSERT INTO telecom_stays (id, record_id, phone_index, region, start_at, end_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut accepted = 0;
            for place in (0..batch.len()).filter(|&place| new[place]) {
                stay.insert(&[
                    Value::Int(first_id + place as i64),
                    Value::Text(batch.record_id(place)),
                    Value::Blob(batch.phone(place)),
                    Value::Text(batch.region_digits(place)),
                    Value::Int(micros(batch.start(place))),
                    Value::Int(micros(batch.end(place))),
                ])?;
                accepted += 1;
            }
            // Rows of one key in place order, so in stay-id order: the table's own order. (A
            // key shorter than 8 bytes, zero-padded in the sort, may land off its place: that
            // costs time, not correctness.)
            let by_phone = db.prepare("INSERT INTO telecom_stays_by_phone (phone_key, stay_id) VALUES (?1, ?2)")?;
            for (place, key) in batch.phone_order() {
                if new[place] {
                    by_phone.insert(&[Value::Blob(key), Value::Int(first_id + place as i64)])?;
                }
            }
            Ok(ImportOutcome { accepted, duplicates: batch.len() as u64 - accepted })
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
