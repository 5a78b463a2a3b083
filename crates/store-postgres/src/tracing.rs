//! Contact tracing on PostgreSQL: batched reads pass their keys and ranges as arrays
//! (`UNNEST`) joined to the indexed tables, one statement per chunk; writes in one
//! transaction.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use healthcode_core::SubjectId;
use healthcode_store::codec;
use healthcode_store::tracing::{TRACE_CHUNK, contact_kind};
use healthcode_store::*;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{OFFICER_SCOPE, PostgresStore, db_err, insert_audit};

fn visit_from_row(r: &PgRow) -> StoreResult<TraceVisit> {
    Ok(TraceVisit {
        visit_key: r.try_get("visit_key").map_err(db_err)?,
        subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
        venue_id: r.try_get("venue_id").map_err(db_err)?,
        entered_at: r.try_get("entered_at").map_err(db_err)?,
        left_at: r.try_get("left_at").map_err(db_err)?,
    })
}

fn seat_from_row(r: &PgRow) -> StoreResult<TraceSeat> {
    Ok(TraceSeat {
        record_id: r.try_get("record_id").map_err(db_err)?,
        subject: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
        carrier: codec::carrier(&r.try_get::<String, _>("carrier").map_err(db_err)?)?,
        number: r.try_get("number").map_err(db_err)?,
        date: r.try_get::<NaiveDate, _>("date").map_err(db_err)?,
        coach: r.try_get("coach").map_err(db_err)?,
        row: r.try_get("seat_row").map_err(db_err)?,
        seat: r.try_get("seat").map_err(db_err)?,
    })
}

fn case_from_row(r: &PgRow) -> StoreResult<TraceCaseRecord> {
    Ok(TraceCaseRecord {
        case_id: r.try_get("case_id").map_err(db_err)?,
        subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
        status: codec::case_status(&r.try_get::<String, _>("status").map_err(db_err)?)?,
        onset_date: r.try_get("onset_date").map_err(db_err)?,
        sampled_at: r.try_get("sampled_at").map_err(db_err)?,
        isolated_at: r.try_get("isolated_at").map_err(db_err)?,
        created_at: r.try_get("created_at").map_err(db_err)?,
        created_by: r.try_get("created_by").map_err(db_err)?,
    })
}

const VISIT_COLUMNS: &str = "v.visit_key, v.subject_id, v.venue_id, v.entered_at, v.left_at";
const TRIP_COLUMNS: &str = "t.record_id, t.carrier, t.number, t.date, t.coach, t.seat_row, t.seat";

