//! The conformance suite: what every backend must do, written once.
//!
//! A backend's integration test instantiates it with
//! `healthcode_store::store_conformance_tests!(fresh_store());`, where `fresh_store()` is an
//! async expression giving a smart pointer to a store on an empty, migrated database. Each
//! function below becomes one test, so a failure names the behaviour that broke.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::otp::{OtpOutcome, OtpPolicy, OtpRefusal};
use healthcode_core::{Declaration, RegionCode, Relation, Role, SubjectId, Symptom, Temperature};

use crate::*;

pub use crate::conformance_visits::*;

mod overrides;
mod reviews;
pub use overrides::*;
pub use reviews::*;

#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@each $make;
            registers_and_finds_a_person,
            a_duplicate_id_number_is_refused_and_writes_nothing,
            a_phone_registers_one_person,
            guardians_register_dependents_without_phones,
            a_second_declaration_replaces_the_first_and_history_is_kept,
            a_declaration_for_an_unknown_person_writes_nothing,
            retention_deletes_the_declarations_of_earlier_days,
            one_time_passwords_lock_after_five_wrong_tries,
            sessions_expire_and_can_be_ended,
            staff_accounts_are_found_by_token_and_their_creation_audited,
            officers_see_only_people_in_their_regions,
            officer_reads_of_declarations_are_scoped_and_audited,
            the_audit_log_is_ordered_and_filtered_by_subject,
            stays_import_once_and_are_found_by_phone,
            people_who_stayed_in_a_region_are_found,
            region_risk_periods_import_once,
            lab_tests_and_case_statuses_import_once_by_id_number,
            decisions_keep_the_last_record_and_a_history_of_changes,
            a_decision_without_a_start_keeps_the_stored_one_of_its_color,
            rule_sets_are_kept_once_by_version,
            trips_and_vaccinations_import_once_by_id_number,
            venues_are_stored_and_found,
            visits_write_once_per_venue_and_key_and_report_which_were_new,
            checked_visits_are_not_written_for_people_who_turned_red,
            visits_are_found_by_overlap_at_a_venue_and_for_a_person,
            an_exit_closes_the_latest_open_visit_once,
            scan_attempts_are_kept_without_personal_data,
            retention_drops_whole_days_of_visits,
            overrides_need_a_second_officer_in_scope,
            an_expired_override_cannot_be_approved,
            quarantines_are_scoped_audited_and_end_once,
            a_rule_change_makes_decisions_of_other_versions_due,
            the_review_queue_hands_out_each_person_once_oldest_first,
            people_are_found_by_many_phone_and_id_indexes_at_once,
        );
        $crate::store_tracing_conformance_tests!($make);
        $crate::store_bulk_conformance_tests!($make);
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn subject() -> SubjectId {
    let mut bytes = [0u8; 16];
    bytes[8..].copy_from_slice(&unique().to_be_bytes());
    bytes[0] = std::process::id() as u8;
    SubjectId::from_random(bytes)
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("test region")
}

/// A whole second, so that every backend's time type holds it exactly.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
}

fn index(label: &str) -> Vec<u8> {
    format!("{label}-{}", unique()).into_bytes()
}

/// A person with a phone, registered in `household`. Sealed fields are placeholders: the store
/// must treat them as opaque.
pub fn person(household: &str) -> PersonRecord {
    let n = unique();
    PersonRecord {
        subject_id: subject(),
        id_index: index("id"),
        id_number_sealed: format!("k1.sealed-id-{n}"),
        name_sealed: format!("k1.sealed-name-{n}"),
        masked_name: "张*三".into(),
        phone_index: Some(index("phone")),
        phone_sealed: Some(format!("k1.sealed-phone-{n}")),
        household_region: region(household),
        current_region: None,
        guardian: None,
        created_at: at(n as i64 % 1000),
    }
}

fn declaration(who: &PersonRecord, day: NaiveDate, temp: f64, current: &str, secs: i64) -> Declaration {
    Declaration {
        subject_id: who.subject_id.clone(),
        day,
        temperature: Temperature::from_celsius(temp).unwrap(),
        symptoms: if temp >= 37.3 { vec![Symptom::Fever, Symptom::Cough] } else { vec![] },
        contact_with_suspected_case: false,
        current_region: region(current),
        declared_by: who.subject_id.clone(),
        declared_at: at(secs),
    }
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, d).unwrap()
}

fn staff(role: Role, regions: &[&str]) -> Staff {
    let n = unique();
    Staff {
        id: format!("st_{n}"),
        role,
        name: format!("staff {n}"),
        regions: {
            let mut r: Vec<_> = regions.iter().map(|r| region(r)).collect();
            r.sort();
            r
        },
        venue_id: None,
        import_kinds: vec![],
        token_hash: index("token"),
        created_at: at(0),
        created_by: "bootstrap_admin".into(),
    }
}

