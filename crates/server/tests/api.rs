//! The HTTP API driven over real sockets: each test starts its own server on port 0 with a
//! fresh database (SQLite file; PostgreSQL database for the `postgres_` tests).

mod import_batches;
mod overrides;
mod recolor_many;
mod retention;
mod scans;
mod support;
mod tracing;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Backend, id_number, spawn_app};

// ---------- system ----------

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(r, json!({"status": "ready", "database": "sqlite"}));
    app.get("/api/v1/me", None).await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(r#"healthcode_http_requests_total{method="GET",route="/readyz",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/api/v1/me",status="401""#), "{metrics}");
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut served: Vec<_> =
        healthcode_server::routes::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // And the router really serves each of them (no 404/405 from the fallbacks).
    for (method, path) in served {
        let path = path.replace("{subject_id}", "s0000000000000000000000000");
        let r = app.client.request(method.to_uppercase().parse().unwrap(), app.url(&path)).send().await.unwrap();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(body["code"], "route_not_found", "{method} {path}");
        assert_ne!(body["code"], "method_not_allowed", "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_problem_json() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.get("/api/v1/nothing", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "route_not_found");
    let r = app.client.delete(app.url("/api/v1/persons")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "method_not_allowed");
}

#[tokio::test]
async fn the_front_page_speaks_chinese_first_and_english_on_request() {
    let app = spawn_app(Backend::Sqlite).await;
    let zh = app.get("/", None).await.text().await.unwrap();
    assert!(zh.contains(r#"lang="zh-CN""#) && zh.contains("健康码"));
    let en = app.get("/?lang=en", None).await.text().await.unwrap();
    assert!(en.contains(r#"lang="en""#));
    let r = app.client.get(app.url("/")).header("accept-language", "en-US,en;q=0.9").send().await.unwrap();
    assert!(r.text().await.unwrap().contains(r#"lang="en""#));
}

// ---------- one-time passwords ----------

#[tokio::test]
async fn a_phone_logs_in_with_its_one_time_password() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.post("/api/v1/auth/otp", None, &json!({"phone": "+86 139 1234 5678"})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let code = app.otp.last_code("13912345678").expect("a code was sent to the normalised number");
    let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": code})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["registered"], false);
    assert!(body["token"].as_str().unwrap().starts_with("hcs_"));
    assert!(body["expires_at"].as_str().unwrap().ends_with("+08:00"));
    // The code works once.
    let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": code})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "otp_not_requested", Some("code")).await;
    // Logging out ends the session.
    let token = body["token"].as_str().unwrap();
    assert_eq!(app.post("/api/v1/auth/logout", Some(token), &json!({})).await.status(), StatusCode::NO_CONTENT);
    let r = app.post("/api/v1/persons", Some(token), &person_body("13912345678", 1)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn five_wrong_codes_lock_the_phone_for_a_while() {
    let app = spawn_app(Backend::Sqlite).await;
    app.post("/api/v1/auth/otp", None, &json!({"phone": "13912345678"})).await;
    let good = app.otp.last_code("13912345678").unwrap();
    let bad = if good == "000000" { "111111" } else { "000000" };
    for remaining in (1..=4).rev() {
        let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": bad})).await;
        let body = assert_problem(r, StatusCode::UNAUTHORIZED, "otp_invalid", Some("code")).await;
        assert!(body["detail"].as_str().unwrap().contains(&format!("{remaining} tries left")), "{body}");
    }
    let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": bad})).await;
    assert_eq!(r.headers()["retry-after"], "900");
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "otp_locked", Some("phone")).await;
    let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": good})).await;
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "otp_locked", Some("phone")).await;
    app.clock.advance(Duration::minutes(5));
    let r = app.post("/api/v1/auth/otp", None, &json!({"phone": "13912345678"})).await;
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "otp_locked", Some("phone")).await;
    // Fifteen minutes after the lock the phone can log in again.
    app.clock.advance(Duration::minutes(10) + Duration::seconds(1));
    let token = app.login("13912345678").await;
    assert!(token.starts_with("hcs_"));
}

#[tokio::test]
async fn codes_expire_and_are_not_resent_too_often() {
    let app = spawn_app(Backend::Sqlite).await;
    app.post("/api/v1/auth/otp", None, &json!({"phone": "13912345678"})).await;
    let code = app.otp.last_code("13912345678").unwrap();
    let r = app.post("/api/v1/auth/otp", None, &json!({"phone": "13912345678"})).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "otp_too_soon", Some("phone")).await;
    app.clock.advance(Duration::minutes(5));
    let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": code})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "otp_expired", Some("code")).await;
    let r = app.post("/api/v1/auth/login", None, &json!({"phone": "13912345678", "code": "12ab"})).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("code")).await;
    let r = app.post("/api/v1/auth/otp", None, &json!({"phone": "12345"})).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("phone")).await;
}

// ---------- registration ----------

fn person_body(phone: &str, n: usize) -> Value {
    json!({"name": "张小三", "id_number": id_number("420102", 1990, n), "phone": phone, "household_region": "420102"})
}

#[tokio::test]
async fn a_person_registers_under_their_real_name() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.login("13912345678").await;
    let r = app.get("/api/v1/me", Some(&token)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "registration_required", None).await;
    let mut body = person_body("139 1234 5678", 7);
    let id = body["id_number"].as_str().unwrap().to_string();
    if id.ends_with('X') {
        body["id_number"] = json!(id.to_lowercase());
    }
    let r = app.post("/api/v1/persons", Some(&token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["masked_name"], "张*三");
    let subject = created["subject_id"].as_str().unwrap();
    assert!(subject.starts_with('s') && !subject.contains("420102"));

    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["subject_id"], subject);
    assert_eq!(me["name"], "张小三");
    assert_eq!(me["phone_masked"], "139****5678");
    assert_eq!(me["id_number_masked"].as_str().unwrap()[..4], id[..4]);
    assert!(me["id_number_masked"].as_str().unwrap().contains("****"));
    assert_eq!(me["household_region"], json!({"code": "420102", "name": "湖北省 武汉市 江岸区"}));

    // Logging in again says the phone is registered; registering twice is refused.
    app.clock.advance(Duration::minutes(2));
    let again = app.login_body("13912345678").await;
    assert_eq!(again["registered"], true);
    let r = app.post("/api/v1/persons", Some(&token), &person_body("13912345678", 8)).await;
    assert_problem(r, StatusCode::CONFLICT, "phone_registered", Some("phone")).await;
}

#[tokio::test]
async fn an_id_number_has_one_code_and_the_refusal_reveals_nobody() {
    let app = spawn_app(Backend::Sqlite).await;
    let first = app.register("13900000001", 1).await;
    let other = app.login("13900000002").await;
    let r = app.post("/api/v1/persons", Some(&other), &person_body("13900000002", 1)).await;
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "id_number_registered");
    assert_eq!(body["errors"][0]["field"], "id_number");
    assert!(!text.contains(&first) && !text.contains("139") && !text.contains("张"), "{text}");
    // Nothing was written for the second phone.
    let r = app.get("/api/v1/me", Some(&other)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "registration_required", None).await;
}

#[tokio::test]
async fn a_phone_registers_only_itself() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.login("13900000001").await;
    let r = app.post("/api/v1/persons", Some(&token), &person_body("13900000009", 1)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "phone_mismatch", Some("phone")).await;
    let r = app.post("/api/v1/persons", None, &person_body("13900000001", 1)).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
}

#[tokio::test]
async fn bad_registrations_name_the_field_and_write_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.login("13900000001").await;
    let good = person_body("13900000001", 1);
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let id = good["id_number"].as_str().unwrap().to_string();
    let wrong_check = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
    let future = id_number("420102", 2030, 1);
    let cases: Vec<(Value, StatusCode, &str, &str, &str)> = vec![
        (
            with("id_number", json!(wrong_check)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "id_number",
            "id_number_check_character",
        ),
        (
            with("id_number", json!(future)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "id_number",
            "id_number_birth_date_future",
        ),
        (
            with("id_number", json!(format!("{}0230{}", &id[..10], &id[14..]))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "id_number",
            "id_number_birth_date_invalid",
        ),
        (
            with("id_number", json!("420102900307123")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "id_number",
            "id_number_legacy_15_digit",
        ),
        (
            with("household_region", json!("429999")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "household_region",
            "region_unknown",
        ),
        (with("name", json!("  ")), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "name", "name_empty"),
        (with("name", json!(42)), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "name", "invalid_value"),
        (with("extra", json!(1)), StatusCode::BAD_REQUEST, "unknown_field", "extra", "unknown_field"),
        (
            json!({"name": "张三", "phone": "13900000001", "household_region": "420102"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "id_number",
            "required",
        ),
    ];
    for (body, status, code, field, field_code) in cases {
        let r = app.post("/api/v1/persons", Some(&token), &body).await;
        let problem = assert_problem(r, status, code, Some(field)).await;
        assert_eq!(problem["errors"][0]["code"], field_code, "{body}");
    }
    // Several bad fields are reported together.
    let r = app
        .post(
            "/api/v1/persons",
            Some(&token),
            &json!({"name": "", "id_number": "1", "phone": "x", "household_region": "1"}),
        )
        .await;
    let problem: Value = r.json().await.unwrap();
    let fields: Vec<_> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "id_number", "household_region", "phone"]);
    // Malformed JSON, the wrong media type and an oversized body.
    let r = app.raw_post("/api/v1/persons", &token, "application/json", "{\"name\": ").await;
    let problem = assert_problem(r, StatusCode::BAD_REQUEST, "malformed_json", None).await;
    assert!(problem["detail"].as_str().unwrap().contains("line 1"));
    let r = app.raw_post("/api/v1/persons", &token, "text/plain", &good.to_string()).await;
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None).await;
    let huge =
        json!({"name": "张".repeat(100_000), "id_number": id, "phone": "13900000001", "household_region": "420102"});
    let r = app.post("/api/v1/persons", Some(&token), &huge).await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None).await;
    // None of it left a person behind.
    let r = app.get("/api/v1/me", Some(&token)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "registration_required", None).await;
    // And the good body still registers.
    assert_eq!(app.post("/api/v1/persons", Some(&token), &good).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn personal_data_is_encrypted_at_rest() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.login("13900000001").await;
    let body = person_body("13900000001", 3);
    app.post("/api/v1/persons", Some(&token), &body).await;
    app.shutdown().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.as_ref().unwrap()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let haystack = String::from_utf8_lossy(&bytes);
    for secret in [body["id_number"].as_str().unwrap(), "13900000001", "张小三"] {
        assert!(!haystack.contains(secret), "{secret} is stored in the clear");
    }
    assert!(haystack.contains("张*三"), "the masked name is kept for display");
}

// ---------- dependents and declarations ----------

fn declaration(temp: f64, region: &str) -> Value {
    json!({"temperature_c": temp, "symptoms": [], "contact_with_suspected_case": false, "current_region": region})
}

#[tokio::test]
async fn guardians_register_and_declare_for_their_dependents() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let kid = json!({"name": "张小宝", "id_number": id_number("420102", 2019, 2), "household_region": "420102", "relation": "child"});
    let r = app.post("/api/v1/me/dependents", Some(&token), &kid).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let kid_id = r.json::<Value>().await.unwrap()["subject_id"].as_str().unwrap().to_string();
    let list: Value = app.get("/api/v1/me/dependents", Some(&token)).await.json().await.unwrap();
    assert_eq!(list[0]["subject_id"], kid_id.as_str());
    assert_eq!(list[0]["relation"], "child");
    assert_eq!(list[0]["masked_name"], "张*宝");

    let mut d = declaration(36.6, "420102");
    d["subject_id"] = json!(kid_id);
    let r = app.post("/api/v1/me/declarations", Some(&token), &d).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["subject_id"], kid_id.as_str());
    let history: Value =
        app.get(&format!("/api/v1/me/declarations?subject_id={kid_id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["declared_by"], app.subject_of(&token).await.as_str());
    // The guardian's own history is separate.
    let mine: Value = app.get("/api/v1/me/declarations", Some(&token)).await.json().await.unwrap();
    assert_eq!(mine, json!([]));

    // Someone else cannot act for the child.
    let stranger = app.register("13900000002", 3).await;
    let r = app.post("/api/v1/me/declarations", Some(&stranger), &d).await;
    assert_problem(r, StatusCode::FORBIDDEN, "not_your_dependent", Some("subject_id")).await;
    let r = app.get(&format!("/api/v1/me/declarations?subject_id={kid_id}"), Some(&stranger)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "not_your_dependent", Some("subject_id")).await;
    // A dependent's ID number is one person, one code too.
    let r = app.post("/api/v1/me/dependents", Some(&stranger), &kid).await;
    assert_problem(r, StatusCode::CONFLICT, "id_number_registered", Some("id_number")).await;
    let bad = json!({"name": "李四", "id_number": id_number("420102", 2019, 4), "household_region": "420102", "relation": "cousin"});
    let r = app.post("/api/v1/me/dependents", Some(&stranger), &bad).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("relation")).await;
}

#[tokio::test]
async fn one_declaration_per_local_day_with_history_kept() {
    let app = spawn_app(Backend::Sqlite).await;
    // 2027-03-01 15:00 UTC is 23:00 in Beijing.
    app.clock.set("2027-03-01T15:00:00Z".parse().unwrap());
    let token = app.register("13900000001", 1).await;
    let r: Value =
        app.post("/api/v1/me/declarations", Some(&token), &declaration(36.5, "420102")).await.json().await.unwrap();
    assert_eq!((r["day"].as_str(), r["replaced"].as_bool()), (Some("2027-03-01"), Some(false)));
    let mut fever = declaration(38.2, "420106");
    fever["symptoms"] = json!(["cough", "fever", "cough"]);
    let r: Value = app.post("/api/v1/me/declarations", Some(&token), &fever).await.json().await.unwrap();
    assert_eq!((r["day"].as_str(), r["replaced"].as_bool()), (Some("2027-03-01"), Some(true)));
    // An hour later it is the next day in Beijing (16:00 UTC = 00:00 +08:00).
    app.clock.advance(Duration::hours(1));
    let r: Value =
        app.post("/api/v1/me/declarations", Some(&token), &declaration(36.4, "420106")).await.json().await.unwrap();
    assert_eq!((r["day"].as_str(), r["replaced"].as_bool()), (Some("2027-03-02"), Some(false)));

    let history: Value = app.get("/api/v1/me/declarations", Some(&token)).await.json().await.unwrap();
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[1]["symptoms"], json!(["fever", "cough"]));
    assert_eq!(h[1]["temperature_c"], 38.2);
    assert_eq!(h[1]["superseded_at"], Value::Null);
    assert_eq!(h[2]["superseded_at"], "2027-03-01T23:00:00+08:00");
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["current_region"]["code"], "420106");
}

#[tokio::test]
async fn bad_declarations_name_the_field_and_write_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let mut d = declaration(45.0, "420102");
    d["symptoms"] = json!(["fever", "sneezing"]);
    d["current_region"] = json!("000000");
    let r = app.post("/api/v1/me/declarations", Some(&token), &d).await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", None).await;
    let fields: Vec<_> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["temperature_c", "symptoms", "current_region"]);
    let mut d = declaration(36.5, "420102");
    d["temperature_c"] = json!("hot");
    let r = app.post("/api/v1/me/declarations", Some(&token), &d).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("temperature_c")).await;
    let r = app.post("/api/v1/me/declarations", Some(&token), &json!({"temperature_c": 36.5})).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("symptoms")).await;
    let history: Value = app.get("/api/v1/me/declarations", Some(&token)).await.json().await.unwrap();
    assert_eq!(history, json!([]));
}

