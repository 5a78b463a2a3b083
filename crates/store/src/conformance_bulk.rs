//! Conformance of the set-based reads and writes (`bulk.rs`): many people at once must give
//! exactly what the one-person methods give, and writes stay all or nothing.

use chrono::{Duration, NaiveDate};
use healthcode_core::rules::{Carrier, CaseStatus, ContactKind, TestResult};
use healthcode_core::{Color, Declaration, RegionCode, Temperature};

use crate::conformance::{at, person};
use crate::*;

#[macro_export]
macro_rules! store_bulk_conformance_tests {
    ($make:expr) => {
        $crate::store_bulk_conformance_tests!(@each $make;
            many_people_register_at_once_or_not_at_all,
            facts_of_many_people_are_what_the_per_person_reads_give,
            decisions_of_many_people_are_saved_with_their_changes,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::conformance_bulk::$name(&*store).await;
            }
        )*
    };
}

fn sorted(mut people: Vec<PersonRecord>) -> Vec<PersonRecord> {
    people.sort_by(|a, b| a.subject_id.as_str().cmp(b.subject_id.as_str()));
    people
}

pub async fn many_people_register_at_once_or_not_at_all(store: &dyn Store) {
    let people = vec![person("420102"), person("420106"), person("110101")];
    store.persons_insert_many(&people).await.unwrap();
    let stranger = person("420102");
    let mut asked: Vec<SubjectId> = people.iter().rev().map(|p| p.subject_id.clone()).collect();
    asked.push(stranger.subject_id.clone());
    asked.push(people[0].subject_id.clone());
    assert_eq!(
        store.persons_keys_many(&asked).await.unwrap(),
        sorted(people.clone()).iter().map(PersonRecord::keys).collect::<Vec<_>>(),
        "ordered by subject id, unknown and repeated ids once or not at all"
    );
    assert_eq!(store.person_get(&people[1].subject_id).await.unwrap().as_ref(), Some(&people[1]));

    // A batch with one taken ID number (or phone) writes none of its people.
    let mut same_id = person("420102");
    same_id.id_index = people[0].id_index.clone();
    let newcomer = person("420103");
    let refused = store.persons_insert_many(&[newcomer.clone(), same_id]).await;
    assert!(matches!(refused, Err(StoreError::Duplicate(Unique::IdNumber))), "{refused:?}");
    let mut same_phone = person("420102");
    same_phone.phone_index = people[2].phone_index.clone();
    let refused = store.persons_insert_many(&[newcomer.clone(), same_phone]).await;
    assert!(matches!(refused, Err(StoreError::Duplicate(Unique::Phone))), "{refused:?}");
    assert_eq!(store.person_get(&newcomer.subject_id).await.unwrap(), None, "nothing of a refused batch is kept");
    // A dependent whose guardian is missing is refused like `person_insert` refuses it.
    let mut orphan = person("420102");
    orphan.phone_index = None;
    orphan.phone_sealed = None;
    orphan.guardian =
        Some(Guardian { subject_id: stranger.subject_id.clone(), relation: healthcode_core::Relation::Child });
    assert!(matches!(store.persons_insert_many(&[orphan]).await, Err(StoreError::NotFound)));
    store.persons_insert_many(std::slice::from_ref(&newcomer)).await.unwrap();
    assert_eq!(
        store.persons_keys_many(std::slice::from_ref(&newcomer.subject_id)).await.unwrap(),
        vec![newcomer.keys()]
    );
    // Many at once (a backend may read them in parts at once): all, in subject-id order.
    let crowd: Vec<PersonRecord> = (0..700).map(|_| person("420102")).collect();
    store.persons_insert_many(&crowd).await.unwrap();
    let asked: Vec<SubjectId> = crowd.iter().rev().map(|p| p.subject_id.clone()).collect();
    assert_eq!(
        store.persons_keys_many(&asked).await.unwrap(),
        sorted(crowd).iter().map(PersonRecord::keys).collect::<Vec<_>>()
    );
}

fn declaration(who: &PersonRecord, day: u32, tenths: i16, secs: i64) -> Declaration {
    Declaration {
        subject_id: who.subject_id.clone(),
        day: NaiveDate::from_ymd_opt(2027, 1, day).unwrap(),
        temperature: Temperature::from_tenths(tenths),
        symptoms: vec![],
        contact_with_suspected_case: false,
        current_region: RegionCode::parse("420102").unwrap(),
        declared_by: who.subject_id.clone(),
        declared_at: at(secs),
    }
}