fn creation_audit(s: &Staff) -> AuditEntry {
    AuditEntry {
        at: s.created_at,
        actor: Actor { kind: "bootstrap_admin".into(), id: "bootstrap".into(), role: Some("admin".into()) },
        action: "staff.create".into(),
        subject_id: None,
        purpose: None,
        detail: serde_json::json!({"staff_id": s.id, "role": s.role.as_str()}),
    }
}

async fn add_officer(store: &dyn Store, regions: &[&str]) -> Staff {
    let s = staff(Role::Officer, regions);
    store.staff_insert(&s, &creation_audit(&s)).await.unwrap();
    s
}

pub async fn registers_and_finds_a_person(store: &dyn Store) {
    store.ping().await.unwrap();
    let p = person("420102");
    store.person_insert(&p).await.unwrap();
    assert_eq!(store.person_get(&p.subject_id).await.unwrap().as_ref(), Some(&p));
    let by_phone = store.person_by_phone(p.phone_index.as_ref().unwrap()).await.unwrap();
    assert_eq!(by_phone.as_ref(), Some(&p));
    assert_eq!(store.person_get(&subject()).await.unwrap(), None);
    assert_eq!(store.person_by_phone(b"nobody").await.unwrap(), None);
}

pub async fn a_duplicate_id_number_is_refused_and_writes_nothing(store: &dyn Store) {
    let first = person("420102");
    store.person_insert(&first).await.unwrap();
    let second = PersonRecord { id_index: first.id_index.clone(), ..person("110101") };
    let err = store.person_insert(&second).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(Unique::IdNumber)), "{err:?}");
    assert_eq!(store.person_get(&second.subject_id).await.unwrap(), None);
    assert_eq!(store.person_by_phone(second.phone_index.as_ref().unwrap()).await.unwrap(), None);
    // The phone of the refused registration is still free.
    store.person_insert(&PersonRecord { phone_index: second.phone_index.clone(), ..person("110101") }).await.unwrap();
}

pub async fn a_phone_registers_one_person(store: &dyn Store) {
    let first = person("420102");
    store.person_insert(&first).await.unwrap();
    let second = PersonRecord { phone_index: first.phone_index.clone(), ..person("420102") };
    let err = store.person_insert(&second).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(Unique::Phone)), "{err:?}");
    assert_eq!(store.person_get(&second.subject_id).await.unwrap(), None);
}

pub async fn guardians_register_dependents_without_phones(store: &dyn Store) {
    let guardian = person("420102");
    store.person_insert(&guardian).await.unwrap();
    let mut kids = Vec::new();
    for (i, relation) in [Relation::Child, Relation::Elder].into_iter().enumerate() {
        let d = PersonRecord {
            phone_index: None,
            phone_sealed: None,
            guardian: Some(Guardian { subject_id: guardian.subject_id.clone(), relation }),
            created_at: at(2000 + i as i64),
            ..person("420102")
        };
        store.person_insert(&d).await.unwrap();
        kids.push(d);
    }
    assert_eq!(store.dependents(&guardian.subject_id).await.unwrap(), kids);
    assert_eq!(store.dependents(&kids[0].subject_id).await.unwrap(), vec![]);
    // A dependent cannot be registered twice, even by another guardian.
    let again = PersonRecord { id_index: kids[0].id_index.clone(), ..kids[1].clone() };
    let again = PersonRecord { subject_id: subject(), ..again };
    assert!(matches!(store.person_insert(&again).await, Err(StoreError::Duplicate(Unique::IdNumber))));
    // A guardian that does not exist is refused.
    let orphan = PersonRecord {
        phone_index: None,
        phone_sealed: None,
        guardian: Some(Guardian { subject_id: subject(), relation: Relation::Child }),
        ..person("420102")
    };
    assert!(matches!(store.person_insert(&orphan).await, Err(StoreError::NotFound)));
    assert_eq!(store.person_get(&orphan.subject_id).await.unwrap(), None);
}