// ---------- staff, scope and audit ----------

#[tokio::test]
async fn only_admins_create_staff_and_each_role_gets_what_it_needs() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.admin_token.clone();
    let r = app.post("/api/v1/staff", None, &json!({"role": "auditor", "name": "a"})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    let r = app.post("/api/v1/staff", Some("hct_wrong"), &json!({"role": "auditor", "name": "a"})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    let citizen = app.register("13900000001", 1).await;
    let r = app.post("/api/v1/staff", Some(&citizen), &json!({"role": "auditor", "name": "a"})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;

    let cases = [
        (json!({"role": "officer", "name": "o"}), "regions", "required"),
        (json!({"role": "officer", "name": "o", "regions": ["429999"]}), "regions[0]", "region_unknown"),
        (json!({"role": "checkpoint", "name": "gate"}), "venue_id", "required"),
        (
            json!({"role": "partner", "name": "telecom", "import_kinds": ["gossip"]}),
            "import_kinds[0]",
            "import_kind_unknown",
        ),
        (json!({"role": "auditor", "name": "a", "regions": ["420000"]}), "regions", "not_allowed"),
        (json!({"role": "mayor", "name": "m"}), "role", "role_unknown"),
    ];
    for (body, field, code) in cases {
        let r = app.post("/api/v1/staff", Some(&admin), &body).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some(field)).await;
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    let officer = app.staff("officer", json!({"regions": ["420100"]})).await;
    let r = app.post("/api/v1/staff", Some(&officer), &json!({"role": "auditor", "name": "a"})).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    // An admin created by the bootstrap admin can create accounts too.
    let second_admin = app.staff("admin", json!({})).await;
    // A device is bound to a registered venue.
    let r = app
        .post("/api/v1/staff", Some(&second_admin), &json!({"role": "checkpoint", "name": "gate 1", "venue_id": "v_1"}))
        .await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("venue_id")).await;
    assert_eq!(problem["errors"][0]["code"], "venue_unknown");
    let venue = app.venue("restaurant").await;
    let device = app
        .post("/api/v1/staff", Some(&second_admin), &json!({"role": "checkpoint", "name": "gate 1", "venue_id": venue}))
        .await;
    assert_eq!(device.status(), StatusCode::CREATED);
    let partner = app
        .post(
            "/api/v1/staff",
            Some(&second_admin),
            &json!({"role": "partner", "name": "telecom", "import_kinds": ["telecom-stays"]}),
        )
        .await;
    assert_eq!(partner.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn officers_read_only_in_their_regions_and_every_read_is_logged() {
    let app = spawn_app(Backend::Sqlite).await;
    let wuhan = app.staff("officer", json!({"regions": ["420100"]})).await;
    let beijing = app.staff("officer", json!({"regions": ["110000"]})).await;
    let auditor = app.staff("auditor", json!({})).await;
    let citizen = app.register("13900000001", 1).await;
    app.post("/api/v1/me/declarations", Some(&citizen), &declaration(37.9, "420102")).await;
    let subject = app.subject_of(&citizen).await;

    let path = format!("/api/v1/persons/{subject}?purpose=发热随访 fever follow-up");
    let r = app.get(&path, Some(&wuhan)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["name"], "张小三");
    assert_eq!(p["phone"], "13900000001");
    assert!(p["id_number_masked"].as_str().unwrap().contains("****"));
    let decls: Value = app
        .get(&format!("/api/v1/persons/{subject}/declarations?purpose=fever follow-up"), Some(&wuhan))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(decls[0]["temperature_c"], 37.9);

    // Out of scope looks like absent, and is not logged as a read.
    let r = app.get(&path, Some(&beijing)).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let r = app.get(&path, Some(&auditor)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let r = app.get(&format!("/api/v1/persons/{subject}"), Some(&wuhan)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("purpose")).await;
    let r = app.get("/api/v1/persons/nobody?purpose=check", Some(&wuhan)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("subject_id")).await;

    // The person sees who looked and why.
    let log: Value = app.get("/api/v1/me/access-log", Some(&citizen)).await.json().await.unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["action"], "declarations.read");
    assert_eq!(log[1]["action"], "person.read");
    assert_eq!(log[1]["purpose"], "发热随访 fever follow-up");
    assert_eq!(log[1]["actor_role"], "officer");

    // The auditor sees the whole log; officers do not.
    let all: Value = app.get("/api/v1/audit", Some(&auditor)).await.json().await.unwrap();
    let actions: Vec<_> = all.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["staff.create", "staff.create", "staff.create", "person.read", "declarations.read"]);
    let r = app.get("/api/v1/audit", Some(&wuhan)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let r = app.get("/api/v1/audit?after=x", Some(&auditor)).await;
    assert_problem(r, StatusCode::BAD_REQUEST, "invalid_query", None).await;
}

// ---------- health codes ----------

fn verified_trust(app: &support::TestApp, json: &str) -> healthcode_token::TrustList {
    healthcode_token::TrustList::verify(json, &app.keys.root().public(), app.clock_now()).unwrap()
}

#[tokio::test]
async fn a_citizen_gets_a_signed_code_that_verifies_offline() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let code: Value = app.get("/api/v1/me/code", Some(&token)).await.json().await.unwrap();
    let text = code["token"].as_str().unwrap();
    assert!(text.starts_with("JKM1:"));
    assert_eq!(code["color"], "green");
    assert_eq!(code["kind"], "phone");
    assert_eq!(code["masked_name"], "张*三");
    assert!(code["qr_version"].as_i64().unwrap() <= 10);
    assert_eq!(code["expires_at"], "2027-01-15T10:03:00+08:00", "180 s after issue, in local time");

    let r = app.get("/.well-known/healthcode/trust-list.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let trust = verified_trust(&app, &r.text().await.unwrap());
    let opts = healthcode_token::VerifyOptions::at(app.clock_now());
    let (report, verified) = healthcode_token::verify(text, &trust, opts);
    assert!(report.valid, "{report:?}");
    let claims = verified.unwrap().claims;
    assert_eq!(claims.subject, app.subject_of(&token).await);
    assert_eq!(claims.issuer(), "420100/test");

    // The PNG and SVG carry the same token (same clock, deterministic Ed25519 signatures).
    let r = app.get("/api/v1/me/code.png", Some(&token)).await;
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let png = r.bytes().await.unwrap();
    assert_eq!(healthcode_token::qr::decode_image(&png).unwrap(), text);
    let svg = app.get("/api/v1/me/code.svg", Some(&token)).await.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<path"));

    // Four minutes later the same token is expired.
    app.clock.advance(Duration::minutes(4));
    let (report, _) = healthcode_token::verify(text, &trust, healthcode_token::VerifyOptions::at(app.clock_now()));
    assert_eq!(report.error.unwrap().code, "expired");
    let r = app.get("/api/v1/me/code", None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
}

#[tokio::test]
async fn guardians_get_their_dependents_codes_and_paper_codes() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let elder = json!({"name": "王奶奶", "id_number": id_number("420102", 1938, 2), "household_region": "420102", "relation": "elder"});
    let r: Value = app.post("/api/v1/me/dependents", Some(&token), &elder).await.json().await.unwrap();
    let elder_id = r["subject_id"].as_str().unwrap().to_string();
    let code: Value =
        app.get(&format!("/api/v1/me/code?subject_id={elder_id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(code["masked_name"], "王*奶");
    let paper: Value =
        app.get(&format!("/api/v1/me/paper-code?subject_id={elder_id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(paper["kind"], "paper");
    assert_eq!(paper["color"], Value::Null, "a paper code carries no color");
    assert_eq!(paper["expires_at"], "2028-01-15T10:00:00+08:00");
    let png =
        app.get(&format!("/api/v1/me/paper-code.png?subject_id={elder_id}"), Some(&token)).await.bytes().await.unwrap();
    assert_eq!(healthcode_token::qr::decode_image(&png).unwrap(), paper["token"].as_str().unwrap());

    let stranger = app.register("13900000002", 3).await;
    let r = app.get(&format!("/api/v1/me/code?subject_id={elder_id}"), Some(&stranger)).await;
    assert_problem(r, StatusCode::FORBIDDEN, "not_your_dependent", Some("subject_id")).await;

    // A checkpoint looks the paper code's color up online; the lookup is in the access log.
    let device = app.staff("checkpoint", json!({"venue_id": app.venue("hospital").await})).await;
    let body = json!({"token": paper["token"]});
    app.clock.advance(Duration::days(30));
    // The guardian declares for her today (else missed declarations would make her yellow).
    let token = app.login("13900000001").await;
    let mut d = declaration(36.4, "420102");
    d["subject_id"] = json!(elder_id);
    assert_eq!(app.post("/api/v1/me/declarations", Some(&token), &d).await.status(), StatusCode::CREATED);
    let r = app.post("/api/v1/codes/lookup", Some(&device), &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let found: Value = r.json().await.unwrap();
    assert_eq!((found["color"].as_str(), found["masked_name"].as_str()), (Some("green"), Some("王*奶")));
    let log: Value =
        app.get(&format!("/api/v1/me/access-log?subject_id={elder_id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(log[0]["action"], "code.lookup");
    assert_eq!(log[0]["actor_role"], "checkpoint");
    // Citizens cannot look codes up; forged and expired codes are refused with their reason.
    let r = app.post("/api/v1/codes/lookup", Some(&token), &body).await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    let mut forged = paper["token"].as_str().unwrap().to_string();
    forged.replace_range(40..41, if &forged[40..41] == "A" { "B" } else { "A" });
    let r = app.post("/api/v1/codes/lookup", Some(&device), &json!({"token": forged})).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "code_invalid", Some("token")).await;
    let phone: Value = app.get("/api/v1/me/code", Some(&token)).await.json().await.unwrap();
    app.clock.advance(Duration::minutes(10));
    let r = app.post("/api/v1/codes/lookup", Some(&device), &json!({"token": phone["token"]})).await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "code_invalid", Some("token")).await;
    assert_eq!(problem["errors"][0]["code"], "expired");
}

// ---------- imports ----------

#[tokio::test]
async fn partners_import_telecom_stays_with_a_report_per_row() {
    let app = spawn_app(Backend::Sqlite).await;
    let partner = app.staff("partner", json!({"import_kinds": ["telecom-stays"]})).await;
    let csv = "record_id,phone,region,start,end\n\
               cm-1,13900000001,420102,2027-01-10 08:00:00,2027-01-10 13:00:00\n\
               cm-2,139000,420102,2027-01-10 08:00:00,2027-01-10 13:00:00\n\
               cm-3,13900000001,429999,2027-01-10T08:00:00+08:00,2027-01-10T13:00:00+08:00\n\
               cm-4,13900000001,420106,2027-01-10 13:00:00,2027-01-10 08:00:00\n\
               cm-5,13900000002,420106,yesterday,2027-01-10 08:00:00\n\
               ,13900000002,420106,2027-01-10 08:00:00,2027-01-10 09:00:00\n\
               cm-6,+86 139 0000 0002,110101,2027-01-11T00:00:00Z,2027-01-11T02:00:00Z\n";
    let post = |body: String, ctype: &'static str| {
        app.client
            .post(app.url("/api/v1/imports/telecom-stays"))
            .bearer_auth(&partner)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let r = post(csv.to_string(), "text/csv").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["duplicates"].as_u64()), (Some(2), Some(0)), "{report}");
    let rejected: Vec<_> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["field"].as_str().unwrap().to_string(),
                r["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        (3, "phone", "phone_format"),
        (4, "region", "region_unknown"),
        (5, "end", "end_before_start"),
        (6, "start", "time_format"),
        (7, "record_id", "required"),
    ];
    assert_eq!(rejected, expected.map(|(l, f, c)| (l, f.to_string(), c.to_string())));
    // The same file again changes nothing.
    let again: Value = post(csv.to_string(), "text/csv").await.unwrap().json().await.unwrap();
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(2)));

    // NDJSON: numbers are fine, an unknown key refuses that row, a broken line is reported.
    let ndjson = "{\"record_id\": \"cm-7\", \"phone\": 13900000003, \"region\": \"420103\", \"start\": \"2027-01-12T08:00:00+08:00\", \"end\": \"2027-01-12T09:00:00+08:00\"}\n\
                  \n\
                  {\"record_id\": \"cm-8\", \"phone\": \"13900000003\", \"region\": \"420103\", \"start\": \"2027-01-12T08:00:00+08:00\", \"end\": \"2027-01-12T09:00:00+08:00\", \"imei\": \"x\"}\n\
                  {not json\n";
    let report: Value = post(ndjson.to_string(), "application/x-ndjson").await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["rejected"][0]["line"], 3);
    assert_eq!(report["rejected"][0]["field"], "imei");
    assert_eq!(report["rejected"][0]["code"], "unknown_column");
    assert_eq!(report["rejected"][1]["line"], 4);
    assert_eq!(report["rejected"][1]["code"], "json_malformed");

    // A file-level problem refuses the file.
    let r = post("record_id,phone,region,start,end,imei\n".into(), "text/csv").await.unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "unknown_column", Some("body")).await;
    let r = post("record_id,phone,region,start\n".into(), "text/csv").await.unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "missing_column", Some("body")).await;
    let r = post("record_id,phone,region,start,end,phone\n".into(), "text/csv").await.unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "duplicate_column", Some("body")).await;
    let r = post(csv.to_string(), "application/json").await.unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None).await;
    // Imports are larger than ordinary bodies: 3,000 rows (~230 KB) go through.
    let mut big = String::from("record_id,phone,region,start,end\n");
    for i in 0..3000 {
        big.push_str(&format!("big-{i},13900000004,420102,2027-01-10 08:00:00,2027-01-10 13:00:00\n"));
    }
    assert!(big.len() > 64 * 1024);
    let report: Value = post(big, "text/csv").await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 3000);
    // The partner's imports are in the audit log.
    let auditor = app.staff("auditor", json!({})).await;
    let log: Value = app.get("/api/v1/audit", Some(&auditor)).await.json().await.unwrap();
    let imports = log.as_array().unwrap().iter().filter(|r| r["action"] == "import.telecom-stays").count();
    assert_eq!(imports, 4);
}