pub async fn facts_of_many_people_are_what_the_per_person_reads_give(store: &dyn Store) {
    let a = person("420102");
    let b = person("420106");
    let mut child = person("420106");
    child.phone_index = None;
    child.phone_sealed = None;
    child.guardian = Some(Guardian { subject_id: b.subject_id.clone(), relation: healthcode_core::Relation::Child });
    let quiet = person("110101");
    for p in [&a, &b, &child, &quiet] {
        store.person_insert(p).await.unwrap();
    }
    let since = at(1_000);
    // Declarations: one replaced (not a fact any more), one before `since`.
    store.declaration_submit(&declaration(&a, 1, 362, 500)).await.unwrap();
    store.declaration_submit(&declaration(&a, 2, 380, 2_000)).await.unwrap();
    store.declaration_submit(&declaration(&a, 2, 365, 2_100)).await.unwrap();
    store.declaration_submit(&declaration(&a, 3, 366, 3_000)).await.unwrap();
    store.declaration_submit(&declaration(&b, 3, 361, 3_000)).await.unwrap();
    let stay = |id: &str, who: &PersonRecord, start: i64, end: i64| StayRecord {
        record_id: format!("{id}-{}", who.subject_id),
        phone_index: who.phone_index.clone().unwrap(),
        region: RegionCode::parse("420103").unwrap(),
        start: at(start),
        end: at(end),
    };
    store
        .stays_import(&[
            stay("old", &a, 0, 900),
            stay("s2", &a, 5_000, 6_000),
            stay("s1", &a, 1_500, 2_500),
            stay("s1", &b, 1_500, 2_500),
        ])
        .await
        .unwrap();
    let lab = |id: &str, who: &PersonRecord, secs: i64, result| LabTestRecord {
        record_id: format!("{id}-{}", who.subject_id),
        id_index: who.id_index.clone(),
        sampled_at: at(secs),
        result,
    };
    store
        .lab_tests_import(&[
            lab("t0", &a, 10, TestResult::Negative),
            lab("t1", &a, 4_000, TestResult::Positive),
            lab("t1", &child, 4_000, TestResult::Negative),
        ])
        .await
        .unwrap();
    let case = CaseStatusRecord {
        record_id: format!("c-{}", b.subject_id),
        id_index: b.id_index.clone(),
        status: CaseStatus::Suspected,
        at: at(10),
    };
    store.cases_import(&[case]).await.unwrap();
    let trip = TripRecord {
        record_id: format!("g-{}", child.subject_id),
        id_index: child.id_index.clone(),
        carrier: Carrier::Train,
        number: "G1234".into(),
        date: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
        coach: Some("5".into()),
        row: "12".into(),
        seat: "F".into(),
    };
    store.trips_import(&[trip]).await.unwrap();
    let shot = VaccinationRecord {
        record_id: format!("v-{}", a.subject_id),
        id_index: a.id_index.clone(),
        date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        dose: 3,
        product: "BBIBP-CorV".into(),
    };
    store.vaccinations_import(&[shot]).await.unwrap();

    // An exposure from tracing (rare: read by the per-person path).
    let traced = crate::conformance_tracing::exposure("case-1", &b.subject_id, ContactKind::Close, 2_000);
    store.exposures_save(&[traced], &crate::conformance_tracing::audit("case.trace", &a.subject_id)).await.unwrap();

    let asked = [quiet.keys(), child.keys(), a.keys(), b.keys()];
    let many = store.facts_for_many(&asked, since).await.unwrap();
    assert_eq!(many.len(), asked.len(), "one entry per person, in the order asked");
    for (p, got) in asked.iter().zip(&many) {
        let declarations: Vec<StoredDeclaration> = store
            .declarations(&p.subject_id, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.superseded_at.is_none() && d.declaration.declared_at >= since)
            .collect();
        let want = FactRecords {
            declarations,
            stays: match &p.phone_index {
                Some(phone) => store.stays_for(phone, since).await.unwrap(),
                None => vec![],
            },
            tests: store.lab_tests_for(&p.id_index, since).await.unwrap(),
            cases: store.cases_for(&p.id_index).await.unwrap(),
            trips: store.trips_for(&p.id_index).await.unwrap(),
            vaccinations: store.vaccinations_for(&p.id_index).await.unwrap(),
            overrides: store.overrides_for(&p.subject_id).await.unwrap(),
            quarantines: store.quarantines_for(&p.subject_id).await.unwrap(),
            exposures: store.exposures_for(&p.subject_id).await.unwrap(),
        };
        assert_eq!(got, &want, "{}", p.subject_id);
    }
    // Spot checks, so that the comparison above is not between two empty lists.
    let of_a = &many[2];
    assert_eq!(
        of_a.declarations.iter().map(|d| d.declaration.day.to_string()).collect::<Vec<_>>(),
        ["2027-01-03", "2027-01-02"]
    );
    assert_eq!(of_a.declarations[1].declaration.temperature, Temperature::from_tenths(365));
    assert_eq!(of_a.stays.iter().map(|s| s.start).collect::<Vec<_>>(), [at(1_500), at(5_000)]);
    assert_eq!(of_a.tests.len(), 1);
    assert_eq!(of_a.vaccinations.len(), 1);
    assert_eq!((many[3].stays.len(), many[3].cases.len(), many[3].exposures.len()), (1, 1, 1));
    assert_eq!((many[1].stays.len(), many[1].tests.len(), many[1].trips.len()), (0, 1, 1));
    assert_eq!(many[0], FactRecords::default());
    assert_eq!(store.facts_for_many(&[], since).await.unwrap(), vec![]);
    // Many people at once (a backend may read them in parts at once): still one entry per
    // person in the order asked.
    let crowd: Vec<PersonRecord> = (0..600).map(|_| person("420102")).collect();
    store.persons_insert_many(&crowd).await.unwrap();
    store.stays_import(&crowd.iter().map(|p| stay("c", p, 1_500, 2_500)).collect::<Vec<_>>()).await.unwrap();
    let mut keys: Vec<PersonKeys> = crowd.iter().map(PersonRecord::keys).collect();
    keys.extend(asked.iter().cloned());
    let read = store.facts_for_many(&keys, since).await.unwrap();
    assert_eq!(read.len(), keys.len());
    for (p, got) in crowd.iter().zip(&read) {
        assert_eq!(got.stays, vec![stay("c", p, 1_500, 2_500)], "{}", p.subject_id);
    }
    assert_eq!(&read[crowd.len()..], &many[..]);
    // Far enough back, the old stay and the old test are read too.
    let all = store.facts_for_many(&[a.keys()], since - Duration::seconds(1_000)).await.unwrap();
    assert_eq!((all[0].stays.len(), all[0].tests.len(), all[0].declarations.len()), (3, 2, 3));
}

