//! Migration 0012 (decision records appended, a small row per person) carries the decisions
//! and color history of a database made before it.

use healthcode_core::Color;
use healthcode_store::conformance::person;
use healthcode_store::{DecisionRecord, Store};
use healthcode_store_sqlite::SqliteStore;

use super::{at, temp_db};

#[tokio::test]
async fn migration_0012_keeps_decisions_and_their_history() {
    let (dir, path) = temp_db();
    let (red, green) = (person("420102"), person("420103"));
    let record = serde_json::json!({"color": "red", "reasons": [{"rule_id": "stay_high_risk"}]});
    {
        // A database at schema version 11 holding two people, their decisions (one due for
        // review) and their color changes, written as the old schema's code wrote them.
        let pool = super::database_at_version(&path, 11).await;
        for (p, color, review, record) in
            [(&red, "red", Some(500), record.to_string()), (&green, "green", None, "{\"color\":\"green\"}".into())]
        {
            sqlx::query(
                "INSERT INTO persons (subject_id, id_index, id_number_sealed, name_sealed, masked_name, phone_index, \
                 phone_sealed, household_region, created_at) VALUES (?, ?, 'x', 'x', '张*三', ?, 'x', '420102', 0)",
            )
            .bind(p.subject_id.as_str())
            .bind(&p.id_index)
            .bind(&p.phone_index)
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO decisions (subject_id, color, since, rule_set_version, next_review_at, evaluated_at, \
                 record) VALUES (?, ?, ?, 'v1', ?, ?, ?)",
            )
            .bind(p.subject_id.as_str())
            .bind(color)
            .bind(at(30).timestamp_micros())
            .bind(review.map(|s| at(s).timestamp_micros()))
            .bind(at(40).timestamp_micros())
            .bind(record)
            .execute(&pool)
            .await
            .unwrap();
            for (when, from, to) in [(10, None, "green"), (30, Some("green"), color)] {
                if from == Some(to) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO color_changes (subject_id, at, from_color, to_color, rule_set_version) \
                     VALUES (?, ?, ?, ?, 'v1')",
                )
                .bind(p.subject_id.as_str())
                .bind(at(when).timestamp_micros())
                .bind(from)
                .bind(to)
                .execute(&pool)
                .await
                .unwrap();
            }
        }
        pool.close().await;
    }

    // Opening it applies 0012: the records, the review times and the history are all there.
    let store = SqliteStore::open(&path).await.unwrap();
    let kept = store.decision_get(&red.subject_id).await.unwrap().unwrap();
    assert_eq!(
        kept,
        DecisionRecord {
            subject_id: red.subject_id.clone(),
            color: Color::Red,
            since: at(30),
            rule_set_version: "v1".into(),
            next_review_at: Some(at(500)),
            evaluated_at: at(40),
            record: record.clone().into(),
            keeps_since: false,
        }
    );
    assert_eq!(store.decision_get(&green.subject_id).await.unwrap().unwrap().color, Color::Green);
    assert_eq!(store.decisions_due(at(600), 10).await.unwrap(), vec![red.subject_id.clone()]);
    let history = store.color_history(&red.subject_id, 10).await.unwrap();
    assert_eq!(history.iter().map(|c| c.to).collect::<Vec<_>>(), [Color::Red, Color::Green]);
    let colors = store.decisions_colors(&[red.subject_id.clone(), green.subject_id.clone()]).await.unwrap();
    let mut colors: Vec<_> = colors.iter().map(|c| (c.subject_id.clone(), c.color, c.since)).collect();
    colors.sort();
    let mut expected =
        vec![(red.subject_id.clone(), Color::Red, at(30)), (green.subject_id.clone(), Color::Green, at(30))];
    expected.sort();
    assert_eq!(colors, expected);

    // A new rule set marks both due; a new decision replaces the carried one and counts as a
    // change from the carried color.
    assert_eq!(store.decisions_mark_due("v2", at(100)).await.unwrap(), 2);
    let green_now = DecisionRecord { color: Color::Green, next_review_at: None, rule_set_version: "v2".into(), ..kept };
    let change = store.decision_save(&green_now).await.unwrap().unwrap();
    assert_eq!((change.from, change.to), (Some(Color::Red), Color::Green));
    assert_eq!(store.decision_get(&red.subject_id).await.unwrap(), Some(green_now));
    assert_eq!(store.decisions_due(at(600), 10).await.unwrap(), vec![green.subject_id.clone()]);
    assert_eq!(store.decisions_mark_due("v2", at(50)).await.unwrap(), 1, "only the decision of the old rules");
    // The carried record of the red decision is superseded now: retention deletes it once it
    // is old enough, and no person's last record.
    assert_eq!(store.decision_records_drop_before(at(40)).await.unwrap(), 0, "not older than the retention");
    assert_eq!(store.decision_records_drop_before(at(41)).await.unwrap(), 1);
    assert_eq!(store.decision_get(&red.subject_id).await.unwrap().map(|d| d.rule_set_version), Some("v2".into()));
    assert_eq!(store.decision_get(&green.subject_id).await.unwrap().map(|d| d.color), Some(Color::Green));
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}
