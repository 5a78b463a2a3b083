//! `healthcode bench`: the benchmark suite. One table of figures, floors and ratios, measured
//! in one run so that ratios compare like with like on the same machine and load.

use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Result;
use chrono::{Duration, Utc};
use healthcode_core::{Color, RegionCode};
use healthcode_token::qr::Qr;
use healthcode_token::{
    Alg, CodeKind, HealthClaims, SecretKey, SignedTrustList, TrustList, TrustListPayload, VerifyOptions,
};
use serde::Serialize;

#[derive(Serialize)]
pub struct Row {
    pub name: String,
    /// Operations per second (or the figure itself for sizes).
    pub value: f64,
    pub unit: &'static str,
    /// What it is compared with, and the ratio or floor it must reach.
    pub goal: Option<String>,
    pub pass: Option<bool>,
}

/// Measures several functions in interleaved rounds and keeps each one's best round, so a
/// burst of load from another process hits all of them alike and the ratios stay honest.
fn rates<const N: usize>(budget: StdDuration, fs: &mut [&mut dyn FnMut(); N]) -> [f64; N] {
    const ROUNDS: u32 = 5;
    let mut best = [0f64; N];
    for _ in 0..ROUNDS {
        for (i, f) in fs.iter_mut().enumerate() {
            best[i] = best[i].max(rate(budget / ROUNDS, f));
        }
    }
    best
}

