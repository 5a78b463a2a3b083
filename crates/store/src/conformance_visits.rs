//! Conformance behaviours of venues, visits and scan attempts (R6), hooked into
//! `store_conformance_tests!` like the others.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::local_time::local_midnight;
use healthcode_core::{Color, RegionCode, SubjectId, VenueCategory, VenueId};

use crate::conformance::{at, person};
use crate::*;

static SEQ: AtomicU64 = AtomicU64::new(1);

fn fresh_subject() -> SubjectId {
    let mut b = [0u8; 16];
    b[8..].copy_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    b[1] = 0x76;
    SubjectId::from_random(b)
}

pub fn venue(category: VenueCategory) -> VenueRecord {
    let mut b = [0u8; 10];
    b[2..].copy_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    VenueRecord {
        venue_id: VenueId::from_random(b),
        name: "江汉路小吃店".into(),
        address: "江汉路 1 号".into(),
        region: RegionCode::parse("420102").expect("valid region"),
        category,
        created_at: at(0),
        created_by: "st_test".into(),
    }
}

fn visit(key: &str, who: &SubjectId, v: &VenueId, entered: DateTime<Utc>, dwell: Duration) -> VisitRecord {
    VisitRecord {
        visit_key: key.into(),
        subject_id: who.clone(),
        venue_id: v.clone(),
        entered_at: entered,
        left_at: entered + dwell,
        closed: false,
        source: VisitSource::Scan,
    }
}

fn write(v: &VisitRecord) -> VisitWrite {
    VisitWrite { visit: v.clone(), closes_open: false }
}

pub async fn venues_are_stored_and_found(store: &dyn Store) {
    let v = venue(VenueCategory::Hospital);
    store.venue_insert(&v).await.unwrap();
    assert_eq!(store.venue_get(&v.venue_id).await.unwrap(), Some(v));
    assert_eq!(store.venue_get(&VenueId::parse("v_nowhere").unwrap()).await.unwrap(), None);
}

pub async fn visits_write_once_per_venue_and_key_and_report_which_were_new(store: &dyn Store) {
    let v = venue(VenueCategory::Restaurant).venue_id;
    let (a, b) = (fresh_subject(), fresh_subject());
    let first = visit("scan:d1:k1", &a, &v, at(100), Duration::minutes(90));
    let second = visit("scan:d1:k2", &b, &v, at(200), Duration::minutes(90));
    let new = store.visits_write(&[write(&first), write(&second), write(&first)]).await.unwrap();
    assert_eq!(new, vec![true, true, false], "a key repeated in one batch is a duplicate");
    // A replayed batch writes nothing new and changes nothing.
    let changed = VisitRecord { left_at: at(9999), ..first.clone() };
    assert_eq!(store.visits_write(&[write(&changed), write(&second)]).await.unwrap(), vec![false, false]);
    let outcome = store.visits_insert(&[first.clone(), visit("import:r1", &a, &v, at(300), Duration::hours(1))]).await;
    assert_eq!(outcome.unwrap(), ImportOutcome { accepted: 1, duplicates: 1 });
    let mine = store.visits_for_subject(&a, at(0), at(100_000)).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0], first, "stored exactly, the replay did not change it");
    assert_eq!(store.visits_at_venue(&v, at(0), at(100_000)).await.unwrap().len(), 3);
    // A visit is unique by venue, key and entry: the same key and time at another venue (a
    // source giving one record id two venues) is another visit, kept with its own venue.
    let elsewhere = venue(VenueCategory::Restaurant).venue_id;
    let moved = VisitRecord { venue_id: elsewhere.clone(), ..first.clone() };
    assert_eq!(store.visits_write(&[write(&moved), write(&moved)]).await.unwrap(), vec![true, false]);
    assert_eq!(store.visits_at_venue(&elsewhere, at(0), at(100_000)).await.unwrap(), vec![moved]);
    assert_eq!(store.visits_for_subject(&a, at(0), at(100_000)).await.unwrap().len(), 3);
}

