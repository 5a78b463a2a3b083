//! Venues, visits and scan attempts on PostgreSQL (migration 0006). `visits` is partitioned by
//! local day on `entered_at`: a write first makes sure its days' partitions exist, and
//! retention drops whole partitions.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::local_time::{local_day, local_midnight};
use healthcode_core::{SubjectId, VenueCategory, VenueId};
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::{PostgresStore, db_err};

const VISIT_COLUMNS: &str = "visit_key, subject_id, venue_id, entered_at, left_at, closed, source";

/// Closes the latest open visit of a person at a venue that began in the day before `$3`.
/// The bounds on `entered_at` also let PostgreSQL look at two partitions only. Keyed by the
/// unique `(venue_id, visit_key, entered_at)` (migration 0013), as on SQLite.
const CLOSE_OPEN: &str = "UPDATE visits SET left_at = $3, closed = TRUE WHERE (venue_id, visit_key, entered_at) = \
     (SELECT venue_id, visit_key, entered_at FROM visits WHERE subject_id = $1 AND venue_id = $2 AND NOT closed \
      AND entered_at <= $3 AND entered_at > $4 ORDER BY entered_at DESC LIMIT 1)";

fn venue_id(s: &str) -> StoreResult<VenueId> {
    VenueId::parse(s).map_err(|_| StoreError::Corrupt(format!("venue id {s}")))
}

fn visit_from_row(r: &PgRow) -> StoreResult<VisitRecord> {
    let s = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
    let source = s("source")?;
    Ok(VisitRecord {
        visit_key: s("visit_key")?,
        subject_id: codec::subject(&s("subject_id")?)?,
        venue_id: venue_id(&s("venue_id")?)?,
        entered_at: r.try_get("entered_at").map_err(db_err)?,
        left_at: r.try_get("left_at").map_err(db_err)?,
        closed: r.try_get("closed").map_err(db_err)?,
        source: VisitSource::parse(&source).ok_or_else(|| StoreError::Corrupt(format!("visit source {source}")))?,
    })
}

/// `visits_p20270115`: the partition of one local day.
fn partition_name(day: NaiveDate) -> String {
    format!("visits_p{}", day.format("%Y%m%d"))
}

fn partition_day(name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(name.strip_prefix("visits_p")?, "%Y%m%d").ok()
}

