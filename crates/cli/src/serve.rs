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
    if let Some(path) = cfg.rules_file {
        reload_rules_on_hangup(state.clone(), path)?;
    }
    healthcode_server::run(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// On each SIGHUP, re-reads the rule file; a file with errors is refused with their lines and
/// columns and the rules in force stay (`rules_in_force.rs`).
fn reload_rules_on_hangup(state: AppState, path: std::path::PathBuf) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "rule file not reloaded; the rules in force stay");
                    continue;
                }
            };
            if let Err(errors) = healthcode_server::rules_in_force::reload(&state, &text).await {
                for e in &errors {
                    tracing::error!("{}:{e}", path.display());
                }
                tracing::error!(errors = errors.len(), "rule file refused; the rules in force stay");
            }
        }
    });
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
