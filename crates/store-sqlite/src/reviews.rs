//! The review queue on SQLite (migration 0010); see `Store::reviews_request`.

use chrono::{DateTime, Utc};
use healthcode_core::SubjectId;
use healthcode_store::{StoreResult, codec};
use sqlx::Row;

use crate::{SqliteStore, db_err, micros};

/// Subjects per statement, well under SQLite's limit of bound values.
const CHUNK: usize = 1000;

impl SqliteStore {
    pub(crate) async fn reviews_request_impl(&self, subjects: &[SubjectId], at: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut added = 0;
        for chunk in subjects.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            // From `persons`, so an unknown subject is skipped rather than failing the batch.
            let sql = format!(
                "INSERT INTO review_queue (subject_id, requested_at) SELECT subject_id, ? FROM persons \
                 WHERE subject_id IN ({marks}) ON CONFLICT (subject_id) DO NOTHING"
            );
            let mut q = sqlx::query(&sql).bind(micros(at));
            for s in chunk {
                q = q.bind(s.as_str());
            }
            added += q.execute(&mut *tx).await.map_err(db_err)?.rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(added)
    }

    pub(crate) async fn reviews_take_impl(&self, limit: u32) -> StoreResult<Vec<SubjectId>> {
        let rows = sqlx::query(
            "DELETE FROM review_queue WHERE subject_id IN \
             (SELECT subject_id FROM review_queue ORDER BY requested_at, subject_id LIMIT ?) RETURNING subject_id",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)).collect()
    }
}