pub async fn checked_visits_are_not_written_for_people_who_turned_red(store: &dyn Store) {
    let people = [person("420102"), person("420103"), person("420104")];
    store.persons_insert_many(&people).await.unwrap();
    // The first is red since 100 s, the second green since 100 s, the third has no decision.
    for (p, color) in [(&people[0], Color::Red), (&people[1], Color::Green)] {
        let decision = DecisionRecord {
            subject_id: p.subject_id.clone(),
            color,
            since: at(100),
            rule_set_version: "v1".into(),
            next_review_at: None,
            evaluated_at: at(100),
            record: serde_json::json!({"color": color.as_str()}).into(),
            keeps_since: false,
        };
        store.decision_save(&decision).await.unwrap();
    }
    let v = venue(VenueCategory::Restaurant).venue_id;
    let checked = |key: &str, p: &PersonRecord, issued: Option<i64>| CheckedWrite {
        write: write(&visit(key, &p.subject_id, &v, at(200), Duration::minutes(30))),
        unless_red_since: issued.map(at),
    };
    let writes = vec![
        checked("scan:d:red-after-issue", &people[0], Some(50)),
        checked("scan:d:red-before-issue", &people[0], Some(150)),
        checked("scan:d:unconditional", &people[0], None),
        checked("scan:d:green", &people[1], Some(50)),
        checked("scan:d:undecided", &people[2], Some(50)),
        checked("scan:d:red-before-issue", &people[0], Some(150)),
    ];
    use Written::*;
    let first = store.visits_write_checked(writes.clone()).await.unwrap();
    assert_eq!(first, [TurnedRed, New, New, New, New, Duplicate], "a key repeated in one group is a duplicate");
    // A replay writes nothing, and the refused visit is refused again.
    let replay = store.visits_write_checked(writes).await.unwrap();
    assert_eq!(replay, [TurnedRed, Duplicate, Duplicate, Duplicate, Duplicate, Duplicate]);
    let mut stored: Vec<String> =
        store.visits_at_venue(&v, at(0), at(10_000)).await.unwrap().into_iter().map(|r| r.visit_key).collect();
    stored.sort();
    assert_eq!(stored, ["scan:d:green", "scan:d:red-before-issue", "scan:d:unconditional", "scan:d:undecided"]);
    assert_eq!(store.visits_write_checked(Vec::new()).await.unwrap(), []);
}

pub async fn visits_are_found_by_overlap_at_a_venue_and_for_a_person(store: &dyn Store) {
    let (v, other) = (venue(VenueCategory::Office).venue_id, venue(VenueCategory::Office).venue_id);
    let who = fresh_subject();
    let rows = [
        visit("import:a", &who, &v, at(0), Duration::seconds(100)),
        visit("import:b", &who, &v, at(1000), Duration::seconds(100)),
        visit("import:c", &who, &other, at(2000), Duration::seconds(100)),
    ];
    store.visits_insert(&rows).await.unwrap();
    let keys = |list: Vec<VisitRecord>| list.into_iter().map(|r| r.visit_key).collect::<Vec<_>>();
    // [from, to) overlaps a visit when entered_at < to and left_at > from.
    assert_eq!(keys(store.visits_at_venue(&v, at(100), at(1000)).await.unwrap()), Vec::<String>::new());
    assert_eq!(keys(store.visits_at_venue(&v, at(99), at(1001)).await.unwrap()), ["import:a", "import:b"]);
    assert_eq!(keys(store.visits_for_subject(&who, at(1050), at(5000)).await.unwrap()), ["import:b", "import:c"]);
    assert!(store.visits_for_subject(&fresh_subject(), at(0), at(5000)).await.unwrap().is_empty());
}

