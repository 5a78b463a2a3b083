//! `healthcode bench tracing`: contact tracing over a large visits table (R7, issue 5).
//!
//! Generates `visits` visits into a fresh SQLite database (one transaction per 50,000 rows,
//! one prepared statement: the store's own `visits_insert`), day by day in time order as scans
//! append them: people with a few usual venues each, 14 days, 8:00–22:00, stays of 15–120
//! minutes. Then traces one case at a time (the
//! median of several, each a full job: reads, sweep, exposures written) and 1,000 cases as one
//! job, and reports the peak memory of the process.
//!
//! Not modelled: the persons table (people here are unregistered pseudonyms, so households
//! and trips add no rows; their queries still run).

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::rules::CaseStatus;
use healthcode_core::{RegionCode, SubjectId, VenueCategory, VenueId};
use healthcode_server::trace_job::{exposures, trace_cases};
use healthcode_store::{Actor, AuditEntry, Store, TraceCaseRecord, VenueRecord, VisitRecord, VisitSource};

use crate::bench::Row;

/// xorshift64*: deterministic data, so runs compare.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const DAYS: i64 = 14;
/// About a city's density: ten scanned visits per person in two weeks, a venue for every
/// twenty people (so a venue sees some fifteen visits a day).
const VISITS_PER_PERSON: u64 = 10;
const PEOPLE_PER_VENUE: u64 = 20;

fn person(i: u64) -> SubjectId {
    let mut b = [0u8; 16];
    b[8..].copy_from_slice(&i.to_be_bytes());
    b[0] = 0xbe;
    SubjectId::from_random(b)
}

fn venue_id(i: u64) -> VenueId {
    VenueId::parse(&format!("v_bench{i}")).expect("valid venue id")
}

fn start() -> DateTime<Utc> {
    healthcode_core::local_time::local_midnight(NaiveDate::from_ymd_opt(2027, 3, 1).expect("date"))
}

/// The `i`-th visit of day `day`: a random person at one of their 3 usual venues (or, one
/// time in five, anywhere), entering between 8:00 and 22:00 for 15–120 minutes.
fn visit(rng: &mut Rng, day: i64, i: u64, people: u64, venues: u64) -> VisitRecord {
    let p = rng.below(people);
    let usual = (p * 7919 + rng.below(3) * 104_729) % venues;
    let v = if rng.below(5) == 0 { rng.below(venues) } else { usual };
    let enter = start() + Duration::days(day) + Duration::minutes(8 * 60 + rng.below(14 * 60) as i64);
    let stay = Duration::minutes(15 + rng.below(106) as i64);
    VisitRecord {
        visit_key: format!("bench:{day}:{i}"),
        subject_id: person(p),
        venue_id: venue_id(v),
        entered_at: enter,
        left_at: enter + stay,
        closed: true,
        source: VisitSource::Import,
    }
}

/// Writes the visits day by day in the order they happen, as scans append them.
async fn generate(store: &dyn Store, visits: u64) -> Result<(u64, f64)> {
    let people = (visits / VISITS_PER_PERSON).max(1);
    let venues = (people / PEOPLE_PER_VENUE).max(1);
    for v in 0..venues {
        store
            .venue_insert(&VenueRecord {
                venue_id: venue_id(v),
                name: format!("bench venue {v}"),
                address: "-".into(),
                region: RegionCode::parse("420102").expect("region"),
                category: VenueCategory::Restaurant,
                created_at: start(),
                created_by: "bench".into(),
            })
            .await?;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let begun = Instant::now();
    let mut written = 0u64;
    let per_day = visits / DAYS as u64;
    for day in 0..DAYS {
        let n = if day == DAYS - 1 { visits - per_day * (DAYS as u64 - 1) } else { per_day };
        let mut list: Vec<_> = (0..n).map(|i| visit(&mut rng, day, i, people, venues)).collect();
        list.sort_by_key(|v| v.entered_at);
        for batch in list.chunks(50_000) {
            written += store.visits_insert(batch).await?.accepted;
        }
        eprintln!("  day {}: {written} visits written, {:.0} s", day + 1, begun.elapsed().as_secs_f64());
    }
    Ok((written, begun.elapsed().as_secs_f64()))
}

fn case(i: u64, subject: SubjectId) -> TraceCaseRecord {
    TraceCaseRecord {
        case_id: format!("bench-case-{i}"),
        subject_id: subject,
        status: CaseStatus::Confirmed,
        // Onset on day 12: the window covers days 10–14.
        onset_date: Some(NaiveDate::from_ymd_opt(2027, 3, 13).expect("date")),
        sampled_at: None,
        isolated_at: None,
        created_at: start() + Duration::days(DAYS),
        created_by: "bench".into(),
    }
}

fn audit(now: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        at: now,
        actor: Actor { kind: "operator".into(), id: "bench".into(), role: None },
        action: "case.trace".into(),
        subject_id: None,
        purpose: None,
        detail: serde_json::json!({}),
    }
}

