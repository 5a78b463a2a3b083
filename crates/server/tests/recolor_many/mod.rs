//! The set-based recoloring path (`recolor_many`, taken for big touched sets) stores exactly
//! what the one-person path stores, on both backends; stored decisions, kept without their
//! texts, are explained back exactly, also after the rules change.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use healthcode_core::{Color, IdNumber, PersonName, Phone, RegionCode, RiskLevel, local_day};
use healthcode_server::clock::ManualClock;
use healthcode_server::identity::{NewIdentity, seal_person};
use healthcode_server::recolor::{Touched, recolor, recolor_many, subjects_touched};
use healthcode_server::rules_in_force::{explain, reload};
use healthcode_server::{AppState, Settings};
use healthcode_store::{RegionRiskRecord, StayRecord, Store};
use healthcode_vault::Vault;

use crate::support::{Backend, Folder, id_number};

async fn app(backend: Backend) -> (AppState, Arc<dyn Store>, DateTime<Utc>, [Option<Folder>; 2]) {
    let (store, folder) = crate::support::fresh_store(backend).await;
    let now: DateTime<Utc> = "2027-01-15T02:00:00Z".parse().unwrap();
    let keys_dir = std::env::temp_dir().join(format!("healthcode-recolor-many-keys-{}", crate::support::unique()));
    let region = RegionCode::parse("420100").unwrap();
    let keys = healthcode_token::Keyring::generate(&keys_dir, healthcode_token::Alg::EdDSA, region, "t", now).unwrap();
    let vault = Vault::new(vec![("t1".into(), [3; 32])], [4; 32]).unwrap();
    let app = AppState::with_parts(
        store.clone(),
        Arc::new(vault),
        Arc::new(keys),
        Settings::default(),
        Arc::new(healthcode_server::otp_sender::DisabledSender),
        Arc::new(ManualClock::new(now)),
    );
    (app, store, now, [folder, Some(Folder(keys_dir))])
}

