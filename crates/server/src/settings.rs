//! Server settings: what `healthcode serve` reads from its config file and environment.

use std::sync::Arc;

use chrono::Duration;
use healthcode_core::otp::OtpPolicy;
use healthcode_core::rules::RuleSet;
use serde::Deserialize;

/// Which one-time-password sender to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtpSenderKind {
    /// Writes `otp phone=<phone> code=<code>` to the log: for demos and tests only.
    Log,
    /// Sends nothing and refuses to issue codes: a `serve` without a configured sender must
    /// not pretend to log people in.
    Disabled,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `HEALTHCODE_BOOTSTRAP_ADMIN_TOKEN`: a bearer token that acts as admin, to create the
    /// first staff accounts. Compared by hash; never logged.
    pub bootstrap_admin_token: Option<String>,
    pub otp_sender: OtpSenderKind,
    pub otp_policy: OtpPolicy,
    /// How long a citizen login lasts.
    pub session_ttl: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Most dependents one guardian may register.
    pub max_dependents: usize,
    /// Lifetime of a phone code: short, so a screenshot dies quickly.
    pub code_ttl: Duration,
    /// Lifetime of a printed paper code (it carries no color).
    pub paper_ttl: Duration,
    /// How long a published trust list is valid; verifiers refresh before then.
    pub trust_list_validity: Duration,
    /// The rule set in force (the shipped default unless a deployment publishes its own).
    pub rules: Arc<RuleSet>,
    /// How often the scheduler looks for decisions due for review.
    pub review_interval: std::time::Duration,
    /// Scans and check-ins: venue policy, bounds on scan times, batch sizes.
    pub scans: crate::visits_writer::ScanSettings,
    /// Longest an override may last before it must be proposed and approved again.
    pub override_max: Duration,
    /// Contact tracing thresholds (`docs/tracing.md`).
    pub tracing: healthcode_core::tracing::TracingParams,
    /// Visits older than this many local days are deleted (`retention.rs`; at least 14).
    pub visit_retention_days: u32,
    /// Declarations of days older than this many local days are deleted (`retention.rs`; at
    /// least the days of facts the rules read, `risk::LOOK_BACK_DAYS`).
    pub declaration_retention_days: u32,
    /// How often retention runs.
    pub retention_interval: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bootstrap_admin_token: None,
            otp_sender: OtpSenderKind::Disabled,
            otp_policy: OtpPolicy::default(),
            session_ttl: Duration::days(7),
            body_limit: 64 * 1024,
            max_dependents: 10,
            code_ttl: Duration::seconds(180),
            paper_ttl: Duration::days(365),
            trust_list_validity: Duration::days(7),
            rules: Arc::new(RuleSet::default_rules()),
            review_interval: std::time::Duration::from_secs(10),
            scans: crate::visits_writer::ScanSettings::default(),
            override_max: Duration::days(30),
            tracing: healthcode_core::tracing::TracingParams::default(),
            visit_retention_days: 28,
            declaration_retention_days: crate::risk::LOOK_BACK_DAYS as u32,
            retention_interval: std::time::Duration::from_secs(3600),
        }
    }
}