#[tokio::test]
async fn only_the_right_accounts_import_and_officers_only_in_their_regions() {
    let app = spawn_app(Backend::Sqlite).await;
    let officer = app.staff("officer", json!({"regions": ["420100"]})).await;
    let partner = app.staff("partner", json!({"import_kinds": ["region-risk"]})).await;
    let csv = "record_id,region,level,effective_from,effective_to\n\
               r-1,420106,high,2027-01-12 00:00:00,\n\
               r-2,110101,medium,2027-01-12 00:00:00,\n\
               r-3,420102,severe,2027-01-12 00:00:00,\n\
               r-4,420103,low,2027-01-12 00:00:00,2027-01-11 00:00:00\n";
    let send = |token: &str, kind: &str, body: &str| {
        app.client
            .post(app.url(&format!("/api/v1/imports/{kind}")))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body.to_string())
            .send()
    };
    let report: Value = send(&officer, "region-risk", csv).await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    let codes: Vec<_> = report["rejected"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["out_of_scope", "level_unknown", "end_before_start"]);
    let report: Value = send(&partner, "region-risk", csv).await.unwrap().json().await.unwrap();
    assert_eq!(
        (report["accepted"].as_u64(), report["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "the national feed has no region scope"
    );
    let r = send(&officer, "telecom-stays", "record_id,phone,region,start,end\n").await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let r = send(&partner, "telecom-stays", "record_id,phone,region,start,end\n").await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let r = send(&partner, "horoscopes", "x\n").await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND, "import_kind_unsupported", None).await;
    let citizen = app.register("13900000001", 1).await;
    let r = send(&citizen, "region-risk", csv).await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
}

