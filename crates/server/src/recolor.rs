//! Recoloring (R8, R9): decisions are stored with a history of color changes, each change is
//! announced as an event, and a scheduler re-evaluates people when their next review is due,
//! so colors return to green on time with no request.
//!
//! What triggers a re-evaluation: a declaration (that person), an import or a region risk
//! level (the people it touches, in the background), and the review time of each decision.
//! Codes and status pages still evaluate live, so they are right even between events.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use healthcode_core::{Color, RegionCode, SubjectId};
use healthcode_store::{ColorChange, DecisionRecord};
use serde::Serialize;

use crate::error::ApiResult;
use crate::state::AppState;

/// A color change, as published to subscribers (checkpoint caches, notifications; NATS later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColorEvent {
    pub subject_id: SubjectId,
    pub from: Option<Color>,
    pub to: Color,
    pub at: DateTime<Utc>,
    pub rule_set_version: String,
}

/// Re-evaluates one person and stores the decision; returns the change, if the color changed.
pub async fn recolor(app: &AppState, subject: &SubjectId) -> ApiResult<Option<ColorChange>> {
    let Some(person) = app.store.person_get(subject).await? else { return Ok(None) };
    let decision = crate::risk::decide(app, &person).await?;
    let previous = app.store.decision_get(subject).await?;
    // A green without a reason has no start of its own: it counts from the last change.
    let since = decision.since.unwrap_or_else(|| match &previous {
        Some(p) if p.color == decision.color => p.since,
        _ => decision.evaluated_at,
    });
    let record = DecisionRecord {
        subject_id: subject.clone(),
        color: decision.color,
        since,
        rule_set_version: decision.rule_set_version.clone(),
        next_review_at: decision.next_review_at,
        evaluated_at: decision.evaluated_at,
        record: serde_json::to_value(&decision).unwrap_or_default(),
    };
    let change = app.store.decision_save(&record).await?;
    if let Some(c) = &change {
        app.metrics.color_changes.inc();
        tracing::info!(subject_id = %subject, from = ?c.from, to = ?c.to, "color changed");
        // Nobody listening is fine: the change is stored either way.
        let _ = app.events.send(ColorEvent {
            subject_id: subject.clone(),
            from: c.from,
            to: c.to,
            at: c.at,
            rule_set_version: c.rule_set_version.clone(),
        });
    }
    Ok(change)
}

/// Re-evaluates many people; errors are logged per person and do not stop the rest.
pub async fn recolor_all(app: &AppState, subjects: impl IntoIterator<Item = SubjectId>) -> usize {
    let mut changed = 0;
    for s in subjects {
        match recolor(app, &s).await {
            Ok(Some(_)) => changed += 1,
            Ok(None) => {}
            Err(e) => tracing::error!(subject_id = %s, error = e.detail, "recolor failed"),
        }
    }
    changed
}

/// What an import or an official's change touched.
#[derive(Debug, Default)]
pub struct Touched {
    pub phone_indexes: BTreeSet<Vec<u8>>,
    pub id_indexes: BTreeSet<Vec<u8>>,
    /// Regions whose risk changed, with the period of the change.
    pub regions: Vec<(RegionCode, DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.phone_indexes.is_empty() && self.id_indexes.is_empty() && self.regions.is_empty()
    }
}

/// The registered people a change touched.
pub async fn subjects_touched(app: &AppState, t: &Touched) -> ApiResult<BTreeSet<SubjectId>> {
    let mut out = BTreeSet::new();
    for p in &t.phone_indexes {
        if let Some(person) = app.store.person_by_phone(p).await? {
            out.insert(person.subject_id);
        }
    }
    for i in &t.id_indexes {
        if let Some(person) = app.store.person_by_id_index(i).await? {
            out.insert(person.subject_id);
        }
    }
    let far = DateTime::<Utc>::MAX_UTC;
    for (region, from, to) in &t.regions {
        out.extend(app.store.subjects_with_stays(region, *from, to.unwrap_or(far)).await?);
    }
    Ok(out)
}

/// Recolors, in the background, everyone a change touched.
pub fn spawn_recolor(app: &AppState, touched: Touched) {
    if touched.is_empty() {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        match subjects_touched(&app, &touched).await {
            Ok(subjects) => {
                let n = subjects.len();
                let changed = recolor_all(&app, subjects).await;
                tracing::info!(people = n, changed, "recolored after a change of facts");
            }
            Err(e) => tracing::error!(error = e.detail, "finding the people a change touched failed"),
        }
    });
}

/// Every `every`, re-evaluates the people whose review is due, until `shutdown` fires.
pub fn spawn_scheduler(app: AppState, every: StdDuration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            loop {
                let due = match app.store.decisions_due(app.clock.now(), 1000).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!(error = %e, "review scheduler");
                        break;
                    }
                };
                let n = due.len();
                if n == 0 {
                    break;
                }
                let changed = recolor_all(&app, due).await;
                tracing::debug!(reviewed = n, changed, "scheduled reviews");
                if n < 1000 {
                    break;
                }
            }
        }
    });
}