pub fn tracing_rows(visits: u64) -> Result<Vec<Row>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(rows(visits))
}

async fn rows(visits: u64) -> Result<Vec<Row>> {
    let dir = std::env::temp_dir().join(format!("healthcode-bench-tracing-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("tracing.sqlite");
    let store = healthcode_store_sqlite::SqliteStore::open(&db).await.context("opening the bench database")?;
    let (written, secs) = generate(&store, visits).await?;
    let people = (visits / VISITS_PER_PERSON).max(1);
    let now = start() + Duration::days(DAYS);
    let params = healthcode_core::tracing::TracingParams::default();
    let mut rng = Rng(42);

    // One case at a time: the median of 21 jobs (the first warms the caches). The job's two
    // parts are timed apart: finding the contacts (reads and sweep), and writing exposures.
    let mut find = Vec::new();
    let mut total = Vec::new();
    let mut found = 0;
    for i in 0..22 {
        let c = case(i, person(rng.below(people)));
        let t = Instant::now();
        let traced = trace_cases(&store, &[c], now, &params).await?;
        let found_in = t.elapsed();
        store.exposures_save(&exposures(&traced, now), &audit(now)).await?;
        if i > 0 {
            find.push(found_in.as_secs_f64() * 1000.0);
            total.push(t.elapsed().as_secs_f64() * 1000.0);
            found += traced[0].close.len() + traced[0].secondary.len();
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (find, total) = (median(find), median(total));

    // An outbreak day: 1,000 cases in one job.
    let cases: Vec<_> = (0..1000).map(|i| case(1000 + i, person(rng.below(people)))).collect();
    let t = Instant::now();
    let traced = trace_cases(&store, &cases, now, &params).await?;
    let many_find = t.elapsed().as_secs_f64();
    let rows = exposures(&traced, now);
    store.exposures_save(&rows, &audit(now)).await?;
    let many_total = t.elapsed().as_secs_f64();
    let close: usize = traced.iter().map(|t| t.close.len()).sum();
    let secondary: usize = traced.iter().map(|t| t.secondary.len()).sum();
    let size = crate::bench::db_size_mib(&db);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
    Ok(vec![
        Row {
            name: format!("tracing: visits generated ({written}, {size:.0} MiB SQLite)"),
            value: written as f64 / secs,
            unit: "visits/s",
            goal: None,
            pass: None,
        },
        Row {
            name: format!("tracing: one case, contacts found, median of 21 ({:.0} contacts each)", found as f64 / 21.0),
            value: find,
            unit: "ms",
            goal: Some(format!("≤ 20 ms (here at {written} visits; the goal is for 100 M)")),
            pass: Some(find <= 20.0),
        },
        Row {
            name: "tracing: one case, found and exposures written".into(),
            value: total,
            unit: "ms",
            goal: None,
            pass: None,
        },
        Row {
            name: format!("tracing: 1,000 cases in one job, contacts found ({close} close, {secondary} secondary)"),
            value: many_find * 1000.0,
            unit: "ms",
            goal: Some("≤ 1000 ms".into()),
            pass: Some(many_find <= 1.0),
        },
        Row {
            name: format!("tracing: 1,000 cases, found and {} exposures written", rows.len()),
            value: many_total * 1000.0,
            unit: "ms",
            goal: None,
            pass: None,
        },
        Row {
            name: "tracing: peak memory of the process".into(),
            value: crate::bench::peak_rss_mib(),
            unit: "MiB",
            goal: None,
            pass: None,
        },
    ])
}
