//! Set-based reads and writes on SQLite (`healthcode_store::bulk`): many people's rows read
//! by the one-person statements, prepared once and stepped per person on raw reader handles
//! in parts at once (`bulk::read_parts`; through sqlx a recoloring spent most of its time on
//! sqlx's per-row cost and the JSON of the keys); writes go through the bulk path
//! (`bulk.rs`) in one transaction.

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_store::*;

use crate::bulk::{self, Value};
use crate::columns::Columns;
use crate::stays::{STAYS_OF, phone_key, stay_from_row};
use crate::{
    CASES_OF, DECLARATION_COLUMNS, LAB_TESTS_OF, SqliteStore, TRIPS_OF, VACCINATIONS_OF, case_from_row,
    declaration_from_row, lab_test_from_row, micros, trip_from_row, vaccination_from_row,
};

/// Parts a set-based read is cut into, each on a reader connection of its own at once: one a
/// core. Two such reads at once (a recoloring's facts and colors) fill the reader pool.
const READ_PARTS: usize = 2;

/// Below this many people one connection reads them all.
const PER_PART_MIN: usize = 256;

/// A row when a person has any override, quarantine or exposure (`?1` subject id).
const SPECIAL: &str = "SELECT 1 WHERE EXISTS (SELECT 1 FROM overrides WHERE subject_id = ?1) \
     OR EXISTS (SELECT 1 FROM quarantines WHERE subject_id = ?1) \
     OR EXISTS (SELECT 1 FROM exposures WHERE subject_id = ?1)";

/// Runs `work` over people in parts on reader connections at once (`bulk::read_parts`).
pub(crate) async fn read_by_subject<T, U, W>(reader: &sqlx::SqlitePool, items: Vec<T>, work: W) -> StoreResult<Vec<U>>
where
    T: Send + Sync + 'static,
    U: Send + 'static,
    W: Fn(&bulk::Db, &[T]) -> StoreResult<Vec<U>> + Send + Sync + 'static,
{
    bulk::read_parts(reader, items, READ_PARTS, PER_PART_MIN, work).await
}

/// A per-person statement, or nothing when its tables have no rows (in the read transaction
/// it runs in, so no row can appear between the check and the reads).
struct Probe<'db>(Option<bulk::Statement<'db>>);

impl<'db> Probe<'db> {
    fn new(db: &'db bulk::Db, tables: &[&str], sql: &str) -> StoreResult<Self> {
        let any = tables.iter().map(|t| format!("SELECT 1 FROM {t}")).collect::<Vec<_>>().join(" UNION ALL ");
        let rows = db.prepare(&format!("SELECT EXISTS ({any})"))?.query_all(&[], |r| r.int(0))?;
        Ok(Self(if rows.first() == Some(&1) { Some(db.prepare(sql)?) } else { None }))
    }

    fn all<T>(&self, values: &[Value<'_>], decode: impl Fn(&bulk::Row<'_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        self.0.as_ref().map_or(Ok(Vec::new()), |s| s.query_all(values, decode))
    }
}

/// `subjects` sorted, each once: reads in key order touch neighbouring index pages.
pub(crate) fn sorted_once(subjects: &[SubjectId]) -> Vec<SubjectId> {
    let mut ids = subjects.to_vec();
    ids.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.dedup();
    ids
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
        let subjects = sorted_once(subjects);
        let found = read_by_subject(&self.reader, subjects, |db, part| {
            let keys = db.prepare(
                "SELECT subject_id, id_index, phone_index, created_at FROM persons INDEXED BY persons_keys \
                 WHERE subject_id = ?1",
            )?;
            let mut out = Vec::with_capacity(part.len());
            for s in part {
                out.extend(keys.query_all(&[Value::Text(s.as_str())], |r| {
                    Ok(PersonKeys {
                        subject_id: s.clone(),
                        id_index: r.blob(1)?.to_vec(),
                        phone_index: r.opt_blob(2)?.map(<[u8]>::to_vec),
                        created_at: crate::time(r.int(3)?)?,
                    })
                })?);
            }
            Ok(out)
        })
        .await?;
        Ok(found)
    }

    pub(crate) async fn facts_for_many_impl(
        &self,
        persons: &[PersonKeys],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<FactRecords>> {
        let since = micros(since);
        let declarations_since = format!(
            "SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = ?1 AND superseded_at IS NULL \
             AND declared_at >= ?2 ORDER BY id DESC"
        );
        let read = read_by_subject(&self.reader, persons.to_vec(), move |db, part| {
            // Each person's facts by the same statements as one person's reads (`STAYS_OF`,
            // `LAB_TESTS_OF`, …), prepared once per part and stepped per person; a table with
            // no rows at all in this read's snapshot is not probed per person (a deployment
            // that imports no trips, say, pays nothing for them).
            let declarations = Probe::new(db, &["declarations"], &declarations_since)?;
            let stays = Probe::new(db, &["telecom_stays"], STAYS_OF)?;
            let tests = Probe::new(db, &["lab_tests"], LAB_TESTS_OF)?;
            let cases = Probe::new(db, &["case_statuses"], CASES_OF)?;
            let trips = Probe::new(db, &["trips"], TRIPS_OF)?;
            let vaccinations = Probe::new(db, &["vaccinations"], VACCINATIONS_OF)?;
            let special = Probe::new(db, &["overrides", "quarantines", "exposures"], SPECIAL)?;
            let mut out = Vec::with_capacity(part.len());
            for p in part {
                let subject = Value::Text(p.subject_id.as_str());
                let id = Value::Blob(&p.id_index);
                let mut r = FactRecords {
                    declarations: declarations.all(&[subject, Value::Int(since)], |r| declaration_from_row(r))?,
                    tests: tests.all(&[id, Value::Int(since)], |r| lab_test_from_row(r))?,
                    cases: cases.all(&[id], |r| case_from_row(r))?,
                    trips: trips.all(&[id], |r| trip_from_row(r))?,
                    vaccinations: vaccinations.all(&[id], |r| vaccination_from_row(r))?,
                    ..FactRecords::default()
                };
                if let Some(phone) = &p.phone_index {
                    let values = [Value::Blob(phone_key(phone)), Value::Blob(phone), Value::Int(since)];
                    r.stays = stays.all(&values, |r| stay_from_row(r))?;
                }
                let rare = !special.all(&[subject], |_| Ok(()))?.is_empty();
                out.push((r, rare));
            }
            Ok(out)
        })
        .await?;
        let mut records = Vec::with_capacity(read.len());
        for (person, (mut r, rare)) in persons.iter().zip(read) {
            if rare {
                // Overrides, quarantines and exposures are rare: those who have any are read
                // by the per-person reads (one piece of code for their rules).
                r.overrides = self.overrides_for(&person.subject_id).await?;
                r.quarantines = self.quarantines_for(&person.subject_id).await?;
                r.exposures = self.exposures_for_impl(&person.subject_id).await?;
            }
            records.push(r);
        }
        Ok(records)
    }
}