pub async fn a_second_declaration_replaces_the_first_and_history_is_kept(store: &dyn Store) {
    let p = person("420102");
    store.person_insert(&p).await.unwrap();
    let morning = declaration(&p, day(5), 36.5, "420102", 100);
    let evening = declaration(&p, day(5), 37.8, "420103", 200);
    let first = store.declaration_submit(&morning).await.unwrap();
    assert!(!first.replaced);
    let second = store.declaration_submit(&evening).await.unwrap();
    assert!(second.replaced);
    assert_ne!(first.id, second.id);

    let in_force = store.declaration_for_day(&p.subject_id, day(5)).await.unwrap().unwrap();
    assert_eq!(in_force.declaration, evening);
    assert_eq!(in_force.superseded_at, None);
    let history = store.declarations(&p.subject_id, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].declaration, evening);
    assert_eq!(history[1].declaration, morning);
    assert_eq!(history[1].superseded_at, Some(evening.declared_at));

    let next_day = declaration(&p, day(6), 36.6, "110101", 300);
    assert!(!store.declaration_submit(&next_day).await.unwrap().replaced);
    assert_eq!(store.declarations(&p.subject_id, 10).await.unwrap().len(), 3);
    assert_eq!(store.declarations(&p.subject_id, 1).await.unwrap()[0].declaration, next_day);
    let now = store.person_get(&p.subject_id).await.unwrap().unwrap();
    assert_eq!(now.current_region, Some(region("110101")));
    assert_eq!(store.declaration_for_day(&p.subject_id, day(7)).await.unwrap(), None);
}

pub async fn retention_deletes_the_declarations_of_earlier_days(store: &dyn Store) {
    let p = person("420102");
    let other = person("420103");
    store.person_insert(&p).await.unwrap();
    store.person_insert(&other).await.unwrap();
    // Day 4 twice (the first superseded), days 5 and 6 once; the other person on day 3.
    for (who, d, secs) in [(&p, 4, 100), (&p, 4, 150), (&p, 5, 200), (&p, 6, 300), (&other, 3, 400)] {
        store.declaration_submit(&declaration(who, day(d), 36.5, "420102", secs)).await.unwrap();
    }
    assert_eq!(store.declarations_drop_before(day(5)).await.unwrap(), 3);
    let days = |h: Vec<StoredDeclaration>| h.iter().map(|d| d.declaration.day).collect::<Vec<_>>();
    assert_eq!(days(store.declarations(&p.subject_id, 10).await.unwrap()), [day(6), day(5)]);
    assert_eq!(store.declarations(&other.subject_id, 10).await.unwrap(), vec![]);
    assert_eq!(store.declaration_for_day(&p.subject_id, day(4)).await.unwrap(), None);
    // Again: nothing more goes, and a kept day still takes a replacement.
    assert_eq!(store.declarations_drop_before(day(5)).await.unwrap(), 0);
    assert!(store.declaration_submit(&declaration(&p, day(5), 36.7, "420102", 500)).await.unwrap().replaced);
}

pub async fn a_declaration_for_an_unknown_person_writes_nothing(store: &dyn Store) {
    let ghost = person("420102");
    let d = declaration(&ghost, day(5), 36.5, "420102", 100);
    assert!(matches!(store.declaration_submit(&d).await, Err(StoreError::NotFound)));
    assert_eq!(store.declarations(&ghost.subject_id, 10).await.unwrap(), vec![]);
}

pub async fn one_time_passwords_lock_after_five_wrong_tries(store: &dyn Store) {
    let policy = OtpPolicy::default();
    let phone = index("phone");
    let issue = |h: &str| OtpTransition::Issue { code_hash: h.as_bytes().to_vec() };
    let verify = |h: &str| OtpTransition::Verify { code_hash: h.as_bytes().to_vec() };

    assert_eq!(
        store.otp_apply(&phone, verify("a"), at(0), &policy).await.unwrap(),
        OtpResult::Checked(OtpOutcome::NoCode)
    );
    assert_eq!(store.otp_apply(&phone, issue("good"), at(0), &policy).await.unwrap(), OtpResult::Issued);
    let too_soon = store.otp_apply(&phone, issue("again"), at(10), &policy).await.unwrap();
    assert_eq!(too_soon, OtpResult::Refused(OtpRefusal::TooSoon { retry_at: at(60) }));
    for i in 1..=4u32 {
        let r = store.otp_apply(&phone, verify("bad"), at(i.into()), &policy).await.unwrap();
        assert_eq!(r, OtpResult::Checked(OtpOutcome::Wrong { remaining: 5 - i }));
    }
    let until = at(5) + policy.lockout;
    let r = store.otp_apply(&phone, verify("bad"), at(5), &policy).await.unwrap();
    assert_eq!(r, OtpResult::Checked(OtpOutcome::LockedNow { until }));
    let r = store.otp_apply(&phone, verify("good"), at(6), &policy).await.unwrap();
    assert_eq!(r, OtpResult::Checked(OtpOutcome::Locked { until }), "the right code is refused while locked");
    let r = store.otp_apply(&phone, issue("new"), at(120), &policy).await.unwrap();
    assert_eq!(r, OtpResult::Refused(OtpRefusal::Locked { until }));

    // Another phone is not affected, and after the lock the phone works again.
    let other = index("phone");
    assert_eq!(store.otp_apply(&other, issue("x"), at(6), &policy).await.unwrap(), OtpResult::Issued);
    let later = until + Duration::seconds(1);
    assert_eq!(store.otp_apply(&phone, issue("new"), later, &policy).await.unwrap(), OtpResult::Issued);
    let r = store.otp_apply(&phone, verify("new"), later + Duration::seconds(301), &policy).await.unwrap();
    assert_eq!(r, OtpResult::Checked(OtpOutcome::Expired));
    let r = store.otp_apply(&phone, verify("new"), later + Duration::seconds(302), &policy).await.unwrap();
    assert_eq!(r, OtpResult::Checked(OtpOutcome::NoCode), "an expired code stays dead");
    let again = later + Duration::seconds(400);
    store.otp_apply(&phone, issue("fresh"), again, &policy).await.unwrap();
    let r = store.otp_apply(&phone, verify("fresh"), again, &policy).await.unwrap();
    assert_eq!(r, OtpResult::Checked(OtpOutcome::Accepted));
    let r = store.otp_apply(&phone, verify("fresh"), again, &policy).await.unwrap();
    assert_eq!(r, OtpResult::Checked(OtpOutcome::NoCode), "a code works once");
}