// ---------- colors from published rules ----------

#[tokio::test]
async fn a_region_turning_high_risk_recolors_exactly_the_people_who_stayed_there() {
    let app = spawn_app(Backend::Sqlite).await;
    let long_stay = app.register("13900000001", 1).await;
    let border_ping = app.register("13900000002", 2).await;
    let elsewhere = app.register("13900000003", 3).await;
    let partner = app.staff("partner", json!({"import_kinds": ["telecom-stays"]})).await;
    let officer = app.staff("officer", json!({"regions": ["420100"]})).await;
    let send = |token: &str, kind: &str, body: &str| {
        app.client
            .post(app.url(&format!("/api/v1/imports/{kind}")))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body.to_string())
            .send()
    };
    // The clock stands at 2027-01-15 10:00 Beijing time.
    let stays = "record_id,phone,region,start,end\n\
                 cm-a,13900000001,420106,2027-01-13 08:00:00,2027-01-13 13:00:00\n\
                 cm-b,13900000002,420106,2027-01-13 08:00:00,2027-01-13 08:20:00\n\
                 cm-c,13900000003,420111,2027-01-13 08:00:00,2027-01-13 18:00:00\n";
    assert_eq!(send(&partner, "telecom-stays", stays).await.unwrap().status(), StatusCode::OK);
    let status: Value = app.get("/api/v1/me/status", Some(&long_stay)).await.json().await.unwrap();
    assert_eq!(status["color"], "green", "no region is at risk yet: {status}");

    let risk = json!({"level": "high", "effective_from": "2027-01-12T00:00:00+08:00"});
    let r =
        app.client.put(app.url("/api/v1/regions/420106/risk")).bearer_auth(&officer).json(&risk).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r =
        app.client.put(app.url("/api/v1/regions/110101/risk")).bearer_auth(&officer).json(&risk).send().await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "out_of_scope", Some("region")).await;
    let r =
        app.client.put(app.url("/api/v1/regions/420106/risk")).bearer_auth(&partner).json(&risk).send().await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let bad = json!({"level": "extreme", "effective_from": "2027-01-12T00:00:00+08:00"});
    let r =
        app.client.put(app.url("/api/v1/regions/420106/risk")).bearer_auth(&officer).json(&bad).send().await.unwrap();
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("level")).await;

    let status: Value = app.get("/api/v1/me/status", Some(&long_stay)).await.json().await.unwrap();
    assert_eq!(status["color"], "red", "{status}");
    assert_eq!(status["lang"], "zh-CN");
    let reason = &status["reasons"][0];
    assert_eq!(reason["rule_id"], "high-risk-stay");
    assert!(reason["text"].as_str().unwrap().contains("武昌区"), "{reason}");
    assert_eq!(reason["evidence"][0]["record_id"], "cm-a");
    assert_eq!(reason["evidence"][0]["kind"], "stay");
    let code: Value = app.get("/api/v1/me/code", Some(&long_stay)).await.json().await.unwrap();
    assert_eq!(code["color"], "red");
    let en: Value = app.get("/api/v1/me/status?lang=en", Some(&long_stay)).await.json().await.unwrap();
    assert!(en["reasons"][0]["text"].as_str().unwrap().contains("stayed"), "{en}");
    // Twenty minutes near the district (a base station across the line) is not a stay (R11).
    for token in [&border_ping, &elsewhere] {
        let s: Value = app.get("/api/v1/me/status", Some(token)).await.json().await.unwrap();
        assert_eq!(s["color"], "green", "{s}");
    }

    // Red holds until 14 days after the stay ended, then the color returns to green by itself.
    let green_at: chrono::DateTime<chrono::Utc> =
        status["to_green"]["at"].as_str().unwrap().parse::<chrono::DateTime<chrono::FixedOffset>>().unwrap().to_utc();
    assert_eq!(green_at, "2027-01-27T05:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    assert!(status["to_green"]["text"].as_str().unwrap().contains("14"), "{status}");
    // (They keep declaring daily, or missed declarations would turn them yellow.)
    app.clock.set(green_at - Duration::seconds(1));
    let long_stay = app.login("13900000001").await;
    app.post("/api/v1/me/declarations", Some(&long_stay), &declaration(36.5, "420102")).await;
    let s: Value = app.get("/api/v1/me/status", Some(&long_stay)).await.json().await.unwrap();
    assert_eq!(s["color"], "red", "{s}");
    assert_eq!(s["next_review_at"], "2027-01-27T13:00:00+08:00", "the review falls when the stay's window ends");
    app.clock.set(green_at);
    let s: Value = app.get("/api/v1/me/status", Some(&long_stay)).await.json().await.unwrap();
    assert_eq!(s["color"], "green", "{s}");
    let code: Value = app.get("/api/v1/me/code", Some(&long_stay)).await.json().await.unwrap();
    assert_eq!(code["color"], "green");
}

