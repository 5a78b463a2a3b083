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
        record: serde_json::json!({}).into(),
        keeps_since: false,
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

pub async fn the_review_queue_hands_out_each_person_once_oldest_first(store: &dyn Store) {
    let (a, b, c) = (person("420102"), person("420102"), person("420102"));
    for p in [&a, &b, &c] {
        store.person_insert(p).await.unwrap();
    }
    let stranger = person("420102");
    let n = store.reviews_request(&[b.subject_id.clone(), stranger.subject_id.clone()], at(10)).await.unwrap();
    assert_eq!(n, 1, "an unknown subject is skipped");
    let n = store.reviews_request(&[a.subject_id.clone(), b.subject_id.clone(), c.subject_id.clone()], at(20)).await;
    assert_eq!(n.unwrap(), 2, "b keeps its place");
    let first = store.reviews_take(2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.contains(&b.subject_id), "oldest request first: {first:?}");
    let rest = store.reviews_take(10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(store.reviews_take(10).await.unwrap().is_empty(), "taken means gone");
}

pub async fn people_are_found_by_many_phone_and_id_indexes_at_once(store: &dyn Store) {
    let (a, b, c) = (person("420102"), person("420102"), person("420102"));
    for p in [&a, &b, &c] {
        store.person_insert(p).await.unwrap();
    }
    let phones = vec![a.phone_index.clone().unwrap(), b"nobody".to_vec()];
    // `b` twice (by phone and by ID number) is listed once; `c` is not asked for.
    let ids = vec![b.id_index.clone(), a.id_index.clone()];
    let mut phones_and_b = phones.clone();
    phones_and_b.push(b.phone_index.clone().unwrap());
    let found = store.subjects_by_indexes(&phones_and_b, &ids).await.unwrap();
    let mut expected = vec![a.subject_id.clone(), b.subject_id.clone()];
    expected.sort();
    assert_eq!(found, expected);
    let many: Vec<Vec<u8>> = (0..2500).map(|i| format!("absent-{i}").into_bytes()).chain(phones).collect();
    assert_eq!(store.subjects_by_indexes(&many, &[]).await.unwrap(), vec![a.subject_id.clone()], "across chunks");
    assert!(store.subjects_by_indexes(&[], &[]).await.unwrap().is_empty());
}
