//! Copies the WAL into the database file on a connection of its own, so writers never do it.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the threshold copies the WAL
//! and syncs the WAL and the database file before it returns, on the writer's thread: every
//! scan of the group commit waiting behind it waits for two fsyncs, and an import's next batch
//! waits too. Here a task runs a `PASSIVE` checkpoint on its own connection every
//! [`INTERVAL`] (with nothing new in the WAL it returns at once); WAL mode lets it run
//! alongside the writer (it never takes the write lock). The writer keeps an automatic checkpoint as a
//! backstop ([`BACKSTOP_FRAMES`]), should this task fall behind or stop.
//!
//! Durability is unchanged: a commit is durable once it is in the WAL (`synchronous =
//! NORMAL`); the checkpoint only decides when the WAL's pages reach the database file.

use std::sync::Weak;
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

/// How often the WAL is checked and, if it grew, copied.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

/// The writer's own automatic checkpoint (`wal_autocheckpoint`), should the checkpointer fall
/// behind: 32,000 frames, 128 MiB of WAL (recovery after a crash reads at most about this much).
pub(crate) const BACKSTOP_FRAMES: u32 = 32_000;

/// Runs until the store it serves is dropped (`alive` no longer upgrades) or the runtime stops.
pub(crate) fn spawn(pool: SqlitePool, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                break;
            }
            // With nothing new in the WAL this reads its index header and returns. On an
            // error (a closed pool, a busy database) the next tick tries again, and the
            // writer's backstop keeps the WAL bounded meanwhile.
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!(error = %e, "WAL checkpoint failed; retrying");
            }
        }
    });
}
