//! Picks the backend from the database URL: the only place that knows both.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use healthcode_store::Store;
use healthcode_store_postgres::PostgresStore;
use healthcode_store_sqlite::SqliteStore;

/// Refuses a URL no backend takes, before anything else is opened.
pub fn check_url(url: &str) -> Result<()> {
    if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        bail!("HEALTHCODE_DATABASE_URL must start with sqlite:// or postgres://")
    }
}

pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    check_url(url)?;
    if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await.context("opening the SQLite database")?;
        Ok(Arc::new(store))
    } else {
        let store = PostgresStore::connect(url).await.context("connecting to PostgreSQL")?;
        Ok(Arc::new(store))
    }
}
