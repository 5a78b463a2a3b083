//! A scripted day of contact tracing: people scanned in and out at venues by checkpoint
//! devices, a train manifest imported, one person reported as a case and traced. Exactly the
//! expected close and secondary contacts come back with their evidence, and their colors
//! change within seconds. On both backends.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::assert_problem;
use crate::support::{Backend, TestApp, id_number, spawn_app};

/// 2027-01-15 at a local (UTC+8) time like "10:30".
fn local(hm: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2027-01-15T{hm}:00+08:00")).unwrap().to_utc()
}

async fn venue(app: &TestApp, officer: &str, name: &str, category: &str) -> (String, String) {
    let body = json!({"name": name, "address": "1 Test Road", "region": "420102", "category": category});
    let r = app.post("/api/v1/venues", Some(officer), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["venue_id"].as_str().unwrap().to_string();
    let device = app.staff("checkpoint", json!({"venue_id": id})).await;
    (id, device)
}

/// The device at `venue` scans the person's code at `hm` (the clock is set there first, and
/// the person shows a fresh code).
async fn scan(app: &TestApp, (venue, device): &(String, String), person: &str, hm: &str, direction: &str) {
    app.clock.set(local(hm));
    let code: Value = app.get("/api/v1/me/code", Some(person)).await.json().await.unwrap();
    let body = json!({"token": code["token"], "venue_id": venue, "at": local(hm).to_rfc3339(),
                      "idempotency_key": format!("{}-{hm}-{direction}", &person[person.len() - 12..]), "direction": direction});
    let r = app.post("/api/v1/scans", Some(device), &body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["decision"], "pass", "{answer}");
}

async fn color(app: &TestApp, token: &str) -> String {
    let status: Value = app.get("/api/v1/me/status", Some(token)).await.json().await.unwrap();
    status["color"].as_str().unwrap().to_string()
}

fn subjects(list: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        list.as_array().unwrap().iter().map(|c| c["subject_id"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn scripted_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tokens = Vec::new();
    for n in 0..8 {
        tokens.push(app.register(&format!("1390000000{n}"), n).await);
    }
    let mut ids = Vec::new();
    for t in &tokens {
        ids.push(app.subject_of(t).await);
    }
    let [a, b, c, d, e, f, g, h] = [0, 1, 2, 3, 4, 5, 6, 7].map(|i| tokens[i].as_str());
    let sid = |i: usize| ids[i].clone();
    // The case's child lives with them: a household contact.
    let kid = json!({"name": "张小宝", "id_number": id_number("420102", 2015, 50), "household_region": "420102", "relation": "child"});
    let r = app.post("/api/v1/me/dependents", Some(a), &kid).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let kid_id = r.json::<Value>().await.unwrap()["subject_id"].as_str().unwrap().to_string();

    let officer = app.staff("officer", json!({"regions": ["420100"]})).await;
    let beijing = app.staff("officer", json!({"regions": ["110000"]})).await;
    let cafe = venue(&app, &officer, "老街咖啡", "restaurant").await;
    let gym = venue(&app, &officer, "江滩健身房", "other").await;

    // The day, in order. A (the case) is at the café 10:00–11:00.
    scan(&app, &cafe, a, "10:00", "in").await;
    // F meets B at the gym before B was exposed: not a contact of anyone.
    scan(&app, &gym, b, "10:00", "in").await;
    scan(&app, &gym, f, "10:01", "in").await;
    scan(&app, &gym, b, "10:25", "out").await;
    scan(&app, &gym, f, "10:25", "out").await;
    // B: 30 minutes with A (close). C: 10 minutes (not).
    scan(&app, &cafe, b, "10:30", "in").await;
    scan(&app, &cafe, c, "10:50", "in").await;
    scan(&app, &cafe, a, "11:00", "out").await;
    scan(&app, &cafe, b, "11:00", "out").await;
    scan(&app, &cafe, c, "11:00", "out").await;
    // D comes after A left: not a contact.
    scan(&app, &cafe, d, "11:05", "in").await;
    scan(&app, &cafe, d, "12:00", "out").await;
    // E spends an hour at the gym with B after B's exposure: secondary.
    scan(&app, &gym, b, "14:00", "in").await;
    scan(&app, &gym, e, "14:00", "in").await;
    scan(&app, &gym, b, "15:00", "out").await;
    scan(&app, &gym, e, "15:00", "out").await;

    // Yesterday's train: G three rows from A in the same coach (close), H four rows (not).
    let trips = [(0, "10F"), (6, "7A"), (7, "14C")]
        .iter()
        .map(|(n, row)| {
            json!({"record_id": format!("rail-{n}"), "id_number": id_number("420102", 1990, *n), "carrier": "train",
                   "number": "G1234", "date": "2027-01-14", "coach": "05", "row": row, "seat": &row[row.len() - 1..]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let railway = app.staff("partner", json!({"import_kinds": ["trips"]})).await;
    let r = app.raw_post("/api/v1/imports/trips", &railway, "application/x-ndjson", &trips).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    app.clock.set(local("16:00"));
    // Bad reports name their fields; out of scope looks like an unknown person.
    let r = app
        .post(
            "/api/v1/cases",
            Some(&officer),
            &json!({"subject_id": sid(0), "status": "cured", "onset_date": "2027-02-01"}),
        )
        .await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("status")).await;
    assert!(problem.to_string().contains("date_in_future"), "{problem}");
    let report = json!({"subject_id": sid(0), "status": "confirmed", "onset_date": "2027-01-15"});
    assert_problem(app.post("/api/v1/cases", Some(&beijing), &report).await, StatusCode::NOT_FOUND, "not_found", None)
        .await;
    assert_eq!(app.post("/api/v1/cases", Some(a), &report).await.status(), StatusCode::UNAUTHORIZED);

    let r = app.post("/api/v1/cases", Some(&officer), &report).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let case_id = r.json::<Value>().await.unwrap()["case_id"].as_str().unwrap().to_string();
    assert_eq!(color(&app, a).await, "red", "the case turns red through the case rule");

    let trace = format!("/api/v1/cases/{case_id}/trace");
    assert_problem(app.post(&trace, Some(&beijing), &json!({})).await, StatusCode::NOT_FOUND, "case_not_found", None)
        .await;
    assert_problem(
        app.post("/api/v1/cases/case_nope/trace", Some(&officer), &json!({})).await,
        StatusCode::NOT_FOUND,
        "case_not_found",
        None,
    )
    .await;
    let r = app.post(&trace, Some(&officer), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let result: Value = r.json().await.unwrap();
    assert_eq!(result["case_id"], case_id.as_str());
    assert_eq!(subjects(&result["close_contacts"]), sorted(vec![sid(1), sid(6), kid_id.clone()]), "{result:#}");
    assert_eq!(subjects(&result["secondary_contacts"]), vec![sid(4)], "{result:#}");

    let close = result["close_contacts"].as_array().unwrap();
    let of = |s: &str| close.iter().find(|c| c["subject_id"] == s).unwrap().clone();
    let evidence = &of(&sid(1))["evidence"];
    assert_eq!(evidence.as_array().unwrap().len(), 1, "{evidence}");
    assert_eq!(evidence[0]["kind"], "venue");
    assert_eq!(evidence[0]["venue_id"], cafe.0.as_str());
    assert_eq!(evidence[0]["venue_name"], "老街咖啡");
    assert_eq!(evidence[0]["minutes"], 30);
    assert_eq!(evidence[0]["from"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), local("10:30"));
    assert_eq!(evidence[0]["to"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), local("11:00"));
    let train = &of(&sid(6))["evidence"][0];
    assert_eq!(
        (train["kind"].as_str(), train["number"].as_str(), train["coach"].as_str(), train["rows_apart"].as_u64()),
        (Some("trip"), Some("G1234"), Some("05"), Some(3)),
        "{train}"
    );
    assert_eq!((train["row"].as_str(), train["contact_row"].as_str()), (Some("10F"), Some("7A")));
    assert_eq!(of(&kid_id)["evidence"][0], json!({"kind": "household", "relation": "dependent"}));
    let secondary = &result["secondary_contacts"][0];
    assert_eq!(secondary["via"], sid(1).as_str());
    assert_eq!(secondary["evidence"][0]["venue_id"], gym.0.as_str());
    assert_eq!(secondary["evidence"][0]["minutes"], 60);

    // Their stored colors change within seconds (in the background), and the live ones agree.
    for (token, expected) in [(b, "red"), (g, "red"), (e, "yellow")] {
        let history = app.eventually("/api/v1/me/color-history", token, |h| h[0]["to"] == expected).await;
        assert_eq!(history[0]["to"], expected, "{history}");
        assert_eq!(color(&app, token).await, expected);
    }
    for token in [c, d, f, h] {
        assert_eq!(color(&app, token).await, "green");
    }
    let status: Value = app.get("/api/v1/me/status", Some(b)).await.json().await.unwrap();
    assert!(status.to_string().contains("close-contact"), "the reason names the rule: {status}");

    // Tracing again finds the same and adds nothing.
    let again: Value = app.post(&trace, Some(&officer), &json!({})).await.json().await.unwrap();
    assert_eq!(again, result);
    // Both the report and the traces are audited.
    let auditor = app.staff("auditor", json!({})).await;
    let audit: Value = app.get("/api/v1/audit?limit=1000", Some(&auditor)).await.json().await.unwrap();
    let actions: Vec<&str> =
        audit.as_array().map_or(vec![], |a| a.iter().filter_map(|r| r["action"].as_str()).collect());
    assert_eq!(actions.iter().filter(|a| **a == "case.report").count(), 1, "{audit}");
    assert_eq!(actions.iter().filter(|a| **a == "case.trace").count(), 2, "{audit}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_scripted_day_traces_exactly_the_expected_contacts() {
    scripted_day(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_scripted_day_traces_exactly_the_expected_contacts() {
    scripted_day(Backend::Postgres).await;
}
