//! `healthcode demo`: a county on a laptop. Embedded SQLite in a data folder, keys generated
//! on first run, a small simulated city of residents (some with dependents) who declared
//! today, staff accounts, and the one-time passwords printed to the terminal.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use healthcode_core::id_number::check_character;
use healthcode_core::rules::CaseStatus;
use healthcode_core::{
    Declaration, IdNumber, PersonName, Phone, RegionCode, Relation, Role, Symptom, Temperature, local_day,
};
use healthcode_core::{SubjectId, VenueCategory, VenueId};
use healthcode_server::extract::StaffUser;
use healthcode_server::identity::{NewIdentity, seal_person};
use healthcode_server::routes::staff::{NewAccount, create_account};
use healthcode_server::trace_job::trace_and_record;
use healthcode_server::{AppState, OtpSenderKind, Settings};
use healthcode_store::{Actor, AuditEntry, Guardian, TraceCaseRecord, VenueRecord, VisitRecord, VisitSource};
use healthcode_token::{Alg, Keyring};
use healthcode_vault::{Vault, encode_key};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The districts of the simulated city (武汉市).
const DISTRICTS: [&str; 6] = ["420102", "420103", "420104", "420105", "420106", "420111"];
const SURNAMES: [&str; 12] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "欧阳", "徐"];
const GIVEN: [&str; 16] =
    ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "秀英", "建国", "小红", "志强", "晓东", "桂兰"];
/// Phones of the simulated residents start here; 138 numbers are left free for new sign-ups.
const FIRST_PHONE: u64 = 139_0000_0000;

#[derive(Serialize, Deserialize)]
struct DemoSecrets {
    data_key: String,
    index_key: String,
    bootstrap_admin_token: String,
    /// Printed at every start; filled on first run.
    logins: Vec<(String, String)>,
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A small deterministic generator, so every demo city is the same.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn id_number(region: &str, birth: chrono::NaiveDate, seq: usize, today: chrono::NaiveDate) -> IdNumber {
    let first17 = format!("{region}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
    let full = format!("{first17}{}", check_character(first17.as_bytes()) as char);
    IdNumber::parse(&full, today).expect("generated ID numbers are valid")
}

pub async fn demo(addr: SocketAddr, data: Option<PathBuf>, people: usize) -> Result<()> {
    let dir = match data {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("healthcode-demo-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"))),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let secrets_path = dir.join("demo-secrets.json");
    let fresh = !secrets_path.exists();
    let mut secrets = if fresh {
        DemoSecrets {
            data_key: format!("demo1:{}", encode_key(&healthcode_vault::random())),
            index_key: encode_key(&healthcode_vault::random()),
            bootstrap_admin_token: healthcode_vault::new_token("hca_"),
            logins: Vec::new(),
        }
    } else {
        serde_json::from_str(&std::fs::read_to_string(&secrets_path)?).context("reading demo-secrets.json")?
    };
    let vault = Arc::new(Vault::from_config(std::slice::from_ref(&secrets.data_key), &secrets.index_key)?);
    let db = dir.join("healthcode.sqlite");
    let store = crate::store::open(&format!("sqlite://{}", db.display())).await?;
    let settings = Settings {
        otp_sender: OtpSenderKind::Log,
        bootstrap_admin_token: Some(secrets.bootstrap_admin_token.clone()),
        ..Settings::default()
    };
    let keys_dir = dir.join("keys");
    let region = RegionCode::parse("420100")?;
    let keys = Keyring::generate(&keys_dir, Alg::EdDSA, region, "demo", chrono::Utc::now())?;
    // What an offline verifier needs: the signed trust list and the root key to pin.
    std::fs::write(dir.join("trust-list.json"), crate::keys::signed_trust_list(&keys, chrono::Duration::days(7)))?;
    std::fs::write(dir.join("root-key.txt"), crate::keys::root_public(&keys))?;
    let app = AppState::new(store, vault, Arc::new(keys), settings);
    if fresh {
        secrets.logins = seed(&app, people).await?;
        write_private(&secrets_path, &serde_json::to_string_pretty(&secrets)?)?;
    }
    let listener = TcpListener::bind(addr).await.with_context(|| format!("listening on {addr} (try --port 0)"))?;
    let url = format!("http://{}/", listener.local_addr()?);
    let shutdown = crate::serve::shutdown_signal()?;
    println!("{}", banner(&url, &dir, &secrets));
    healthcode_server::run(listener, app, shutdown).await?;
    Ok(())
}

fn banner(url: &str, dir: &Path, secrets: &DemoSecrets) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "healthcode demo is running at {url}");
    let _ = writeln!(out, "  API description: {url}api/v1/openapi.json");
    let _ = writeln!(out, "  data folder:     {}", dir.display());
    let _ = writeln!(out, "  bootstrap admin token: {}", secrets.bootstrap_admin_token);
    for (who, login) in &secrets.logins {
        let _ = writeln!(out, "  {who:<32} {login}");
    }
    let _ = writeln!(
        out,
        "  verify a code offline: healthcode verify CODE.png --trust-list {0}/trust-list.json --root-key {0}/root-key.txt",
        dir.display()
    );
    let _ = writeln!(
        out,
        "Citizens log in with POST /api/v1/auth/otp {{\"phone\": …}}; the code appears in this terminal as `otp phone=… code=…`."
    );
    out
}

