//! Venues, checkpoint scans (single and offline batches), self check-ins and the visits they
//! record (R6), over HTTP on both backends.

use chrono::{DateTime, Duration, Utc};
use healthcode_core::{Color, SubjectId, VenueId};
use healthcode_token::{Alg, CodeKind, HealthClaims, Keyring, sign_token};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::assert_problem;
use crate::support::{Backend, TestApp, id_number, spawn_app};

/// A phone code for `subject` with the given color, signed by the server's own key (what
/// `/me/code` would give a person of that color) or by `keys` when given.
fn token(app: &TestApp, subject: &str, color: Color, at: DateTime<Utc>, keys: Option<&Keyring>) -> String {
    let key = keys.unwrap_or(&app.keys).active().unwrap();
    let claims = HealthClaims {
        issuer_region: key.region,
        issuer_node: key.node.clone(),
        subject: subject.to_string(),
        issued_at: at,
        expires_at: at + Duration::seconds(180),
        masked_name: "张*三".into(),
        kind: CodeKind::Phone,
        color: Some(color),
        color_since: Some(at - Duration::days(1)),
        rule_set_version: [0; 8],
        summary: None,
    };
    sign_token(&claims, &key.secret)
}

fn scan(token: &str, venue: &str, at: DateTime<Utc>, key: &str) -> Value {
    json!({"token": token, "venue_id": venue, "at": at.to_rfc3339(), "idempotency_key": key})
}

struct Gate {
    venue: String,
    device: String,
}

async fn gate(app: &TestApp, category: &str) -> Gate {
    let venue = app.venue(category).await;
    let device = app.staff("checkpoint", json!({"venue_id": venue})).await;
    Gate { venue, device }
}

async fn post_scan(app: &TestApp, g: &Gate, body: &Value) -> Value {
    let r = app.post("/api/v1/scans", Some(&g.device), body).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn visits_of(app: &TestApp, subject: &str) -> Vec<healthcode_store::VisitRecord> {
    let s = SubjectId::parse(subject).unwrap();
    let now = app.clock_now();
    app.store.visits_for_subject(&s, now - Duration::days(8), now + Duration::days(2)).await.unwrap()
}

#[tokio::test]
async fn venues_are_registered_by_venue_admins_and_officers_in_their_regions() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = json!({"name": "协和医院", "address": "解放大道 1277 号", "region": "420102", "category": "hospital"});
    let wuhan = app.staff("officer", json!({"regions": ["420100"]})).await;
    let beijing = app.staff("officer", json!({"regions": ["110000"]})).await;
    let r = app.post("/api/v1/venues", Some(&wuhan), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["venue_id"].as_str().unwrap().to_string();
    assert!(VenueId::parse(&id).is_ok());
    let r = app.post("/api/v1/venues", Some(&beijing), &body).await;
    assert_problem(r, StatusCode::FORBIDDEN, "out_of_scope", Some("region")).await;
    let device = app.staff("checkpoint", json!({"venue_id": id})).await;
    let r = app.post("/api/v1/venues", Some(&device), &body).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    // Bad fields are named, all at once.
    let bad = json!({"name": "", "address": "x", "region": "999999", "category": "bar"});
    let r = app.post("/api/v1/venues", Some(&wuhan), &bad).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("category")).await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 3, "{p}");
    // The venue code prints as a QR code that reads back to today's code.
    let code: Value = app.get(&format!("/api/v1/venues/{id}/code"), Some(&wuhan)).await.json().await.unwrap();
    assert!(code["venue_code"].as_str().unwrap().starts_with("JKV1:"), "{code}");
    let png = app.get(&format!("/api/v1/venues/{id}/code.png"), Some(&wuhan)).await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let text = healthcode_token::qr::decode_image(&png.bytes().await.unwrap()).unwrap();
    let trust = app.get("/.well-known/healthcode/trust-list.json", None).await.text().await.unwrap();
    let trust = healthcode_token::TrustList::verify(&trust, &app.keys.root().public(), app.clock_now()).unwrap();
    let verified = healthcode_token::check_venue_code(&text, &trust, app.clock_now()).unwrap();
    assert_eq!(verified.venue_id.as_str(), id);
    let r = app.get(&format!("/api/v1/venues/{id}/code.png"), Some(&beijing)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scans_pass_or_deny_by_the_color_in_the_code_and_the_venue_policy() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let (restaurant, hospital) = (gate(&app, "restaurant").await, gate(&app, "hospital").await);
    let now = app.clock_now();

    // The person's own code, as the phone shows it.
    let code: Value = app.get("/api/v1/me/code", Some(&citizen)).await.json().await.unwrap();
    let a = post_scan(&app, &restaurant, &scan(code["token"].as_str().unwrap(), &restaurant.venue, now, "k1")).await;
    assert_eq!(a, json!({"decision": "pass", "color": code["color"], "masked_name": "张*三", "reason": null}));
    assert_eq!(code["color"], "green");

    let cases = [
        (&restaurant, Color::Yellow, "deny"),
        (&restaurant, Color::Red, "deny"),
        (&hospital, Color::Green, "pass"),
        (&hospital, Color::Yellow, "pass"),
        (&hospital, Color::Red, "deny"),
    ];
    for (i, (g, color, decision)) in cases.into_iter().enumerate() {
        let t = token(&app, &subject, color, now, None);
        let a = post_scan(&app, g, &scan(&t, &g.venue, now, &format!("c{i}"))).await;
        assert_eq!(a["decision"], decision, "{color:?} at {}: {a}", g.venue);
        assert_eq!(a["color"], color.as_str());
        if decision == "deny" {
            assert_eq!(a["reason"], "color_not_admitted");
        }
    }
    // Three passes recorded a visit each, with the category's dwell; denials recorded none.
    let visits = visits_of(&app, &subject).await;
    assert_eq!(visits.len(), 3);
    let at_restaurant = visits.iter().find(|v| v.venue_id.as_str() == restaurant.venue).unwrap();
    assert_eq!(at_restaurant.left_at - at_restaurant.entered_at, Duration::minutes(90));
    let at_hospital = visits.iter().find(|v| v.venue_id.as_str() == hospital.venue).unwrap();
    assert_eq!(at_hospital.left_at - at_hospital.entered_at, Duration::hours(3));
    assert!(!at_hospital.closed);
}