pub async fn an_exit_closes_the_latest_open_visit_once(store: &dyn Store) {
    let v = venue(VenueCategory::Restaurant).venue_id;
    let who = fresh_subject();
    let entry = visit("scan:d:in", &who, &v, at(0), Duration::minutes(90));
    store.visits_write(&[write(&entry)]).await.unwrap();
    let exit_at = at(600);
    let exit = VisitWrite {
        visit: VisitRecord {
            left_at: exit_at,
            closed: true,
            ..visit("scan:d:out", &who, &v, exit_at, Duration::zero())
        },
        closes_open: true,
    };
    assert_eq!(store.visits_write(std::slice::from_ref(&exit)).await.unwrap(), vec![true]);
    let list = store.visits_for_subject(&who, at(-10), at(10_000)).await.unwrap();
    let closed = list.iter().find(|r| r.visit_key == "scan:d:in").unwrap();
    assert_eq!((closed.left_at, closed.closed), (exit_at, true));
    // The replayed exit is a duplicate and closes nothing; there is nothing open left anyway.
    assert_eq!(store.visits_write(&[exit]).await.unwrap(), vec![false]);
    assert!(!store.visit_close(&who, &v, at(700)).await.unwrap());
    // visit_close closes an open visit directly, even past its assumed dwell.
    let late = visit("scan:d:in2", &who, &v, at(1000), Duration::minutes(30));
    store.visits_write(&[write(&late)]).await.unwrap();
    assert!(store.visit_close(&who, &v, at(1000) + Duration::hours(3)).await.unwrap());
    let list = store.visits_for_subject(&who, at(900), at(100_000)).await.unwrap();
    let r = list.iter().find(|r| r.visit_key == "scan:d:in2").unwrap();
    assert_eq!((r.left_at, r.closed), (at(1000) + Duration::hours(3), true));
}

pub async fn scan_attempts_are_kept_without_personal_data(store: &dyn Store) {
    let v = venue(VenueCategory::Transit).venue_id;
    let a = ScanAttempt {
        attempt_key: Some("scan:st_dev:k1".into()),
        venue_id: v.clone(),
        device_id: "st_dev".into(),
        at: at(5),
        reason: "signature_invalid".into(),
    };
    let b = ScanAttempt { attempt_key: None, at: at(6), reason: "expired".into(), ..a.clone() };
    store.scan_attempt_record(&b).await.unwrap();
    store.scan_attempt_record(&a).await.unwrap();
    // A replayed attempt (same key) is recorded once.
    store.scan_attempt_record(&a).await.unwrap();
    assert_eq!(store.scan_attempts_at(&v, at(0), at(100)).await.unwrap(), vec![a, b.clone()]);
    assert_eq!(store.scan_attempts_at(&v, at(6), at(7)).await.unwrap(), vec![b]);
}

pub async fn retention_drops_whole_days_of_visits(store: &dyn Store) {
    let v = venue(VenueCategory::Park).venue_id;
    let who = fresh_subject();
    let day = |d: u32| NaiveDate::from_ymd_opt(2027, 3, d).expect("valid day");
    let rows: Vec<_> = (1..=4)
        .map(|d| {
            visit(&format!("import:day{d}"), &who, &v, local_midnight(day(d)) + Duration::hours(9), Duration::hours(2))
        })
        .collect();
    store.visits_insert(&rows).await.unwrap();
    let attempt = ScanAttempt {
        attempt_key: None,
        venue_id: v.clone(),
        device_id: "st_dev".into(),
        at: rows[0].entered_at,
        reason: "expired".into(),
    };
    store.scan_attempt_record(&attempt).await.unwrap();
    assert_eq!(store.visits_drop_before(day(3)).await.unwrap(), 2);
    let left = store.visits_for_subject(&who, local_midnight(day(1)), local_midnight(day(9))).await.unwrap();
    assert_eq!(left.iter().map(|r| r.visit_key.as_str()).collect::<Vec<_>>(), ["import:day3", "import:day4"]);
    assert!(store.scan_attempts_at(&v, local_midnight(day(1)), local_midnight(day(9))).await.unwrap().is_empty());
    // Dropping again removes nothing more, and new visits for kept days still go in.
    assert_eq!(store.visits_drop_before(day(3)).await.unwrap(), 0);
    let again = visit("import:day4b", &who, &v, local_midnight(day(4)) + Duration::hours(20), Duration::hours(1));
    assert_eq!(store.visits_insert(&[again]).await.unwrap().accepted, 1);
}