/// Runs `f` repeatedly for about `budget`; returns operations per second (one thread).
fn rate(budget: StdDuration, mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn claims(at: chrono::DateTime<Utc>) -> HealthClaims {
    HealthClaims {
        issuer_region: RegionCode::parse("420100").expect("known region"),
        issuer_node: "hc1".into(),
        subject: "s0123456789abcdefghjkmnpqrs".into(),
        issued_at: at,
        expires_at: at + Duration::seconds(180),
        masked_name: "张*三".into(),
        kind: CodeKind::Phone,
        color: Some(Color::Green),
        color_since: Some(at - Duration::days(10)),
        rule_set_version: [7; 8],
        summary: None,
    }
}

fn trust_for(key: &SecretKey, root: &SecretKey, at: chrono::DateTime<Utc>) -> TrustList {
    use base64::Engine;
    let public = key.public();
    let payload = TrustListPayload {
        version: 1,
        publisher: "bench".into(),
        issued_at: at,
        expires_at: at + Duration::days(1),
        issuers: vec![healthcode_token::trust_list::TrustedIssuer {
            kid: healthcode_token::alg::hex(&public.kid()),
            alg: public.alg(),
            public_key: base64::engine::general_purpose::STANDARD.encode(public.to_bytes()),
            region: "420100".into(),
            node: "hc1".into(),
            not_before: at - Duration::days(1),
            not_after: at + Duration::days(1),
        }],
    };
    let signed = SignedTrustList::sign(&payload, root);
    TrustList::verify(&signed.to_json(), &root.public(), at).expect("our own list verifies")
}

pub fn token_rows(quick: bool) -> Vec<Row> {
    let budget = StdDuration::from_millis(if quick { 300 } else { 2000 });
    let at = Utc::now();
    let root = SecretKey::generate(Alg::EdDSA);
    let mut rows = Vec::new();
    for alg in [Alg::EdDSA, Alg::ES256] {
        let key = SecretKey::generate(alg);
        let public = key.public();
        let trust = trust_for(&key, &root, at);
        let c = claims(at);
        let token = healthcode_token::sign_token(&c, &key);
        // The raw baseline signs and verifies a message as long as our COSE Sig_structure.
        let msg = vec![0x5a_u8; c.to_cbor().len() + 30];
        let sig = key.sign(&msg);
        let opts = VerifyOptions::at(at);
        let [raw_sign, issue, raw_verify, verify] = rates(
            budget * 2,
            &mut [
                &mut || {
                    black_box(key.sign(black_box(&msg)));
                },
                &mut || {
                    black_box(healthcode_token::sign_token(black_box(&c), &key));
                },
                &mut || {
                    assert!(public.verify(black_box(&msg), black_box(&sig)));
                },
                &mut || {
                    assert!(healthcode_token::check(black_box(&token), &trust, opts).is_ok());
                },
            ],
        );
        let ratio = |full: f64, raw: f64| {
            let r = full / raw;
            (Some(format!("≥ 0.80 × raw ({r:.2})")), Some(r >= 0.8))
        };
        rows.push(Row { name: format!("{alg} raw sign"), value: raw_sign, unit: "ops/s", goal: None, pass: None });
        let (goal, pass) = ratio(issue, raw_sign);
        rows.push(Row { name: format!("{alg} full token issue"), value: issue, unit: "ops/s", goal, pass });
        rows.push(Row { name: format!("{alg} raw verify"), value: raw_verify, unit: "ops/s", goal: None, pass: None });
        let (goal, pass) = ratio(verify, raw_verify);
        rows.push(Row {
            name: format!("{alg} full token verify (text → checked claims)"),
            value: verify,
            unit: "ops/s",
            goal,
            pass,
        });
        let qr = Qr::new(&token).expect("fits");
        rows.push(Row {
            name: format!("{alg} phone token length"),
            value: token.len() as f64,
            unit: "chars",
            goal: Some(format!("QR version {} ≤ 10 at level M", qr.version())),
            pass: Some(qr.version() <= 10),
        });
        if alg == Alg::EdDSA {
            let png = rate(budget, || {
                black_box(Qr::new(black_box(&token)).expect("fits").png());
            });
            let svg = rate(budget, || {
                black_box(Qr::new(black_box(&token)).expect("fits").svg());
            });
            rows.push(Row { name: "QR render PNG".into(), value: 1e6 / png, unit: "µs/op", goal: None, pass: None });
            rows.push(Row { name: "QR render SVG".into(), value: 1e6 / svg, unit: "µs/op", goal: None, pass: None });
        }
    }
    rows
}

/// Generates a telecom-stays CSV of `rows` rows on the fly, so ten million rows need no disk.
struct StaysCsv {
    rows: u64,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl std::io::Read for StaysCsv {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        const REGIONS: [&str; 6] = ["420102", "420103", "420104", "420105", "420106", "420111"];
        use std::io::Write;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if self.next == 0 {
                self.buf.extend_from_slice(b"record_id,phone,region,start,end\n");
            }
            while self.buf.len() < 64 * 1024 && self.next < self.rows {
                let i = self.next;
                let hour = i % 20;
                writeln!(
                    self.buf,
                    "cmcc-{i},139{:08},{},2027-01-{:02} {hour:02}:00:00,2027-01-{:02} {:02}:30:00",
                    i % 1_000_000,
                    REGIONS[(i % 6) as usize],
                    1 + i % 28,
                    1 + i % 28,
                    hour + 3
                )?;
                self.next += 1;
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Peak resident memory of this process so far, in MiB (Linux; 0 elsewhere).
pub(crate) fn peak_rss_mib() -> f64 {
    process_status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB (Linux; 0 elsewhere).
pub(crate) fn rss_mib() -> f64 {
    process_status_mib("VmRSS:")
}

/// A `kB` line of `/proc/self/status`, in MiB.
fn process_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time this process has used so far (user, system), in seconds: on a machine others
/// share, the work a benchmark does, where its wall time also counts their load.
pub(crate) fn process_cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after its ')'):
    // utime and stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}

/// CPU time (user + system, seconds) of this process's main thread and of all its other
/// threads together. The import bench parses on the main thread (`block_on`) and writes on
/// the others (the store's blocking task), so on a machine others share this splits the
/// work per side, which wall time cannot (Linux; zeros elsewhere). The others' time is the
/// process's less the main thread's: the process keeps the time of threads that have ended
/// (an idle blocking thread ends after ten seconds).
fn thread_cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{}/stat", std::process::id())).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    let on_main = ticks(11) + ticks(12);
    let (user, system) = process_cpu_secs();
    (on_main, user + system - on_main)
}

/// Size of a SQLite database with its WAL, in MiB.
pub(crate) fn db_size_mib(path: &std::path::Path) -> f64 {
    let wal = path.with_extension("sqlite-wal");
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    (size(path) + size(&wal)) as f64 / (1024.0 * 1024.0)
}

/// Imports a generated telecom-stays CSV file of `rows` rows into a fresh SQLite database,
/// then the same file again. Each figure runs from opening the file to the last commit made
/// durable (a checkpoint with fsync), with every index in place.
pub fn import_rows(rows: u64) -> Result<Vec<Row>> {
    use healthcode_server::imports::{ImportContext, InputFormat, Kind, import};
    let dir = std::env::temp_dir().join(format!("healthcode-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("stays.csv");
    std::io::copy(
        &mut StaysCsv { rows, next: 0, buf: Vec::new(), pos: 0 },
        &mut std::io::BufWriter::new(std::fs::File::create(&csv)?),
    )?;
    let db = dir.join("bench.sqlite");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let store = healthcode_store_sqlite::SqliteStore::open(&db).await?;
        let vault = healthcode_vault::Vault::new(vec![("b".into(), [1; 32])], [2; 32])?;
        let ctx = ImportContext {
            store: &store,
            vault: &vault,
            regions: None,
            now: Utc::now(),
            visit_retention_days: healthcode_server::Settings::default().visit_retention_days,
        };
        let mut timed = Vec::new();
        for _ in 0..2 {
            let start = Instant::now();
            let cpu = thread_cpu_secs();
            let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&csv)?);
            let report = import(&ctx, Kind::TelecomStays, InputFormat::Csv, file, |_| {}).await?;
            store.checkpoint().await?;
            let after = thread_cpu_secs();
            let per_row = |secs: f64| secs * 1e9 / rows as f64;
            timed.push((
                rows as f64 / start.elapsed().as_secs_f64(),
                report,
                per_row(after.0 - cpu.0),
                per_row(after.1 - cpu.1),
            ));
        }
        Ok::<_, anyhow::Error>(timed)
    });
    let size = db_size_mib(&db);
    std::fs::remove_dir_all(&dir).ok();
    let timed = result?;
    let (first, again) = (&timed[0], &timed[1]);
    anyhow::ensure!(first.1.accepted == rows && first.1.rejected_total == 0, "import bench: {:?}", first.1);
    anyhow::ensure!(again.1.accepted == 0 && again.1.duplicates == rows, "re-import bench: {:?}", again.1);
    Ok(vec![
        Row {
            name: format!("import telecom stays into SQLite ({rows} rows, CSV file → durable commit)"),
            value: first.0,
            unit: "rows/s",
            goal: Some("≥ 300000 rows/s".into()),
            pass: Some(first.0 >= 300_000.0),
        },
        Row {
            name: format!("re-import of the same file ({rows} duplicates, 0 accepted)"),
            value: again.0,
            unit: "rows/s",
            goal: None,
            pass: None,
        },
        Row {
            name: "import: CPU per row, parser (main thread)".into(),
            value: first.2,
            unit: "ns",
            goal: None,
            pass: None,
        },
        Row {
            name: "import: CPU per row, writer (other threads)".into(),
            value: first.3,
            unit: "ns",
            goal: Some("≤ 3300 ns (300000 rows/s)".into()),
            pass: Some(first.3 <= 3300.0),
        },
        Row {
            name: "re-import: CPU per row, parser / writer".into(),
            value: again.2,
            unit: "ns",
            goal: Some(format!("writer {:.0} ns", again.3)),
            pass: None,
        },
        Row { name: "import: database file with WAL".into(), value: size, unit: "MiB", goal: None, pass: None },
        Row {
            name: "import: peak RSS of the process".into(),
            value: peak_rss_mib(),
            unit: "MiB",
            goal: None,
            pass: None,
        },
    ])
}

/// The pure engine: people per second for typical facts (a declaration, three stays, one of
/// them in a high-risk region), with the fast path (color, since, next review).
pub fn engine_rows(quick: bool) -> Vec<Row> {
    use healthcode_core::rules::{DeclarationFact, Facts, RegionRisk, RiskPeriod, RuleSet, Stay, StaySource};
    let budget = StdDuration::from_millis(if quick { 300 } else { 2000 });
    let rules = RuleSet::default_rules();
    let now = Utc::now();
    let region = |c: &str| RegionCode::parse(c).expect("known region");
    let regions = RegionRisk::new((0..50).map(|i| RiskPeriod {
        record_id: format!("nhc-{i}"),
        region: region(["420106", "420111", "110101", "310101", "440305"][i % 5]),
        level: if i % 2 == 0 { healthcode_core::RiskLevel::High } else { healthcode_core::RiskLevel::Medium },
        from: now - Duration::days(30 - i as i64 / 2),
        to: None,
    }));
    let people: Vec<Facts> = (0..1000)
        .map(|i| Facts {
            registered_at: Some(now - Duration::days(100)),
            declarations: vec![DeclarationFact {
                record_id: format!("d-{i}"),
                day: healthcode_core::local_day(now),
                declared_at: now - Duration::hours(2),
                temperature: Some(healthcode_core::Temperature::from_tenths(362 + (i % 15) as i16)),
                symptoms: vec![],
                suspected_contact: false,
                region: Some(region("420102")),
            }],
            stays: (0..3)
                .map(|j| Stay {
                    record_id: format!("s-{i}-{j}"),
                    region: region(["420102", "420106", "420103"][(i + j) % 3]),
                    start: now - Duration::days((i % 20) as i64 + j as i64) - Duration::hours(6),
                    end: Some(now - Duration::days((i % 20) as i64 + j as i64)),
                    dwell: None,
                    source: StaySource::Telecom,
                })
                .collect(),
            ..Facts::default()
        })
        .collect();
    let mut k = 0;
    let fast = rate(budget, || {
        black_box(rules.evaluate_color(black_box(&people[k % people.len()]), &regions, now));
        k += 1;
    });
    // The full decision (reasons in both languages, evidence, the way back to green), and
    // that decision as the JSON a stored decision keeps: what recoloring pays per person.
    let full = rate(budget, || {
        black_box(rules.evaluate(black_box(&people[k % people.len()]), &regions, now));
        k += 1;
    });
    // What a recoloring stores per person: the decision less its texts, packed
    // (`healthcode_store::packed`); and the same as JSON text, which it stored before.
    let stored = rate(budget, || {
        let decision = rules.evaluate_unexplained(black_box(&people[k % people.len()]), &regions, now);
        black_box(healthcode_store::DecisionJson::of(&decision));
        k += 1;
    });
    let as_text = rate(budget, || {
        let decision = rules.evaluate_unexplained(black_box(&people[k % people.len()]), &regions, now);
        black_box(serde_json::to_string(&decision).expect("a decision serialises"));
        k += 1;
    });
    vec![
        Row {
            name: "risk engine, one core (3 stays + a declaration each)".into(),
            value: fast,
            unit: "people/s",
            goal: Some("≥ 500000 people/s".into()),
            pass: Some(fast >= 500_000.0),
        },
        Row {
            name: "risk engine, full decision with explanation, one core".into(),
            value: full,
            unit: "people/s",
            goal: None,
            pass: None,
        },
        Row {
            name: "risk engine, decision as stored (no texts, packed), one core".into(),
            value: stored,
            unit: "people/s",
            goal: None,
            pass: None,
        },
        Row {
            name: "risk engine, decision without texts as JSON text, one core".into(),
            value: as_text,
            unit: "people/s",
            goal: None,
            pass: None,
        },
    ]
}

/// `healthcode bench [SECTION]`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Only one section: tokens, engine, import, recolor or tracing (default: all of them).
    section: Option<String>,
    /// Shorter runs and smaller data (less precise).
    #[arg(long)]
    quick: bool,
    #[arg(long)]
    json: bool,
    /// Rows of the import benchmark (default 10 M; 200 k with --quick).
    #[arg(long)]
    rows: Option<u64>,
    /// People registered for the recolor benchmark (default 10 M; 100 k with --quick).
    #[arg(long)]
    people: Option<u64>,
    /// Of them, people with stays in the region that turns high-risk (default a tenth).
    #[arg(long)]
    affected: Option<u64>,
    /// Visits generated for the tracing benchmark (default 10 M; 200 k with --quick).
    #[arg(long)]
    visits: Option<u64>,
}