#[tokio::test]
async fn forged_expired_and_foreign_codes_are_denied_with_reasons_and_recorded() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let g = gate(&app, "retail").await;
    let now = app.clock_now();
    let good = token(&app, &subject, Color::Green, now, None);
    // A changed character in the signature part of the Base45 text.
    let mut forged = good.clone().into_bytes();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let expired = token(&app, &subject, Color::Green, now - Duration::minutes(10), None);
    let dir =
        crate::support::Folder(std::env::temp_dir().join(format!("healthcode-foreign-{}", crate::support::unique())));
    let foreign_keys =
        Keyring::generate(&dir.0, Alg::EdDSA, healthcode_core::RegionCode::parse("420100").unwrap(), "test", now)
            .unwrap();
    let foreign = token(&app, &subject, Color::Green, now, Some(&foreign_keys));
    for (i, (t, reason)) in [
        (&forged, None),
        (&expired, Some("expired")),
        (&foreign, Some("kid_unknown")),
        (&"hello".to_string(), Some("prefix_unknown")),
    ]
    .into_iter()
    .enumerate()
    {
        let a = post_scan(&app, &g, &scan(t, &g.venue, now, &format!("bad{i}"))).await;
        assert_eq!(a["decision"], "deny", "{a}");
        assert_eq!(a["masked_name"], Value::Null, "nothing from an unverified code is shown");
        if let Some(r) = reason {
            assert_eq!(a["reason"], r);
        } else {
            assert!(a["reason"].as_str().is_some_and(|r| !r.is_empty()), "{a}");
        }
    }
    // Each attempt is recorded: venue, device, time and reason; no person.
    let venue = VenueId::parse(&g.venue).unwrap();
    let attempts =
        app.store.scan_attempts_at(&venue, now - Duration::hours(1), now + Duration::hours(1)).await.unwrap();
    assert_eq!(attempts.len(), 4);
    assert_eq!(attempts[1].reason, "expired");
    assert!(visits_of(&app, &subject).await.is_empty());
}

