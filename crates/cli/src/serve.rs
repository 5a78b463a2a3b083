//! `healthcode serve`

use std::sync::Arc;

use anyhow::{Context, Result};
use healthcode_server::AppState;
use healthcode_token::Keyring;
use healthcode_vault::Vault;
use tokio::net::TcpListener;

use crate::config::Config;

pub async fn serve(cfg: Config) -> Result<()> {
    let vault = Vault::from_config(&cfg.data_keys, &cfg.index_key).context("data keys")?;
    let keys = Keyring::load(&cfg.keys_dir).with_context(|| {
        format!(
            "signing keys in {} (HEALTHCODE_KEYS_DIR); create them with `healthcode keys generate --region CODE`",
            cfg.keys_dir.display()
        )
    })?;
    let store = crate::store::open(&cfg.database_url).await?;
    let listener = TcpListener::bind(&cfg.listen).await.with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = shutdown_signal()?;
    tracing::info!(backend = store.backend(), otp_sender = ?cfg.settings.otp_sender, "listening on http://{addr}");
    let active = keys.active().map(|k| k.kid_hex()).unwrap_or_default();
    tracing::info!(kid = %active, "signing with issuer key");
    let state = AppState::new(store, Arc::new(vault), Arc::new(keys), cfg.settings);
    healthcode_server::run(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// A future that completes on Ctrl-C or SIGTERM. The handlers are installed now, before the
/// caller announces that it is up, so a signal sent right after the announcement is caught.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the Ctrl-C handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}