#[tokio::test]
async fn the_rules_in_force_are_published_with_their_version() {
    let app = spawn_app(Backend::Sqlite).await;
    let r: Value = app.get("/api/v1/rules", None).await.json().await.unwrap();
    let source = r["source"].as_str().unwrap();
    assert_eq!(source, healthcode_core::rules::DEFAULT_RULES);
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(r["version"], hex.as_str());
    let ids: Vec<_> = r["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"high-risk-stay") && ids.contains(&"close-contact"), "{ids:?}");
    // A declared fever turns the code yellow, with the declaration as evidence.
    let token = app.register("13900000001", 1).await;
    let mut d = declaration(38.4, "420102");
    d["symptoms"] = json!(["fever"]);
    app.post("/api/v1/me/declarations", Some(&token), &d).await;
    let s: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(s["color"], "yellow", "{s}");
    assert_eq!(s["reasons"][0]["evidence"][0]["kind"], "declaration");
    assert_eq!(s["rule_set_version"], hex.as_str());
}

#[tokio::test]
async fn lab_results_and_case_statuses_change_colors_by_id_number() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let id = id_number("420102", 1990, 1);
    let lab = app.staff("partner", json!({"import_kinds": ["lab-tests", "cases"]})).await;
    let send = |kind: &str, body: String| {
        app.client
            .post(app.url(&format!("/api/v1/imports/{kind}")))
            .bearer_auth(&lab)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    let mut fever = declaration(38.5, "420102");
    fever["symptoms"] = json!(["fever"]);
    app.post("/api/v1/me/declarations", Some(&token), &fever).await;
    let s: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(s["color"], "yellow", "{s}");
    // A negative test sampled after the fever clears it.
    let test =
        json!({"record_id": "lab-1", "id_number": id, "sampled_at": "2027-01-15T11:00:00+08:00", "result": "negative"});
    let bad = json!({"record_id": "lab-2", "id_number": "420102199005150011", "sampled_at": "2027-01-15T11:00:00+08:00", "result": "negative"});
    app.clock.advance(Duration::hours(2));
    let report: Value = send("lab-tests", format!("{test}\n{bad}\n")).await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["rejected"][0]["field"], "id_number");
    let s: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(s["color"], "green", "{s}");
    // A confirmed case is red, with the case record as evidence.
    let case = json!({"record_id": "case-1", "id_number": id, "status": "confirmed", "onset_date": "2027-01-15"});
    let report: Value = send("cases", format!("{case}\n")).await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    let s: Value = app.get("/api/v1/me/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(s["color"], "red", "{s}");
    assert_eq!(s["reasons"][0]["evidence"][0]["record_id"], "case-1");
    assert_eq!(s["to_green"]["at"], Value::Null, "a case does not end by time alone");
}

#[tokio::test]
async fn color_changes_are_stored_within_seconds_and_return_to_green_on_schedule() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.register("13900000001", 1).await;
    let history: Value = app.get("/api/v1/me/color-history", Some(&token)).await.json().await.unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1, "registration stores the first decision: {history}");
    assert_eq!((history[0]["from"].clone(), history[0]["to"].as_str()), (Value::Null, Some("green")));

    let partner = app.staff("partner", json!({"import_kinds": ["telecom-stays"]})).await;
    let officer = app.staff("officer", json!({"regions": ["420100"]})).await;
    let stays = "record_id,phone,region,start,end\ncm-a,13900000001,420106,2027-01-13 08:00:00,2027-01-13 13:00:00\n";
    let r = app
        .client
        .post(app.url("/api/v1/imports/telecom-stays"))
        .bearer_auth(&partner)
        .header("content-type", "text/csv")
        .body(stays)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let risk = json!({"level": "high", "effective_from": "2027-01-12T00:00:00+08:00"});
    let r =
        app.client.put(app.url("/api/v1/regions/420106/risk")).bearer_auth(&officer).json(&risk).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The region's people are recolored in the background, without any request of theirs.
    let history = app.eventually("/api/v1/me/color-history", &token, |h| h[0]["to"] == "red").await;
    assert_eq!((history[0]["from"].as_str(), history[0]["to"].as_str()), (Some("green"), Some("red")), "{history}");

    // They keep declaring; at the end of the window the scheduler turns them green.
    app.clock.set("2027-01-27T04:59:59Z".parse().unwrap());
    let token = app.login("13900000001").await;
    app.post("/api/v1/me/declarations", Some(&token), &declaration(36.5, "420102")).await;
    let history: Value = app.get("/api/v1/me/color-history", Some(&token)).await.json().await.unwrap();
    assert_eq!(history[0]["to"], "red", "still red one second before: {history}");
    app.clock.set("2027-01-27T05:00:00Z".parse().unwrap());
    let history = app.eventually("/api/v1/me/color-history", &token, |h| h[0]["to"] == "green").await;
    assert_eq!((history[0]["from"].as_str(), history[0]["to"].as_str()), (Some("red"), Some("green")), "{history}");
    assert_eq!(history[0]["at"], "2027-01-27T13:00:00+08:00");
    assert_eq!(history.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn trips_and_vaccinations_import_with_their_own_checks() {
    let app = spawn_app(Backend::Sqlite).await;
    let partner = app.staff("partner", json!({"import_kinds": ["trips", "vaccinations", "telecom-stays"]})).await;
    let id = id_number("420102", 1990, 1);
    let send = |kind: &str, rows: Vec<Value>| {
        let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
        app.client
            .post(app.url(&format!("/api/v1/imports/{kind}")))
            .bearer_auth(&partner)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    let trips = vec![
        json!({"record_id": "t1", "id_number": id, "carrier": "train", "number": "g1234", "date": "2027-01-10", "coach": "05", "row": "12", "seat": "F"}),
        json!({"record_id": "t2", "id_number": id, "carrier": "flight", "number": "CA1501", "date": "2027-01-11", "row": "31", "seat": "C"}),
        json!({"record_id": "t3", "id_number": id, "carrier": "ship", "number": "X1", "date": "2027-01-11", "row": "1", "seat": "A"}),
        json!({"record_id": "t4", "id_number": id, "carrier": "train", "number": "G1", "date": "11/01/2027", "row": "1", "seat": "A"}),
        json!({"record_id": "t5", "id_number": id, "carrier": "train", "number": "G 1; drop", "date": "2027-01-11", "row": "1", "seat": "A"}),
    ];
    let report: Value = send("trips", trips).await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 2, "{report}");
    let codes: Vec<_> = report["rejected"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["carrier_unknown", "date_format", "code_format"]);
    let doses = vec![
        json!({"record_id": "v1", "id_number": id, "date": "2026-12-01", "dose": 3, "product": "BBIBP-CorV"}),
        json!({"record_id": "v2", "id_number": id, "date": "2026-12-01", "dose": 0, "product": "BBIBP-CorV"}),
    ];
    let report: Value = send("vaccinations", doses).await.unwrap().json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["rejected"][0]["code"], "dose_range");
    let r = send("gossip", vec![]).await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND, "import_kind_unsupported", None).await;
}

