//! Contact tracing on SQLite. Visits, the bulk of a job's reads (thousands of windows), are
//! read by prepared statements on raw reader handles, one index seek per window, in parallel
//! parts (`bulk::read`); the table is clustered by venue and time (migration 0011), so a
//! venue window is one run of rows. The rest (venues, households, trips) are batched reads as
//! a `VALUES` table joined to the indexed tables, one statement per chunk. Writes in one
//! transaction.

use chrono::{NaiveDate, TimeDelta};
use healthcode_core::SubjectId;
use healthcode_store::codec;
use healthcode_store::tracing::{TRACE_CHUNK, contact_kind};
use healthcode_store::*;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::bulk::{self, Value};
use crate::columns::Columns;

use super::{OFFICER_SCOPE, SqliteStore, db_err, insert_audit, micros, opt_time, time};

fn values(rows: usize, columns: usize) -> String {
    codec::placeholders(rows, columns, false)
}

fn seat_from_row(r: &SqliteRow, subject_id: SubjectId) -> StoreResult<TraceSeat> {
    Ok(TraceSeat {
        record_id: r.try_get("record_id").map_err(db_err)?,
        subject: subject_id,
        carrier: codec::carrier(&r.try_get::<String, _>("carrier").map_err(db_err)?)?,
        number: r.try_get("number").map_err(db_err)?,
        date: r.try_get::<NaiveDate, _>("date").map_err(db_err)?,
        coach: r.try_get("coach").map_err(db_err)?,
        row: r.try_get("seat_row").map_err(db_err)?,
        seat: r.try_get("seat").map_err(db_err)?,
    })
}

fn case_from_row(r: &SqliteRow) -> StoreResult<TraceCaseRecord> {
    Ok(TraceCaseRecord {
        case_id: r.try_get("case_id").map_err(db_err)?,
        subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
        status: codec::case_status(&r.try_get::<String, _>("status").map_err(db_err)?)?,
        onset_date: r.try_get("onset_date").map_err(db_err)?,
        sampled_at: opt_time(r.try_get("sampled_at").map_err(db_err)?)?,
        isolated_at: opt_time(r.try_get("isolated_at").map_err(db_err)?)?,
        created_at: time(r.try_get("created_at").map_err(db_err)?)?,
        created_by: r.try_get("created_by").map_err(db_err)?,
    })
}

/// Parts a batch of visit seeks is split into, each read at once on its own reader
/// connection: the seeks are independent and SQLite reads in parallel. On a table larger
/// than memory most seeks wait on the disk, which answers more reads at once the more are
/// asked (here: one at a time ~6k/s, four ~21k/s, sixteen ~77k/s), so many more parts than
/// cores. As many as tracing's read pool has connections (`TRACE_READERS` in lib.rs).
const READ_PARTS: usize = crate::TRACE_READERS as usize;

/// Below this many seeks one connection does them all (a lone case: a handful of seeks).
const SEEKS_PER_PART_MIN: usize = 64;

/// One index seek: rows with `key` (a venue or a person); for visits, entered in `[lo, to)`
/// and left after `from`.
#[derive(Clone)]
struct Seek {
    key: String,
    lo: i64,
    from: i64,
    to: i64,
}

/// Visits of a person in a window, from the covering index `visits_subject`: a person has a
/// few visits a day, so no lower bound on entry is needed (`lo` is the minimum).
const VISITS_OF: &str = "SELECT visit_key, subject_id, venue_id, entered_at, left_at FROM visits \
     WHERE subject_id = ?1 AND entered_at >= ?2 AND entered_at < ?4 AND left_at > ?3";

/// Visits at a venue in a window: one run of the table's primary key (venue, entry), from the
/// longest visit before the window's start.
const VISITS_AT: &str = "SELECT visit_key, subject_id, venue_id, entered_at, left_at FROM visits \
     WHERE venue_id = ?1 AND entered_at >= ?2 AND entered_at < ?4 AND left_at > ?3";

const VENUE: &str = "SELECT venue_id, name, category FROM venues WHERE venue_id = ?1";

