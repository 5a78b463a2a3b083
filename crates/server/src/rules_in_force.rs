//! The rule set in force, replaceable while the server runs (R4, R12).
//!
//! A deployment edits its rule file and sends SIGHUP (`healthcode serve`), or calls
//! [`reload`]. A file with errors is refused with every error's line and column, and the old
//! rules stay in force: a typo must never leave a city without rules. After a successful
//! reload the stored decisions made under another version are marked due, so the scheduler
//! re-evaluates them (and records any color change) while codes, which evaluate live, follow
//! the new rules at once.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use healthcode_core::rules::{Decision, Facts, PublishedRuleSet, RegionRisk, RuleError, RuleSet, Verdict};

use crate::state::AppState;

pub struct RulesInForce(RwLock<Arc<RuleSet>>);

impl RulesInForce {
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self(RwLock::new(rules))
    }

    /// The rule set now. Hold on to it when several answers must come from one version.
    pub fn current(&self) -> Arc<RuleSet> {
        // A poisoned lock still holds a whole Arc: a panic elsewhere cannot tear it.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn replace(&self, rules: Arc<RuleSet>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = rules;
    }

    pub fn evaluate(&self, facts: &Facts, regions: &RegionRisk, now: DateTime<Utc>) -> Decision {
        self.current().evaluate(facts, regions, now)
    }

    pub fn evaluate_color(&self, facts: &Facts, regions: &RegionRisk, now: DateTime<Utc>) -> Verdict {
        self.current().evaluate_color(facts, regions, now)
    }

    pub fn published(&self) -> PublishedRuleSet {
        self.current().published()
    }

    pub fn version(&self) -> String {
        self.current().version()
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub previous_version: String,
    pub version: String,
    /// Stored decisions now due for re-evaluation.
    pub decisions_due: u64,
}

/// Parses `text` and, when it has no errors, puts it in force. On errors nothing changes.
pub async fn reload(app: &AppState, text: &str) -> Result<Reloaded, Vec<RuleError>> {
    let rules = RuleSet::parse(text)?;
    let previous_version = app.rules.version();
    let version = rules.version();
    app.rules.replace(Arc::new(rules));
    let decisions_due = if previous_version == version {
        0
    } else {
        match app.store.decisions_mark_due(&version, app.clock.now()).await {
            Ok(n) => n,
            Err(e) => {
                // The rules are in force for every live evaluation; stored decisions catch up
                // at their own review times.
                tracing::error!(error = %e, "marking decisions for re-evaluation after a rule change");
                0
            }
        }
    };
    tracing::info!(previous = previous_version, version, decisions_due, "rule set reloaded");
    Ok(Reloaded { previous_version, version, decisions_due })
}