#[tokio::test]
async fn a_device_scans_only_for_its_venue_and_bad_scans_name_the_field() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let (a, b) = (gate(&app, "office").await, gate(&app, "office").await);
    let now = app.clock_now();
    let t = token(&app, &subject, Color::Green, now, None);
    let r = app.post("/api/v1/scans", Some(&a.device), &scan(&t, &b.venue, now, "k")).await;
    assert_problem(r, StatusCode::FORBIDDEN, "venue_not_bound", None).await;
    let officer = app.staff("officer", json!({"regions": ["420100"]})).await;
    let r = app.post("/api/v1/scans", Some(&officer), &scan(&t, &a.venue, now, "k")).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    for (body, field, code) in [
        (scan(&t, &a.venue, now + Duration::minutes(10), "k"), "at", "at_in_future"),
        (scan(&t, &a.venue, now - Duration::days(8), "k"), "at", "at_too_old"),
        (json!({"token": t, "venue_id": a.venue, "at": "yesterday", "idempotency_key": "k"}), "at", "time_format"),
        (
            json!({"token": t, "venue_id": a.venue, "at": now.to_rfc3339(), "idempotency_key": ""}),
            "idempotency_key",
            "idempotency_key_format",
        ),
        (
            json!({"token": t, "venue_id": a.venue, "at": now.to_rfc3339(), "idempotency_key": "k", "direction": "up"}),
            "direction",
            "direction_unknown",
        ),
    ] {
        let r = app.post("/api/v1/scans", Some(&a.device), &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some(field)).await;
        assert_eq!(p["errors"][0]["code"], code, "{p}");
    }
    assert!(visits_of(&app, &subject).await.is_empty());
}

async fn batch_and_exit(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let g = gate(&app, "restaurant").await;
    // Six hours on, the device uploads what it scanned offline five hours ago.
    app.clock.advance(Duration::hours(6));
    let now = app.clock_now();
    let earlier = now - Duration::hours(5);
    let scans = json!({"scans": [
        scan(&token(&app, &subject, Color::Green, earlier, None), &g.venue, earlier, "off-1"),
        {"token": "JKM1:x", "venue_id": g.venue, "at": "not a time", "idempotency_key": "off-2"},
        {"venue_id": g.venue, "idempotency_key": "off-3"},
        scan(&token(&app, &subject, Color::Red, now, None), &g.venue, now, "off-4"),
        scan(&token(&app, &subject, Color::Green, now, None), "v_elsewhere", now, "off-5"),
    ]});
    let r = app.post("/api/v1/scans/batch", Some(&g.device), &scans).await;
    assert_eq!(r.status(), StatusCode::OK);
    let first: Value = r.json().await.unwrap();
    let results = first["results"].as_array().unwrap();
    let status: Vec<_> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["accepted", "rejected", "rejected", "accepted", "rejected"], "{first}");
    assert_eq!(results[0]["decision"], "pass");
    assert_eq!(results[0]["late"], true, "scanned five hours before the upload");
    assert_eq!(results[1]["error"]["code"], "time_format");
    assert_eq!(results[1]["error"]["field"], "scans[1].at");
    assert_eq!(results[2]["error"]["code"], "item_malformed");
    assert_eq!(
        (results[3]["decision"].as_str(), results[3]["reason"].as_str()),
        (Some("deny"), Some("color_not_admitted"))
    );
    assert_eq!(results[4]["error"]["code"], "venue_not_bound");
    // The batch's one visit went in one group commit, and /metrics says so.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("healthcode_visit_group_size_count 1\n"), "{metrics}");
    assert!(metrics.contains("healthcode_visit_group_size_sum 1.0\n"), "{metrics}");
    // The replay is harmless: the same answers, duplicates, nothing new written.
    let r = app.post("/api/v1/scans/batch", Some(&g.device), &scans).await;
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(again["results"][3]["status"], "accepted");
    let visits = visits_of(&app, &subject).await;
    assert_eq!(visits.len(), 1);
    let venue = VenueId::parse(&g.venue).unwrap();
    let attempts = app.store.scan_attempts_at(&venue, now - Duration::days(1), now + Duration::days(1)).await.unwrap();
    assert_eq!(attempts.len(), 1, "the replayed denial is recorded once");

    // In, then out: the exit closes the visit at its time instead of the assumed 90 minutes.
    app.clock.advance(Duration::minutes(10));
    let now = app.clock_now();
    let t = token(&app, &subject, Color::Green, now, None);
    assert_eq!(post_scan(&app, &g, &scan(&t, &g.venue, now, "in-1")).await["decision"], "pass");
    app.clock.advance(Duration::minutes(25));
    let fresh = token(&app, &subject, Color::Green, app.clock_now(), None);
    let mut out = scan(&fresh, &g.venue, app.clock_now(), "out-1");
    out["direction"] = json!("out");
    assert_eq!(post_scan(&app, &g, &out).await["decision"], "pass");
    let visits = visits_of(&app, &subject).await;
    let entry = visits.iter().find(|v| v.visit_key.ends_with(":in-1")).unwrap();
    assert_eq!((entry.left_at - entry.entered_at, entry.closed), (Duration::minutes(25), true));
    // The earlier offline visit kept its assumed dwell.
    let offline = visits.iter().find(|v| v.visit_key.ends_with(":off-1")).unwrap();
    assert_eq!((offline.left_at - offline.entered_at, offline.closed), (Duration::minutes(90), false));

    // Too many items at once are refused as a whole, naming the limit.
    let many: Vec<_> = (0..1001).map(|i| json!({"idempotency_key": format!("m{i}")})).collect();
    let r = app.post("/api/v1/scans/batch", Some(&g.device), &json!({"scans": many})).await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large", Some("scans")).await;
}