pub fn run(args: BenchArgs) -> Result<bool> {
    let BenchArgs { section, quick, json, .. } = args;
    let only = |name: &str| section.as_deref().is_none_or(|s| s == name);
    if let Some(s) = section.as_deref()
        && !["tokens", "engine", "import", "recolor", "tracing"].contains(&s)
    {
        anyhow::bail!("unknown benchmark section {s:?}: tokens, engine, import, recolor or tracing");
    }
    let mut rows = Vec::new();
    if only("tokens") {
        rows.extend(token_rows(quick));
    }
    if only("engine") {
        rows.extend(engine_rows(quick));
    }
    if only("import") {
        rows.extend(import_rows(args.rows.unwrap_or(if quick { 200_000 } else { 10_000_000 }))?);
    }
    if only("recolor") {
        let people = args.people.unwrap_or(if quick { 100_000 } else { 10_000_000 });
        rows.extend(crate::bench_recolor::recolor_rows(people, args.affected.unwrap_or(people / 10))?);
    }
    if only("tracing") {
        rows.extend(crate::bench_tracing::tracing_rows(args.visits.unwrap_or(if quick {
            200_000
        } else {
            10_000_000
        }))?);
    }
    let ok = rows.iter().all(|r| r.pass != Some(false));
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("| benchmark | figure | unit | goal | |");
        println!("|---|---:|---|---|---|");
        for r in &rows {
            let mark = match r.pass {
                Some(true) => "ok",
                Some(false) => "MISSED",
                None => "",
            };
            println!("| {} | {:.1} | {} | {} | {} |", r.name, r.value, r.unit, r.goal.as_deref().unwrap_or(""), mark);
        }
        println!(
            "\n(one thread; {} cores; {})",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            if quick { "quick" } else { "full" }
        );
    }
    Ok(ok)
}