pub async fn sessions_expire_and_can_be_ended(store: &dyn Store) {
    let s = Session { token_hash: index("tok"), phone_index: index("phone"), created_at: at(0), expires_at: at(3600) };
    store.session_create(&s).await.unwrap();
    assert_eq!(store.session_get(&s.token_hash, at(10)).await.unwrap(), Some(s.clone()));
    assert_eq!(store.session_get(&s.token_hash, at(3600)).await.unwrap(), None);
    assert_eq!(store.session_get(b"other", at(10)).await.unwrap(), None);
    store.session_delete(&s.token_hash).await.unwrap();
    assert_eq!(store.session_get(&s.token_hash, at(10)).await.unwrap(), None);
}

pub async fn staff_accounts_are_found_by_token_and_their_creation_audited(store: &dyn Store) {
    let officer = staff(Role::Officer, &["420100", "110000"]);
    store.staff_insert(&officer, &creation_audit(&officer)).await.unwrap();
    let device = Staff { venue_id: Some("v_1".into()), ..staff(Role::Checkpoint, &[]) };
    store.staff_insert(&device, &creation_audit(&device)).await.unwrap();
    let partner = Staff { import_kinds: vec!["telecom-stays".into()], ..staff(Role::Partner, &[]) };
    store.staff_insert(&partner, &creation_audit(&partner)).await.unwrap();

    let found = store.staff_by_token(&officer.token_hash).await.unwrap().unwrap();
    assert_eq!(found, officer);
    assert_eq!(store.staff_by_token(&device.token_hash).await.unwrap(), Some(device.clone()));
    assert_eq!(store.staff_by_token(&partner.token_hash).await.unwrap(), Some(partner.clone()));
    assert_eq!(store.staff_by_token(b"nope").await.unwrap(), None);

    let clash = Staff { token_hash: officer.token_hash.clone(), ..staff(Role::Auditor, &[]) };
    let err = store.staff_insert(&clash, &creation_audit(&clash)).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(Unique::StaffToken)), "{err:?}");
    let log = store.audit_since(0, 100).await.unwrap();
    assert_eq!(log.len(), 3, "the refused account left no audit record");
    assert!(log.iter().all(|r| r.entry.action == "staff.create"));
}

