//! Retention (DESIGN §8): visits are deleted once they are older than the configured number
//! of days. Visits exist for tracing only; keeping them longer than tracing can use them is
//! keeping a record of where everyone went. Superseded decision records (their evidence names
//! stays, places and tests) go after the same number of days; each person's last decision
//! stays. On PostgreSQL a day of visits is a partition, so
//! this drops whole tables; on SQLite it deletes a range of the time index.
//!
//! Daily declarations (temperature, symptoms, where the person is) go after their own number
//! of days, never fewer than the rules read (`risk::LOOK_BACK_DAYS`): a declaration the rules
//! could still use is not deleted, so retention changes no one's color.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::local_day;
use healthcode_store::StoreResult;

use crate::state::AppState;

/// The shortest retention accepted: a case's infectious window begins two days before onset
/// and cases are often confirmed a week or more later; tracing needs those days' visits.
pub const MIN_VISIT_RETENTION_DAYS: u32 = 14;

/// The first local day whose visits or declarations are kept at `now`, given their retention.
pub fn first_kept_day(now: DateTime<Utc>, retention_days: u32) -> NaiveDate {
    local_day(now) - Duration::days(i64::from(retention_days))
}

/// Deletes the visits of local days older than the retention; returns how many went.
pub async fn drop_expired_visits(app: &AppState) -> StoreResult<u64> {
    app.store.visits_drop_before(first_kept_day(app.clock.now(), app.settings.visit_retention_days)).await
}

/// Deletes the declarations of local days older than their retention; returns how many went.
pub async fn drop_expired_declarations(app: &AppState) -> StoreResult<u64> {
    let from = first_kept_day(app.clock.now(), app.settings.declaration_retention_days);
    app.store.declarations_drop_before(from).await
}

/// Deletes the records of superseded decisions older than the retention; returns how many went.
pub async fn drop_expired_decision_records(app: &AppState) -> StoreResult<u64> {
    let before = app.clock.now() - Duration::days(i64::from(app.settings.visit_retention_days));
    app.store.decision_records_drop_before(before).await
}

/// Runs [`drop_expired_visits`], [`drop_expired_decision_records`] and
/// [`drop_expired_declarations`] at start and then every `every`, until `shutdown`.
pub fn spawn_retention(app: AppState, every: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let s = &app.settings;
            logged("visits", s.visit_retention_days, drop_expired_visits(&app).await);
            logged("superseded decision records", s.visit_retention_days, drop_expired_decision_records(&app).await);
            logged("declarations", s.declaration_retention_days, drop_expired_declarations(&app).await);
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// One log line for a retention step that deleted something, or that failed.
fn logged(what: &'static str, days: u32, result: StoreResult<u64>) {
    match result {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, what, days, "retention: rows older than their retention deleted"),
        Err(e) => tracing::error!(error = %e, what, "retention: deleting old rows failed"),
    }
}