/// The values a seek binds to its statement: the key, and for visits the three times.
fn visit_values(s: &Seek) -> Vec<Value<'_>> {
    vec![Value::Text(&s.key), Value::Int(s.lo), Value::Int(s.from), Value::Int(s.to)]
}

fn key_value(s: &Seek) -> Vec<Value<'_>> {
    vec![Value::Text(&s.key)]
}

fn visit_from(r: &bulk::Row<'_>) -> StoreResult<TraceVisit> {
    Ok(TraceVisit {
        visit_key: r.text(0)?.to_string(),
        subject_id: codec::subject(r.text(1)?)?,
        venue_id: r.text(2)?.to_string(),
        entered_at: time(r.int(3)?)?,
        left_at: time(r.int(4)?)?,
    })
}

fn venue_from(r: &bulk::Row<'_>) -> StoreResult<TraceVenue> {
    Ok(TraceVenue { venue_id: r.text(0)?.to_string(), name: r.text(1)?.to_string(), category: r.text(2)?.to_string() })
}

/// Runs `seeks` of one statement on raw reader handles (a prepared statement stepped per
/// seek, no per-row sqlx cost), in up to [`READ_PARTS`] parts at once.
async fn seek_all<T: Send + 'static>(
    reader: &sqlx::SqlitePool,
    sql: &'static str,
    mut seeks: Vec<Seek>,
    values: fn(&Seek) -> Vec<Value<'_>>,
    decode: fn(&bulk::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    // In key order, cut into contiguous parts: each part reads neighbouring pages of the
    // index, and a page shared by neighbouring keys is read once.
    seeks.sort_by(|a, b| a.key.cmp(&b.key).then(a.from.cmp(&b.from)));
    bulk::read_parts(reader, seeks, READ_PARTS, SEEKS_PER_PART_MIN, move |db, part| {
        let statement = db.prepare(sql)?;
        let mut out = Vec::new();
        for s in part {
            statement.query_each(&values(s), |r| {
                out.push(decode(r)?);
                Ok(())
            })?;
        }
        Ok(out)
    })
    .await
}

/// Text, or NULL for none.
fn text_or_null(t: Option<&str>) -> Value<'_> {
    t.map_or(Value::Null, Value::Text)
}

const TRIP_COLUMNS: &str = "t.record_id, t.carrier, t.number, t.date, t.coach, t.seat_row, t.seat";

