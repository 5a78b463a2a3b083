//! Set-based reads and writes on PostgreSQL (`healthcode_store::bulk`): keys passed as arrays
//! (`= ANY($1)`), reads of different tables run concurrently on the pool, writes in one
//! transaction with the same statements as the one-person writes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_store::bulk::MANY_CHUNK;
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;

use crate::{
    DECLARATION_COLUMNS, PostgresStore, case_from_row, db_err, declaration_from_row, lab_test_from_row,
    person_insert_err, person_insert_query, save_decision, stay_from_row, trip_from_row, vaccination_from_row,
};

fn sorted_ids(subjects: &[SubjectId]) -> Vec<String> {
    let mut ids: Vec<String> = subjects.iter().map(|s| s.as_str().to_string()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl PostgresStore {
    pub(crate) async fn persons_insert_many_impl(&self, persons: &[PersonRecord]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for p in persons {
            person_insert_query(p).execute(&mut *tx).await.map_err(person_insert_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn persons_keys_many_impl(&self, subjects: &[SubjectId]) -> StoreResult<Vec<PersonKeys>> {
        let mut out = Vec::new();
        for chunk in sorted_ids(subjects).chunks(MANY_CHUNK) {
            let rows = sqlx::query(
                "SELECT subject_id, id_index, phone_index, created_at FROM persons WHERE subject_id = ANY($1) \
                 ORDER BY subject_id",
            )
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            for r in &rows {
                out.push(PersonKeys {
                    subject_id: codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)?,
                    id_index: r.try_get(1).map_err(db_err)?,
                    phone_index: r.try_get(2).map_err(db_err)?,
                    created_at: r.try_get(3).map_err(db_err)?,
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
        let subjects: Vec<String> = persons.iter().map(|p| p.subject_id.as_str().to_string()).collect();
        let phones: Vec<Vec<u8>> = by_phone.keys().map(|k| k.to_vec()).collect();
        let ids: Vec<Vec<u8>> = persons.iter().map(|p| p.id_index.clone()).collect();
        let declarations = format!(
            "SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = ANY($1) AND superseded_at IS NULL \
             AND declared_at >= $2 ORDER BY subject_id, id DESC"
        );
        let (declarations, stays, tests, cases, trips, vaccinations, special) = tokio::try_join!(
            sqlx::query(&declarations).bind(&subjects).bind(since).fetch_all(&self.pool),
            sqlx::query(
                "SELECT record_id, phone_index, region, start_at, end_at FROM telecom_stays \
                 WHERE phone_index = ANY($1) AND end_at >= $2 ORDER BY phone_index, start_at, record_id"
            )
            .bind(&phones)
            .bind(since)
            .fetch_all(&self.pool),
            sqlx::query(
                "SELECT record_id, id_index, sampled_at, result FROM lab_tests \
                 WHERE id_index = ANY($1) AND sampled_at >= $2 ORDER BY id_index, sampled_at, record_id"
            )
            .bind(&ids)
            .bind(since)
            .fetch_all(&self.pool),
            sqlx::query(
                "SELECT record_id, id_index, status, at FROM case_statuses WHERE id_index = ANY($1) \
                 ORDER BY id_index, at, record_id"
            )
            .bind(&ids)
            .fetch_all(&self.pool),
            sqlx::query(
                "SELECT record_id, id_index, carrier, number, date, coach, seat_row, seat FROM trips \
                 WHERE id_index = ANY($1) ORDER BY id_index, date, record_id"
            )
            .bind(&ids)
            .fetch_all(&self.pool),
            sqlx::query(
                "SELECT record_id, id_index, date, dose, product FROM vaccinations WHERE id_index = ANY($1) \
                 ORDER BY id_index, date, record_id"
            )
            .bind(&ids)
            .fetch_all(&self.pool),
            // Overrides, quarantines and exposures are rare: find who has any, then read those one by one
            // through the per-person reads (one piece of code for their rules).
            sqlx::query(
                "SELECT subject_id FROM overrides WHERE subject_id = ANY($1) \
                 UNION SELECT subject_id FROM quarantines WHERE subject_id = ANY($1) \
                 UNION SELECT subject_id FROM exposures WHERE subject_id = ANY($1)"
            )
            .bind(&subjects)
            .fetch_all(&self.pool),
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
                records[i].stays.push(stay_from_row(r)?);
            }
        }
        for r in &tests {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].tests.push(lab_test_from_row(r)?);
            }
        }
        for r in &cases {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].cases.push(case_from_row(r)?);
            }
        }
        for r in &trips {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].trips.push(trip_from_row(r)?);
            }
        }
        for r in &vaccinations {
            let key: Vec<u8> = r.try_get("id_index").map_err(db_err)?;
            if let Some(&i) = by_id.get(&key[..]) {
                records[i].vaccinations.push(vaccination_from_row(r)?);
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

    pub(crate) async fn decisions_colors_impl(&self, subjects: &[SubjectId]) -> StoreResult<Vec<StoredColor>> {
        let mut out = Vec::new();
        for chunk in sorted_ids(subjects).chunks(MANY_CHUNK) {
            let rows = sqlx::query(
                "SELECT subject_id, color, since FROM decisions WHERE subject_id = ANY($1) ORDER BY subject_id",
            )
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            for r in &rows {
                out.push(StoredColor {
                    subject_id: codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)?,
                    color: codec::color(&r.try_get::<String, _>(1).map_err(db_err)?)?,
                    since: r.try_get(2).map_err(db_err)?,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn decisions_save_many_impl(
        &self,
        decisions: &[DecisionRecord],
    ) -> StoreResult<Vec<(SubjectId, ColorChange)>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut changes = Vec::new();
        for d in decisions {
            if let Some(c) = save_decision(&mut tx, d).await? {
                changes.push((d.subject_id.clone(), c));
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(changes)
    }
}