/// Creates the simulated city; returns the logins to print.
async fn seed(app: &AppState, people: usize) -> Result<Vec<(String, String)>> {
    let now = app.clock.now();
    let today = local_day(now);
    let mut rng = Lcg(20_200_123);
    let mut first_citizens = Vec::new();
    let mut residents = Vec::new();
    for i in 0..people {
        let region = DISTRICTS[i % DISTRICTS.len()];
        let name = format!("{}{}", SURNAMES[rng.next(12) as usize], GIVEN[rng.next(16) as usize]);
        let name = PersonName::parse(&name)?;
        let birth = chrono::NaiveDate::from_ymd_opt(
            1950 + rng.next(50) as i32,
            1 + rng.next(12) as u32,
            1 + rng.next(28) as u32,
        )
        .expect("valid date");
        let id = id_number(region, birth, i, today);
        let phone = Phone::parse(&(FIRST_PHONE + i as u64).to_string())?;
        let household_region = RegionCode::parse(region)?;
        let new = NewIdentity { name: &name, id_number: &id, phone: Some(&phone), household_region, guardian: None };
        let person = seal_person(&app.vault, new, now);
        app.store.person_insert(&person).await?;
        residents.push(person.subject_id.clone());
        if i < 3 {
            first_citizens.push((format!("citizen {} ({region})", name.masked()), phone.expose().to_string()));
        }
        // Every tenth resident looks after a child or an elderly parent without a phone.
        if i % 10 == 0 {
            let (relation, year) = if i % 20 == 0 { (Relation::Child, 2018) } else { (Relation::Elder, 1940) };
            let dep_name =
                PersonName::parse(&format!("{}{}", SURNAMES[rng.next(12) as usize], GIVEN[rng.next(16) as usize]))?;
            let dep_birth = chrono::NaiveDate::from_ymd_opt(year + rng.next(5) as i32, 6, 1).expect("valid date");
            let dep_id = id_number(region, dep_birth, 500 + i, today);
            let guardian = Some(Guardian { subject_id: person.subject_id.clone(), relation });
            let new = NewIdentity { name: &dep_name, id_number: &dep_id, phone: None, household_region, guardian };
            app.store.person_insert(&seal_person(&app.vault, new, now)).await?;
        }
        // Most declared today; a few have a fever.
        if rng.next(10) < 8 {
            let fever = rng.next(30) == 0;
            let temperature = if fever { 37.6 + rng.next(10) as f64 / 10.0 } else { 36.0 + rng.next(9) as f64 / 10.0 };
            let declaration = Declaration {
                subject_id: person.subject_id.clone(),
                day: today,
                temperature: Temperature::from_celsius(temperature)?,
                symptoms: if fever { vec![Symptom::Fever, Symptom::Cough] } else { vec![] },
                contact_with_suspected_case: false,
                current_region: household_region,
                declared_by: person.subject_id.clone(),
                declared_at: now,
            };
            app.store.declaration_submit(&declaration).await?;
        }
    }
    let admin = StaffUser::bootstrap_admin();
    let mut logins = vec![("new phone (not registered yet)".to_string(), "13800138000".to_string())];
    logins.extend(first_citizens);
    for (role, name, regions) in [
        (Role::Officer, "武汉市卫健委 officer", vec![RegionCode::parse("420100")?]),
        (Role::Auditor, "audit office", vec![]),
        (Role::Admin, "county IT admin", vec![]),
    ] {
        let account =
            NewAccount { role, name: name.into(), regions: regions.clone(), venue_id: None, import_kinds: vec![] };
        let (_, token) = create_account(app, &admin, account).await.map_err(|e| anyhow::anyhow!("{}", e.detail))?;
        let scope = regions.first().map(|r| format!(" {r}")).unwrap_or_default();
        logins.push((format!("{}{scope} token", role.as_str()), token));
    }
    logins.extend(seed_venues_and_a_case(app, &residents, &mut rng).await?);
    tracing::info!(people, "demo city seeded");
    Ok(logins)
}

