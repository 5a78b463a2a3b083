//! `healthcode trace CASE_ID` on the configured database: the contacts with their evidence,
//! the exposures written (so the facts change), and a clear exit 1 for an unknown case.

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use healthcode_core::rules::{CaseStatus, ContactKind};
use healthcode_core::{RegionCode, SubjectId, VenueCategory, VenueId};
use healthcode_store::{
    Actor, AuditEntry, PersonRecord, Store, TraceCaseRecord, VenueRecord, VisitRecord, VisitSource,
};
use serde_json::Value;

use super::{BIN, key, temp_dir};

fn person(n: u8) -> PersonRecord {
    let mut b = [0u8; 16];
    b[15] = n;
    PersonRecord {
        subject_id: SubjectId::from_random(b),
        id_index: vec![n; 8],
        id_number_sealed: format!("k1.sealed-{n}"),
        name_sealed: format!("k1.sealed-name-{n}"),
        masked_name: "张*三".into(),
        phone_index: None,
        phone_sealed: None,
        household_region: RegionCode::parse("420102").unwrap(),
        current_region: None,
        guardian: None,
        created_at: Utc::now() - Duration::days(30),
    }
}

fn visit(key: &str, who: &PersonRecord, from: DateTime<Utc>, minutes: i64) -> VisitRecord {
    VisitRecord {
        visit_key: key.into(),
        subject_id: who.subject_id.clone(),
        venue_id: VenueId::parse("v_shop").unwrap(),
        entered_at: from,
        left_at: from + Duration::minutes(minutes),
        closed: true,
        source: VisitSource::Import,
    }
}

#[tokio::test]
async fn trace_prints_the_contacts_and_writes_their_exposures() {
    let dir = temp_dir("trace");
    let db = dir.join("db.sqlite");
    let store = healthcode_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let (case, near, brief) = (person(1), person(2), person(3));
    for p in [&case, &near, &brief] {
        store.person_insert(p).await.unwrap();
    }
    let at = Utc::now() - Duration::hours(5);
    store
        .venue_insert(&VenueRecord {
            venue_id: VenueId::parse("v_shop").unwrap(),
            name: "街角超市".into(),
            address: "-".into(),
            region: RegionCode::parse("420102").unwrap(),
            category: VenueCategory::Retail,
            created_at: at - Duration::days(1),
            created_by: "st_x".into(),
        })
        .await
        .unwrap();
    store
        .visits_insert(&[
            visit("a", &case, at, 60),
            visit("b", &near, at + Duration::minutes(20), 60),
            visit("c", &brief, at + Duration::minutes(55), 60),
        ])
        .await
        .unwrap();
    let record = TraceCaseRecord {
        case_id: "case_cli".into(),
        subject_id: case.subject_id.clone(),
        status: CaseStatus::Confirmed,
        onset_date: None,
        sampled_at: Some(at),
        isolated_at: None,
        created_at: Utc::now(),
        created_by: "st_x".into(),
    };
    let audit = AuditEntry {
        at: Utc::now(),
        actor: Actor { kind: "staff".into(), id: "st_x".into(), role: Some("officer".into()) },
        action: "case.report".into(),
        subject_id: Some(case.subject_id.clone()),
        purpose: None,
        detail: serde_json::json!({}),
    };
    assert!(store.trace_case_insert(None, &record, &audit).await.unwrap());

    let (data_key, index_key) = (format!("k1:{}", key()), key());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("trace")
            .args(args)
            .env("HEALTHCODE_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("HEALTHCODE_DATA_KEYS", &data_key)
            .env("HEALTHCODE_INDEX_KEY", &index_key)
            .output()
            .unwrap()
    };
    let out = run(&["case_cli", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["case_id"], "case_cli");
    let close = report["close_contacts"].as_array().unwrap();
    assert_eq!(close.len(), 1, "40 minutes together: close; 5 minutes: not: {report}");
    assert_eq!(close[0]["subject_id"], near.subject_id.as_str());
    assert_eq!(close[0]["evidence"][0]["venue_name"], "街角超市");
    assert_eq!(close[0]["evidence"][0]["minutes"], 40);
    // The brief visitor overlapped the close contact for 25 minutes after their exposure.
    let secondary = report["secondary_contacts"].as_array().unwrap();
    assert_eq!(secondary.len(), 1, "{report}");
    assert_eq!(secondary[0]["subject_id"], brief.subject_id.as_str());
    assert_eq!(secondary[0]["via"], near.subject_id.as_str());

    let written = store.exposures_for(&near.subject_id).await.unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!((written[0].kind, written[0].case_id.as_str()), (ContactKind::Close, "case_cli"));
    let trail = store.audit_for_subject(&case.subject_id, 10).await.unwrap();
    assert_eq!(trail[0].entry.action, "case.trace");
    assert_eq!(trail[0].entry.actor.kind, "operator");

    // The plain report names the contacts; tracing again adds no exposure.
    let out = run(&["case_cli"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 close contacts, 1 secondary contacts") && text.contains("街角超市"), "{text}");
    assert_eq!(store.exposures_for(&near.subject_id).await.unwrap().len(), 1);

    let out = run(&["case_nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case \"case_nope\""));
}