/// The same end-to-end slice on PostgreSQL.
#[tokio::test]
async fn postgres_register_declare_and_officer_read() {
    let app = spawn_app(Backend::Postgres).await;
    let r: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(r["database"], "postgres");
    let officer = app.staff("officer", json!({"regions": ["420000"]})).await;
    let citizen = app.register("13900000001", 1).await;
    let other = app.login("13900000002").await;
    let r = app.post("/api/v1/persons", Some(&other), &person_body("13900000002", 1)).await;
    assert_problem(r, StatusCode::CONFLICT, "id_number_registered", Some("id_number")).await;
    app.post("/api/v1/me/declarations", Some(&citizen), &declaration(36.5, "420102")).await;
    let r: Value =
        app.post("/api/v1/me/declarations", Some(&citizen), &declaration(36.7, "420103")).await.json().await.unwrap();
    assert_eq!(r["replaced"], true);
    let subject = app.subject_of(&citizen).await;
    let p: Value =
        app.get(&format!("/api/v1/persons/{subject}?purpose=check"), Some(&officer)).await.json().await.unwrap();
    assert_eq!(p["current_region"]["code"], "420103");
    let log: Value = app.get("/api/v1/me/access-log", Some(&citizen)).await.json().await.unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
}

/// Checks a problem+json answer; returns its body.
async fn assert_problem(r: reqwest::Response, status: StatusCode, code: &str, field: Option<&str>) -> Value {
    let got = r.status();
    let ctype = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(ctype.as_deref(), Some("application/problem+json"));
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    if let Some(f) = field {
        let fields: Vec<_> =
            body["errors"].as_array().map(|a| a.iter().map(|e| e["field"].clone()).collect()).unwrap_or_default();
        assert!(fields.contains(&json!(f)), "expected a field error on {f}: {body}");
    }
    body
}
