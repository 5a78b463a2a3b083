//! The review queue on PostgreSQL (migration 0010); see `Store::reviews_request`.

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_store::{StoreResult, codec};
use sqlx::Row;

use crate::{PostgresStore, db_err};

/// Subjects per statement.
const CHUNK: usize = 1000;

impl PostgresStore {
    pub(crate) async fn reviews_request_impl(&self, subjects: &[SubjectId], at: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut added = 0;
        for chunk in subjects.chunks(CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(SubjectId::as_str).collect();
            // From `persons`, so an unknown subject is skipped rather than failing the batch.
            added += sqlx::query(
                "INSERT INTO review_queue (subject_id, requested_at) SELECT subject_id, $1 FROM persons \
                 WHERE subject_id = ANY($2) ON CONFLICT (subject_id) DO NOTHING",
            )
            .bind(at)
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(added)
    }

    pub(crate) async fn reviews_take_impl(&self, limit: u32) -> StoreResult<Vec<SubjectId>> {
        let rows = sqlx::query(
            "DELETE FROM review_queue WHERE subject_id IN \
             (SELECT subject_id FROM review_queue ORDER BY requested_at, subject_id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING subject_id",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)).collect()
    }

    pub(crate) async fn subjects_by_indexes_impl(
        &self,
        phone_indexes: &[Vec<u8>],
        id_indexes: &[Vec<u8>],
    ) -> StoreResult<Vec<SubjectId>> {
        let mut out = Vec::new();
        for (sql, keys) in [
            ("SELECT subject_id FROM persons WHERE phone_index = ANY($1)", phone_indexes),
            ("SELECT subject_id FROM persons WHERE id_index = ANY($1)", id_indexes),
        ] {
            for chunk in keys.chunks(CHUNK) {
                for r in sqlx::query(sql).bind(chunk).fetch_all(&self.pool).await.map_err(db_err)? {
                    out.push(codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)?);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
