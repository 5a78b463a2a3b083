//! Conformance: a new rule set brings stored decisions of other versions up for review.

use healthcode_core::Color;

use super::{at, person};
use crate::*;

pub async fn a_rule_change_makes_decisions_of_other_versions_due(store: &dyn Store) {
    let decide = |p: &PersonRecord, version: &str, review: Option<i64>| DecisionRecord {
        subject_id: p.subject_id.clone(),
        color: Color::Green,
        since: at(0),
        rule_set_version: version.into(),
        next_review_at: review.map(at),
        evaluated_at: at(0),
        record: serde_json::json!({}),
    };
    let (old_open, old_late, old_early, current) =
        (person("420102"), person("420102"), person("420102"), person("420102"));
    for (p, version, review) in
        [(&old_open, "v1", None), (&old_late, "v1", Some(900)), (&old_early, "v1", Some(50)), (&current, "v2", None)]
    {
        store.person_insert(p).await.unwrap();
        store.decision_save(&decide(p, version, review)).await.unwrap();
    }
    assert_eq!(store.decisions_mark_due("v2", at(100)).await.unwrap(), 2, "the open one and the later one");
    let mut due = store.decisions_due(at(100), 10).await.unwrap();
    due.sort();
    let mut expected = vec![old_open.subject_id, old_late.subject_id, old_early.subject_id];
    expected.sort();
    assert_eq!(due, expected, "the earlier review stays; the current version is not touched");
}
