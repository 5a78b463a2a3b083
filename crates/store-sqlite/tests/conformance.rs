//! The store conformance suite on SQLite: a fresh database file per test.

use std::sync::Arc;

use healthcode_store_sqlite::SqliteStore;

/// A store in a folder of its own, removed when the test ends (the conformance tests use it
/// as `&*store`).
struct TestStore {
    store: Arc<SqliteStore>,
    dir: std::path::PathBuf,
}

impl std::ops::Deref for TestStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        // Open connections keep the unlinked files until the pools close; the names go now.
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

async fn fresh_store() -> TestStore {
    let dir = std::env::temp_dir().join(format!("healthcode-sqlite-test-{}", random_name()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    TestStore { store: Arc::new(SqliteStore::open(&path).await.expect("open sqlite")), dir }
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

/// A commit reaches the database file itself soon after, copied from the WAL by the store's
/// checkpointer rather than by a writer (whose own automatic checkpoint waits for 32,000
/// frames): a copy of the database file without its WAL holds the person.
#[tokio::test]
async fn commits_reach_the_database_file_without_a_writer_checkpoint() {
    use healthcode_store::Store;
    let (dir, path) = temp_db();
    let store = SqliteStore::open(&path).await.unwrap();
    let p = healthcode_store::conformance::person("420102");
    store.person_insert(&p).await.unwrap();
    let copy = dir.join("copy.sqlite");
    let mut found = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        std::fs::copy(&path, &copy).unwrap();
        // Immutable: the copy is read as it is, with no WAL of its own.
        let url = format!("sqlite://{}?mode=ro&immutable=1", copy.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let n: Result<i64, _> = sqlx::query_scalar("SELECT count(*) FROM persons WHERE subject_id = ?")
            .bind(p.subject_id.as_str())
            .fetch_one(&pool)
            .await;
        pool.close().await;
        if n.is_ok_and(|n| n == 1) {
            found = true;
            break;
        }
    }
    assert!(found, "the commit never reached the database file");
    std::fs::remove_dir_all(&dir).ok();
}

/// A group commit of scans runs on the calling task's thread only when the write lock is free.
/// While another connection (another process: `healthcode import` on the same file) holds it,
/// the write waits on a blocking thread, the runtime's only thread meanwhile free for other
/// work, and goes through once the lock is released.
#[tokio::test]
async fn a_group_commit_waits_for_another_writer_without_blocking_the_runtime() {
    use healthcode_core::{SubjectId, VenueCategory};
    use healthcode_store::{CheckedWrite, Store, VisitRecord, VisitSource, VisitWrite, Written};
    use sqlx::Connection;
    let (dir, path) = temp_db();
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let venue = healthcode_store::conformance_visits::venue(VenueCategory::Restaurant).venue_id;
    let visit = VisitRecord {
        visit_key: "scan:st_dev:k1".into(),
        subject_id: SubjectId::from_random([7; 16]),
        venue_id: venue,
        entered_at: at(0),
        left_at: at(3600),
        closed: false,
        source: VisitSource::Scan,
    };
    let write = CheckedWrite { write: VisitWrite { visit, closes_open: false }, unless_red_since: None };

    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    let writing = tokio::spawn({
        let store = store.clone();
        async move { store.visits_write_checked(vec![write]).await }
    });
    // This test's runtime has one thread: the timer fires on time only if the write is not
    // holding that thread while it waits for the lock.
    let started = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "the runtime's thread was held");
    assert!(!writing.is_finished(), "written while another connection held the write lock");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(writing.await.unwrap().unwrap(), vec![Written::New]);
    std::fs::remove_dir_all(&dir).ok();
}
