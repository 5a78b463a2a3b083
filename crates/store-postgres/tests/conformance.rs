//! The store conformance suite on PostgreSQL: a fresh database per test, created through the
//! admin URL in `HEALTHCODE_TEST_PG_URL` (see `healthcode_store_postgres::testing`).
//!
//! These tests fail, rather than skip, when PostgreSQL is not running: a green run must mean
//! the backend was exercised. Each test's database (`hc_test_*`) is dropped when the test
//! passes and kept for inspection when it fails.

use std::ops::Deref;
use std::sync::Arc;

use healthcode_core::otp::{OtpOutcome, OtpPolicy, OtpRefusal};
use healthcode_store::{OtpResult, OtpTransition, Store, StoreError};
use healthcode_store_postgres::{PostgresStore, testing};
use sqlx::{Connection, PgConnection, Row};

/// An empty database, created and owned by the test.
struct TestDb {
    url: String,
}

impl TestDb {
    async fn create() -> Self {
        Self { url: testing::fresh_database().await }
    }

    async fn connect(&self) -> PostgresStore {
        PostgresStore::connect(&self.url).await.expect("connect the store to the test database")
    }

    async fn sql(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect to the test database")
    }

    fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or(&self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: keeping database {} for inspection", self.name());
            return;
        }
        // Best effort, and never a reason to fail a test. Drop cannot await, and the test's
        // runtime may be single-threaded, so the drop runs on its own thread and runtime. It
        // forces the store's pooled connections, which may still be open, to end.
        let url = self.url.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(testing::drop_database(&url))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}; a sweep of hc_test_% will", self.name());
        }
    }
}

/// A store on a fresh, migrated database; the database goes when the store does.
struct TestStore {
    // Field order matters: the store is dropped before the database.
    store: Arc<PostgresStore>,
    _db: TestDb,
}

impl Deref for TestStore {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

async fn fresh_store() -> TestStore {
    let db = TestDb::create().await;
    TestStore { store: Arc::new(db.connect().await), _db: db }
}

healthcode_store::store_conformance_tests!(fresh_store());

async fn migration_versions(db: &TestDb) -> Vec<i64> {
    let mut conn = db.sql().await;
    let rows =
        sqlx::query("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&mut conn).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Reconnecting applies no migration twice and keeps the data.
#[tokio::test]
async fn reopening_keeps_data_and_schema() {
    let db = TestDb::create().await;
    let p = healthcode_store::conformance::person("420102");
    {
        let store = db.connect().await;
        store.person_insert(&p).await.unwrap();
    }
    let store = db.connect().await;
    assert_eq!(store.person_get(&p.subject_id).await.unwrap(), Some(p));
    assert_eq!(migration_versions(&db).await, (1..=healthcode_store_postgres::SCHEMA_VERSION).collect::<Vec<_>>());
}

/// Servers starting together against a new database migrate it once, without errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_starts_migrate_once() {
    // Created on a spawned task too: other crates' tests may need these futures to be `Send`.
    let db = Arc::new(TestDb { url: tokio::spawn(testing::fresh_database()).await.unwrap() });
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { PostgresStore::connect(&db.url).await.map(|_| ()) })
        })
        .collect();
    for s in starts {
        s.await.unwrap().expect("every concurrent start succeeds");
    }
    assert_eq!(migration_versions(&db).await, (1..=healthcode_store_postgres::SCHEMA_VERSION).collect::<Vec<_>>());
}

/// A database migrated by a newer binary is refused, not written to.
#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TestDb::create().await;
    drop(db.connect().await);
    let mut conn = db.sql().await;
    sqlx::query("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = PostgresStore::connect(&db.url).await.err().expect("a newer schema is refused");
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("newer")), "{err:?}");
}

fn phone() -> Vec<u8> {
    b"phone-concurrent".to_vec()
}

