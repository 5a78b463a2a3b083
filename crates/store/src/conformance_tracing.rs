//! Conformance behaviours of contact tracing (the "contact tracing" block of the trait), run by
//! both backends through `store_conformance_tests!`.

use chrono::{Duration, NaiveDate};
use healthcode_core::rules::{Carrier, CaseStatus, ContactKind};
use healthcode_core::{Relation, Role, SubjectId, VenueCategory, VenueId};

use crate::conformance::{at, person};
use crate::visit::{VenueRecord, VisitRecord, VisitSource};
use crate::*;

#[macro_export]
macro_rules! store_tracing_conformance_tests {
    ($make:expr) => {
        $crate::store_tracing_conformance_tests!(@each $make;
            a_reported_case_is_stored_with_its_case_status_and_audit_in_scope_only,
            tracing_reads_visits_of_many_people_and_venues_in_one_call,
            tracing_reads_of_hundreds_of_windows_find_what_each_window_alone_finds,
            tracing_reads_households_and_trips_in_batches,
            exposures_are_stored_once_per_case_person_and_kind,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::conformance_tracing::$name(&*store).await;
            }
        )*
    };
}

async fn officer(store: &dyn Store, id: &str, regions: &[&str]) -> Staff {
    let s = Staff {
        id: id.into(),
        role: Role::Officer,
        name: format!("officer {id}"),
        regions: regions.iter().map(|r| RegionCode::parse(r).unwrap()).collect(),
        venue_id: None,
        import_kinds: vec![],
        token_hash: format!("token-{id}-{}", std::process::id()).into_bytes(),
        created_at: at(0),
        created_by: "bootstrap".into(),
    };
    let audit = AuditEntry {
        at: at(0),
        actor: Actor { kind: "bootstrap_admin".into(), id: "bootstrap".into(), role: Some("admin".into()) },
        action: "staff.create".into(),
        subject_id: None,
        purpose: None,
        detail: serde_json::json!({}),
    };
    store.staff_insert(&s, &audit).await.unwrap();
    s
}

pub(crate) fn audit(action: &str, subject: &SubjectId) -> AuditEntry {
    AuditEntry {
        at: at(500),
        actor: Actor { kind: "staff".into(), id: "st_trace".into(), role: Some("officer".into()) },
        action: action.into(),
        subject_id: Some(subject.clone()),
        purpose: None,
        detail: serde_json::json!({}),
    }
}

fn case(id: &str, who: &PersonRecord, by: &str) -> TraceCaseRecord {
    TraceCaseRecord {
        case_id: id.into(),
        subject_id: who.subject_id.clone(),
        status: CaseStatus::Confirmed,
        onset_date: Some(NaiveDate::from_ymd_opt(2027, 1, 10).unwrap()),
        sampled_at: Some(at(100)),
        isolated_at: None,
        created_at: at(200),
        created_by: by.into(),
    }
}

pub async fn a_reported_case_is_stored_with_its_case_status_and_audit_in_scope_only(store: &dyn Store) {
    let wuhan = officer(store, "st_wuhan_case", &["420100"]).await;
    let beijing = officer(store, "st_beijing_case", &["110000"]).await;
    let local = person("420102");
    store.person_insert(&local).await.unwrap();
    let before = store.audit_since(0, 1000).await.unwrap().len();

    // Out of the officer's regions, or an unknown person: nothing is written, not even audit.
    let refused = case("case-out", &local, &beijing.id);
    assert!(
        !store.trace_case_insert(Some(&beijing.id), &refused, &audit("case.report", &local.subject_id)).await.unwrap()
    );
    let stranger = person("420102");
    let unknown = case("case-unknown", &stranger, &wuhan.id);
    assert!(
        !store.trace_case_insert(Some(&wuhan.id), &unknown, &audit("case.report", &stranger.subject_id)).await.unwrap()
    );
    assert!(store.trace_case_get(None, "case-out").await.unwrap().is_none());
    assert!(store.cases_for(&local.id_index).await.unwrap().is_empty());
    assert_eq!(store.audit_since(0, 1000).await.unwrap().len(), before);

    let c = case("case-1", &local, &wuhan.id);
    assert!(store.trace_case_insert(Some(&wuhan.id), &c, &audit("case.report", &local.subject_id)).await.unwrap());
    assert_eq!(store.trace_case_get(Some(&wuhan.id), "case-1").await.unwrap(), Some(c.clone()));
    assert_eq!(store.trace_case_get(None, "case-1").await.unwrap(), Some(c.clone()), "the CLI reads unscoped");
    assert_eq!(store.trace_case_get(Some(&beijing.id), "case-1").await.unwrap(), None, "out of scope looks absent");
    let statuses = store.cases_for(&local.id_index).await.unwrap();
    assert_eq!(statuses.len(), 1, "the case status the rules read is written with the case");
    assert_eq!(
        (statuses[0].record_id.as_str(), statuses[0].status, statuses[0].at),
        ("case:case-1", CaseStatus::Confirmed, at(200))
    );
    let trail = store.audit_for_subject(&local.subject_id, 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].entry.action, "case.report");
    // Without an officer (the operator's CLI) the person need only exist.
    let other = person("110101");
    store.person_insert(&other).await.unwrap();
    assert!(
        store
            .trace_case_insert(None, &case("case-2", &other, "cli"), &audit("case.report", &other.subject_id))
            .await
            .unwrap()
    );
}

