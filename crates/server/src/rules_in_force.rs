//! The rule set in force, replaceable while the server runs (R4, R12).
//!
//! A deployment edits its rule file and sends SIGHUP (`healthcode serve`), or calls
//! [`reload`]. A file with errors is refused with every error's line and column, and the old
//! rules stay in force: a typo must never leave a city without rules. After a successful
//! reload the stored decisions made under another version are marked due, so the scheduler
//! re-evaluates them (and records any color change) while codes, which evaluate live, follow
//! the new rules at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use healthcode_core::rules::{Decision, Facts, PublishedRuleSet, RegionRisk, RuleError, RuleSet, Verdict};
use healthcode_store::{DecisionRecord, Store, StoreResult};

use crate::state::AppState;

pub struct RulesInForce {
    rules: RwLock<Arc<RuleSet>>,
    /// Versions this process has kept in the store (`Store::rule_set_keep`).
    kept: Mutex<HashSet<String>>,
}

impl RulesInForce {
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self { rules: RwLock::new(rules), kept: Mutex::new(HashSet::new()) }
    }

    /// The rule set now. Hold on to it when several answers must come from one version.
    pub fn current(&self) -> Arc<RuleSet> {
        // A poisoned lock still holds a whole Arc: a panic elsewhere cannot tear it.
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The rule set now, kept in the store first (once per version and process): decisions
    /// are stored without their texts, which the rule set of their version renders again
    /// ([`explain`]), so a version is kept before any decision names it.
    pub async fn current_kept(&self, store: &dyn Store, now: DateTime<Utc>) -> StoreResult<Arc<RuleSet>> {
        let rules = self.current();
        let version = rules.version();
        if !self.kept.lock().unwrap_or_else(|p| p.into_inner()).contains(&version) {
            store.rule_set_keep(&version, rules.source(), now).await?;
            self.kept.lock().unwrap_or_else(|p| p.into_inner()).insert(version);
        }
        Ok(rules)
    }

    fn replace(&self, rules: Arc<RuleSet>) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = rules;
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

/// A stored decision with its texts, as the rules of its version gave it (the store keeps it
/// without them, `RuleSet::evaluate_unexplained`): exactly what `RuleSet::evaluate` gave
/// then, whichever rules are in force now. A record stored with its texts (before rule sets
/// were kept) is given as it is. An error when the record does not parse or, without texts,
/// its rule set was never kept (a corrupt or foreign database).
pub async fn explain(app: &AppState, stored: &DecisionRecord) -> StoreResult<Decision> {
    use healthcode_store::StoreError;
    let mut decision: Decision = serde_json::from_str(&stored.record.json())
        .map_err(|e| StoreError::Corrupt(format!("decision record of {}: {e}", stored.subject_id)))?;
    let now = app.rules.current();
    let rules = if now.version() == decision.rule_set_version {
        now
    } else {
        let version = &decision.rule_set_version;
        let Some(text) = app.store.rule_set_get(version).await? else {
            // Decisions stored before rule sets were kept (SQLite 0016, PostgreSQL 0014)
            // carry their texts.
            if decision.reasons.iter().all(|r| !r.text_zh.is_empty() && !r.text_en.is_empty()) {
                return Ok(decision);
            }
            return Err(StoreError::Corrupt(format!("rule set {version} was not kept")));
        };
        Arc::new(
            RuleSet::parse(&text)
                .map_err(|_| StoreError::Corrupt(format!("kept rule set {version} does not parse")))?,
        )
    };
    rules.explain(&mut decision).map_err(StoreError::Corrupt)?;
    Ok(decision)
}