pub async fn officers_see_only_people_in_their_regions(store: &dyn Store) {
    let wuhan = add_officer(store, &["420100"]).await;
    let hubei = add_officer(store, &["420000"]).await;
    let beijing = add_officer(store, &["110000"]).await;
    let auditor = staff(Role::Auditor, &[]);
    store.staff_insert(&auditor, &creation_audit(&auditor)).await.unwrap();

    let local = person("420102");
    let changsha = person("430102");
    let visitor = person("110101");
    for p in [&local, &changsha, &visitor] {
        store.person_insert(p).await.unwrap();
    }
    // The visitor declares they are now in Wuhan: Wuhan's officers may see them too.
    store.declaration_submit(&declaration(&visitor, day(5), 36.5, "420103", 50)).await.unwrap();

    fn read(staff: &Staff) -> StaffRead<'_> {
        StaffRead { staff_id: &staff.id, purpose: "流调 epidemiological investigation", at: at(100) }
    }
    let unknown = staff(Role::Officer, &["420000"]);
    let before = store.audit_since(0, 1000).await.unwrap().len();

    let seen = store.person_for_officer(&read(&wuhan), &local.subject_id).await.unwrap();
    assert_eq!(seen.map(|p| p.subject_id), Some(local.subject_id.clone()));
    assert!(store.person_for_officer(&read(&hubei), &local.subject_id).await.unwrap().is_some());
    assert!(store.person_for_officer(&read(&wuhan), &visitor.subject_id).await.unwrap().is_some());
    assert!(store.person_for_officer(&read(&beijing), &visitor.subject_id).await.unwrap().is_some());
    let after_allowed = store.audit_since(0, 1000).await.unwrap().len();
    assert_eq!(after_allowed, before + 4, "each read appended one record");

    assert_eq!(store.person_for_officer(&read(&wuhan), &changsha.subject_id).await.unwrap(), None);
    assert_eq!(store.person_for_officer(&read(&beijing), &local.subject_id).await.unwrap(), None);
    assert_eq!(store.person_for_officer(&read(&auditor), &local.subject_id).await.unwrap(), None, "only officers");
    assert_eq!(store.person_for_officer(&read(&unknown), &local.subject_id).await.unwrap(), None);
    assert_eq!(store.audit_since(0, 1000).await.unwrap().len(), after_allowed, "refused reads return nothing to audit");

    let trail = store.audit_for_subject(&local.subject_id, 10).await.unwrap();
    assert_eq!(trail.len(), 2);
    assert!(trail.iter().all(|r| r.entry.action == "person.read" && r.entry.actor.kind == "staff"));
    assert_eq!(trail[0].entry.purpose.as_deref(), Some("流调 epidemiological investigation"));
}

pub async fn officer_reads_of_declarations_are_scoped_and_audited(store: &dyn Store) {
    let wuhan = add_officer(store, &["420100"]).await;
    let local = person("420102");
    let away = person("440305");
    store.person_insert(&local).await.unwrap();
    store.person_insert(&away).await.unwrap();
    store.declaration_submit(&declaration(&local, day(5), 36.5, "420102", 10)).await.unwrap();
    store.declaration_submit(&declaration(&local, day(6), 38.1, "420102", 20)).await.unwrap();
    store.declaration_submit(&declaration(&away, day(6), 36.4, "440305", 30)).await.unwrap();

    let read = StaffRead { staff_id: &wuhan.id, purpose: "fever follow-up", at: at(100) };
    let seen = store.declarations_for_officer(&read, &local.subject_id, 10).await.unwrap().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].declaration.has_fever());
    assert_eq!(store.declarations_for_officer(&read, &away.subject_id, 10).await.unwrap(), None);
    let trail = store.audit_for_subject(&local.subject_id, 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].entry.action, "declarations.read");
    assert_eq!(trail[0].entry.actor.id, wuhan.id);
    assert!(store.audit_for_subject(&away.subject_id, 10).await.unwrap().is_empty());
}