fn venue(id: &str, category: VenueCategory) -> VenueRecord {
    VenueRecord {
        venue_id: VenueId::parse(id).unwrap(),
        name: format!("{id} name"),
        address: "1 Test Road".into(),
        region: RegionCode::parse("420102").unwrap(),
        category,
        created_at: at(0),
        created_by: "st_admin".into(),
    }
}

fn visit(key: &str, who: &PersonRecord, venue: &str, from: i64, to: i64) -> VisitRecord {
    VisitRecord {
        visit_key: key.into(),
        subject_id: who.subject_id.clone(),
        venue_id: VenueId::parse(venue).unwrap(),
        entered_at: at(from),
        left_at: at(to),
        closed: true,
        source: VisitSource::Import,
    }
}

fn keys(mut visits: Vec<TraceVisit>) -> Vec<String> {
    let mut k: Vec<String> = visits.drain(..).map(|v| v.visit_key).collect();
    k.sort();
    k.dedup();
    k
}

pub async fn tracing_reads_visits_of_many_people_and_venues_in_one_call(store: &dyn Store) {
    store.venue_insert(&venue("v_cafe", VenueCategory::Restaurant)).await.unwrap();
    store.venue_insert(&venue("v_gym", VenueCategory::Other)).await.unwrap();
    let (a, b, c) = (person("420102"), person("420102"), person("420102"));
    store
        .visits_insert(&[
            visit("a1", &a, "v_cafe", 1000, 2000),
            visit("a2", &a, "v_gym", 5000, 6000),
            visit("b1", &b, "v_cafe", 1500, 2500),
            visit("b2", &b, "v_gym", 9000, 9500),
            // Began long before (a 2-hour stay), still there at 1000.
            visit("c1", &c, "v_cafe", -6200, 1200),
            visit("c2", &c, "v_cafe", 3000, 3100),
        ])
        .await
        .unwrap();
    let w = |p: &PersonRecord, from: i64, to: i64| SubjectWindow {
        subject_id: p.subject_id.clone(),
        from: at(from),
        to: at(to),
    };
    let found = store.trace_visits_of(&[w(&a, 0, 4000), w(&b, 9200, 9300), w(&c, 5000, 6000)]).await.unwrap();
    assert_eq!(keys(found.clone()), ["a1", "b2"], "overlap with each person's own range only");
    let a1 = found.iter().find(|v| v.visit_key == "a1").unwrap();
    assert_eq!(
        (a1.subject_id.clone(), a1.venue_id.as_str(), a1.entered_at, a1.left_at),
        (a.subject_id.clone(), "v_cafe", at(1000), at(2000))
    );

    let v = |venue: &str, from: i64, to: i64| VenueWindow { venue_id: venue.into(), from: at(from), to: at(to) };
    let day = Duration::hours(24);
    assert_eq!(
        keys(store.trace_visits_at(&[v("v_cafe", 1000, 2000), v("v_gym", 5500, 5600)], day).await.unwrap()),
        ["a1", "a2", "b1", "c1"]
    );
    // Visits that began more than `longest` before the range are not looked at.
    assert_eq!(
        keys(store.trace_visits_at(&[v("v_cafe", 1000, 2000)], Duration::hours(1)).await.unwrap()),
        ["a1", "b1"]
    );
    assert!(store.trace_visits_at(&[v("v_none", 0, 10_000)], day).await.unwrap().is_empty());

    let mut venues = store.trace_venues(&["v_gym".into(), "v_cafe".into(), "v_none".into()]).await.unwrap();
    venues.sort_by(|x, y| x.venue_id.cmp(&y.venue_id));
    assert_eq!(
        venues,
        [
            TraceVenue { venue_id: "v_cafe".into(), name: "v_cafe name".into(), category: "restaurant".into() },
            TraceVenue { venue_id: "v_gym".into(), name: "v_gym name".into(), category: "other".into() },
        ]
    );
}