#[tokio::test]
async fn offline_batches_keep_valid_items_replays_write_nothing_and_exits_close_visits() {
    batch_and_exit(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_offline_batches_keep_valid_items_replays_write_nothing_and_exits_close_visits() {
    batch_and_exit(Backend::Postgres).await;
}

#[tokio::test]
async fn a_color_that_turned_red_after_the_code_was_issued_is_denied() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let g = gate(&app, "park").await;
    let issued = app.clock_now();
    let green = token(&app, &subject, Color::Green, issued, None);
    // A confirmed case (sampled after the code was shown) arrives a minute later.
    app.clock.advance(Duration::minutes(1));
    let lab = app.staff("partner", json!({"import_kinds": ["cases"]})).await;
    let csv = format!(
        "record_id,id_number,status,sampled_at\ncase-1,{},confirmed,{}\n",
        id_number("420102", 1990, 1),
        (issued + Duration::seconds(30)).to_rfc3339()
    );
    let r = app.raw_post("/api/v1/imports/cases", &lab, "text/csv", &csv).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let status = app.eventually("/api/v1/me/color-history", &citizen, |v| v.to_string().contains("red")).await;
    assert!(status.to_string().contains("red"), "{status}");
    let a = post_scan(&app, &g, &scan(&green, &g.venue, app.clock_now(), "k")).await;
    assert_eq!(
        (a["decision"].as_str(), a["color"].as_str(), a["reason"].as_str()),
        (Some("deny"), Some("red"), Some("color_changed"))
    );
}

#[tokio::test]
async fn check_ins_show_color_and_venue_and_a_stale_venue_code_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let venue = app.venue("transit").await;
    let officer = app.staff("officer", json!({"regions": ["420000"]})).await;
    let code: Value = app.get(&format!("/api/v1/venues/{venue}/code"), Some(&officer)).await.json().await.unwrap();
    let venue_code = code["venue_code"].as_str().unwrap();
    let r = app.post("/api/v1/checkins", Some(&citizen), &json!({"venue_code": venue_code})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(
        (a["venue_name"].as_str(), a["color"].as_str(), a["masked_name"].as_str()),
        (Some("江汉路小吃店"), Some("green"), Some("张*三"))
    );
    assert_eq!(a["admitted"], true);
    let visits = visits_of(&app, &subject).await;
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].source, healthcode_store::VisitSource::Checkin);
    assert_eq!(visits[0].left_at - visits[0].entered_at, Duration::minutes(30));

    // Tomorrow (after the grace), a photo of today's code no longer works.
    app.clock.advance(Duration::days(1));
    let r = app.post("/api/v1/checkins", Some(&citizen), &json!({"venue_code": venue_code})).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "venue_code_invalid", Some("venue_code")).await;
    assert_eq!(p["errors"][0]["code"], "venue_code_stale");
    // A health code is not a venue code; an anonymous caller is refused.
    let health: Value = app.get("/api/v1/me/code", Some(&citizen)).await.json().await.unwrap();
    let r = app.post("/api/v1/checkins", Some(&citizen), &json!({"venue_code": health["token"]})).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "venue_code_invalid", Some("venue_code")).await;
    assert_eq!(p["errors"][0]["code"], "prefix_unknown");
    let r = app.post("/api/v1/checkins", None, &json!({"venue_code": venue_code})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(visits_of(&app, &subject).await.len(), 1);
}

