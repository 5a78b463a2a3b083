//! Set-based reads and writes on SQLite (`healthcode_store::bulk`): many people per query,
//! keys passed as one JSON array (`json_each`), reads of different tables run concurrently
//! on the read pool, writes go through the bulk path (`bulk.rs`) in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_store::bulk::MANY_CHUNK;
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;

use crate::bulk::{self, Value};
use crate::{DECLARATION_COLUMNS, SqliteStore, db_err, declaration_from_row, micros};

/// A JSON array of texts, for `json_each(?)`.
fn json_texts<'a>(items: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

/// `subjects` sorted, each once, as JSON arrays of at most `MANY_CHUNK` for `json_each(?1)`:
/// one query per array, answering in subject-id order.
pub(crate) fn subject_chunks(subjects: &[SubjectId]) -> Vec<String> {
    let mut ids: Vec<&str> = subjects.iter().map(SubjectId::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.chunks(MANY_CHUNK).map(|chunk| json_texts(chunk.iter().copied())).collect()
}

/// A JSON array of hex strings, for `unhex(value) FROM json_each(?)`.
fn json_blobs<'a>(items: impl Iterator<Item = &'a [u8]>) -> String {
    let hex: Vec<String> = items.map(|b| b.iter().map(|x| format!("{x:02x}")).collect()).collect();
    serde_json::to_string(&hex).unwrap_or_else(|_| "[]".into())
}

fn opt_text(t: &Option<String>) -> Value<'_> {
    t.as_deref().map_or(Value::Null, Value::Text)
}

/// Maps "UNIQUE constraint failed: persons.id_index" and friends as `db_err` does for sqlx.
fn person_write_error(e: StoreError) -> StoreError {
    match &e {
        StoreError::Backend(m) if m.contains("persons.id_index") => StoreError::Duplicate(Unique::IdNumber),
        StoreError::Backend(m) if m.contains("persons.phone_index") => StoreError::Duplicate(Unique::Phone),
        StoreError::Backend(m) if m.contains("FOREIGN KEY constraint failed") => StoreError::NotFound,
        _ => e,
    }
}