pub async fn the_audit_log_is_ordered_and_filtered_by_subject(store: &dyn Store) {
    let a = subject();
    let b = subject();
    let actor = Actor { kind: "citizen".into(), id: a.to_string(), role: None };
    let mut seqs = Vec::new();
    for (i, who) in [&a, &b, &a].into_iter().enumerate() {
        let e = AuditEntry {
            at: at(i as i64),
            actor: actor.clone(),
            action: format!("test.{i}"),
            subject_id: Some(who.clone()),
            purpose: None,
            detail: serde_json::json!({"i": i}),
        };
        seqs.push(store.audit_append(&e).await.unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence numbers increase: {seqs:?}");
    let mine = store.audit_for_subject(&a, 10).await.unwrap();
    assert_eq!(mine.iter().map(|r| r.entry.action.as_str()).collect::<Vec<_>>(), ["test.2", "test.0"]);
    assert_eq!(mine[0].entry.detail, serde_json::json!({"i": 2}));
    let since = store.audit_since(seqs[0], 10).await.unwrap();
    assert_eq!(since.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs[1..].to_vec());
    assert_eq!(store.audit_since(0, 1).await.unwrap().len(), 1);
}

fn stay(id: &str, phone: &[u8], region_code: &str, start: i64, end: i64) -> StayRecord {
    StayRecord {
        record_id: id.to_string(),
        phone_index: phone.to_vec(),
        region: region(region_code),
        start: at(start),
        end: at(end),
    }
}

pub async fn stays_import_once_and_are_found_by_phone(store: &dyn Store) {
    let phone = index("phone");
    let other = index("phone");
    let first = vec![
        stay("cmcc-1", &phone, "420102", 0, 3600),
        stay("cmcc-2", &phone, "420106", 7200, 9000),
        stay("cmcc-3", &other, "110101", 0, 100),
    ];
    assert_eq!(store.stays_import(&first).await.unwrap(), ImportOutcome { accepted: 3, duplicates: 0 });
    // The same file again plus one new row, and a row repeated within the batch.
    let mut again = first.clone();
    again.push(stay("cmcc-4", &phone, "420103", 10_000, 20_000));
    again.push(stay("cmcc-4", &phone, "420103", 10_000, 20_000));
    assert_eq!(store.stays_import(&again).await.unwrap(), ImportOutcome { accepted: 1, duplicates: 4 });
    let mine = store.stays_for(&phone, at(0)).await.unwrap();
    let ids: Vec<_> = mine.iter().map(|s| s.record_id.as_str()).collect();
    assert_eq!(ids, ["cmcc-1", "cmcc-2", "cmcc-4"]);
    assert_eq!(mine[0], first[0]);
    let recent = store.stays_for(&phone, at(9000)).await.unwrap();
    assert_eq!(recent.len(), 2, "a stay ending exactly at `since` still counts");
    // A large batch crosses the multi-row insert chunks.
    let many: Vec<_> = (0..1234).map(|i| stay(&format!("bulk-{i}"), &other, "420102", i, i + 10)).collect();
    assert_eq!(store.stays_import(&many).await.unwrap().accepted, 1234);
    assert_eq!(store.stays_for(&other, at(0)).await.unwrap().len(), 1235);
}

pub async fn people_who_stayed_in_a_region_are_found(store: &dyn Store) {
    let visitor = person("110101");
    let local = person("420102");
    for p in [&visitor, &local] {
        store.person_insert(p).await.unwrap();
    }
    let unregistered = index("phone");
    let stays = vec![
        stay("s-1", visitor.phone_index.as_ref().unwrap(), "420106", 1000, 5000),
        stay("s-2", local.phone_index.as_ref().unwrap(), "420102", 9000, 9500),
        stay("s-3", &unregistered, "420106", 1000, 5000),
    ];
    store.stays_import(&stays).await.unwrap();
    let wuhan = region("420100");
    let found = store.subjects_with_stays(&wuhan, at(0), at(100_000)).await.unwrap();
    let mut expected = vec![visitor.subject_id.clone(), local.subject_id.clone()];
    expected.sort();
    assert_eq!(found, expected, "stays of unregistered phones name nobody");
    assert_eq!(
        store.subjects_with_stays(&region("420106"), at(0), at(100_000)).await.unwrap(),
        vec![visitor.subject_id.clone()]
    );
    assert_eq!(store.subjects_with_stays(&wuhan, at(5001), at(8999)).await.unwrap(), vec![]);
    assert_eq!(store.subjects_with_stays(&wuhan, at(5000), at(8999)).await.unwrap(), vec![visitor.subject_id.clone()]);
    assert_eq!(store.subjects_with_stays(&region("430000"), at(0), at(100_000)).await.unwrap(), vec![]);
}

pub async fn region_risk_periods_import_once(store: &dyn Store) {
    let rows = vec![
        RegionRiskRecord {
            record_id: "nhc-2".into(),
            region: region("420106"),
            level: RiskLevel::High,
            effective_from: at(5000),
            effective_to: None,
        },
        RegionRiskRecord {
            record_id: "nhc-1".into(),
            region: region("420106"),
            level: RiskLevel::Medium,
            effective_from: at(1000),
            effective_to: Some(at(5000)),
        },
        RegionRiskRecord {
            record_id: "nhc-3".into(),
            region: region("110101"),
            level: RiskLevel::Low,
            effective_from: at(0),
            effective_to: None,
        },
    ];
    assert_eq!(store.region_risk_import(&rows).await.unwrap(), ImportOutcome { accepted: 3, duplicates: 0 });
    assert_eq!(store.region_risk_import(&rows[..1]).await.unwrap(), ImportOutcome { accepted: 0, duplicates: 1 });
    let all = store.region_risk_all().await.unwrap();
    assert_eq!(all, vec![rows[2].clone(), rows[1].clone(), rows[0].clone()]);
    // An officer lowers 420106 to medium at t=9000: the open high period ends then.
    let lowered = RegionRiskRecord {
        record_id: "officer-1".into(),
        region: region("420106"),
        level: RiskLevel::Medium,
        effective_from: at(9000),
        effective_to: None,
    };
    store.region_risk_set(&lowered).await.unwrap();
    let all = store.region_risk_all().await.unwrap();
    let wuchang: Vec<_> = all.iter().filter(|r| r.region == region("420106")).collect();
    assert_eq!(wuchang.len(), 3);
    assert_eq!(wuchang[1].effective_to, Some(at(9000)), "the high period ends when the new level starts");
    assert_eq!(wuchang[2], &lowered);
    assert_eq!(all.iter().find(|r| r.record_id == "nhc-3").unwrap().effective_to, None, "other regions untouched");
}

pub async fn lab_tests_and_case_statuses_import_once_by_id_number(store: &dyn Store) {
    use healthcode_core::rules::{CaseStatus, TestResult};
    let me = index("id");
    let other = index("id");
    let tests = vec![
        LabTestRecord {
            record_id: "lab-2".into(),
            id_index: me.clone(),
            sampled_at: at(200),
            result: TestResult::Negative,
        },
        LabTestRecord {
            record_id: "lab-1".into(),
            id_index: me.clone(),
            sampled_at: at(100),
            result: TestResult::Positive,
        },
        LabTestRecord {
            record_id: "lab-3".into(),
            id_index: other.clone(),
            sampled_at: at(100),
            result: TestResult::Negative,
        },
    ];
    assert_eq!(store.lab_tests_import(&tests).await.unwrap(), ImportOutcome { accepted: 3, duplicates: 0 });
    assert_eq!(store.lab_tests_import(&tests[..2]).await.unwrap(), ImportOutcome { accepted: 0, duplicates: 2 });
    assert_eq!(store.lab_tests_for(&me, at(0)).await.unwrap(), vec![tests[1].clone(), tests[0].clone()]);
    assert_eq!(store.lab_tests_for(&me, at(150)).await.unwrap(), vec![tests[0].clone()]);
    let cases = vec![
        CaseStatusRecord { record_id: "c-1".into(), id_index: me.clone(), status: CaseStatus::Confirmed, at: at(100) },
        CaseStatusRecord { record_id: "c-2".into(), id_index: me.clone(), status: CaseStatus::Recovered, at: at(900) },
    ];
    assert_eq!(store.cases_import(&cases).await.unwrap(), ImportOutcome { accepted: 2, duplicates: 0 });
    assert_eq!(store.cases_import(&cases).await.unwrap(), ImportOutcome { accepted: 0, duplicates: 2 });
    assert_eq!(store.cases_for(&me).await.unwrap(), cases);
    assert_eq!(store.cases_for(&other).await.unwrap(), vec![]);
}

pub async fn decisions_keep_the_last_record_and_a_history_of_changes(store: &dyn Store) {
    use healthcode_core::Color;
    let p = person("420102");
    store.person_insert(&p).await.unwrap();
    assert_eq!(store.person_by_id_index(&p.id_index).await.unwrap().as_ref(), Some(&p));
    assert_eq!(store.decision_get(&p.subject_id).await.unwrap(), None);
    let decision = |color: Color, secs: i64, review: Option<i64>| {
        DecisionRecord {
        subject_id: p.subject_id.clone(),
        color,
        since: at(secs),
        rule_set_version: "v1".into(),
        next_review_at: review.map(at),
        evaluated_at: at(secs),
        record: serde_json::json!({"color": color.as_str(), "reasons": [{"rule_id": "r", "evidence": [{"record_id": "x"}]}]}).into(),
        keeps_since: false,
    }
    };
    let first = store.decision_save(&decision(Color::Green, 10, None)).await.unwrap();
    assert_eq!(first, Some(ColorChange { at: at(10), from: None, to: Color::Green, rule_set_version: "v1".into() }));
    assert_eq!(store.decision_save(&decision(Color::Green, 20, None)).await.unwrap(), None, "same color: no change");
    let red = decision(Color::Red, 30, Some(500));
    let change = store.decision_save(&red).await.unwrap().unwrap();
    assert_eq!((change.from, change.to), (Some(Color::Green), Color::Red));
    assert_eq!(store.decision_get(&p.subject_id).await.unwrap(), Some(red.clone()), "the record is kept exactly");
    assert_eq!(store.decisions_due(at(499), 10).await.unwrap(), vec![]);
    assert_eq!(store.decisions_due(at(500), 10).await.unwrap(), vec![p.subject_id.clone()]);
    let history = store.color_history(&p.subject_id, 10).await.unwrap();
    assert_eq!(history.iter().map(|c| c.to).collect::<Vec<_>>(), [Color::Red, Color::Green]);
    // Retention takes superseded records only: the last decision stays, however old.
    store.decision_records_drop_before(at(10_000)).await.unwrap();
    assert_eq!(store.decision_get(&p.subject_id).await.unwrap(), Some(red), "the last decision outlives retention");
    assert_eq!(store.decision_records_drop_before(at(10_000)).await.unwrap(), 0, "nothing left to delete");
    assert_eq!(store.color_history(&p.subject_id, 10).await.unwrap(), history, "the history of changes stays");
}

pub async fn a_decision_without_a_start_keeps_the_stored_one_of_its_color(store: &dyn Store) {
    use healthcode_core::Color;
    let (a, b) = (person("420102"), person("420103"));
    for p in [&a, &b] {
        store.person_insert(p).await.unwrap();
    }
    let decision = |p: &PersonRecord, color: Color, secs: i64, keeps_since: bool| DecisionRecord {
        subject_id: p.subject_id.clone(),
        color,
        since: at(secs),
        rule_set_version: "v1".into(),
        next_review_at: None,
        evaluated_at: at(secs),
        record: serde_json::json!({"color": color.as_str()}).into(),
        keeps_since,
    };
    let since = |p: &PersonRecord| {
        let p = p.subject_id.clone();
        async move {
            let got = store.decision_get(&p).await.unwrap().unwrap();
            assert!(!got.keeps_since, "a decision read back has its start");
            got.since
        }
    };
    // Nothing stored: the start given.
    store.decision_save(&decision(&a, Color::Green, 10, true)).await.unwrap();
    assert_eq!(since(&a).await, at(10));
    // The same color stored: its start stays.
    assert_eq!(store.decision_save(&decision(&a, Color::Green, 20, true)).await.unwrap(), None);
    assert_eq!(since(&a).await, at(10));
    // A decision with a start of its own: that one.
    store.decision_save(&decision(&a, Color::Green, 30, false)).await.unwrap();
    assert_eq!(since(&a).await, at(30));
    // Another color stored: the start given.
    store.decision_save(&decision(&a, Color::Yellow, 40, false)).await.unwrap();
    store.decision_save(&decision(&a, Color::Green, 50, true)).await.unwrap();
    assert_eq!(since(&a).await, at(50));
    // Many at once follow the same rule, each person against their own stored decision.
    store.decisions_save_many(&[decision(&b, Color::Red, 10, false)]).await.unwrap();
    let changes = store
        .decisions_save_many(&[decision(&a, Color::Green, 60, true), decision(&b, Color::Red, 60, true)])
        .await
        .unwrap();
    assert_eq!(changes, vec![], "no color changed");
    assert_eq!((since(&a).await, since(&b).await), (at(50), at(10)));
    let changes = store.decisions_save_many(&[decision(&b, Color::Green, 70, true)]).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(since(&b).await, at(70));
}

pub async fn rule_sets_are_kept_once_by_version(store: &dyn Store) {
    let (v1, v2) = ("a1".repeat(32), "b2".repeat(32));
    assert_eq!(store.rule_set_get(&v1).await.unwrap(), None);
    store.rule_set_keep(&v1, "# rules one\n[[rule]]\nid = \"红\"\n", at(10)).await.unwrap();
    store.rule_set_keep(&v2, "# rules two\n", at(20)).await.unwrap();
    // Kept again (every server start, every save): nothing changes, no error.
    store.rule_set_keep(&v1, "# rules one\n[[rule]]\nid = \"红\"\n", at(30)).await.unwrap();
    assert_eq!(store.rule_set_get(&v1).await.unwrap().as_deref(), Some("# rules one\n[[rule]]\nid = \"红\"\n"));
    assert_eq!(store.rule_set_get(&v2).await.unwrap().as_deref(), Some("# rules two\n"));
    assert_eq!(store.rule_set_get("c3").await.unwrap(), None);
}

pub async fn trips_and_vaccinations_import_once_by_id_number(store: &dyn Store) {
    use healthcode_core::rules::Carrier;
    let me = index("id");
    let trips = vec![
        TripRecord {
            record_id: "12306-2".into(),
            id_index: me.clone(),
            carrier: Carrier::Train,
            number: "G1234".into(),
            date: day(6),
            coach: Some("05".into()),
            row: "12".into(),
            seat: "F".into(),
        },
        TripRecord {
            record_id: "ca-1".into(),
            id_index: me.clone(),
            carrier: Carrier::Flight,
            number: "CA1501".into(),
            date: day(5),
            coach: None,
            row: "31".into(),
            seat: "C".into(),
        },
    ];
    assert_eq!(store.trips_import(&trips).await.unwrap(), ImportOutcome { accepted: 2, duplicates: 0 });
    assert_eq!(store.trips_import(&trips).await.unwrap(), ImportOutcome { accepted: 0, duplicates: 2 });
    assert_eq!(store.trips_for(&me).await.unwrap(), vec![trips[1].clone(), trips[0].clone()]);
    let doses = vec![VaccinationRecord {
        record_id: "vac-1".into(),
        id_index: me.clone(),
        date: day(1),
        dose: 3,
        product: "BBIBP-CorV".into(),
    }];
    assert_eq!(store.vaccinations_import(&doses).await.unwrap(), ImportOutcome { accepted: 1, duplicates: 0 });
    assert_eq!(store.vaccinations_for(&me).await.unwrap(), doses);
    assert_eq!(store.vaccinations_for(&index("id")).await.unwrap(), vec![]);
}
