//! Overrides and quarantines on PostgreSQL; the rules they enforce are in `healthcode_store::overrides`.

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::{OFFICER_SCOPE, PostgresStore, db_err, insert_audit};

const OVERRIDE_COLUMNS: &str = "o.override_id, o.subject_id, o.color, o.legal_basis, o.reason_sealed, o.expires_at, \
     o.status, o.proposed_by, o.proposed_at, o.approved_by, o.approved_at";

const QUARANTINE_COLUMNS: &str =
    "q.quarantine_id, q.subject_id, q.kind, q.start_at, q.planned_end, q.ended_at, q.created_by, q.created_at";

fn override_from_row(r: &PgRow) -> StoreResult<OverrideRecord> {
    let s = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
    Ok(OverrideRecord {
        override_id: s("override_id")?,
        subject_id: codec::subject(&s("subject_id")?)?,
        color: codec::color(&s("color")?)?,
        legal_basis: s("legal_basis")?,
        reason_sealed: s("reason_sealed")?,
        expires_at: r.try_get("expires_at").map_err(db_err)?,
        status: codec::override_status(&s("status")?)?,
        proposed_by: s("proposed_by")?,
        proposed_at: r.try_get("proposed_at").map_err(db_err)?,
        approved_by: r.try_get("approved_by").map_err(db_err)?,
        approved_at: r.try_get("approved_at").map_err(db_err)?,
    })
}

fn quarantine_from_row(r: &PgRow) -> StoreResult<QuarantineRecord> {
    let s = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
    Ok(QuarantineRecord {
        quarantine_id: s("quarantine_id")?,
        subject_id: codec::subject(&s("subject_id")?)?,
        kind: codec::quarantine_kind(&s("kind")?)?,
        start: r.try_get("start_at").map_err(db_err)?,
        planned_end: r.try_get("planned_end").map_err(db_err)?,
        ended_at: r.try_get("ended_at").map_err(db_err)?,
        created_by: s("created_by")?,
        created_at: r.try_get("created_at").map_err(db_err)?,
    })
}

impl PostgresStore {
    /// Runs an `INSERT … SELECT … WHERE <in the officer's scope>` and, when it wrote a row,
    /// the audit record, in one transaction; `false` (nothing written) when out of scope.
    async fn insert_in_scope<'q>(
        &self,
        insert: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if insert.execute(&mut *tx).await.map_err(db_err)?.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    pub(crate) async fn override_propose_impl(
        &self,
        staff_id: &str,
        o: &OverrideRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        // The scope check and the insert are one statement: nothing is written out of scope.
        let sql = format!(
            "INSERT INTO overrides (override_id, subject_id, color, legal_basis, reason_sealed, expires_at, status, \
             proposed_by, proposed_at, approved_by, approved_at) \
             SELECT $3, p.subject_id, $4, $5, $6, $7, 'pending', $8, $9, NULL, NULL FROM persons p \
             WHERE p.subject_id = $1 AND {OFFICER_SCOPE}"
        );
        let insert = sqlx::query(&sql)
            .bind(o.subject_id.as_str())
            .bind(staff_id)
            .bind(&o.override_id)
            .bind(o.color.as_str())
            .bind(&o.legal_basis)
            .bind(&o.reason_sealed)
            .bind(o.expires_at)
            .bind(&o.proposed_by)
            .bind(o.proposed_at);
        self.insert_in_scope(insert, audit).await
    }

