//! `healthcode bench recolor`: a region turns high-risk and every person with a stay there
//! is recolored, on SQLite, with `people` registered and `affected` of them touched.
//!
//! Seeding goes through the bulk store methods (`persons_insert_many`, `stays_import`,
//! `decisions_save_many`), not the HTTP API, which would take hours for ten million people;
//! the rows are what registration writes (ID number, name and phone sealed by the vault, blind
//! indexes, a random subject id). The affected people start green with a stored decision. The
//! figure runs from the region's risk level being set to the last decision stored.
//!
//! `HEALTHCODE_BENCH_DB=PATH` keeps the seeded database at PATH (ten million people take minutes
//! to seed); when PATH exists the run skips seeding and works on a copy of it, so PATH stays as
//! seeded and runs compare. The seeded people and stays are placed relative to the seeding
//! time, so a kept database serves for a day or so.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, ensure};
use chrono::{DateTime, Duration, Utc};
use healthcode_core::id_number::check_character;
use healthcode_core::{Color, IdNumber, PersonName, Phone, RegionCode, RiskLevel, local_day};
use healthcode_server::identity::{NewIdentity, phone_index, seal_person};
use healthcode_server::recolor::{Recolored, Touched, recolor_many, subjects_touched};
use healthcode_server::{AppState, Settings};
use healthcode_store::{DecisionRecord, PersonRecord, RegionRiskRecord, StayRecord, Store};
use healthcode_token::{Alg, Keyring};
use healthcode_vault::Vault;

use crate::bench::{Row, db_size_mib, peak_rss_mib};

/// People generated, sealed and inserted per round of seeding.
const SEED_ROUND: u64 = 200_000;
/// The district that turns high-risk (武汉市江汉区).
const HOT: &str = "420103";

/// Person `i` of the generated city: a valid ID number and phone of its own.
fn person(vault: &Vault, i: u64, now: DateTime<Utc>) -> PersonRecord {
    let today = local_day(now);
    let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("valid date") + Duration::days((i / 1000) as i64);
    let first17 = format!("420102{}{:03}", birth.format("%Y%m%d"), i % 1000);
    let id = format!("{first17}{}", check_character(first17.as_bytes()) as char);
    let id = IdNumber::parse(&id, today).expect("generated ID numbers are valid");
    let phone = Phone::parse(&(130_0000_0000 + i).to_string()).expect("generated phones are valid");
    let name = PersonName::parse(["王芳", "李伟", "张敏", "刘洋"][(i % 4) as usize]).expect("valid name");
    let household_region = RegionCode::parse("420102").expect("known region");
    let new = NewIdentity { name: &name, id_number: &id, phone: Some(&phone), household_region, guardian: None };
    seal_person(vault, new, now - Duration::days(90))
}

/// Generates and seals people `from..to` on every core.
async fn generate(vault: &Arc<Vault>, from: u64, to: u64, now: DateTime<Utc>) -> Result<Vec<PersonRecord>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let per = (to - from).div_ceil(threads);
    let tasks: Vec<_> = (0..threads)
        .map(|t| {
            let vault = vault.clone();
            let (a, b) = (from + t * per, (from + (t + 1) * per).min(to));
            tokio::task::spawn_blocking(move || (a..b).map(|i| person(&vault, i, now)).collect::<Vec<_>>())
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(t.await?);
    }
    Ok(out)
}

pub fn recolor_rows(people: u64, affected: u64) -> Result<Vec<Row>> {
    ensure!(affected <= people, "--affected must not exceed --people");
    let dir = std::env::temp_dir().join(format!("healthcode-bench-recolor-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.sqlite");
    let kept = std::env::var_os("HEALTHCODE_BENCH_DB").map(std::path::PathBuf::from);
    let seeded = match &kept {
        Some(path) if path.exists() => {
            eprintln!("using the people seeded in {} (a copy of it)", path.display());
            // Brought to this binary's schema first, so the timed part starts from a database
            // in the state a running server keeps it (migrated, checkpointed).
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
                let kept = healthcode_store_sqlite::SqliteStore::open(path).await?;
                kept.checkpoint().await
            })?;
            std::fs::copy(path, &db)?;
            // On disk before the clock starts: a copy of gigabytes sits in the page cache
            // waiting to be written, and the first checkpoint's fsync of the timed part would
            // wait for all of it (a running server's file has no such backlog). Runs varied
            // by 5 s before this.
            std::fs::File::open(&db)?.sync_all()?;
            true
        }
        _ => false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(run(&dir, &db, people, affected, seeded, kept.as_deref()));
    let size = db_size_mib(&db);
    std::fs::remove_dir_all(&dir).ok();
    let (seed_secs, find_secs, total_secs, done, (user, system)) = result?;
    let changed = done.changed as u64;
    ensure!(changed == affected, "recolor bench: {changed} colors changed, expected {affected}");
    let rate = affected as f64 / total_secs;
    Ok(vec![
        Row {
            name: format!("recolor on SQLite: region turns high-risk, {affected} of {people} people affected"),
            value: total_secs,
            unit: "s",
            goal: Some("≤ 10 s".into()),
            pass: Some(total_secs <= 10.0),
        },
        Row {
            name: "recolor: people re-evaluated and stored".into(),
            value: rate,
            unit: "people/s",
            goal: None,
            pass: None,
        },
        Row {
            name: "recolor: CPU time of the process, user + system (2 cores)".into(),
            value: user + system,
            unit: "s",
            goal: None,
            pass: None,
        },
        Row { name: "recolor: of which system".into(), value: system, unit: "s", goal: None, pass: None },
        Row {
            name: "recolor: of which finding who stayed there".into(),
            value: find_secs,
            unit: "s",
            goal: None,
            pass: None,
        },
        Row {
            name: "recolor: of which reading people and their facts".into(),
            value: done.reading.as_secs_f64(),
            unit: "s",
            goal: None,
            pass: None,
        },
        Row {
            name: "recolor: of which evaluating (both cores)".into(),
            value: done.evaluating.as_secs_f64(),
            unit: "s",
            goal: None,
            pass: None,
        },
        Row {
            name: "recolor: saving decisions (overlaps the reading of the next round)".into(),
            value: done.saving.as_secs_f64(),
            unit: "s",
            goal: None,
            pass: None,
        },
        Row { name: "recolor: seeding (not timed above)".into(), value: seed_secs, unit: "s", goal: None, pass: None },
        Row { name: "recolor: database file with WAL".into(), value: size, unit: "MiB", goal: None, pass: None },
        Row {
            name: "recolor: peak RSS of the process".into(),
            value: peak_rss_mib(),
            unit: "MiB",
            goal: None,
            pass: None,
        },
    ])
}