impl SqliteStore {
    pub(crate) async fn trace_case_insert_impl(
        &self,
        officer: Option<&str>,
        case: &TraceCaseRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let sql = match officer {
            Some(_) => format!("SELECT p.id_index FROM persons p WHERE p.subject_id = ? AND {OFFICER_SCOPE}"),
            None => "SELECT p.id_index FROM persons p WHERE p.subject_id = ?".to_string(),
        };
        let q = sqlx::query(&sql).bind(case.subject_id.as_str());
        let q = match officer {
            Some(staff) => q.bind(staff),
            None => q,
        };
        let Some(row) = q.fetch_optional(&mut *tx).await.map_err(db_err)? else { return Ok(false) };
        let id_index: Vec<u8> = row.try_get("id_index").map_err(db_err)?;
        sqlx::query(
            "INSERT INTO trace_cases (case_id, subject_id, status, onset_date, sampled_at, isolated_at, created_at, \
             created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&case.case_id)
        .bind(case.subject_id.as_str())
        .bind(case.status.as_str())
        .bind(case.onset_date)
        .bind(case.sampled_at.map(micros))
        .bind(case.isolated_at.map(micros))
        .bind(micros(case.created_at))
        .bind(&case.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO case_statuses (record_id, id_index, status, at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (record_id) DO NOTHING",
        )
        .bind(case.status_record_id())
        .bind(&id_index)
        .bind(case.status.as_str())
        .bind(micros(case.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    pub(crate) async fn trace_case_get_impl(
        &self,
        officer: Option<&str>,
        case_id: &str,
    ) -> StoreResult<Option<TraceCaseRecord>> {
        let scope = if officer.is_some() { format!(" AND {OFFICER_SCOPE}") } else { String::new() };
        let sql = format!(
            "SELECT c.case_id, c.subject_id, c.status, c.onset_date, c.sampled_at, c.isolated_at, c.created_at, \
             c.created_by FROM trace_cases c JOIN persons p ON p.subject_id = c.subject_id WHERE c.case_id = ?{scope}"
        );
        let q = sqlx::query(&sql).bind(case_id);
        let q = match officer {
            Some(staff) => q.bind(staff),
            None => q,
        };
        q.fetch_optional(&self.reader).await.map_err(db_err)?.as_ref().map(case_from_row).transpose()
    }

    pub(crate) async fn trace_visits_of_impl(&self, wanted: &[SubjectWindow]) -> StoreResult<Vec<TraceVisit>> {
        let seeks = wanted
            .iter()
            .map(|w| Seek { key: w.subject_id.to_string(), lo: i64::MIN, from: micros(w.from), to: micros(w.to) })
            .collect();
        seek_all(&self.tracer, VISITS_OF, seeks, visit_values, visit_from).await
    }

    pub(crate) async fn trace_visits_at_impl(
        &self,
        wanted: &[VenueWindow],
        longest: TimeDelta,
    ) -> StoreResult<Vec<TraceVisit>> {
        let seeks = wanted
            .iter()
            .map(|w| Seek {
                key: w.venue_id.clone(),
                lo: micros(w.from.checked_sub_signed(longest).unwrap_or(w.from)),
                from: micros(w.from),
                to: micros(w.to),
            })
            .collect();
        seek_all(&self.tracer, VISITS_AT, seeks, visit_values, visit_from).await
    }

    pub(crate) async fn trace_venues_impl(&self, ids: &[String]) -> StoreResult<Vec<TraceVenue>> {
        let seeks = ids.iter().map(|id| Seek { key: id.clone(), lo: 0, from: 0, to: 0 }).collect();
        seek_all(&self.tracer, VENUE, seeks, key_value, venue_from).await
    }

    pub(crate) async fn trace_households_impl(&self, subjects: &[SubjectId]) -> StoreResult<Vec<HouseholdMember>> {
        let mut out = Vec::new();
        for chunk in subjects.chunks(TRACE_CHUNK) {
            let sql = format!(
                "WITH s(id) AS (VALUES {}), \
                 k(id) AS (SELECT id FROM s UNION SELECT p.guardian_subject_id FROM persons p JOIN s ON \
                 p.subject_id = s.id WHERE p.guardian_subject_id IS NOT NULL) \
                 SELECT p.subject_id, p.guardian_subject_id, p.id_index FROM persons p \
                 WHERE p.subject_id IN (SELECT id FROM k) OR p.guardian_subject_id IN (SELECT id FROM k)",
                values(chunk.len(), 1)
            );
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(s.as_str());
            }
            for r in q.fetch_all(&self.reader).await.map_err(db_err)? {
                out.push(HouseholdMember {
                    subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
                    guardian: r
                        .try_get::<Option<String>, _>("guardian_subject_id")
                        .map_err(db_err)?
                        .map(|g| codec::subject(&g))
                        .transpose()?,
                    id_index: r.try_get("id_index").map_err(db_err)?,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn trace_trips_of_impl(&self, people: &[HouseholdMember]) -> StoreResult<Vec<TraceSeat>> {
        let mut out = Vec::new();
        for chunk in people.chunks(TRACE_CHUNK) {
            let sql = format!(
                "WITH k(i, s) AS (VALUES {}) SELECT {TRIP_COLUMNS}, k.s AS subject_id FROM k \
                 JOIN trips t ON t.id_index = k.i",
                values(chunk.len(), 2)
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q.bind(&p.id_index).bind(p.subject_id.as_str());
            }
            for r in q.fetch_all(&self.reader).await.map_err(db_err)? {
                let subject = codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?;
                out.push(seat_from_row(&r, subject)?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn trace_trips_on_impl(&self, vehicles: &[Vehicle]) -> StoreResult<Vec<TraceSeat>> {
        let mut out = Vec::new();
        for chunk in vehicles.chunks(TRACE_CHUNK) {
            let sql = format!(
                "WITH w(c, n, d) AS (VALUES {}) SELECT {TRIP_COLUMNS}, p.subject_id FROM w \
                 JOIN trips t ON t.carrier = w.c AND t.number = w.n AND t.date = w.d \
                 JOIN persons p ON p.id_index = t.id_index",
                values(chunk.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for v in chunk {
                q = q.bind(codec::carrier_to_text(v.carrier)).bind(&v.number).bind(v.date);
            }
            for r in q.fetch_all(&self.reader).await.map_err(db_err)? {
                let subject = codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?;
                out.push(seat_from_row(&r, subject)?);
            }
        }
        Ok(out)
    }

    /// One transaction on the writer's raw handle, two prepared statements: an outbreak day
    /// writes tens of thousands of exposures, where a sqlx round trip per row cost more than
    /// finding them.
    pub(crate) async fn exposures_save_impl(&self, rows: &[ExposureRecord], audit: &AuditEntry) -> StoreResult<u64> {
        let (rows, audit) = (rows.to_vec(), audit.clone());
        bulk::write_small(&self.writer, move |db| {
            let insert = db.prepare(
                "INSERT INTO exposures (record_id, subject_id, kind, at, case_id, via, evidence, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (record_id) DO NOTHING",
            )?;
            let update = db.prepare("UPDATE exposures SET at = ?1, via = ?2, evidence = ?3 WHERE record_id = ?4")?;
            let mut new = 0;
            for e in &rows {
                let evidence = e.evidence.to_string();
                let via = e.via.as_ref().map(SubjectId::as_str);
                let inserted = insert.run(&[
                    Value::Text(&e.record_id),
                    Value::Text(e.subject_id.as_str()),
                    Value::Text(e.kind.as_str()),
                    Value::Int(micros(e.at)),
                    Value::Text(&e.case_id),
                    text_or_null(via),
                    Value::Text(&evidence),
                    Value::Int(micros(e.created_at)),
                ])?;
                if inserted == 1 {
                    new += 1;
                    continue;
                }
                // Traced again: the latest finding stands (a later contact, more evidence).
                update.run(&[
                    Value::Int(micros(e.at)),
                    text_or_null(via),
                    Value::Text(&evidence),
                    Value::Text(&e.record_id),
                ])?;
            }
            let detail = audit.detail.to_string();
            db.prepare(crate::AUDIT_INSERT)?.query_text(&[
                Value::Int(micros(audit.at)),
                Value::Text(&audit.actor.kind),
                Value::Text(&audit.actor.id),
                text_or_null(audit.actor.role.as_deref()),
                Value::Text(&audit.action),
                text_or_null(audit.subject_id.as_ref().map(SubjectId::as_str)),
                text_or_null(audit.purpose.as_deref()),
                Value::Text(&detail),
            ])?;
            Ok(new)
        })
        .await
    }

    pub(crate) async fn exposures_for_impl(&self, subject_id: &SubjectId) -> StoreResult<Vec<ExposureRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, subject_id, kind, at, case_id, via, evidence, created_at FROM exposures \
             WHERE subject_id = ? ORDER BY at, record_id",
        )
        .bind(subject_id.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let evidence: String = r.try_get("evidence").map_err(db_err)?;
                Ok(ExposureRecord {
                    record_id: r.try_get("record_id").map_err(db_err)?,
                    subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
                    kind: contact_kind(&r.try_get::<String, _>("kind").map_err(db_err)?)?,
                    at: time(r.try_get("at").map_err(db_err)?)?,
                    case_id: r.try_get("case_id").map_err(db_err)?,
                    via: r
                        .try_get::<Option<String>, _>("via")
                        .map_err(db_err)?
                        .map(|v| codec::subject(&v))
                        .transpose()?,
                    evidence: serde_json::from_str(&evidence)
                        .map_err(|e| StoreError::Corrupt(format!("exposure evidence: {e}")))?,
                    created_at: time(r.try_get("created_at").map_err(db_err)?)?,
                })
            })
            .collect()
    }
}