/// Places of the simulated city, with the category that sets their dwell and policy.
const VENUES: [(&str, &str, &str, VenueCategory); 6] = [
    ("老通城豆皮（中山大道店）", "江汉区中山大道 1 号", "420103", VenueCategory::Restaurant),
    ("武商广场", "江汉区解放大道 690 号", "420103", VenueCategory::Retail),
    ("汉口火车站", "江汉区发展大道", "420103", VenueCategory::Transit),
    ("光谷软件园 A 座", "洪山区关山大道 1 号", "420111", VenueCategory::Office),
    ("湖北省人民医院", "武昌区解放路 238 号", "420106", VenueCategory::Hospital),
    ("东湖绿道", "武昌区沿湖大道", "420106", VenueCategory::Park),
];

/// Venues, yesterday's visits of every resident (as checkpoints record them), and one
/// confirmed case traced: its close contacts turn red and their contacts yellow, so the demo
/// shows every color with its reasons. Returns the logins to print.
async fn seed_venues_and_a_case(
    app: &AppState,
    residents: &[SubjectId],
    rng: &mut Lcg,
) -> Result<Vec<(String, String)>> {
    let now = app.clock.now();
    let mut venues = Vec::new();
    for (name, address, region, category) in VENUES {
        let venue = VenueRecord {
            venue_id: VenueId::from_random(healthcode_vault::random()),
            name: name.into(),
            address: address.into(),
            region: RegionCode::parse(region)?,
            category,
            created_at: now,
            created_by: "demo".into(),
        };
        app.store.venue_insert(&venue).await?;
        venues.push(venue);
    }
    // The last two days: every resident went out once, somewhere, between 07:00 and 21:00;
    // yesterday at noon the first resident had lunch with five others, and fell ill.
    let yesterday = healthcode_core::local_time::local_midnight(local_day(now) - chrono::Duration::days(1));
    let visit = |key: String, subject: &SubjectId, venue: &VenueRecord, entered_at| VisitRecord {
        visit_key: key,
        subject_id: subject.clone(),
        venue_id: venue.venue_id.clone(),
        entered_at,
        left_at: entered_at + venue.category.default_dwell(),
        closed: false,
        source: VisitSource::Scan,
    };
    let mut visits = Vec::new();
    for (i, subject) in residents.iter().enumerate() {
        if i < 6 {
            visits.push(visit(format!("demo:{i}:lunch"), subject, &venues[0], yesterday + chrono::Duration::hours(12)));
        }
        let day = yesterday - chrono::Duration::days(rng.next(2) as i64);
        let at = day + chrono::Duration::hours(7) + chrono::Duration::minutes(15 * rng.next(56) as i64);
        visits.push(visit(format!("demo:{i}:out"), subject, &venues[rng.next(venues.len() as u64) as usize], at));
    }
    app.store.visits_insert(&visits).await?;

    let admin = StaffUser::bootstrap_admin();
    let device = NewAccount {
        role: Role::Checkpoint,
        name: format!("{} 入口", venues[0].name),
        regions: vec![],
        venue_id: Some(venues[0].venue_id.to_string()),
        import_kinds: vec![],
    };
    let (_, device_token) = create_account(app, &admin, device).await.map_err(|e| anyhow::anyhow!("{}", e.detail))?;

    let Some(patient) = residents.first() else { return Ok(vec![]) };
    let case = TraceCaseRecord {
        case_id: "case_demo".into(),
        subject_id: patient.clone(),
        status: CaseStatus::Confirmed,
        onset_date: Some(local_day(now)),
        sampled_at: Some(now - chrono::Duration::hours(2)),
        isolated_at: Some(now - chrono::Duration::hours(1)),
        created_at: now,
        created_by: "demo".into(),
    };
    let audit = |action: &str| AuditEntry {
        at: now,
        actor: Actor { kind: "bootstrap_admin".into(), id: "demo".into(), role: Some("admin".into()) },
        action: action.into(),
        subject_id: Some(patient.clone()),
        purpose: Some("demo".into()),
        detail: serde_json::json!({}),
    };
    app.store.trace_case_insert(None, &case, &audit("case.report")).await?;
    let traced = trace_and_record(app.store.as_ref(), &[case], now, &app.settings.tracing, audit("case.trace")).await?;
    let found: Vec<SubjectId> = traced.iter().flat_map(|t| t.subjects().cloned()).collect();
    let mut everyone = vec![patient.clone()];
    everyone.extend(found.iter().cloned());
    healthcode_server::recolor::recolor_all(app, everyone).await;
    let close = traced.iter().map(|t| t.close.len()).sum::<usize>();
    let secondary = traced.iter().map(|t| t.secondary.len()).sum::<usize>();
    tracing::info!(close, secondary, "demo case traced");
    Ok(vec![
        (format!("checkpoint device ({})", venues[0].name), device_token),
        ("venue id for POST /api/v1/scans".into(), venues[0].venue_id.to_string()),
        (
            "case_demo (citizen 1, confirmed)".into(),
            format!("{close} close contacts (red), {secondary} secondary contacts (yellow)"),
        ),
    ])
}