/// Seeds (unless `seeded`; then copies the result to `keep` if given), then times the change;
/// returns (seeding s, finding s, total s, what the recoloring did, CPU s used (user, system)).
async fn run(
    dir: &std::path::Path,
    db: &std::path::Path,
    people: u64,
    affected: u64,
    seeded: bool,
    keep: Option<&std::path::Path>,
) -> Result<(f64, f64, f64, Recolored, (f64, f64))> {
    let now = Utc::now();
    let sqlite = Arc::new(healthcode_store_sqlite::SqliteStore::open(db).await?);
    let store: Arc<dyn Store> = sqlite.clone();
    let vault = Arc::new(Vault::new(vec![("b".into(), [1; 32])], [2; 32])?);
    let region = RegionCode::parse("420100")?;
    let keys = Keyring::generate(&dir.join("keys"), Alg::EdDSA, region, "bench", now)?;
    let app = AppState::new(store.clone(), vault.clone(), Arc::new(keys), Settings::default());
    let hot = RegionCode::parse(HOT)?;

    let seeding = Instant::now();
    let mut from = if seeded { people } else { 0 };
    while from < people {
        let to = (from + SEED_ROUND).min(people);
        let mut round = generate(&vault, from, to, now).await?;
        // The affected ones stayed in the district yesterday and are green so far.
        let touched = (from..to.min(affected)).count();
        let stays: Vec<StayRecord> = round[..touched]
            .iter()
            .enumerate()
            .map(|(k, p)| StayRecord {
                record_id: format!("cmcc-{}", from as usize + k),
                phone_index: p.phone_index.clone().unwrap_or_default(),
                region: hot,
                start: now - Duration::hours(30),
                end: now - Duration::hours(26),
            })
            .collect();
        let greens: Vec<DecisionRecord> = round[..touched]
            .iter()
            .map(|p| DecisionRecord {
                subject_id: p.subject_id.clone(),
                color: Color::Green,
                since: now - Duration::days(30),
                rule_set_version: "seed".into(),
                next_review_at: None,
                evaluated_at: now - Duration::days(1),
                record: serde_json::json!({"color": "green"}).into(),
                keeps_since: false,
            })
            .collect();
        // Subject ids are random: inserting in their order keeps one of the indexes local.
        round.sort_unstable_by(|a, b| a.subject_id.as_str().cmp(b.subject_id.as_str()));
        store.persons_insert_many(&round).await?;
        store.stays_import(&stays).await?;
        store.decisions_save_many(&greens).await?;
        from = to;
        eprint!("\rseeded {from} of {people} people   ");
    }
    eprintln!();
    if let (false, Some(keep)) = (seeded, keep) {
        sqlite.checkpoint().await?;
        std::fs::copy(db, keep)?;
    }
    // Sanity: the phone blind index in the stays is the one registration computed.
    let probe = phone_index(&vault, &Phone::parse("13000000000")?);
    ensure!(affected == 0 || !store.stays_for(&probe, now - Duration::days(3)).await?.is_empty());
    let seed_secs = seeding.elapsed().as_secs_f64();

    let start = Instant::now();
    let cpu_before = crate::bench::process_cpu_secs();
    let from = now - Duration::days(2);
    store
        .region_risk_set(&RegionRiskRecord {
            record_id: "nhc-bench".into(),
            region: hot,
            level: RiskLevel::High,
            effective_from: from,
            effective_to: None,
        })
        .await?;
    let touched = Touched { regions: vec![(hot, from, None)], ..Touched::default() };
    let subjects = subjects_touched(&app, &touched).await.map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let find_secs = start.elapsed().as_secs_f64();
    let done = recolor_many(&app, subjects.into_iter().collect()).await.map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let total_secs = start.elapsed().as_secs_f64();
    let cpu_after = crate::bench::process_cpu_secs();
    let cpu = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    Ok((seed_secs, find_secs, total_secs, done, cpu))
}
