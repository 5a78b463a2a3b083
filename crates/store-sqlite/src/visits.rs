//! Venues, visits and scan attempts on SQLite (migrations 0006, 0011): visits clustered by
//! venue and time, indexed by person (covering tracing's reads) and by key; retention deletes
//! rows. `visits_load` fills an empty table fast (benchmarks, restores).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::local_time::local_midnight;
use healthcode_core::{Color, SubjectId, VenueCategory, VenueId};
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::bulk::{Db, Statement, Value};
use crate::columns::Columns;
use crate::{SqliteStore, db_err, micros, time};

const VISIT_COLUMNS: &str = "visit_key, subject_id, venue_id, entered_at, left_at, closed, source";

/// Closes the latest open visit of a person at a venue that began in the day before `?3`.
/// Keyed by the table's primary key `(venue_id, entered_at, visit_key)`, which is also what
/// makes a visit unique (migration 0015), as on PostgreSQL.
const CLOSE_OPEN: &str = "UPDATE visits SET left_at = ?3, closed = 1 WHERE (venue_id, entered_at, visit_key) = \
     (SELECT venue_id, entered_at, visit_key FROM visits WHERE subject_id = ?1 AND venue_id = ?2 AND closed = 0 \
      AND entered_at <= ?3 AND entered_at > ?4 ORDER BY entered_at DESC LIMIT 1)";

/// Since when a person's stored decision has had the color `?2` (no row: another color, or no
/// decision): the stored-decision check of scans.
const RED_SINCE: &str = "SELECT since FROM decisions WHERE subject_id = ?1 AND color = ?2";

/// A visit's values in `VISIT_COLUMNS` order, for the bulk paths' prepared statements.
fn visit_values(v: &VisitRecord) -> [Value<'_>; 7] {
    [
        Value::Text(&v.visit_key),
        Value::Text(v.subject_id.as_str()),
        Value::Text(v.venue_id.as_str()),
        Value::Int(micros(v.entered_at)),
        Value::Int(micros(v.left_at)),
        Value::Int(i64::from(v.closed)),
        Value::Text(v.source.as_str()),
    ]
}

/// Inserts visits (a key already stored or repeated earlier is left as it is) and closes the
/// visit each new exit ends, inside the caller's transaction; whether each was new, in order.
fn insert_visits<'a>(db: &Db, writes: impl IntoIterator<Item = &'a VisitWrite>) -> StoreResult<Vec<bool>> {
    let insert = db.prepare(&format!(
        "INSERT INTO visits ({VISIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (venue_id, entered_at, visit_key) DO NOTHING"
    ))?;
    let close = db.prepare(CLOSE_OPEN)?;
    let mut new = Vec::new();
    for w in writes {
        let v = &w.visit;
        let inserted = insert.run(&visit_values(v))? == 1;
        if inserted && w.closes_open {
            close.run(&[
                Value::Text(v.subject_id.as_str()),
                Value::Text(v.venue_id.as_str()),
                Value::Int(micros(v.entered_at)),
                Value::Int(micros(v.entered_at - Duration::days(1))),
            ])?;
        }
        new.push(inserted);
    }
    Ok(new)
}

/// Since when the person's stored decision is red, by `RED_SINCE`; `None` when it is not red
/// or there is none.
fn red_since_of(red_since: &Statement<'_>, subject: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let mut since = None;
    red_since.query_each(&[Value::Text(subject), Value::Text(Color::Red.as_str())], |r| {
        since = Some(time(r.int(0)?)?);
        Ok(())
    })?;
    Ok(since)
}

fn venue_id(s: &str) -> StoreResult<VenueId> {
    VenueId::parse(s).map_err(|_| StoreError::Corrupt(format!("venue id {s}")))
}

fn visit_from_row(r: &SqliteRow) -> StoreResult<VisitRecord> {
    let s = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
    let source = s("source")?;
    Ok(VisitRecord {
        visit_key: s("visit_key")?,
        subject_id: codec::subject(&s("subject_id")?)?,
        venue_id: venue_id(&s("venue_id")?)?,
        entered_at: time(r.try_get("entered_at").map_err(db_err)?)?,
        left_at: time(r.try_get("left_at").map_err(db_err)?)?,
        closed: r.try_get("closed").map_err(db_err)?,
        source: VisitSource::parse(&source).ok_or_else(|| StoreError::Corrupt(format!("visit source {source}")))?,
    })
}