/// Simultaneous first requests for a phone: exactly one code is sent, the rest wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_codes_send_one() {
    let store = fresh_store().await;
    let policy = OtpPolicy::default();
    let now = healthcode_store::conformance::at(0);
    let phone = phone();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (store, phone) = (store.store.clone(), phone.clone());
            let issue = OtpTransition::Issue { code_hash: format!("code-{i}").into_bytes() };
            tokio::spawn(async move { store.otp_apply(&phone, issue, now, &policy).await.unwrap() })
        })
        .collect();
    let mut issued = 0;
    for t in tasks {
        match t.await.unwrap() {
            OtpResult::Issued => issued += 1,
            OtpResult::Refused(OtpRefusal::TooSoon { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(issued, 1);
}

/// Simultaneous wrong guesses are all counted: the lock comes after exactly five.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_are_all_counted() {
    let store = fresh_store().await;
    let policy = OtpPolicy::default();
    let now = healthcode_store::conformance::at(0);
    let phone = phone();
    let issue = OtpTransition::Issue { code_hash: b"good".to_vec() };
    assert_eq!(store.otp_apply(&phone, issue, now, &policy).await.unwrap(), OtpResult::Issued);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (store, phone) = (store.store.clone(), phone.clone());
            let verify = OtpTransition::Verify { code_hash: b"bad".to_vec() };
            tokio::spawn(async move { store.otp_apply(&phone, verify, now, &policy).await.unwrap() })
        })
        .collect();
    let (mut wrong, mut locked_now, mut locked) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            OtpResult::Checked(OtpOutcome::Wrong { .. }) => wrong += 1,
            OtpResult::Checked(OtpOutcome::LockedNow { .. }) => locked_now += 1,
            OtpResult::Checked(OtpOutcome::Locked { .. }) => locked += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((wrong, locked_now, locked), (4, 1, 7));
}

/// Simultaneous declarations for one person and day: all accepted, one in force, the rest
/// kept as history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_declarations_supersede_in_turn() {
    let store = fresh_store().await;
    let p = healthcode_store::conformance::person("420102");
    store.person_insert(&p).await.unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2027, 1, 5).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.store.clone();
            let d = healthcode_core::Declaration {
                subject_id: p.subject_id.clone(),
                day,
                temperature: healthcode_core::Temperature::from_tenths(365),
                symptoms: vec![],
                contact_with_suspected_case: false,
                current_region: p.household_region,
                declared_by: p.subject_id.clone(),
                declared_at: healthcode_store::conformance::at(i),
            };
            tokio::spawn(async move { store.declaration_submit(&d).await.unwrap() })
        })
        .collect();
    let mut replaced = 0;
    for t in tasks {
        replaced += usize::from(t.await.unwrap().replaced);
    }
    assert_eq!(replaced, 7, "every submission but the first replaced one");
    let history = store.declarations(&p.subject_id, 100).await.unwrap();
    assert_eq!(history.len(), 8);
    assert_eq!(history.iter().filter(|d| d.superseded_at.is_none()).count(), 1);
    assert!(store.declaration_for_day(&p.subject_id, day).await.unwrap().is_some());
}

/// Concurrent audit appends get distinct sequence numbers, and a reader following
/// `audit_since` sees every record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_audit_appends_are_read_in_order() {
    let store = fresh_store().await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.store.clone();
            let e = healthcode_store::AuditEntry {
                at: healthcode_store::conformance::at(i),
                actor: healthcode_store::Actor { kind: "citizen".into(), id: format!("c{i}"), role: None },
                action: "test.concurrent".into(),
                subject_id: None,
                purpose: None,
                detail: serde_json::json!({ "i": i }),
            };
            tokio::spawn(async move { store.audit_append(&e).await.unwrap() })
        })
        .collect();
    // A reader polls while the writers run; its cursor must never pass a record it has not
    // seen, which a final read after the writers finish would not repair.
    let mut seen = Vec::new();
    let mut cursor = 0;
    let reader = store.store.clone();
    let mut read = async |seen: &mut Vec<i64>| {
        for r in reader.audit_since(cursor, 7).await.unwrap() {
            cursor = r.seq;
            seen.push(r.seq);
        }
    };
    while !tasks.iter().all(|t| t.is_finished()) {
        read(&mut seen).await;
        tokio::task::yield_now().await;
    }
    while seen.len() < 40 {
        let before = seen.len();
        read(&mut seen).await;
        if seen.len() == before {
            break;
        }
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seen, seqs);
}