    pub(crate) async fn override_approve_impl(
        &self,
        staff_id: &str,
        override_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> StoreResult<Approval> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let sql = format!(
            "SELECT {OVERRIDE_COLUMNS} FROM overrides o JOIN persons p ON p.subject_id = o.subject_id \
             WHERE o.override_id = $1 AND {OFFICER_SCOPE} FOR UPDATE OF o"
        );
        let row = sqlx::query(&sql).bind(override_id).bind(staff_id).fetch_optional(&mut *tx).await.map_err(db_err)?;
        let Some(row) = row else { return Ok(Approval::NotFound) };
        let mut o = override_from_row(&row)?;
        if o.status != OverrideStatus::Pending {
            return Ok(Approval::NotPending);
        }
        if o.proposed_by == staff_id {
            return Ok(Approval::SameOfficer);
        }
        if o.expires_at <= at {
            return Ok(Approval::Expired);
        }
        sqlx::query(
            "UPDATE overrides SET status = 'approved', approved_by = $1, approved_at = $2 \
             WHERE override_id = $3 AND status = 'pending'",
        )
        .bind(staff_id)
        .bind(at)
        .bind(override_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let audit = AuditEntry { subject_id: Some(o.subject_id.clone()), ..audit.clone() };
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        o.status = OverrideStatus::Approved;
        o.approved_by = Some(staff_id.to_string());
        o.approved_at = Some(at);
        Ok(Approval::Approved(o))
    }

    pub(crate) async fn overrides_for_impl(&self, subject_id: &SubjectId) -> StoreResult<Vec<OverrideRecord>> {
        let sql = format!(
            "SELECT {OVERRIDE_COLUMNS} FROM overrides o WHERE o.subject_id = $1 AND o.status = 'approved' \
             ORDER BY o.approved_at, o.override_id"
        );
        let rows = sqlx::query(&sql).bind(subject_id.as_str()).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(override_from_row).collect()
    }

    pub(crate) async fn quarantine_insert_impl(
        &self,
        staff_id: &str,
        q: &QuarantineRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO quarantines (quarantine_id, subject_id, kind, start_at, planned_end, ended_at, created_by, \
             created_at) SELECT $3, p.subject_id, $4, $5, $6, $7, $8, $9 FROM persons p \
             WHERE p.subject_id = $1 AND {OFFICER_SCOPE}"
        );
        let insert = sqlx::query(&sql)
            .bind(q.subject_id.as_str())
            .bind(staff_id)
            .bind(&q.quarantine_id)
            .bind(q.kind.as_str())
            .bind(q.start)
            .bind(q.planned_end)
            .bind(q.ended_at)
            .bind(&q.created_by)
            .bind(q.created_at);
        self.insert_in_scope(insert, audit).await
    }

    pub(crate) async fn quarantine_end_impl(
        &self,
        staff_id: &str,
        quarantine_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> StoreResult<Option<QuarantineRecord>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let sql = format!(
            "SELECT {QUARANTINE_COLUMNS} FROM quarantines q JOIN persons p ON p.subject_id = q.subject_id \
             WHERE q.quarantine_id = $1 AND {OFFICER_SCOPE} FOR UPDATE OF q"
        );
        let row =
            sqlx::query(&sql).bind(quarantine_id).bind(staff_id).fetch_optional(&mut *tx).await.map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let mut q = quarantine_from_row(&row)?;
        if q.ended_at.is_some() {
            return Ok(Some(q));
        }
        // A release cannot precede the start (the schema checks it too).
        let end = at.max(q.start);
        sqlx::query("UPDATE quarantines SET ended_at = $1 WHERE quarantine_id = $2 AND ended_at IS NULL")
            .bind(end)
            .bind(quarantine_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let audit = AuditEntry { subject_id: Some(q.subject_id.clone()), ..audit.clone() };
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        q.ended_at = Some(end);
        Ok(Some(q))
    }

    pub(crate) async fn quarantines_for_impl(&self, subject_id: &SubjectId) -> StoreResult<Vec<QuarantineRecord>> {
        let sql = format!(
            "SELECT {QUARANTINE_COLUMNS} FROM quarantines q WHERE q.subject_id = $1 ORDER BY q.start_at, q.quarantine_id"
        );
        let rows = sqlx::query(&sql).bind(subject_id.as_str()).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(quarantine_from_row).collect()
    }
}