#[tokio::test]
async fn visits_hold_no_name_phone_or_id_number() {
    let app = spawn_app(Backend::Sqlite).await;
    let phone = "13900000001";
    let citizen = app.register(phone, 1).await;
    let subject = app.subject_of(&citizen).await;
    let g = gate(&app, "restaurant").await;
    let now = app.clock_now();
    let t = token(&app, &subject, Color::Green, now, None);
    post_scan(&app, &g, &scan(&t, &g.venue, now, "k1")).await;
    let venue = VenueId::parse(&g.venue).unwrap();
    let rows = app.store.visits_at_venue(&venue, now - Duration::hours(1), now + Duration::hours(3)).await.unwrap();
    assert_eq!(rows.len(), 1);
    let id = id_number("420102", 1990, 1);
    for v in rows {
        assert_eq!((v.subject_id.as_str(), v.source), (subject.as_str(), healthcode_store::VisitSource::Scan));
        for secret in ["张小三", "张*三", phone, id.as_str()] {
            assert!(!v.visit_key.contains(secret), "{secret} in a visit");
        }
    }
    app.shutdown().await;
    let db = app.data_dir.as_ref().unwrap().join("db.sqlite");
    // And nowhere in the database file in the clear.
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("sqlite-wal")).unwrap_or_default());
    for secret in ["张小三", phone, id.as_str()] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in the file");
    }
}

#[tokio::test]
async fn the_verify_endpoint_answers_validity_and_color_only() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let t = token(&app, &subject, Color::Yellow, app.clock_now(), None);
    let a: Value = app.post("/api/v1/codes/verify", None, &json!({"token": t})).await.json().await.unwrap();
    assert_eq!(a, json!({"valid": true, "color": "yellow", "kind": "phone", "error": null}));
    app.clock.advance(Duration::minutes(5));
    let a: Value = app.post("/api/v1/codes/verify", None, &json!({"token": t})).await.json().await.unwrap();
    assert_eq!((a["valid"].as_bool(), a["error"]["code"].as_str()), (Some(false), Some("expired")));
}

