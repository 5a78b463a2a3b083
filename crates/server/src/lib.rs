//! The HTTP API of healthcode.
//!
//! Invariants:
//! - Handlers parse every input into `healthcode-core` types before using it; nothing
//!   unparsed reaches the store.
//! - Clear personal data exists only in memory, between the vault and the response.
//! - No log line carries an ID number, phone, name, token or one-time password (the `log`
//!   OTP sender's one line is the deliberate exception, off unless chosen).
//! - `run` takes a bound listener and a shutdown future, so tests start servers on port 0
//!   in-process and stop them cleanly.

use std::future::Future;

use tokio::net::TcpListener;

pub mod clock;
pub mod error;
pub mod extract;
pub mod http;
pub mod identity;
pub mod imports;
pub mod metrics;
pub mod otp_sender;
pub mod recolor;
pub mod retention;
pub mod risk;
pub mod routes;
pub mod rules_in_force;
pub mod settings;
pub mod signature_batch;
pub mod state;
pub mod trace_job;
pub mod validate;
pub mod visits_writer;

pub use routes::router;
pub use settings::{OtpSenderKind, Settings};
pub use state::AppState;

/// Serves until `shutdown` completes, then finishes the requests in flight. The review
/// scheduler and retention run alongside and stop with it.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    recolor::spawn_scheduler(state.clone(), state.settings.review_interval, stop_rx.clone());
    retention::spawn_retention(state.clone(), state.settings.retention_interval, stop_rx);
    // The visit writer stops after the last request has been answered, not with the others.
    let (writer_stop, writer_rx) = tokio::sync::watch::channel(false);
    let writer = state.visits.spawn_writer(
        state.store.clone(),
        state.settings.scans.group_max,
        state.metrics.visit_group_size.clone(),
        writer_rx,
    );
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = writer_stop.send(true);
    if let Some(w) = writer {
        let _ = w.await;
    }
    served
}
