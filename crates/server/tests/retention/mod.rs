//! Retention: visits and declarations older than their configured days are deleted by the
//! server itself.

use chrono::Duration;
use healthcode_core::{SubjectId, VenueId};
use healthcode_store::{VisitRecord, VisitSource};

use crate::support::{Backend, TestApp, spawn_app_with};

/// What `read` gives once it has fewer than `n` items, asking every 50 ms for up to 5 s (the
/// retention loop runs every 50 ms in these tests); what it last gave if that never happens.
async fn fewer_than<T, F: std::future::Future<Output = Vec<T>>>(n: usize, read: impl Fn() -> F) -> Vec<T> {
    let mut left = read().await;
    for _ in 0..100 {
        if left.len() < n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = read().await;
    }
    left
}

#[tokio::test]
async fn visits_older_than_the_retention_are_deleted_by_the_running_server() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, |s| {
            s.visit_retention_days = 20;
            s.retention_interval = std::time::Duration::from_millis(50);
        })
        .await;
        let venue = VenueId::parse(&app.venue("restaurant").await).unwrap();
        let who = SubjectId::parse(&app.subject_of(&app.register("13900000101", 101).await).await).unwrap();
        let start = app.clock_now();
        let visit = |key: &str, days_ago: i64| VisitRecord {
            visit_key: format!("import:{key}"),
            subject_id: who.clone(),
            venue_id: venue.clone(),
            entered_at: start - Duration::days(days_ago),
            left_at: start - Duration::days(days_ago) + Duration::hours(1),
            closed: false,
            source: VisitSource::Import,
        };
        // All inside the 20 days when written (an older day would be deleted as it is written).
        app.store.visits_insert(&[visit("old", 15), visit("kept", 8), visit("recent", 1)]).await.unwrap();
        let keys = |app: &TestApp| {
            let (app, who) = (app.store.clone(), who.clone());
            async move {
                let all = app.visits_for_subject(&who, start - Duration::days(40), start).await.unwrap();
                all.into_iter().map(|v| v.visit_key).collect::<Vec<_>>()
            }
        };
        // Retention has run a few times: nothing was old enough.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(keys(&app).await, ["import:old", "import:kept", "import:recent"]);
        // Ten days on, the first is 25 days old and goes; the others are 18 and 11 days old.
        app.clock.advance(Duration::days(10));
        assert_eq!(fewer_than(3, || keys(&app)).await, ["import:kept", "import:recent"]);
        app.shutdown().await;
    }
}

#[tokio::test]
async fn a_register_line_older_than_the_retention_is_refused_not_written() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.visit_retention_days = 20).await;
    app.register("13900000102", 102).await;
    let venue = app.venue("restaurant").await;
    let partner = app.staff("partner", serde_json::json!({"import_kinds": ["visits"]})).await;
    let now = app.clock_now();
    let (recent, old) = ((now - Duration::days(19)).to_rfc3339(), (now - Duration::days(21)).to_rfc3339());
    let csv = format!("record_id,venue_id,phone,at\nr1,{venue},13900000102,{recent}\nr2,{venue},13900000102,{old}\n");
    let report: serde_json::Value =
        app.raw_post("/api/v1/imports/visits", &partner, "text/csv", &csv).await.json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["rejected"][0]["line"], 3, "{report}");
    assert_eq!(report["rejected"][0]["field"], "at");
    assert_eq!(report["rejected"][0]["code"], "visit_too_old");
}

#[tokio::test]
async fn declarations_older_than_their_retention_are_deleted_by_the_running_server() {
    use healthcode_core::{Declaration, RegionCode, Temperature, local_day};
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, |s| {
            s.declaration_retention_days = 60;
            s.retention_interval = std::time::Duration::from_millis(50);
        })
        .await;
        let who = SubjectId::parse(&app.subject_of(&app.register("13900000103", 103).await).await).unwrap();
        let today = local_day(app.clock_now());
        let declared = |days_ago: i64| Declaration {
            subject_id: who.clone(),
            day: today - Duration::days(days_ago),
            temperature: Temperature::from_celsius(36.6).unwrap(),
            symptoms: vec![],
            contact_with_suspected_case: false,
            current_region: RegionCode::parse("420102").unwrap(),
            declared_by: who.clone(),
            declared_at: app.clock_now() - Duration::days(days_ago),
        };
        for days_ago in [59, 30, 0] {
            app.store.declaration_submit(&declared(days_ago)).await.unwrap();
        }
        let days_ago = |app: &TestApp| {
            let (store, who) = (app.store.clone(), who.clone());
            async move {
                let all = store.declarations(&who, 10).await.unwrap();
                all.iter().map(|d| (today - d.declaration.day).num_days()).collect::<Vec<_>>()
            }
        };
        // Retention has run a few times: all three are within the 60 days.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(days_ago(&app).await, [0, 30, 59]);
        // Five days on, the first is 64 days old and goes.
        app.clock.advance(Duration::days(5));
        assert_eq!(fewer_than(3, || days_ago(&app)).await, [0, 30]);
        app.shutdown().await;
    }
}
