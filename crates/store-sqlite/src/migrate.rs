//! Applies this backend's migrations, each in its own transaction, recording what ran.

use sqlx::{Row, SqlitePool};

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
    (12, "decision_records", include_str!("../migrations/0012_decision_records.sql")),
    (13, "stays_by_record", include_str!("../migrations/0013_stays_by_record.sql")),
    (14, "declarations_by_day", include_str!("../migrations/0014_declarations_by_day.sql")),
    (15, "visits_unique_per_venue", include_str!("../migrations/0015_visits_unique_per_venue.sql")),
    (16, "rule_sets", include_str!("../migrations/0016_rule_sets.sql")),
    (17, "rule_set_version_ids", include_str!("../migrations/0017_rule_set_version_ids.sql")),
];

pub async fn run(pool: &SqlitePool) -> StoreResult<()> {
    run_up_to(pool, i64::MAX).await
}

/// Applies the migrations up to `last` (tests build the database an older binary left).
pub async fn run_up_to(pool: &SqlitePool, last: i64) -> StoreResult<()> {
    let err = |e: sqlx::Error| StoreError::Backend(format!("migration: {e}"));
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(pool)
    .await
    .map_err(err)?;
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 <= last) {
        let mut tx = pool.begin().await.map_err(err)?;
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = ?")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
        if done.is_some() {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(err)?;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        tracing::info!(backend = "sqlite", version, name, "applied migration");
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