/// An outbreak day's job asks for hundreds of windows at once (a backend may split them and
/// read the parts in parallel): the answer is exactly the union of asking window by window.
pub async fn tracing_reads_of_hundreds_of_windows_find_what_each_window_alone_finds(store: &dyn Store) {
    const VENUES: i64 = 30;
    let venues: Vec<String> = (0..VENUES).map(|i| format!("v_many{i:02}")).collect();
    for v in &venues {
        store.venue_insert(&venue(v, VenueCategory::Restaurant)).await.unwrap();
    }
    let people: Vec<PersonRecord> = (0..200).map(|_| person("420102")).collect();
    // Each person: three visits at venues and times spread by their number, some overlapping.
    let mut rows = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let i = i as i64;
        for k in 0..3 {
            let venue = &venues[((i * 7 + k * 11) % VENUES) as usize];
            let from = (i * 37 + k * 1_000) % 20_000;
            rows.push(visit(&format!("m{i}-{k}"), p, venue, from, from + 600 + (i % 5) * 300));
        }
    }
    store.visits_insert(&rows).await.unwrap();

    let subject_windows: Vec<SubjectWindow> = people
        .iter()
        .enumerate()
        .map(|(i, p)| SubjectWindow {
            subject_id: p.subject_id.clone(),
            from: at((i as i64 * 53) % 15_000),
            to: at((i as i64 * 53) % 15_000 + 4_000),
        })
        .collect();
    let mut one_by_one = Vec::new();
    for w in &subject_windows {
        one_by_one.extend(store.trace_visits_of(std::slice::from_ref(w)).await.unwrap());
    }
    let together = store.trace_visits_of(&subject_windows).await.unwrap();
    assert!(!one_by_one.is_empty());
    assert_eq!(keys(together), keys(one_by_one));

    let venue_windows: Vec<VenueWindow> = (0..300i64)
        .map(|i| VenueWindow {
            venue_id: venues[(i % VENUES) as usize].clone(),
            from: at((i * 71) % 20_000),
            to: at((i * 71) % 20_000 + 500),
        })
        .collect();
    let longest = Duration::minutes(30);
    let mut one_by_one = Vec::new();
    for w in &venue_windows {
        one_by_one.extend(store.trace_visits_at(std::slice::from_ref(w), longest).await.unwrap());
    }
    let together = store.trace_visits_at(&venue_windows, longest).await.unwrap();
    assert!(!one_by_one.is_empty());
    assert_eq!(keys(together), keys(one_by_one));
}

fn trip(record: &str, who: &PersonRecord, number: &str, coach: &str, row: &str) -> TripRecord {
    TripRecord {
        record_id: record.into(),
        id_index: who.id_index.clone(),
        carrier: Carrier::Train,
        number: number.into(),
        date: NaiveDate::from_ymd_opt(2027, 1, 12).unwrap(),
        coach: Some(coach.into()),
        row: row.into(),
        seat: "F".into(),
    }
}