impl SqliteStore {
    pub(crate) async fn persons_insert_many_impl(&self, persons: &[PersonRecord]) -> StoreResult<()> {
        if persons.is_empty() {
            return Ok(());
        }
        type Owned = (String, Vec<u8>, String, String, String, Option<Vec<u8>>, Option<String>, String);
        type Extra = (Option<String>, Option<String>, Option<&'static str>, i64);
        let rows: Vec<(Owned, Extra)> = persons
            .iter()
            .map(|p| {
                (
                    (
                        p.subject_id.to_string(),
                        p.id_index.clone(),
                        p.id_number_sealed.clone(),
                        p.name_sealed.clone(),
                        p.masked_name.clone(),
                        p.phone_index.clone(),
                        p.phone_sealed.clone(),
                        p.household_region.to_string(),
                    ),
                    (
                        p.current_region.map(|r| r.to_string()),
                        p.guardian.as_ref().map(|g| g.subject_id.to_string()),
                        p.guardian.as_ref().map(|g| g.relation.as_str()),
                        micros(p.created_at),
                    ),
                )
            })
            .collect();
        bulk::write(&self.writer, move |db| {
            let stmt = db.prepare(
                "INSERT INTO persons (subject_id, id_index, id_number_sealed, name_sealed, masked_name, \
                 phone_index, phone_sealed, household_region, current_region, guardian_subject_id, \
                 guardian_relation, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for ((s, id, ids, name, masked, phone, phone_sealed, household), (current, guardian, relation, at)) in &rows
            {
                stmt.run(&[
                    Value::Text(s),
                    Value::Blob(id),
                    Value::Text(ids),
                    Value::Text(name),
                    Value::Text(masked),
                    phone.as_deref().map_or(Value::Null, Value::Blob),
                    opt_text(phone_sealed),
                    Value::Text(household),
                    opt_text(current),
                    opt_text(guardian),
                    relation.map_or(Value::Null, Value::Text),
                    Value::Int(*at),
                ])?;
            }
            Ok(())
        })
        .await
        .map_err(person_write_error)
    }

    pub(crate) async fn persons_keys_many_impl(&self, subjects: &[SubjectId]) -> StoreResult<Vec<PersonKeys>> {
        // Answered from the `persons_keys` index alone (migration 0012): the table's rows,
        // with their sealed values, are ten times larger and each on a page of its own.
        let mut out = Vec::with_capacity(subjects.len());
        for chunk in subject_chunks(subjects) {
            let rows = sqlx::query(
                "SELECT subject_id, id_index, phone_index, created_at FROM persons INDEXED BY persons_keys \
                 WHERE subject_id IN (SELECT value FROM json_each(?1)) ORDER BY subject_id",
            )
            .bind(chunk)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
            for r in &rows {
                out.push(PersonKeys {
                    subject_id: codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)?,
                    id_index: r.try_get(1).map_err(db_err)?,
                    phone_index: r.try_get(2).map_err(db_err)?,
                    created_at: crate::time(r.try_get(3).map_err(db_err)?)?,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn facts_for_many_impl(
        &self,
        persons: &[PersonKeys],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<FactRecords>> {
        let mut out = Vec::with_capacity(persons.len());
        for chunk in persons.chunks(MANY_CHUNK) {
            out.extend(self.facts_chunk(chunk, since).await?);
        }
        Ok(out)
    }

    async fn facts_chunk(&self, persons: &[PersonKeys], since: DateTime<Utc>) -> StoreResult<Vec<FactRecords>> {
        let mut records = vec![FactRecords::default(); persons.len()];
        let by_subject: HashMap<&str, usize> =
            persons.iter().enumerate().map(|(i, p)| (p.subject_id.as_str(), i)).collect();
        let by_phone: HashMap<&[u8], usize> =
            persons.iter().enumerate().filter_map(|(i, p)| Some((p.phone_index.as_deref()?, i))).collect();
        let by_id: HashMap<&[u8], usize> = persons.iter().enumerate().map(|(i, p)| (&p.id_index[..], i)).collect();
        let subjects = json_texts(persons.iter().map(|p| p.subject_id.as_str()));
        let phones = json_blobs(by_phone.keys().copied());
        let ids = json_blobs(persons.iter().map(|p| &p.id_index[..]));
        let since = micros(since);
        let declarations = format!(
            "SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id IN (SELECT value FROM json_each(?1)) \
             AND superseded_at IS NULL AND declared_at >= ?2 ORDER BY subject_id, id DESC"
        );
        let (declarations, stays, tests, cases, trips, vaccinations, special) = tokio::try_join!(
            sqlx::query(&declarations).bind(&subjects).bind(since).fetch_all(&self.reader),
            sqlx::query(
                "SELECT s.record_id, s.phone_index, s.region, s.start_at, s.end_at \
                 FROM (SELECT unhex(value) AS phone FROM json_each(?1)) j \
                 JOIN telecom_stays_by_phone b ON b.phone_key = substr(j.phone, 1, 8) \
                 JOIN telecom_stays s ON s.id = b.stay_id AND s.phone_index = j.phone \
                 WHERE s.end_at >= ?2 ORDER BY s.phone_index, s.start_at, s.record_id"
            )
            .bind(&phones)
            .bind(since)
            .fetch_all(&self.reader),
            sqlx::query(
                "SELECT record_id, id_index, sampled_at, result FROM lab_tests \
                 WHERE id_index IN (SELECT unhex(value) FROM json_each(?1)) AND sampled_at >= ?2 \
                 ORDER BY id_index, sampled_at, record_id"
            )
            .bind(&ids)
            .bind(since)
            .fetch_all(&self.reader),
            sqlx::query(
                "SELECT record_id, id_index, status, at FROM case_statuses \
                 WHERE id_index IN (SELECT unhex(value) FROM json_each(?1)) ORDER BY id_index, at, record_id"
            )
            .bind(&ids)
            .fetch_all(&self.reader),
            sqlx::query(
                "SELECT record_id, id_index, carrier, number, date, coach, seat_row, seat FROM trips \
                 WHERE id_index IN (SELECT unhex(value) FROM json_each(?1)) ORDER BY id_index, date, record_id"
            )
            .bind(&ids)
            .fetch_all(&self.reader),
            sqlx::query(
                "SELECT record_id, id_index, date, dose, product FROM vaccinations \
                 WHERE id_index IN (SELECT unhex(value) FROM json_each(?1)) ORDER BY id_index, date, record_id"
            )
            .bind(&ids)
            .fetch_all(&self.reader),
            // Overrides, quarantines and exposures are rare: find who has any, then read those one by one
            // through the per-person reads (one piece of code for their rules).
            sqlx::query(
                "SELECT subject_id FROM overrides WHERE subject_id IN (SELECT value FROM json_each(?1)) \
                 UNION SELECT subject_id FROM quarantines WHERE subject_id IN (SELECT value FROM json_each(?1)) \
                 UNION SELECT subject_id FROM exposures WHERE subject_id IN (SELECT value FROM json_each(?1))"
            )
            .bind(&subjects)
            .fetch_all(&self.reader),
        )
        .map_err(db_err)?;
        for r in &declarations {
            let d = declaration_from_row(r)?;
            if let Some(&i) = by_subject.get(d.declaration.subject_id.as_str()) {
                records[i].declarations.push(d);
            }
        }
        for r in &stays {
            let key: Vec<u8> = r.try_get("phone_index").map_err(db_err)?;
            if let Some(&i) = by_phone.get(&key[..]) {
                records[i].stays.push(crate::stays::stay_from_row(r)?);
            }
        }
        for r in &tests {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].tests.push(crate::lab_test_from_row(r)?);
            }
        }
        for r in &cases {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].cases.push(crate::case_from_row(r)?);
            }
        }
        for r in &trips {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].trips.push(crate::trip_from_row(r)?);
            }
        }
        for r in &vaccinations {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].vaccinations.push(crate::vaccination_from_row(r)?);
            }
        }
        for r in &special {
            let subject = codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)?;
            if let Some(&i) = by_subject.get(subject.as_str()) {
                records[i].overrides = self.overrides_for(&subject).await?;
                records[i].quarantines = self.quarantines_for(&subject).await?;
                // Exposures from tracing are as rare (`tracing.rs`).
                records[i].exposures = self.exposures_for_impl(&subject).await?;
            }
        }
        Ok(records)
    }
}
