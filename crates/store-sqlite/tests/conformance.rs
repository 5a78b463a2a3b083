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

/// A time in the tests' era, `secs` after a fixed instant.
fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

/// A folder of its own and a database path in it (the caller removes the folder).
fn temp_db() -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("healthcode-sqlite-layout-{}", random_name()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    (dir, path)
}

/// A database file at schema `version`, as an older binary left it, for testing the next
/// migrations on data it wrote (which the caller inserts through the returned pool).
async fn database_at_version(path: &std::path::Path, version: i64) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    healthcode_store_sqlite::migrate_up_to(&pool, version).await.unwrap();
    pool
}

mod decisions_layout;
mod stays_layout;
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
