//! Applies this backend's migrations, each in its own transaction, recording what ran.
//!
//! PostgreSQL has transactional DDL, so a migration that fails half-way leaves nothing behind.
//! Several servers may start against one database at once: every transaction here first takes
//! the same transaction-scoped advisory lock, so they apply migrations one after another and
//! the second finds them recorded. A transaction-scoped lock (rather than a session lock) is
//! released by commit or rollback, so an error cannot leave a pooled connection holding it.

use sqlx::{Executor, PgPool, Postgres, Row, Transaction};

use healthcode_store::{StoreError, StoreResult};

/// (version, name, SQL) in order. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "identity", include_str!("../migrations/0001_identity.sql")),
    (2, "facts", include_str!("../migrations/0002_facts.sql")),
    (3, "tests_cases", include_str!("../migrations/0003_tests_cases.sql")),
    (4, "decisions", include_str!("../migrations/0004_decisions.sql")),
    (5, "trips_vaccinations", include_str!("../migrations/0005_trips_vaccinations.sql")),
    (6, "venues_visits", include_str!("../migrations/0006_venues_visits.sql")),
    (7, "tracing", include_str!("../migrations/0007_tracing.sql")),
    (8, "overrides_quarantines", include_str!("../migrations/0008_overrides_quarantines.sql")),
    (9, "stays_by_phone", include_str!("../migrations/0009_stays_by_phone.sql")),
    (10, "review_queue", include_str!("../migrations/0010_review_queue.sql")),
    (11, "visits_by_venue", include_str!("../migrations/0011_visits_by_venue.sql")),
    (12, "declarations_by_day", include_str!("../migrations/0012_declarations_by_day.sql")),
    (13, "visits_unique_per_venue", include_str!("../migrations/0013_visits_unique_per_venue.sql")),
    (14, "rule_sets", include_str!("../migrations/0014_rule_sets.sql")),
];

pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Key of the advisory lock serialising migrations ("hcmigrat" in ASCII); any fixed number
/// works as long as nothing else in the database uses it.
const MIGRATION_LOCK: i64 = 0x6863_6d69_6772_6174;

fn err(e: sqlx::Error) -> StoreError {
    StoreError::Backend(format!("migration: {e}"))
}

async fn locked(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await.map_err(err)?;
    Ok(tx)
}

pub async fn run(pool: &PgPool) -> StoreResult<()> {
    // Under the lock too: two concurrent `CREATE TABLE IF NOT EXISTS` can still collide.
    let mut tx = locked(pool).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)?;

    for &(version, name, sql) in MIGRATIONS {
        let mut tx = locked(pool).await?;
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
        if done.is_some() {
            continue;
        }
        // Simple-query protocol: a migration file holds several statements. Called through
        // `Executor` because `RawSql::execute`'s future is not provably `Send` (a rustc
        // limitation with its higher-ranked bounds), which would make `connect` unusable
        // from spawned tasks.
        tx.execute(sqlx::raw_sql(sql)).await.map_err(err)?;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        tracing::info!(backend = "postgres", version, name, "applied migration");
    }
    let latest: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(pool)
        .await
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if latest > known {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {latest}, newer than this binary knows ({known}): upgrade healthcode"
        )));
    }
    Ok(())
}
