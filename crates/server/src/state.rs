//! What every handler can reach.

use std::ops::Deref;
use std::sync::Arc;

use healthcode_store::Store;
use healthcode_token::Keyring;
use healthcode_vault::Vault;

use crate::clock::{Clock, SystemClock};
use crate::metrics::Metrics;
use crate::otp_sender::{DisabledSender, LogSender, OtpSender};
use crate::settings::{OtpSenderKind, Settings};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    /// Issuer signing keys and the root key of the trust list.
    pub keys: Arc<Keyring>,
    /// The published rule set in force.
    pub rules: crate::rules_in_force::RulesInForce,
    /// Color changes, for whoever subscribes.
    pub events: tokio::sync::broadcast::Sender<crate::recolor::ColorEvent>,
    pub otp_sender: Arc<dyn OtpSender>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub metrics: Metrics,
    /// SHA-256 of the bootstrap admin token, if one is configured.
    pub bootstrap_admin_hash: Option<Vec<u8>>,
    /// The group-commit visit writer and the caches scans read (`visits_writer.rs`).
    pub visits: crate::visits_writer::Visits,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// State with the system clock and the sender the settings name.
    pub fn new(store: Arc<dyn Store>, vault: Arc<Vault>, keys: Arc<Keyring>, settings: Settings) -> Self {
        let sender: Arc<dyn OtpSender> = match settings.otp_sender {
            OtpSenderKind::Log => Arc::new(LogSender),
            OtpSenderKind::Disabled => Arc::new(DisabledSender),
        };
        Self::with_parts(store, vault, keys, settings, sender, Arc::new(SystemClock))
    }

    /// State with an explicit sender and clock (an SMS gateway, or a test's manual clock).
    pub fn with_parts(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        keys: Arc<Keyring>,
        settings: Settings,
        otp_sender: Arc<dyn OtpSender>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let bootstrap_admin_hash =
            settings.bootstrap_admin_token.as_deref().filter(|t| !t.is_empty()).map(healthcode_vault::token_hash);
        Self(Arc::new(Inner {
            store,
            vault,
            keys,
            rules: crate::rules_in_force::RulesInForce::new(settings.rules.clone()),
            events: tokio::sync::broadcast::channel(1024).0,
            otp_sender,
            clock,
            settings,
            metrics: Metrics::new(),
            bootstrap_admin_hash,
            visits: Default::default(),
        }))
    }
}