impl SqliteStore {
    pub(crate) async fn venue_insert_impl(&self, v: &VenueRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO venues (venue_id, name, address, region, category, created_at, created_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(v.venue_id.as_str())
        .bind(&v.name)
        .bind(&v.address)
        .bind(v.region.to_string())
        .bind(v.category.as_str())
        .bind(micros(v.created_at))
        .bind(&v.created_by)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn venue_get_impl(&self, id: &VenueId) -> StoreResult<Option<VenueRecord>> {
        let row = sqlx::query(
            "SELECT venue_id, name, address, region, category, created_at, created_by FROM venues WHERE venue_id = ?",
        )
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let Some(r) = row else { return Ok(None) };
        let s = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
        let category = s("category")?;
        Ok(Some(VenueRecord {
            venue_id: venue_id(&s("venue_id")?)?,
            name: s("name")?,
            address: s("address")?,
            region: codec::region(&s("region")?)?,
            category: VenueCategory::parse(&category)
                .map_err(|_| StoreError::Corrupt(format!("venue category {category}")))?,
            created_at: time(r.try_get("created_at").map_err(db_err)?)?,
            created_by: s("created_by")?,
        }))
    }

    /// One transaction; one prepared statement per row (SQLite runs them in-process, so a
    /// multi-row statement would save little and lose the per-row answer).
    pub(crate) async fn visits_write_impl(&self, writes: &[VisitWrite]) -> StoreResult<Vec<bool>> {
        // Thousands of scans a second arrive here in groups: one prepared statement stepped
        // per visit on the writer's raw handle, not a sqlx round trip per statement.
        let writes = writes.to_vec();
        crate::bulk::write_small(&self.writer, move |db| insert_visits(db, &writes)).await
    }

    /// The group commit of scans: the stored colors read in the same transaction as the
    /// writes (the single writer's), so no recolor can come between the check and the write,
    /// and the group costs one trip to the writer thread instead of a reader's query first.
    pub(crate) async fn visits_write_checked_impl(&self, writes: Vec<CheckedWrite>) -> StoreResult<Vec<Written>> {
        crate::bulk::write_inline(&self.writer, move |db| {
            let red = db.prepare(RED_SINCE)?;
            // A group holds many scans of the same people (a queue at a gate): read each once.
            let mut red_since: HashMap<&str, Option<DateTime<Utc>>> = HashMap::new();
            let mut turned_red = Vec::with_capacity(writes.len());
            for w in &writes {
                let subject = w.write.visit.subject_id.as_str();
                let since = match (w.unless_red_since, red_since.get(subject)) {
                    (None, _) => None,
                    (Some(_), Some(known)) => *known,
                    (Some(_), None) => {
                        let since = red_since_of(&red, subject)?;
                        red_since.insert(subject, since);
                        since
                    }
                };
                turned_red.push(w.turned_red(since));
            }
            let kept: Vec<&VisitWrite> =
                writes.iter().zip(&turned_red).filter(|(_, red)| !**red).map(|(w, _)| &w.write).collect();
            let new = insert_visits(db, kept)?;
            Ok(merge_written(&turned_red, new))
        })
        .await
    }

    /// Loads visits into an **empty** visits table, fast: `batches` come in the table's order
    /// (venue, then entry, then key; each batch after the one before), each written in one
    /// transaction on one prepared statement while the person index is dropped; then it is
    /// built in one sort. For benchmarks and restores with no server running (readers
    /// meanwhile see visits without it). Rows out of order are still stored, only slower; a
    /// visit repeated (venue, entry and key) is stored once. On any error the table is emptied
    /// and its indexes rebuilt: nothing is half loaded. Returns the rows stored.
    pub async fn visits_load<I>(&self, batches: I) -> StoreResult<u64>
    where
        I: IntoIterator<Item = Vec<VisitRecord>> + Send + 'static,
        I::IntoIter: Send,
    {
        crate::bulk::write_batches(&self.writer, move |db| {
            let empty = db.prepare("SELECT 'empty' WHERE NOT EXISTS (SELECT 1 FROM visits)")?.query_text(&[])?;
            if empty.is_none() {
                return Err(StoreError::Backend("visits_load needs an empty visits table".into()));
            }
            // The index definitions as the migrations wrote them, rebuilt as they were.
            let mut indexes = Vec::new();
            db.prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'visits' AND sql IS NOT NULL",
            )?
            .query_each(&[], |r| {
                indexes.push((r.text(0)?.to_string(), r.text(1)?.to_string()));
                Ok(())
            })?;
            let drop_all = || indexes.iter().try_for_each(|(name, _)| db.exec(&format!("DROP INDEX IF EXISTS {name}")));
            let build_all = || indexes.iter().try_for_each(|(_, sql)| db.exec(sql));
            db.transaction(|_| drop_all())?;
            let loaded = (|| {
                let mut stored = 0;
                for batch in batches {
                    stored += db.transaction(|db| {
                        let insert = db.prepare(&format!(
                            "INSERT INTO visits ({VISIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                                 ON CONFLICT DO NOTHING"
                        ))?;
                        let mut n = 0;
                        for v in &batch {
                            n += insert.run(&visit_values(v))?;
                        }
                        Ok(n)
                    })?;
                }
                // The sorts of the index builds run on both cores.
                db.exec("PRAGMA threads = 2")?;
                // One transaction per index: the WAL holds one index at a time, not both.
                indexes.iter().try_for_each(|(_, sql)| db.transaction(|db| db.exec(sql)))?;
                db.exec("PRAGMA wal_checkpoint(TRUNCATE)")?;
                Ok(stored)
            })();
            if loaded.is_err() {
                let _ = db.transaction(|db| {
                    db.exec("DELETE FROM visits")?;
                    drop_all()?;
                    build_all()
                });
            }
            loaded
        })
        .await
    }

    pub(crate) async fn visit_close_impl(
        &self,
        subject: &SubjectId,
        venue: &VenueId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(CLOSE_OPEN)
            .bind(subject.as_str())
            .bind(venue.as_str())
            .bind(micros(at))
            .bind(micros(at - Duration::days(1)))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// Visits overlapping `[from, to)` where `column = key`.
    pub(crate) async fn visits_where(
        &self,
        column: &'static str,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitRecord>> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM visits WHERE {column} = ? AND entered_at < ? AND left_at > ? \
             ORDER BY entered_at, visit_key"
        );
        let rows = sqlx::query(&sql)
            .bind(key)
            .bind(micros(to))
            .bind(micros(from))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(visit_from_row).collect()
    }

    pub(crate) async fn scan_attempt_record_impl(&self, a: &ScanAttempt) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO scan_attempts (attempt_key, venue_id, device_id, at, reason) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (attempt_key) DO NOTHING",
        )
        .bind(&a.attempt_key)
        .bind(a.venue_id.as_str())
        .bind(&a.device_id)
        .bind(micros(a.at))
        .bind(&a.reason)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn scan_attempts_at_impl(
        &self,
        venue: &VenueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ScanAttempt>> {
        let rows = sqlx::query(
            "SELECT attempt_key, venue_id, device_id, at, reason FROM scan_attempts WHERE venue_id = ? AND at >= ? AND at < ? \
             ORDER BY at, id",
        )
        .bind(venue.as_str())
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ScanAttempt {
                    attempt_key: r.try_get("attempt_key").map_err(db_err)?,
                    venue_id: venue_id(&r.try_get::<String, _>("venue_id").map_err(db_err)?)?,
                    device_id: r.try_get("device_id").map_err(db_err)?,
                    at: time(r.try_get("at").map_err(db_err)?)?,
                    reason: r.try_get("reason").map_err(db_err)?,
                })
            })
            .collect()
    }

    pub(crate) async fn visits_drop_before_impl(&self, day: NaiveDate) -> StoreResult<u64> {
        let before = micros(local_midnight(day));
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let gone = sqlx::query("DELETE FROM visits WHERE entered_at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        sqlx::query("DELETE FROM scan_attempts WHERE at < ?").bind(before).execute(&mut *tx).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(gone)
    }
}