pub async fn decisions_of_many_people_are_saved_with_their_changes(store: &dyn Store) {
    let people = vec![person("420102"), person("420103"), person("420104")];
    store.persons_insert_many(&people).await.unwrap();
    let decision = |p: &PersonRecord, color: Color, secs: i64| DecisionRecord {
        subject_id: p.subject_id.clone(),
        color,
        since: at(secs),
        rule_set_version: "v1".into(),
        next_review_at: (color != Color::Green).then(|| at(secs + 100)),
        evaluated_at: at(secs),
        record: serde_json::json!({"color": color.as_str(), "at": secs}).into(),
        keeps_since: false,
    };
    store.decision_save(&decision(&people[2], Color::Yellow, 5)).await.unwrap();
    let first = vec![decision(&people[0], Color::Green, 10), decision(&people[1], Color::Red, 10)];
    let changes = store.decisions_save_many(&first).await.unwrap();
    assert_eq!(
        changes,
        vec![
            (
                people[0].subject_id.clone(),
                ColorChange { at: at(10), from: None, to: Color::Green, rule_set_version: "v1".into() }
            ),
            (
                people[1].subject_id.clone(),
                ColorChange { at: at(10), from: None, to: Color::Red, rule_set_version: "v1".into() }
            ),
        ]
    );
    let asked: Vec<SubjectId> = people.iter().map(|p| p.subject_id.clone()).collect();
    let mut want: Vec<StoredColor> = [(0, Color::Green, 10), (1, Color::Red, 10), (2, Color::Yellow, 5)]
        .into_iter()
        .map(|(i, color, secs)| StoredColor { subject_id: people[i].subject_id.clone(), color, since: at(secs) })
        .collect();
    want.sort_by(|a, b| a.subject_id.as_str().cmp(b.subject_id.as_str()));
    assert_eq!(store.decisions_colors(&asked).await.unwrap(), want);

    // Same color: the record is replaced but no change is reported; other colors change.
    let second = vec![
        decision(&people[0], Color::Green, 20),
        decision(&people[1], Color::Yellow, 20),
        decision(&people[2], Color::Green, 20),
    ];
    let changes = store.decisions_save_many(&second).await.unwrap();
    let moved: Vec<_> = changes.iter().map(|(s, c)| (s.clone(), c.from, c.to)).collect();
    assert_eq!(
        moved,
        vec![
            (people[1].subject_id.clone(), Some(Color::Red), Color::Yellow),
            (people[2].subject_id.clone(), Some(Color::Yellow), Color::Green),
        ]
    );
    for d in &second {
        assert_eq!(store.decision_get(&d.subject_id).await.unwrap().as_ref(), Some(d), "the record is kept exactly");
    }
    let history = store.color_history(&people[1].subject_id, 10).await.unwrap();
    assert_eq!(history.iter().map(|c| c.to).collect::<Vec<_>>(), [Color::Yellow, Color::Red]);
    assert_eq!(store.color_history(&people[0].subject_id, 10).await.unwrap().len(), 1);
    assert_eq!(store.decisions_save_many(&[]).await.unwrap(), vec![]);
    assert_eq!(store.decisions_due(at(110), 10).await.unwrap(), vec![], "greens are not due");
}
