//! `healthcode bench tracing`: contact tracing over a large visits table (R7, issue 5).
//!
//! Generates `visits` visits into a fresh SQLite database through the store's bulk loader
//! (`SqliteStore::visits_load`: venue by venue in the table's order, the indexes built after
//! the rows), on a generator thread streaming batches, so 100 M visits never sit in memory:
//! people with three usual venues each, 14 days, 8:00–22:00, stays of 15–120 minutes. Then
//! traces one case at a time (the median of several, each a full job: reads, sweep,
//! exposures written) and 1,000 cases as one job (twice: the second finds its pages cached),
//! writes 100,000 visits as scans do (the write path's speed on the filled table), and
//! reports the peak memory of the process and of the tracing alone.
//!
//! `HEALTHCODE_BENCH_DB=PATH` keeps the database at PATH (not deleted after) and, when PATH
//! exists, traces it without generating (100 M visits take a while to load).
//!
//! Not modelled: the persons table (people here are unregistered pseudonyms, so households
//! and trips add no rows; their queries still run).

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use healthcode_core::rules::CaseStatus;
use healthcode_core::{RegionCode, SubjectId, VenueCategory, VenueId};
use healthcode_server::trace_job::{exposures, trace_cases};
use healthcode_store::{Actor, AuditEntry, Store, TraceCaseRecord, VenueRecord, VisitRecord, VisitSource, VisitWrite};

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
    // Zero-padded: text order is number order, so venues are generated in the table's order.
    VenueId::parse(&format!("v_bench{i:07}")).expect("valid venue id")
}

fn start() -> DateTime<Utc> {
    healthcode_core::local_time::local_midnight(NaiveDate::from_ymd_opt(2027, 3, 1).expect("date"))
}

/// People and venues for `visits` visits.
fn sizes(visits: u64) -> (u64, u64) {
    let people = (visits / VISITS_PER_PERSON).max(1);
    (people, (people / PEOPLE_PER_VENUE).max(1))
}

/// The offset between a person's usual venues.
fn stride(venues: u64) -> u64 {
    venues / 3 + 1
}

/// Usual venue `k` (0..3) of person `p`. People `p` and `p + venues` share all three (a
/// workplace's or a block's regulars), so each venue has about 20 regulars per `k`.
fn usual(p: u64, k: u64, venues: u64) -> u64 {
    (p + k * stride(venues)) % venues
}

/// A random regular of venue `v`: someone whose usual venue `k` it is (the inverse of
/// [`usual`]: `r`, `r + venues`, `r + 2·venues`, … below `people`).
fn regular(rng: &mut Rng, v: u64, people: u64, venues: u64) -> u64 {
    let k = rng.below(3);
    let r = (v + venues - (k * stride(venues)) % venues) % venues;
    if r >= people {
        return rng.below(people);
    }
    r + rng.below((people - r).div_ceil(venues)) * venues
}

/// A visit of person `p` at venue `v` on day `day`, entering between 8:00 and 22:00 for
/// 15–120 minutes.
fn visit_of(rng: &mut Rng, key: String, p: u64, v: u64, day: i64) -> VisitRecord {
    let enter = start() + Duration::days(day) + Duration::minutes(8 * 60 + rng.below(14 * 60) as i64);
    let stay = Duration::minutes(15 + rng.below(106) as i64);
    VisitRecord {
        visit_key: key,
        subject_id: person(p),
        venue_id: venue_id(v),
        entered_at: enter,
        left_at: enter + stay,
        closed: true,
        source: VisitSource::Import,
    }
}

/// The visits of venue `v` over the 14 days, sorted as the table is (entry, then key): four
/// in five by its regulars, one in five by anyone.
fn venue_visits(rng: &mut Rng, v: u64, n: u64, people: u64, venues: u64) -> Vec<VisitRecord> {
    let mut list: Vec<_> = (0..n)
        .map(|i| {
            let p = if rng.below(5) == 0 { rng.below(people) } else { regular(rng, v, people, venues) };
            let day = rng.below(DAYS as u64) as i64;
            visit_of(rng, format!("bench:{v}:{i}"), p, v, day)
        })
        .collect();
    list.sort_by(|a, b| a.entered_at.cmp(&b.entered_at).then_with(|| a.visit_key.cmp(&b.visit_key)));
    list
}

/// Rows per batch of the bulk load (one transaction each).
const LOAD_BATCH: usize = 200_000;

/// Registers the venues, then streams the visits venue by venue from a generator thread into
/// the store's bulk loader. Returns visits written and seconds.
async fn generate(store: &healthcode_store_sqlite::SqliteStore, visits: u64) -> Result<(u64, f64)> {
    let (people, venues) = sizes(visits);
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
    let begun = Instant::now();
    // Two batches in flight: the generator stays one ahead of the writer, memory stays small.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<VisitRecord>>(2);
    let generator = std::thread::spawn(move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut batch = Vec::with_capacity(LOAD_BATCH);
        let (per_venue, extra) = (visits / venues, visits % venues);
        let mut next_report = 0;
        for v in 0..venues {
            batch.extend(venue_visits(&mut rng, v, per_venue + u64::from(v < extra), people, venues));
            if batch.len() >= LOAD_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
                if tx.send(full).is_err() {
                    return;
                }
                if v >= next_report {
                    eprintln!("  venue {v} of {venues}: {:.0} s", begun.elapsed().as_secs_f64());
                    next_report += (venues / 10).max(1);
                }
            }
        }
        let _ = tx.send(batch);
    });
    let written = store.visits_load(rx).await?;
    generator.join().map_err(|_| anyhow::anyhow!("visit generator panicked"))?;
    eprintln!("  {written} visits loaded with their indexes, {:.0} s", begun.elapsed().as_secs_f64());
    Ok((written, begun.elapsed().as_secs_f64()))
}