async fn both_paths_store_the_same_decisions(backend: Backend) {
    let (app, store, now, _folders) = app(backend).await;
    let hot = RegionCode::parse("420103").unwrap();
    // Twelve people: stays in the district yesterday, three weeks ago, or elsewhere; one
    // has a decision stored already.
    let mut people = Vec::new();
    for i in 0..12 {
        let id = IdNumber::parse(&id_number("420102", 1980, i), local_day(now)).unwrap();
        let phone = Phone::parse(&format!("1390000{:04}", i)).unwrap();
        let name = PersonName::parse("王芳").unwrap();
        let new = NewIdentity {
            name: &name,
            id_number: &id,
            phone: Some(&phone),
            household_region: RegionCode::parse("420102").unwrap(),
            guardian: None,
        };
        people.push(seal_person(&app.vault, new, now - Duration::days(60)));
    }
    store.persons_insert_many(&people).await.unwrap();
    let stays: Vec<StayRecord> = people
        .iter()
        .enumerate()
        .map(|(i, p)| StayRecord {
            record_id: format!("cmcc-{i}"),
            phone_index: p.phone_index.clone().unwrap(),
            region: if i % 3 == 2 { RegionCode::parse("110101").unwrap() } else { hot },
            start: now - Duration::days(if i % 3 == 1 { 21 } else { 1 }) - Duration::hours(4),
            end: now - Duration::days(if i % 3 == 1 { 21 } else { 1 }),
        })
        .collect();
    store.stays_import(&stays).await.unwrap();
    recolor(&app, &people[0].subject_id).await.unwrap();
    let from = now - Duration::days(30);
    let risk = RegionRiskRecord {
        record_id: "nhc-1".into(),
        region: hot,
        level: RiskLevel::High,
        effective_from: from,
        effective_to: None,
    };
    store.region_risk_set(&risk).await.unwrap();
    let mut events = app.events.subscribe();

    let touched = Touched { regions: vec![(hot, from, None)], ..Touched::default() };
    let subjects = subjects_touched(&app, &touched).await.unwrap();
    assert_eq!(subjects.len(), 8, "the people with a stay in the district");
    let changed = recolor_many(&app, subjects.to_vec()).await.unwrap().changed;
    assert_eq!(changed, 8, "seven first decisions and one yellow turned red");
    let mut announced = 0;
    while events.try_recv().is_ok() {
        announced += 1;
    }
    assert_eq!(announced, 8, "every change is published");

    let mut kept = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let bulk = store.decision_get(&p.subject_id).await.unwrap();
        if i % 3 == 2 {
            assert_eq!(bulk, None, "not touched");
            continue;
        }
        let bulk = bulk.unwrap();
        // Yesterday in a high-risk district: red; three weeks ago: only yellow (no daily
        // declarations in these tests).
        let expected = if i % 3 == 0 { Color::Red } else { Color::Yellow };
        assert_eq!(bulk.color, expected, "person {i}");
        // The one-person path, at the same instant, finds nothing to change and stores the
        // same record.
        assert_eq!(recolor(&app, &p.subject_id).await.unwrap(), None, "person {i}");
        assert_eq!(store.decision_get(&p.subject_id).await.unwrap(), Some(bulk.clone()), "person {i}");
        // Stored without texts, explained back it is the decision the rules give with
        // texts, naming the stay.
        let explained = explain(&app, &bulk).await.unwrap();
        let facts = healthcode_server::risk::facts_for(&app, p).await.unwrap();
        let regions = healthcode_server::risk::region_risk(&app).await.unwrap();
        assert_eq!(explained, app.rules.evaluate(&facts, &regions, now), "person {i}");
        assert!(!bulk.record.json().contains("text_zh"), "person {i}: no texts stored");
        assert!(explained.reasons.iter().all(|r| !r.text_zh.is_empty() && !r.text_en.is_empty()), "person {i}");
        if expected == Color::Red {
            let stay = format!("cmcc-{i}");
            assert_eq!(explained.reasons[0].evidence[0].record_id(), Some(stay.as_str()), "person {i}");
        }
        kept.push((bulk, explained));
    }
    // After a change of rules the stored decisions are explained by the rules that made them.
    let next = format!("{}\n# the next version\n", healthcode_core::rules::DEFAULT_RULES);
    let reloaded = reload(&app, &next).await.unwrap();
    assert_ne!(reloaded.version, reloaded.previous_version);
    for (bulk, explained) in &kept {
        assert_eq!(&explain(&app, bulk).await.unwrap(), explained);
    }
    // A record stored with its texts, before rule sets were kept, is given as it is; one
    // without texts whose rule set was never kept is refused, not shown without reasons.
    let (bulk, explained) = &kept[0];
    assert!(!explained.reasons.is_empty());
    let old = healthcode_core::rules::Decision { rule_set_version: "0".repeat(64), ..explained.clone() };
    let mut record = bulk.clone();
    record.record = healthcode_store::DecisionJson::of(&old);
    assert_eq!(explain(&app, &record).await.unwrap(), old);
    let mut bare = old.clone();
    for r in &mut bare.reasons {
        r.text_zh.clear();
        r.text_en.clear();
    }
    record.record = healthcode_store::DecisionJson::of(&bare);
    assert!(explain(&app, &record).await.is_err());
    let history = store.color_history(&people[0].subject_id, 10).await.unwrap();
    assert_eq!(history.iter().map(|c| c.to).collect::<Vec<_>>(), [Color::Red, Color::Yellow]);
}

#[tokio::test]
async fn recoloring_many_people_stores_what_recoloring_each_stores_sqlite() {
    both_paths_store_the_same_decisions(Backend::Sqlite).await;
}

#[tokio::test]
async fn recoloring_many_people_stores_what_recoloring_each_stores_postgres() {
    both_paths_store_the_same_decisions(Backend::Postgres).await;
}
