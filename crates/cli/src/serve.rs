//! `healthcode serve`

use std::sync::Arc;

use anyhow::{Context, Result};
use healthcode_server::AppState;
use healthcode_vault::Vault;
use tokio::net::TcpListener;

use crate::config::Config;

pub async fn serve(cfg: Config) -> Result<()> {
    let vault = Vault::from_config(&cfg.data_keys, &cfg.index_key).context("data keys")?;
    let store = crate::store::open(&cfg.database_url).await?;
    let listener = TcpListener::bind(&cfg.listen).await.with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(backend = store.backend(), otp_sender = ?cfg.settings.otp_sender, "listening on http://{addr}");
    let state = AppState::new(store, Arc::new(vault), cfg.settings);
    healthcode_server::run(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