pub async fn tracing_reads_households_and_trips_in_batches(store: &dyn Store) {
    let guardian = person("420102");
    store.person_insert(&guardian).await.unwrap();
    let mut kids = Vec::new();
    for _ in 0..2 {
        let mut k = person("420102");
        k.phone_index = None;
        k.phone_sealed = None;
        k.guardian = Some(Guardian { subject_id: guardian.subject_id.clone(), relation: Relation::Child });
        store.person_insert(&k).await.unwrap();
        kids.push(k);
    }
    let loner = person("420102");
    store.person_insert(&loner).await.unwrap();

    // Asking about one child finds the guardian and both children; the loner alone.
    let mut found: Vec<_> =
        store.trace_households(&[kids[0].subject_id.clone(), loner.subject_id.clone()]).await.unwrap();
    found.sort_by(|x, y| x.subject_id.cmp(&y.subject_id));
    found.dedup();
    let mut expected = vec![
        HouseholdMember {
            subject_id: guardian.subject_id.clone(),
            guardian: None,
            id_index: guardian.id_index.clone(),
        },
        HouseholdMember { subject_id: loner.subject_id.clone(), guardian: None, id_index: loner.id_index.clone() },
    ];
    for k in &kids {
        expected.push(HouseholdMember {
            subject_id: k.subject_id.clone(),
            guardian: Some(guardian.subject_id.clone()),
            id_index: k.id_index.clone(),
        });
    }
    expected.sort_by(|x, y| x.subject_id.cmp(&y.subject_id));
    assert_eq!(found, expected);

    let unregistered = person("420102");
    store
        .trips_import(&[
            trip("t1", &guardian, "G1234", "05", "10F"),
            trip("t2", &loner, "G1234", "05", "12A"),
            trip("t3", &unregistered, "G1234", "05", "11A"),
            trip("t4", &loner, "G9999", "01", "1A"),
        ])
        .await
        .unwrap();
    let member = |p: &PersonRecord| HouseholdMember {
        subject_id: p.subject_id.clone(),
        guardian: None,
        id_index: p.id_index.clone(),
    };
    let mine = store.trace_trips_of(&[member(&guardian)]).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0],
        TraceSeat {
            record_id: "t1".into(),
            subject: guardian.subject_id.clone(),
            carrier: Carrier::Train,
            number: "G1234".into(),
            date: NaiveDate::from_ymd_opt(2027, 1, 12).unwrap(),
            coach: Some("05".into()),
            row: "10F".into(),
            seat: "F".into(),
        }
    );
    let vehicle = Vehicle {
        carrier: Carrier::Train,
        number: "G1234".into(),
        date: NaiveDate::from_ymd_opt(2027, 1, 12).unwrap(),
    };
    let mut aboard: Vec<String> =
        store.trace_trips_on(&[vehicle]).await.unwrap().into_iter().map(|s| s.record_id).collect();
    aboard.sort();
    assert_eq!(aboard, ["t1", "t2"], "registered travellers only");
}

pub(crate) fn exposure(case_id: &str, who: &SubjectId, kind: ContactKind, at_secs: i64) -> ExposureRecord {
    ExposureRecord {
        record_id: ExposureRecord::record_id_for(case_id, who, kind),
        subject_id: who.clone(),
        kind,
        at: at(at_secs),
        case_id: case_id.into(),
        via: None,
        evidence: serde_json::json!([{"kind": "venue", "venue_id": "v_cafe", "minutes": 30}]),
        created_at: at(600),
    }
}

pub async fn exposures_are_stored_once_per_case_person_and_kind(store: &dyn Store) {
    let (a, b) = (person("420102"), person("420102"));
    let case_person = person("420102");
    let mut second = exposure("case-9", &b.subject_id, ContactKind::Secondary, 300);
    second.via = Some(a.subject_id.clone());
    let rows = vec![exposure("case-9", &a.subject_id, ContactKind::Close, 200), second.clone()];
    let before = store.audit_since(0, 1000).await.unwrap().len();
    assert_eq!(store.exposures_save(&rows, &audit("case.trace", &case_person.subject_id)).await.unwrap(), 2);
    assert_eq!(store.exposures_for(&a.subject_id).await.unwrap(), vec![rows[0].clone()]);
    assert_eq!(store.exposures_for(&b.subject_id).await.unwrap(), vec![second.clone()]);
    assert_eq!(store.audit_since(0, 1000).await.unwrap().len(), before + 1, "audited in the same write");

    // Tracing again with a later contact: updated, not added.
    let later = exposure("case-9", &a.subject_id, ContactKind::Close, 400);
    assert_eq!(
        store
            .exposures_save(&[later.clone(), second.clone()], &audit("case.trace", &case_person.subject_id))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.exposures_for(&a.subject_id).await.unwrap(), vec![later]);
    // Another case makes another exposure; oldest first.
    let other = exposure("case-10", &a.subject_id, ContactKind::Secondary, 100);
    assert_eq!(
        store
            .exposures_save(std::slice::from_ref(&other), &audit("case.trace", &case_person.subject_id))
            .await
            .unwrap(),
        1
    );
    let list = store.exposures_for(&a.subject_id).await.unwrap();
    assert_eq!(
        list.iter().map(|e| e.record_id.as_str()).collect::<Vec<_>>(),
        [other.record_id.as_str(), rows[0].record_id.as_str()]
    );
    assert!(store.exposures_for(&case_person.subject_id).await.unwrap().is_empty());
}
