//! The store conformance suite on SQLite: a fresh database file per test.

use std::sync::Arc;

use healthcode_store_sqlite::SqliteStore;

async fn fresh_store() -> Arc<SqliteStore> {
    let dir = std::env::temp_dir().join(format!("healthcode-sqlite-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.sqlite", random_name()));
    Arc::new(SqliteStore::open(&path).await.expect("open sqlite"))
}

fn random_name() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos}-{}", SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Every migration this binary knows, in order, as the binaries that shipped them applied them.
const MIGRATIONS: [&str; 12] = [
    include_str!("../migrations/0001_identity.sql"),
    include_str!("../migrations/0002_facts.sql"),
    include_str!("../migrations/0003_tests_cases.sql"),
    include_str!("../migrations/0004_decisions.sql"),
    include_str!("../migrations/0005_trips_vaccinations.sql"),
    include_str!("../migrations/0006_venues_visits.sql"),
    include_str!("../migrations/0007_tracing.sql"),
    include_str!("../migrations/0008_overrides_quarantines.sql"),
    include_str!("../migrations/0009_stays_by_phone.sql"),
    include_str!("../migrations/0010_review_queue.sql"),
    include_str!("../migrations/0011_visits_by_venue.sql"),
    include_str!("../migrations/0012_decision_records.sql"),
];

/// A database file at schema `version`: what an older binary left, for testing the next
/// migrations on data it wrote (which the caller inserts through the returned pool).
async fn database_at_version(path: &std::path::Path, version: usize) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (v, sql) in MIGRATIONS[..version].iter().enumerate() {
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES (?, 'before')")
            .bind(v as i64 + 1)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool
}

mod decisions_layout;
mod visits_layout;

healthcode_store::store_conformance_tests!(fresh_store());

/// Reopening a database applies no migration twice and keeps the data.
#[tokio::test]
async fn reopening_keeps_data_and_schema() {
    use healthcode_store::Store;
    let dir = std::env::temp_dir().join(format!("healthcode-sqlite-reopen-{}", random_name()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let p = healthcode_store::conformance::person("420102");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.person_insert(&p).await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.person_get(&p.subject_id).await.unwrap(), Some(p));
    std::fs::remove_dir_all(&dir).ok();
}
