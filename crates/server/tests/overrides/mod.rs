//! Overrides need a legal basis that allows the color, an expiry, and a second officer; the
//! person sees the reason and who looked; quarantines color through the rules.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::assert_problem;
use crate::support::{Backend, spawn_app};

async fn override_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.register("13900000001", 1).await;
    let subject = app.subject_of(&token).await;
    let first = app.staff("officer", json!({"regions": ["420100"]})).await;
    let second = app.staff("officer", json!({"regions": ["420000"]})).await;
    let beijing = app.staff("officer", json!({"regions": ["110000"]})).await;
    let expires = (app.clock_now() + Duration::days(7)).to_rfc3339();
    let body = json!({"subject_id": subject, "color": "red", "legal_basis": "prc-idl-art-39",
                      "reason": "与确诊病例同住，居家医学观察", "expires_at": expires});

    // Bad proposals name their field and write nothing.
    for (change, field, code) in [
        (json!({"legal_basis": "public-order"}), "legal_basis", "unknown_legal_basis"),
        (json!({"legal_basis": "appeal-granted"}), "color", "not_allowed_by_basis"),
        (json!({"reason": "  "}), "reason", "required"),
        (json!({"expires_at": (app.clock_now() - Duration::hours(1)).to_rfc3339()}), "expires_at", "in_past"),
        (json!({"expires_at": (app.clock_now() + Duration::days(31)).to_rfc3339()}), "expires_at", "too_far"),
        (json!({"color": "purple"}), "color", "invalid_value"),
    ] {
        let mut b = body.clone();
        for (k, v) in change.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = app.post("/api/v1/overrides", Some(&first), &b).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some(field)).await;
        assert!(problem.to_string().contains(code), "{problem}");
    }
    // Out of the officer's regions looks like an unknown person; a citizen cannot propose.
    let r = app.post("/api/v1/overrides", Some(&beijing), &body).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found", None).await;
    assert_eq!(app.post("/api/v1/overrides", Some(&token), &body).await.status(), StatusCode::UNAUTHORIZED);

    let r = app.post("/api/v1/overrides", Some(&first), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let proposed: Value = r.json().await.unwrap();
    assert_eq!(proposed["status"], "pending");
    let id = proposed["override_id"].as_str().unwrap().to_string();
    let status: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(status["color"], "green", "a pending override changes nothing: {status}");

    let approve = format!("/api/v1/overrides/{id}/approve");
    assert_problem(app.post(&approve, Some(&first), &json!({})).await, StatusCode::FORBIDDEN, "same_officer", None)
        .await;
    assert_problem(
        app.post(&approve, Some(&beijing), &json!({})).await,
        StatusCode::NOT_FOUND,
        "override_not_found",
        None,
    )
    .await;
    let r = app.post(&approve, Some(&second), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let approved: Value = r.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    assert_problem(
        app.post(&approve, Some(&second), &json!({})).await,
        StatusCode::CONFLICT,
        "override_not_pending",
        None,
    )
    .await;

    // In force at once, with the reason and the way back; the history has the change.
    let status: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(status["color"], "red", "{status}");
    assert_eq!(status["reasons"][0]["rule_id"], "override-red");
    assert!(status["reasons"][0]["text"].as_str().unwrap().contains("与确诊病例同住"), "{status}");
    let history: Value = app.get("/api/v1/me/color-history", Some(&token)).await.json().await.unwrap();
    assert_eq!(history[0]["to"], "red", "{history}");
    // The person sees both officers in their access log.
    let log: Value = app.get("/api/v1/me/access-log", Some(&token)).await.json().await.unwrap();
    let actions: Vec<_> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
    assert!(actions.contains(&"override.propose") && actions.contains(&"override.approve"), "{log}");

    // It expires by itself: the scheduler turns the code back (they keep declaring).
    app.clock.set(app.clock_now() + Duration::days(7));
    let token = app.login("13900000001").await;
    let declared = json!({"temperature_c": 36.5, "symptoms": [], "contact_with_suspected_case": false, "current_region": "420102"});
    app.post("/api/v1/me/declarations", Some(&token), &declared).await;
    let history = app.eventually("/api/v1/me/color-history", &token, |h| h[0]["to"] == "green").await;
    // (The scheduler may see the week without declarations first: red → yellow → green.)
    assert_eq!(history[0]["to"], "green", "{history}");
    let left_red = history.as_array().unwrap().iter().find(|h| h["from"] == "red").expect("red ended");
    assert_eq!(left_red["at"].as_str(), Some("2027-01-22T10:00:00+08:00"), "at the expiry: {history}");
}

#[tokio::test]
async fn an_override_needs_a_basis_an_expiry_and_a_second_officer() {
    override_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_override_needs_a_basis_an_expiry_and_a_second_officer() {
    override_flow(Backend::Postgres).await;
}

#[tokio::test]
async fn the_legal_bases_are_published_in_both_languages() {
    let app = spawn_app(Backend::Sqlite).await;
    let zh: Value = app.get("/api/v1/overrides/legal-bases", None).await.json().await.unwrap();
    let en: Value = app.get("/api/v1/overrides/legal-bases?lang=en", None).await.json().await.unwrap();
    assert_eq!(zh["lang"], "zh-CN");
    let ids: Vec<_> = zh["bases"].as_array().unwrap().iter().map(|b| b["id"].clone()).collect();
    assert!(ids.contains(&json!("prc-idl-art-39")) && ids.contains(&json!("appeal-granted")), "{zh}");
    assert!(zh["bases"][0]["title"].as_str().unwrap().contains("传染病防治法"));
    assert!(en["bases"][0]["title"].as_str().unwrap().contains("Infectious Diseases"));
    assert_eq!(zh["bases"][0]["colors"], json!(["red", "yellow"]));
}

#[tokio::test]
async fn a_quarantine_colors_through_the_rules_until_release() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let subject = app.subject_of(&token).await;
    let officer = app.staff("officer", json!({"regions": ["420102"]})).await;
    let start = app.clock_now().to_rfc3339();
    let planned_end = (app.clock_now() + Duration::days(14)).to_rfc3339();

    let bad = json!({"subject_id": subject, "kind": "home", "start": planned_end, "planned_end": start});
    let r = app.post("/api/v1/quarantines", Some(&officer), &bad).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("planned_end")).await;

    let body = json!({"subject_id": subject, "kind": "centralized", "start": start, "planned_end": planned_end});
    let r = app.post("/api/v1/quarantines", Some(&officer), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let q: Value = r.json().await.unwrap();
    let status: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(
        (status["color"].as_str(), status["reasons"][0]["rule_id"].as_str()),
        (Some("red"), Some("centralized-quarantine"))
    );

    app.clock.set(app.clock_now() + Duration::days(3));
    let end = format!("/api/v1/quarantines/{}/end", q["quarantine_id"].as_str().unwrap());
    let r = app.post(&end, Some(&officer), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = app.login("13900000001").await;
    let status: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_ne!(status["reasons"][0]["rule_id"], "centralized-quarantine", "released: {status}");
    let r = app.post("/api/v1/quarantines/qu_unknown/end", Some(&officer), &json!({})).await;
    assert_problem(r, StatusCode::NOT_FOUND, "quarantine_not_found", None).await;
}

/// What `healthcode import` and `healthcode trace` rely on: facts written where no server runs
/// reach a running server's people through the review queue.
#[tokio::test]
async fn people_on_the_review_queue_are_recolored_by_the_scheduler() {
    use healthcode_core::SubjectId;
    use healthcode_core::rules::CaseStatus;
    use healthcode_store::CaseStatusRecord;
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let subject = SubjectId::parse(&app.subject_of(&token).await).unwrap();
    let person = app.store.person_get(&subject).await.unwrap().unwrap();
    // A case status written straight into the database, as the command line does.
    let case = CaseStatusRecord {
        record_id: "cli-case-1".into(),
        id_index: person.id_index.clone(),
        status: CaseStatus::Confirmed,
        at: app.clock_now() - Duration::hours(1),
    };
    app.store.cases_import(&[case]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let history: Value = app.get("/api/v1/me/color-history", Some(&token)).await.json().await.unwrap();
    assert!(history.as_array().unwrap().iter().all(|h| h["to"] != "red"), "nothing told the server yet: {history}");

    app.store.reviews_request(std::slice::from_ref(&subject), app.clock_now()).await.unwrap();
    let history = app.eventually("/api/v1/me/color-history", &token, |h| h[0]["to"] == "red").await;
    assert_eq!(history[0]["to"], "red", "{history}");
}
