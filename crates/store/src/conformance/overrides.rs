//! Conformance: overrides (two officers, in scope, audited) and quarantines.

use chrono::Duration;
use healthcode_core::Color;
use healthcode_core::rules::QuarantineKind;

use super::{add_officer, at, person, unique};
use crate::*;

fn audit(staff: &Staff, action: &str, subject: &PersonRecord) -> AuditEntry {
    AuditEntry {
        at: at(100),
        actor: Actor { kind: "staff".into(), id: staff.id.clone(), role: Some("officer".into()) },
        action: action.into(),
        subject_id: Some(subject.subject_id.clone()),
        purpose: None,
        detail: serde_json::json!({}),
    }
}

fn proposal(subject: &PersonRecord, by: &Staff, color: Color) -> OverrideRecord {
    OverrideRecord {
        override_id: format!("ov_{}", unique()),
        subject_id: subject.subject_id.clone(),
        color,
        legal_basis: "prc-idl-art-39".into(),
        reason_sealed: "k1.sealed-reason".into(),
        expires_at: at(100) + Duration::days(7),
        status: OverrideStatus::Pending,
        proposed_by: by.id.clone(),
        proposed_at: at(100),
        approved_by: None,
        approved_at: None,
    }
}

async fn audit_count(store: &dyn Store) -> usize {
    store.audit_since(0, 10_000).await.unwrap().len()
}

pub async fn overrides_need_a_second_officer_in_scope(store: &dyn Store) {
    let first = add_officer(store, &["420100"]).await;
    let second = add_officer(store, &["420000"]).await;
    let elsewhere = add_officer(store, &["110000"]).await;
    let p = person("420102");
    store.person_insert(&p).await.unwrap();

    // Out of scope: nothing written, nothing audited.
    let before = audit_count(store).await;
    let foreign = proposal(&p, &elsewhere, Color::Red);
    assert!(
        !store.override_propose(&elsewhere.id, &foreign, &audit(&elsewhere, "override.propose", &p)).await.unwrap()
    );
    assert_eq!(audit_count(store).await, before);
    assert_eq!(
        store.override_approve(&second.id, &foreign.override_id, at(200), &audit(&second, "x", &p)).await.unwrap(),
        Approval::NotFound
    );

    let o = proposal(&p, &first, Color::Red);
    assert!(store.override_propose(&first.id, &o, &audit(&first, "override.propose", &p)).await.unwrap());
    assert_eq!(audit_count(store).await, before + 1);
    assert!(store.overrides_for(&p.subject_id).await.unwrap().is_empty(), "pending is not in force");

    // The proposer cannot approve; an officer outside the region cannot see it.
    let a = audit(&first, "override.approve", &p);
    assert_eq!(store.override_approve(&first.id, &o.override_id, at(200), &a).await.unwrap(), Approval::SameOfficer);
    let a = audit(&elsewhere, "override.approve", &p);
    assert_eq!(store.override_approve(&elsewhere.id, &o.override_id, at(200), &a).await.unwrap(), Approval::NotFound);
    assert_eq!(audit_count(store).await, before + 1, "refused approvals write nothing");

    let a = audit(&second, "override.approve", &p);
    let Approval::Approved(done) = store.override_approve(&second.id, &o.override_id, at(200), &a).await.unwrap()
    else {
        panic!("a second officer in scope approves")
    };
    assert_eq!(done.approved_by.as_deref(), Some(second.id.as_str()));
    assert_eq!(done.approved_at, Some(at(200)));
    assert_eq!(audit_count(store).await, before + 2);
    assert_eq!(store.overrides_for(&p.subject_id).await.unwrap(), vec![done]);
    assert_eq!(
        store.override_approve(&second.id, &o.override_id, at(300), &a).await.unwrap(),
        Approval::NotPending,
        "approving twice changes nothing"
    );
}

pub async fn an_expired_override_cannot_be_approved(store: &dyn Store) {
    let first = add_officer(store, &["420100"]).await;
    let second = add_officer(store, &["420100"]).await;
    let p = person("420102");
    store.person_insert(&p).await.unwrap();
    let o = proposal(&p, &first, Color::Yellow);
    assert!(store.override_propose(&first.id, &o, &audit(&first, "override.propose", &p)).await.unwrap());
    let late = o.expires_at;
    let a = audit(&second, "override.approve", &p);
    assert_eq!(store.override_approve(&second.id, &o.override_id, late, &a).await.unwrap(), Approval::Expired);
    assert!(store.overrides_for(&p.subject_id).await.unwrap().is_empty());
}

pub async fn quarantines_are_scoped_audited_and_end_once(store: &dyn Store) {
    let officer = add_officer(store, &["420100"]).await;
    let elsewhere = add_officer(store, &["110000"]).await;
    let p = person("420102");
    store.person_insert(&p).await.unwrap();
    let q = QuarantineRecord {
        quarantine_id: format!("qu_{}", unique()),
        subject_id: p.subject_id.clone(),
        kind: QuarantineKind::Centralized,
        start: at(100),
        planned_end: Some(at(100) + Duration::days(14)),
        ended_at: None,
        created_by: officer.id.clone(),
        created_at: at(100),
    };
    let before = audit_count(store).await;
    assert!(!store.quarantine_insert(&elsewhere.id, &q, &audit(&elsewhere, "quarantine.start", &p)).await.unwrap());
    assert!(store.quarantines_for(&p.subject_id).await.unwrap().is_empty());
    assert!(store.quarantine_insert(&officer.id, &q, &audit(&officer, "quarantine.start", &p)).await.unwrap());
    assert_eq!(store.quarantines_for(&p.subject_id).await.unwrap(), vec![q.clone()]);
    assert_eq!(audit_count(store).await, before + 1);

    let a = audit(&elsewhere, "quarantine.end", &p);
    assert_eq!(store.quarantine_end(&elsewhere.id, &q.quarantine_id, at(5000), &a).await.unwrap(), None);
    let a = audit(&officer, "quarantine.end", &p);
    let ended = store.quarantine_end(&officer.id, &q.quarantine_id, at(5000), &a).await.unwrap().unwrap();
    assert_eq!(ended.ended_at, Some(at(5000)));
    let again = store.quarantine_end(&officer.id, &q.quarantine_id, at(9000), &a).await.unwrap().unwrap();
    assert_eq!(again.ended_at, Some(at(5000)), "the first release stands");
    assert_eq!(store.quarantines_for(&p.subject_id).await.unwrap(), vec![ended]);
    assert_eq!(audit_count(store).await, before + 2);
}