/// Visits scans write into the filled table: groups of `SCAN_GROUP` through `visits_write`
/// (what the group-commit writer calls), one group after the other, in time order on the day
/// after the data, keyed as scans are (`scan:<device>:<idempotency key>`, random keys): a
/// random person at one of their usual venues (one time in five anywhere). Returns visits
/// per second.
async fn scan_writes(store: &dyn Store, visits: u64) -> Result<f64> {
    const SCAN_GROUP: usize = 256;
    const SCANS: u64 = 100_000;
    let (people, venues) = sizes(visits);
    let mut rng = Rng(0x5ca7_5ca7_5ca7_5ca7);
    let mut list: Vec<_> = (0..SCANS)
        .map(|_| {
            let p = rng.below(people);
            let v = if rng.below(5) == 0 { rng.below(venues) } else { usual(p, rng.below(3), venues) };
            // The process id in the key: a rerun on a kept database writes new visits.
            let key = format!("scan:d{}-{}:{:016x}", std::process::id(), rng.below(50_000), rng.below(u64::MAX));
            VisitWrite { visit: visit_of(&mut rng, key, p, v, DAYS), closes_open: false }
        })
        .collect();
    list.sort_by_key(|w| w.visit.entered_at);
    let begun = Instant::now();
    for group in list.chunks(SCAN_GROUP) {
        store.visits_write(group).await?;
    }
    Ok(SCANS as f64 / begun.elapsed().as_secs_f64())
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

/// Row helper: a figure with no goal.
fn figure(name: impl Into<String>, value: f64, unit: &'static str) -> Row {
    Row { name: name.into(), value, unit, goal: None, pass: None }
}

/// Forgets the process's peak memory so far (Linux: `clear_refs` 5), so the next reading is
/// the peak of what runs after.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn rows(visits: u64) -> Result<Vec<Row>> {
    let kept = std::env::var_os("HEALTHCODE_BENCH_DB").map(std::path::PathBuf::from);
    let dir = std::env::temp_dir().join(format!("healthcode-bench-tracing-{}", std::process::id()));
    let db = match &kept {
        Some(path) => path.clone(),
        None => {
            std::fs::create_dir_all(&dir)?;
            dir.join("tracing.sqlite")
        }
    };
    let reuse = kept.is_some() && db.exists();
    let store = healthcode_store_sqlite::SqliteStore::open(&db).await.context("opening the bench database")?;
    let generated = if reuse { None } else { Some(generate(&store, visits).await?) };
    let generation_peak = crate::bench::peak_rss_mib();
    reset_peak_memory();
    let held = crate::bench::rss_mib();
    let (people, _) = sizes(visits);
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

    // An outbreak day: 1,000 cases in one job; then the same job again, its pages now cached.
    let cases: Vec<_> = (0..1000).map(|i| case(1000 + i, person(rng.below(people)))).collect();
    let t = Instant::now();
    let traced = trace_cases(&store, &cases, now, &params).await?;
    let many_find = t.elapsed().as_secs_f64();
    let rows = exposures(&traced, now);
    store.exposures_save(&rows, &audit(now)).await?;
    let many_total = t.elapsed().as_secs_f64();
    let close: usize = traced.iter().map(|t| t.close.len()).sum();
    let secondary: usize = traced.iter().map(|t| t.secondary.len()).sum();
    drop(traced);
    let t = Instant::now();
    trace_cases(&store, &cases, now, &params).await?;
    let again = t.elapsed().as_secs_f64();
    let tracing_peak = crate::bench::peak_rss_mib();

    let scans = scan_writes(&store, visits).await?;
    let size = crate::bench::db_size_mib(&db);
    drop(store);
    if kept.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    let mut out = Vec::new();
    match generated {
        Some((written, secs)) => out.push(figure(
            format!("tracing: visits generated ({written}, bulk load with indexes, {size:.0} MiB SQLite)"),
            written as f64 / secs,
            "visits/s",
        )),
        None => out.push(figure(
            format!("tracing: visits (reused database, {size:.0} MiB SQLite)"),
            visits as f64,
            "visits",
        )),
    }
    out.extend([
        Row {
            name: format!("tracing: one case, contacts found, median of 21 ({:.0} contacts each)", found as f64 / 21.0),
            value: find,
            unit: "ms",
            goal: Some(format!("≤ 20 ms (here at {visits} visits; the goal is for 100 M)")),
            pass: Some(find <= 20.0),
        },
        figure("tracing: one case, found and exposures written", total, "ms"),
        Row {
            name: format!("tracing: 1,000 cases in one job, contacts found ({close} close, {secondary} secondary)"),
            value: many_find * 1000.0,
            unit: "ms",
            goal: Some("≤ 1000 ms".into()),
            pass: Some(many_find <= 1.0),
        },
        figure(format!("tracing: 1,000 cases, found and {} exposures written", rows.len()), many_total * 1000.0, "ms"),
        figure("tracing: the same 1,000 cases again, contacts found (pages cached)", again * 1000.0, "ms"),
        figure("tracing: then 100,000 visits written as scans (groups of 256 through visits_write)", scans, "visits/s"),
        figure("tracing: peak memory of the process while generating", generation_peak, "MiB"),
        figure(
            format!("tracing: peak memory of the process while tracing ({held:.0} MiB held before it began)"),
            tracing_peak,
            "MiB",
        ),
    ]);
    Ok(out)
}