impl PostgresStore {
    pub(crate) async fn trace_case_insert_impl(
        &self,
        officer: Option<&str>,
        case: &TraceCaseRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // `OFFICER_SCOPE` reads the staff id from `$2`; without an officer, `$2` is unused.
        let scope = if officer.is_some() { OFFICER_SCOPE } else { "$2::text IS NULL" };
        let sql = format!("SELECT p.id_index FROM persons p WHERE p.subject_id = $1 AND {scope} FOR SHARE");
        let row = sqlx::query(&sql)
            .bind(case.subject_id.as_str())
            .bind(officer)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(false) };
        let id_index: Vec<u8> = row.try_get("id_index").map_err(db_err)?;
        sqlx::query(
            "INSERT INTO trace_cases (case_id, subject_id, status, onset_date, sampled_at, isolated_at, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&case.case_id)
        .bind(case.subject_id.as_str())
        .bind(case.status.as_str())
        .bind(case.onset_date)
        .bind(case.sampled_at)
        .bind(case.isolated_at)
        .bind(case.created_at)
        .bind(&case.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO case_statuses (record_id, id_index, status, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (record_id) DO NOTHING",
        )
        .bind(case.status_record_id())
        .bind(&id_index)
        .bind(case.status.as_str())
        .bind(case.created_at)
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
        let scope = if officer.is_some() { OFFICER_SCOPE } else { "$2::text IS NULL" };
        let sql = format!(
            "SELECT c.case_id, c.subject_id, c.status, c.onset_date, c.sampled_at, c.isolated_at, c.created_at, \
             c.created_by FROM trace_cases c JOIN persons p ON p.subject_id = c.subject_id \
             WHERE c.case_id = $1 AND {scope}"
        );
        let row = sqlx::query(&sql).bind(case_id).bind(officer).fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(case_from_row).transpose()
    }

    pub(crate) async fn trace_visits_of_impl(&self, wanted: &[SubjectWindow]) -> StoreResult<Vec<TraceVisit>> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[]) AS w(s, f, t) \
             JOIN visits v ON v.subject_id = w.s AND v.entered_at < w.t AND v.left_at > w.f"
        );
        let mut out = Vec::new();
        for chunk in wanted.chunks(TRACE_CHUNK) {
            let s: Vec<&str> = chunk.iter().map(|w| w.subject_id.as_str()).collect();
            let f: Vec<DateTime<Utc>> = chunk.iter().map(|w| w.from).collect();
            let t: Vec<DateTime<Utc>> = chunk.iter().map(|w| w.to).collect();
            let rows = sqlx::query(&sql).bind(s).bind(f).bind(t).fetch_all(&self.pool).await.map_err(db_err)?;
            for r in &rows {
                out.push(visit_from_row(r)?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn trace_visits_at_impl(
        &self,
        wanted: &[VenueWindow],
        longest: TimeDelta,
    ) -> StoreResult<Vec<TraceVisit>> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[]) \
             AS w(venue, lo, f, t) \
             JOIN visits v ON v.venue_id = w.venue AND v.entered_at >= w.lo AND v.entered_at < w.t \
             AND v.left_at > w.f"
        );
        let mut out = Vec::new();
        for chunk in wanted.chunks(TRACE_CHUNK) {
            let venue: Vec<&str> = chunk.iter().map(|w| w.venue_id.as_str()).collect();
            let lo: Vec<DateTime<Utc>> =
                chunk.iter().map(|w| w.from.checked_sub_signed(longest).unwrap_or(w.from)).collect();
            let f: Vec<DateTime<Utc>> = chunk.iter().map(|w| w.from).collect();
            let t: Vec<DateTime<Utc>> = chunk.iter().map(|w| w.to).collect();
            let rows =
                sqlx::query(&sql).bind(venue).bind(lo).bind(f).bind(t).fetch_all(&self.pool).await.map_err(db_err)?;
            for r in &rows {
                out.push(visit_from_row(r)?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn trace_venues_impl(&self, ids: &[String]) -> StoreResult<Vec<TraceVenue>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(TRACE_CHUNK) {
            let rows = sqlx::query("SELECT venue_id, name, category FROM venues WHERE venue_id = ANY($1)")
                .bind(chunk)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            for r in &rows {
                out.push(TraceVenue {
                    venue_id: r.try_get("venue_id").map_err(db_err)?,
                    name: r.try_get("name").map_err(db_err)?,
                    category: r.try_get("category").map_err(db_err)?,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn trace_households_impl(&self, subjects: &[SubjectId]) -> StoreResult<Vec<HouseholdMember>> {
        // Two joins rather than `IN … OR IN …`, which PostgreSQL would answer by scanning
        // every person.
        let sql = "WITH k AS (SELECT UNNEST($1::text[]) AS id UNION SELECT p.guardian_subject_id FROM persons p \
                   WHERE p.subject_id = ANY($1) AND p.guardian_subject_id IS NOT NULL) \
                   SELECT p.subject_id, p.guardian_subject_id, p.id_index FROM persons p JOIN k ON p.subject_id = k.id \
                   UNION SELECT p.subject_id, p.guardian_subject_id, p.id_index FROM persons p \
                   JOIN k ON p.guardian_subject_id = k.id";
        let mut out = Vec::new();
        for chunk in subjects.chunks(TRACE_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(SubjectId::as_str).collect();
            let rows = sqlx::query(sql).bind(ids).fetch_all(&self.pool).await.map_err(db_err)?;
            for r in &rows {
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
        let sql = format!(
            "SELECT {TRIP_COLUMNS}, k.s AS subject_id FROM UNNEST($1::bytea[], $2::text[]) AS k(i, s) \
             JOIN trips t ON t.id_index = k.i"
        );
        let mut out = Vec::new();
        for chunk in people.chunks(TRACE_CHUNK) {
            let i: Vec<&[u8]> = chunk.iter().map(|p| p.id_index.as_slice()).collect();
            let s: Vec<&str> = chunk.iter().map(|p| p.subject_id.as_str()).collect();
            let rows = sqlx::query(&sql).bind(i).bind(s).fetch_all(&self.pool).await.map_err(db_err)?;
            for r in &rows {
                out.push(seat_from_row(r)?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn trace_trips_on_impl(&self, vehicles: &[Vehicle]) -> StoreResult<Vec<TraceSeat>> {
        let sql = format!(
            "SELECT {TRIP_COLUMNS}, p.subject_id FROM UNNEST($1::text[], $2::text[], $3::date[]) AS w(c, n, d) \
             JOIN trips t ON t.carrier = w.c AND t.number = w.n AND t.date = w.d \
             JOIN persons p ON p.id_index = t.id_index"
        );
        let mut out = Vec::new();
        for chunk in vehicles.chunks(TRACE_CHUNK) {
            let c: Vec<&str> = chunk.iter().map(|v| codec::carrier_to_text(v.carrier)).collect();
            let n: Vec<&str> = chunk.iter().map(|v| v.number.as_str()).collect();
            let d: Vec<NaiveDate> = chunk.iter().map(|v| v.date).collect();
            let rows = sqlx::query(&sql).bind(c).bind(n).bind(d).fetch_all(&self.pool).await.map_err(db_err)?;
            for r in &rows {
                out.push(seat_from_row(r)?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn exposures_save_impl(&self, rows: &[ExposureRecord], audit: &AuditEntry) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut new = 0;
        for chunk in rows.chunks(TRACE_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|e| e.record_id.as_str()).collect();
            let subjects: Vec<&str> = chunk.iter().map(|e| e.subject_id.as_str()).collect();
            let kinds: Vec<&str> = chunk.iter().map(|e| e.kind.as_str()).collect();
            let at: Vec<DateTime<Utc>> = chunk.iter().map(|e| e.at).collect();
            let cases: Vec<&str> = chunk.iter().map(|e| e.case_id.as_str()).collect();
            let via: Vec<Option<&str>> = chunk.iter().map(|e| e.via.as_ref().map(SubjectId::as_str)).collect();
            let evidence: Vec<String> = chunk.iter().map(|e| e.evidence.to_string()).collect();
            let created: Vec<DateTime<Utc>> = chunk.iter().map(|e| e.created_at).collect();
            // Traced again: the latest finding stands (a later contact, more evidence).
            // `xmax = 0` marks a row this statement inserted rather than updated.
            let inserted = sqlx::query(
                "INSERT INTO exposures (record_id, subject_id, kind, at, case_id, via, evidence, created_at) \
                 SELECT r, s, k, a, c, v, e::jsonb, t FROM UNNEST($1::text[], $2::text[], $3::text[], \
                 $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::timestamptz[]) AS x(r, s, k, a, c, v, e, t) \
                 ON CONFLICT (record_id) DO UPDATE SET at = excluded.at, via = excluded.via, \
                 evidence = excluded.evidence RETURNING (xmax = 0) AS inserted",
            )
            .bind(ids)
            .bind(subjects)
            .bind(kinds)
            .bind(at)
            .bind(cases)
            .bind(via)
            .bind(evidence)
            .bind(created)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            for r in &inserted {
                if r.try_get::<bool, _>("inserted").map_err(db_err)? {
                    new += 1;
                }
            }
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(new)
    }

    pub(crate) async fn exposures_for_impl(&self, subject_id: &SubjectId) -> StoreResult<Vec<ExposureRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, subject_id, kind, at, case_id, via, evidence::text AS evidence, created_at \
             FROM exposures WHERE subject_id = $1 ORDER BY at, record_id",
        )
        .bind(subject_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let evidence: String = r.try_get("evidence").map_err(db_err)?;
                Ok(ExposureRecord {
                    record_id: r.try_get("record_id").map_err(db_err)?,
                    subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
                    kind: contact_kind(&r.try_get::<String, _>("kind").map_err(db_err)?)?,
                    at: r.try_get("at").map_err(db_err)?,
                    case_id: r.try_get("case_id").map_err(db_err)?,
                    via: r
                        .try_get::<Option<String>, _>("via")
                        .map_err(db_err)?
                        .map(|v| codec::subject(&v))
                        .transpose()?,
                    evidence: serde_json::from_str(&evidence)
                        .map_err(|e| StoreError::Corrupt(format!("exposure evidence: {e}")))?,
                    created_at: r.try_get("created_at").map_err(db_err)?,
                })
            })
            .collect()
    }
}
