//! Telecom stays (R5, R11) on SQLite: the bulk import of millions of rows, a person's stays,
//! and who stayed in a region. The layout is migration 0009's (`docs/benchmarks.md`).

use std::ops::Range;

use chrono::{DateTime, Utc};
use healthcode_core::{RegionCode, SubjectId};
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{CACHE_SIZE_KIB, SqliteStore, bulk, db_err, micros, time};

/// The key of `telecom_stays_by_phone`: the first 8 bytes of a phone's blind index.
pub(crate) fn phone_key(phone_index: &[u8]) -> &[u8] {
    &phone_index[..phone_index.len().min(8)]
}

pub(crate) fn stay_from_row(r: &SqliteRow) -> StoreResult<StayRecord> {
    Ok(StayRecord {
        record_id: r.try_get("record_id").map_err(db_err)?,
        phone_index: r.try_get("phone_index").map_err(db_err)?,
        region: codec::region(&r.try_get::<String, _>("region").map_err(db_err)?)?,
        start: time(r.try_get("start_at").map_err(db_err)?)?,
        end: time(r.try_get("end_at").map_err(db_err)?)?,
    })
}

/// A batch of stays packed for the writer's thread: their texts and blind indexes in two
/// buffers instead of two allocations per row (a batch is 200,000 rows; cloning them was a
/// tenth of the parser's time and freeing them as much of the writer's).
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
}

impl From<&[StayRecord]> for Packed {
    fn from(stays: &[StayRecord]) -> Self {
        let mut p = Packed {
            text: String::with_capacity(stays.len() * 24),
            phones: Vec::with_capacity(stays.len() * 32),
            rows: Vec::with_capacity(stays.len()),
        };
        for s in stays {
            let record_id = p.text.len()..p.text.len() + s.record_id.len();
            p.text.push_str(&s.record_id);
            let region = p.text.len()..p.text.len() + 6;
            p.text.push_str(s.region.digits().as_str());
            debug_assert_eq!(p.text.len(), region.end);
            let phone = p.phones.len()..p.phones.len() + s.phone_index.len();
            p.phones.extend_from_slice(&s.phone_index);
            p.rows.push(PackedStay { record_id, phone, region, start: micros(s.start), end: micros(s.end) });
        }
        p
    }
}

impl SqliteStore {
    pub(crate) async fn stays_import_impl(&self, rows: &[StayRecord]) -> StoreResult<ImportOutcome> {
        use bulk::Value;
        // Millions of rows arrive here (telecom operators): the bulk path. Stays go in as they
        // come (their id, record id and region indexes grow at the end); the phone index, keyed
        // by random blind indexes, is filled after them in key order (migration 0009).
        let batch = Packed::from(rows);
        bulk::write(&self.writer, CACHE_SIZE_KIB, move |db| {
            let stay = db.prepare(
                "INSERT INTO telecom_stays (record_id, phone_index, region, start_at, end_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (record_id) DO NOTHING",
            )?;
            let mut keys: Vec<(&[u8], i64)> = Vec::with_capacity(batch.rows.len());
            for r in &batch.rows {
                let phone = &batch.phones[r.phone.clone()];
                let inserted = stay.run(&[
                    Value::Text(&batch.text[r.record_id.clone()]),
                    Value::Blob(phone),
                    Value::Text(&batch.text[r.region.clone()]),
                    Value::Int(r.start),
                    Value::Int(r.end),
                ])?;
                if inserted == 1 {
                    keys.push((phone_key(phone), db.last_insert_rowid()));
                }
            }
            keys.sort_unstable();
            let by_phone = db.prepare("INSERT INTO telecom_stays_by_phone (phone_key, stay_id) VALUES (?1, ?2)")?;
            for (key, id) in &keys {
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
        let rows = sqlx::query(
            "SELECT s.record_id, s.phone_index, s.region, s.start_at, s.end_at FROM telecom_stays_by_phone b \
             JOIN telecom_stays s ON s.id = b.stay_id \
             WHERE b.phone_key = ?1 AND s.phone_index = ?2 AND s.end_at >= ?3 ORDER BY s.start_at, s.record_id",
        )
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
        let rows = sqlx::query(
            // The covering index (migration 0012) answers with the subject id; the unique one,
            // which the planner prefers, would read each person's row for it.
            "SELECT DISTINCT p.subject_id FROM telecom_stays s \
             JOIN persons p INDEXED BY persons_phone_subject ON p.phone_index = s.phone_index \
             WHERE s.region >= ? AND s.region < ? AND s.end_at >= ? AND s.start_at < ? ORDER BY p.subject_id",
        )
        .bind(low)
        .bind(high)
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)).collect()
    }
}