#[tokio::test]
async fn concurrent_scans_are_each_committed_before_their_answer() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let g = gate(&app, "transit").await;
    let now = app.clock_now();
    let t = token(&app, &subject, Color::Green, now, None);
    // 200 scans at once share few commits; every one answered 200 is already stored.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let req = app.client.post(app.url("/api/v1/scans")).bearer_auth(&g.device);
            let body = scan(&t, &g.venue, now, &format!("c{i}"));
            tokio::spawn(async move { req.json(&body).send().await.unwrap().status() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(visits_of(&app, &subject).await.len(), 200);
    // Shutting down answers what is queued and stops the writer cleanly.
    app.shutdown().await;
}

/// The same code with the last byte of its signature changed: it reaches the signature check.
fn forge_signature(token: &str) -> String {
    use healthcode_token::{base45, code, inflate};
    let mut cose = inflate::inflate(&base45::decode(&token[5..]).unwrap()).unwrap();
    *cose.last_mut().unwrap() ^= 1;
    code::wrap(&cose)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scans_verified_together_are_each_decided_as_alone() {
    // Scans in flight have their signatures checked as one batch; a forged code among them
    // is denied with its own reason and recorded, and the good ones pass and are stored.
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let g = gate(&app, "transit").await;
    let now = app.clock_now();
    let good = token(&app, &subject, Color::Green, now, None);
    let forged = forge_signature(&good);
    let expired = token(&app, &subject, Color::Green, now - Duration::minutes(10), None);
    let codes: Vec<(&str, Option<&str>)> =
        vec![(&good, None), (&forged, Some("signature_invalid")), (&good, None), (&expired, Some("expired"))];
    let tasks: Vec<_> = (0..160)
        .map(|i| {
            let (code, reason) = codes[i % codes.len()];
            let req = app.client.post(app.url("/api/v1/scans")).bearer_auth(&g.device);
            let body = scan(code, &g.venue, now, &format!("m{i}"));
            let reason = reason.map(str::to_string);
            tokio::spawn(async move {
                let r = req.json(&body).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let a: Value = r.json().await.unwrap();
                match reason {
                    None => assert_eq!((a["decision"].as_str(), a["reason"].as_str()), (Some("pass"), None), "{a}"),
                    Some(r) => assert_eq!((a["decision"].as_str(), a["reason"].as_str()), (Some("deny"), Some(&*r))),
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(visits_of(&app, &subject).await.len(), 80);
    let venue = VenueId::parse(&g.venue).unwrap();
    let attempts =
        app.store.scan_attempts_at(&venue, now - Duration::hours(1), now + Duration::hours(1)).await.unwrap();
    assert_eq!(attempts.iter().filter(|a| a.reason == "signature_invalid").count(), 40);
    assert_eq!(attempts.iter().filter(|a| a.reason == "expired").count(), 40);
    // The verify-only endpoint shares the batch and says the same.
    let r = app.post("/api/v1/codes/verify", None, &json!({"token": forged})).await;
    let a: Value = r.json().await.unwrap();
    assert_eq!((a["valid"].as_bool(), a["error"]["code"].as_str()), (Some(false), Some("signature_invalid")));
}

#[tokio::test]
async fn paper_registers_import_as_visits_of_registered_people_only() {
    let app = spawn_app(Backend::Sqlite).await;
    let citizen = app.register("13900000001", 1).await;
    let subject = app.subject_of(&citizen).await;
    let venue = app.venue("restaurant").await;
    let partner = app.staff("partner", json!({"import_kinds": ["visits"]})).await;
    let at = app.clock_now() - Duration::days(2);
    let (t1, t2) = (at.to_rfc3339(), (at + Duration::minutes(40)).to_rfc3339());
    let id = id_number("420102", 1990, 1);
    let csv = format!(
        "record_id,venue_id,phone,id_number,at,left_at\n\
         r1,{venue},13900000001,,{t1},\n\
         r2,{venue},,{id},{t1},{t2}\n\
         r3,{venue},13900000099,,{t1},\n\
         r4,v_nowhere,13900000001,,{t1},\n\
         r5,{venue},,,{t1},\n"
    );
    let send = || app.raw_post("/api/v1/imports/visits", &partner, "text/csv", &csv);
    let report: Value = send().await.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["duplicates"].as_u64()), (Some(2), Some(0)), "{report}");
    let codes: Vec<_> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        codes,
        [(6, "required".to_string()), (4, "person_not_registered".into()), (5, "venue_unknown".into())],
        "{report}"
    );
    // Imported twice: nothing new.
    let again: Value = send().await.json().await.unwrap();
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(2)), "{again}");
    let visits = visits_of(&app, &subject).await;
    assert_eq!(visits.len(), 2);
    let by_phone = visits.iter().find(|v| v.visit_key == "import:r1").unwrap();
    assert_eq!((by_phone.left_at - by_phone.entered_at, by_phone.closed), (Duration::minutes(90), false));
    let by_id = visits.iter().find(|v| v.visit_key == "import:r2").unwrap();
    assert_eq!((by_id.left_at - by_id.entered_at, by_id.closed), (Duration::minutes(40), true));
    // Officers import registers of venues in their regions only.
    let beijing = app.staff("officer", json!({"regions": ["110000"]})).await;
    let r: Value = app.raw_post("/api/v1/imports/visits", &beijing, "text/csv", &csv).await.json().await.unwrap();
    assert_eq!(r["accepted"], 0);
    assert!(r["rejected"].to_string().contains("out_of_scope"), "{r}");
}
