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

    pub(crate) async fn subjects_by_indexes_impl(
        &self,
        phone_indexes: &[Vec<u8>],
        id_indexes: &[Vec<u8>],
    ) -> StoreResult<Vec<SubjectId>> {
        let mut out = Vec::new();
        for (column, keys) in [("phone_index", phone_indexes), ("id_index", id_indexes)] {
            for chunk in keys.chunks(CHUNK) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!("SELECT subject_id FROM persons WHERE {column} IN ({marks})");
                let mut q = sqlx::query(&sql);
                for k in chunk {
                    q = q.bind(k.as_slice());
                }
                for r in q.fetch_all(&self.reader).await.map_err(db_err)? {
                    out.push(codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)?);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