impl PostgresStore {
    /// Creates the partitions of these local days that do not exist yet. Outside the write's
    /// transaction (creating a partition locks the parent briefly); when two servers race to
    /// create the same one, the loser finds it made and goes on.
    async fn ensure_partitions(&self, days: &BTreeSet<NaiveDate>) -> StoreResult<()> {
        for &day in days {
            let name = partition_name(day);
            let exists = |name: String| async move {
                let row = sqlx::query("SELECT to_regclass($1) IS NOT NULL").bind(name).fetch_one(&self.pool).await;
                row.and_then(|r| r.try_get::<bool, _>(0)).map_err(db_err)
            };
            if exists(name.clone()).await? {
                continue;
            }
            let (from, to) = (local_midnight(day), local_midnight(day + Duration::days(1)));
            // DDL takes no bind parameters; the name and bounds come from a date, not from input.
            let ddl = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF visits FOR VALUES FROM ('{}') TO ('{}')",
                from.to_rfc3339(),
                to.to_rfc3339()
            );
            if let Err(e) = sqlx::raw_sql(&ddl).execute(&self.pool).await
                && !exists(name).await?
            {
                return Err(db_err(e));
            }
        }
        Ok(())
    }

    pub(crate) async fn venue_insert_impl(&self, v: &VenueRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO venues (venue_id, name, address, region, category, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(v.venue_id.as_str())
        .bind(&v.name)
        .bind(&v.address)
        .bind(v.region.to_string())
        .bind(v.category.as_str())
        .bind(v.created_at)
        .bind(&v.created_by)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn venue_get_impl(&self, id: &VenueId) -> StoreResult<Option<VenueRecord>> {
        let row = sqlx::query(
            "SELECT venue_id, name, address, region, category, created_at, created_by FROM venues WHERE venue_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
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
            created_at: r.try_get("created_at").map_err(db_err)?,
            created_by: s("created_by")?,
        }))
    }

    /// Multi-row inserts (one round trip per 500 rows) in one transaction; `RETURNING` says
    /// which rows were new.
    pub(crate) async fn visits_write_impl(&self, writes: &[VisitWrite]) -> StoreResult<Vec<bool>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        self.ensure_partitions(&writes.iter().map(|w| local_day(w.visit.entered_at)).collect()).await?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut inserted = std::collections::HashSet::new();
        for chunk in writes.chunks(codec::INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO visits ({VISIT_COLUMNS}) VALUES {} ON CONFLICT (venue_id, visit_key, entered_at) \
                 DO NOTHING RETURNING venue_id, visit_key, entered_at",
                codec::placeholders(chunk.len(), 7, true)
            );
            let mut q = sqlx::query(&sql);
            for w in chunk {
                let v = &w.visit;
                q = q
                    .bind(&v.visit_key)
                    .bind(v.subject_id.as_str())
                    .bind(v.venue_id.as_str())
                    .bind(v.entered_at)
                    .bind(v.left_at)
                    .bind(v.closed)
                    .bind(v.source.as_str());
            }
            for r in q.fetch_all(&mut *tx).await.map_err(db_err)? {
                let venue: String = r.try_get(0).map_err(db_err)?;
                let key: String = r.try_get(1).map_err(db_err)?;
                let at: DateTime<Utc> = r.try_get(2).map_err(db_err)?;
                inserted.insert((venue, key, at));
            }
        }
        // A visit repeated within `writes` is new only where it first appears.
        let mut new = Vec::with_capacity(writes.len());
        for w in writes {
            let v = &w.visit;
            let is_new = inserted.remove(&(v.venue_id.to_string(), v.visit_key.clone(), v.entered_at));
            if is_new && w.closes_open {
                sqlx::query(CLOSE_OPEN)
                    .bind(v.subject_id.as_str())
                    .bind(v.venue_id.as_str())
                    .bind(v.entered_at)
                    .bind(v.entered_at - Duration::days(1))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            new.push(is_new);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(new)
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
            .bind(at)
            .bind(at - Duration::days(1))
            .execute(&self.pool)
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
            "SELECT {VISIT_COLUMNS} FROM visits WHERE {column} = $1 AND entered_at < $2 AND left_at > $3 \
             ORDER BY entered_at, visit_key"
        );
        let rows = sqlx::query(&sql).bind(key).bind(to).bind(from).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(visit_from_row).collect()
    }

    pub(crate) async fn scan_attempt_record_impl(&self, a: &ScanAttempt) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO scan_attempts (attempt_key, venue_id, device_id, at, reason) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (attempt_key) DO NOTHING",
        )
        .bind(&a.attempt_key)
        .bind(a.venue_id.as_str())
        .bind(&a.device_id)
        .bind(a.at)
        .bind(&a.reason)
        .execute(&self.pool)
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
            "SELECT attempt_key, venue_id, device_id, at, reason FROM scan_attempts WHERE venue_id = $1 AND at >= $2 AND at < $3 \
             ORDER BY at, id",
        )
        .bind(venue.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ScanAttempt {
                    attempt_key: r.try_get("attempt_key").map_err(db_err)?,
                    venue_id: venue_id(&r.try_get::<String, _>("venue_id").map_err(db_err)?)?,
                    device_id: r.try_get("device_id").map_err(db_err)?,
                    at: r.try_get("at").map_err(db_err)?,
                    reason: r.try_get("reason").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// Drops the partitions of days before `day`, in one transaction; counts their rows first.
    pub(crate) async fn visits_drop_before_impl(&self, day: NaiveDate) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let parts = sqlx::query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'visits' AND p.relnamespace = c.relnamespace",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut gone = 0u64;
        for r in parts {
            let name: String = r.try_get(0).map_err(db_err)?;
            if partition_day(&name).is_none_or(|d| d >= day) {
                continue;
            }
            let count_sql = format!("SELECT count(*) FROM {name}");
            let row = sqlx::query(&count_sql).fetch_one(&mut *tx).await.map_err(db_err)?;
            let n: i64 = row.try_get(0).map_err(db_err)?;
            let drop_sql = format!("DROP TABLE {name}");
            sqlx::query(&drop_sql).execute(&mut *tx).await.map_err(db_err)?;
            gone += n as u64;
        }
        sqlx::query("DELETE FROM scan_attempts WHERE at < $1")
            .bind(local_midnight(day))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(gone)
    }
}
