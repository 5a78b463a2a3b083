//! The real binary, as an operator runs it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod import;
mod trace;

const BIN: &str = env!("CARGO_BIN_EXE_healthcode");

/// A test's folder, removed when the test ends, passed or failed.
struct Folder(PathBuf);

impl std::ops::Deref for Folder {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Folder {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Folder {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn temp_dir(label: &str) -> Folder {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("healthcode-cli-{label}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Folder(dir)
}

fn key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(rand_bytes())
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

/// Waits until `file` contains `needle`; returns the file's text.
fn wait_for(file: &Path, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {needle:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "the server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_digit(first17: &str) -> char {
    healthcode_core::id_number::check_character(first17.as_bytes()) as char
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_from_the_environment_stops_on_sigterm_and_logs_no_personal_data() {
    let dir = temp_dir("serve");
    let log = dir.join("server.log");
    let admin = "hca_bootstrap-admin-secret-for-test";
    let keys = dir.join("keys");
    let out = Command::new(BIN)
        .args(["keys", "generate", "--region", "420100", "--node", "ci"])
        .arg("--dir")
        .arg(&keys)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8(out.stdout).unwrap();
    let root_key =
        listing.lines().find_map(|l| l.strip_prefix("root key (pin this in verifiers): ")).unwrap().to_string();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("HEALTHCODE_KEYS_DIR", &keys)
        .env("HEALTHCODE_DATABASE_URL", format!("sqlite://{}", dir.join("db.sqlite").display()))
        .env("HEALTHCODE_LISTEN", "127.0.0.1:0")
        .env("HEALTHCODE_OTP_SENDER", "log")
        .env("HEALTHCODE_DATA_KEYS", format!("k1:{}", key()))
        .env("HEALTHCODE_INDEX_KEY", key())
        .env("HEALTHCODE_BOOTSTRAP_ADMIN_TOKEN", admin)
        .env("HEALTHCODE_LOG", "debug")
        .env_remove("RUST_LOG")
        .stdout(Stdio::from(std::fs::File::create(dir.join("stdout.log")).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let text = wait_for(&log, "listening on http://");
    let base = text.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");

    let phone = "13712345678";
    let first17 = "42010219851203271";
    let id_number = format!("{first17}{}", check_digit(first17));
    let r = client.post(url("/api/v1/auth/otp")).json(&json!({"phone": phone})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let text = wait_for(&log, &format!("otp phone={phone} code="));
    let code: String = text.split(&format!("otp phone={phone} code=")).nth(1).unwrap().chars().take(6).collect();
    let r = client.post(url("/api/v1/auth/login")).json(&json!({"phone": phone, "code": code})).send().await.unwrap();
    let login: Value = r.json().await.unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let person = json!({"name": "欧阳小明", "id_number": id_number, "phone": phone, "household_region": "420102"});
    // A bad request carrying personal data first: its error must not be logged with the data.
    let mut bad = person.clone();
    bad["household_region"] = json!("999999");
    let r = client.post(url("/api/v1/persons")).bearer_auth(&token).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let r = client.post(url("/api/v1/persons")).bearer_auth(&token).json(&person).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let subject = r.json::<Value>().await.unwrap()["subject_id"].as_str().unwrap().to_string();
    let r = client.post(url("/api/v1/persons")).bearer_auth(&token).json(&person).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let decl = json!({"temperature_c": 36.6, "symptoms": [], "contact_with_suspected_case": false, "current_region": "420102"});
    let r = client.post(url("/api/v1/me/declarations")).bearer_auth(&token).json(&decl).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(url("/api/v1/staff"))
        .bearer_auth(admin)
        .json(&json!({"role": "officer", "name": "江岸区 officer", "regions": ["420102"]}))
        .send()
        .await
        .unwrap();
    let officer = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = client
        .get(url(&format!("/api/v1/persons/{subject}?purpose=check")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["phone"], phone);

    // The code as a PNG, verified offline by the command line against the served trust list.
    let png = client.get(url("/api/v1/me/code.png")).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
    std::fs::write(dir.join("code.png"), &png).unwrap();
    let list = client.get(url("/.well-known/healthcode/trust-list.json")).send().await.unwrap().text().await.unwrap();
    std::fs::write(dir.join("trust-list.json"), &list).unwrap();
    let verify = |input: &str| {
        Command::new(BIN)
            .args(["verify", input, "--json", "--root-key", &root_key, "--trust-list"])
            .arg(dir.join("trust-list.json"))
            .output()
            .unwrap()
    };
    let out = verify(dir.join("code.png").to_str().unwrap());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!((report["valid"].as_bool(), report["format"].as_str()), (Some(true), Some("healthcode")));
    assert_eq!(report["claims"]["subject"], subject.as_str());
    assert!(report["steps"].as_object().unwrap().values().all(|v| v == true), "{report}");
    let shown: Value =
        client.get(url("/api/v1/me/code")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let shown_token = shown["token"].as_str().unwrap().to_string();
    let mut forged = shown_token.clone();
    forged.replace_range(30..31, if &forged[30..31] == "0" { "1" } else { "0" });
    let out = verify(&forged);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["error"]["code"].as_str().is_some());

    let status = terminate(&mut child);
    assert!(status.success(), "graceful stop exits 0, got {status}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("stopped"), "{text}");
    assert!(text.contains(&subject), "pseudonyms may be logged: {text}");
    for line in text.lines().filter(|l| !l.contains("otp phone=")) {
        for secret in [phone, id_number.as_str(), &code, "欧阳小明", &token, &officer, admin, &shown_token] {
            assert!(!line.contains(secret), "personal data or a secret in a log line: {line}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_explains_what_is_missing_from_its_configuration() {
    let dir = temp_dir("config");
    let run = |envs: &[(&str, String)], args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(args);
        for v in ["HEALTHCODE_DATA_KEYS", "HEALTHCODE_INDEX_KEY", "HEALTHCODE_DATABASE_URL", "HEALTHCODE_OTP_SENDER"] {
            cmd.env_remove(v);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run(&[], &[]).contains("HEALTHCODE_INDEX_KEY"));
    assert!(run(&[("HEALTHCODE_INDEX_KEY", key())], &[]).contains("HEALTHCODE_DATA_KEYS"));
    let short = run(&[("HEALTHCODE_INDEX_KEY", key()), ("HEALTHCODE_DATA_KEYS", "k1:c2hvcnQ=".into())], &[]);
    assert!(short.contains("32 bytes"), "{short}");
    let keys = [("HEALTHCODE_INDEX_KEY", key()), ("HEALTHCODE_DATA_KEYS", format!("k1:{}", key()))];
    let mut with_url = keys.to_vec();
    with_url.push(("HEALTHCODE_DATABASE_URL", "mysql://x".into()));
    assert!(run(&with_url, &[]).contains("sqlite:// or postgres://"));
    let mut with_sender = keys.to_vec();
    with_sender.push(("HEALTHCODE_OTP_SENDER", "sms".into()));
    assert!(run(&with_sender, &[]).contains("HEALTHCODE_OTP_SENDER"));
    let mut short_retention = keys.to_vec();
    short_retention.push(("HEALTHCODE_VISIT_RETENTION_DAYS", "7".into()));
    let err = run(&short_retention, &[]);
    assert!(err.contains("at least 14") && err.contains("not 7"), "{err}");
    let mut short_declarations = keys.to_vec();
    short_declarations.push(("HEALTHCODE_DECLARATION_RETENTION_DAYS", "30".into()));
    let err = run(&short_declarations, &[]);
    assert!(err.contains("HEALTHCODE_DECLARATION_RETENTION_DAYS") && err.contains("at least 60"), "{err}");
    let mut no_keys = keys.to_vec();
    no_keys.push(("HEALTHCODE_KEYS_DIR", dir.join("nowhere").display().to_string()));
    no_keys.push(("HEALTHCODE_DATABASE_URL", format!("sqlite://{}", dir.join("db.sqlite").display())));
    assert!(run(&no_keys, &[]).contains("healthcode keys generate"));
    let cfg = dir.join("healthcode.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nlisten_port = 8\n").unwrap();
    let err = run(&keys, &["--config", cfg.to_str().unwrap()]);
    assert!(err.contains("listen_port") && err.contains("line 2"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn keys_are_generated_private_rotated_and_listed_without_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let folder = temp_dir("keys");
    let dir = folder.join("keys");
    let keys = |args: &[&str]| {
        let out = Command::new(BIN).arg("keys").args(args).arg("--dir").arg(&dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = keys(&["generate", "--region", "420100", "--alg", "es256"]);
    assert!(first.contains("420100/hc1") && first.contains("ES256") && first.contains("active"), "{first}");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        let file: Value = serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        assert!(!first.contains(file["secret"].as_str().unwrap()), "a private key was printed");
    }
    let rotated = keys(&["rotate"]);
    assert!(rotated.contains("retired") && rotated.contains("active"));
    let list = keys(&["list"]);
    assert_eq!(list.matches("ES256").count(), 2, "{list}");
    assert!(list.contains("retired") && list.contains("active"));
    let trust: Value = serde_json::from_str(&keys(&["trust-list"])).unwrap();
    assert!(trust["signature"].as_str().is_some_and(|s| !s.is_empty()));
    let out =
        Command::new(BIN).args(["keys", "generate", "--region", "999999"]).arg("--dir").arg(&dir).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--region"));
}

#[test]
fn verify_explains_bad_input_and_exits_1() {
    let dir = temp_dir("verify");
    let run = |args: &[&str]| {
        let out = Command::new(BIN).arg("verify").args(args).arg("--json").output().unwrap();
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null))
    };
    let (code, r) = run(&["hello"]);
    assert_eq!((code, r["error"]["code"].as_str()), (Some(1), Some("prefix_unknown")));
    let (code, r) = run(&["JKM1:ABC"]);
    assert_eq!((code, r["error"]["code"].as_str()), (Some(1), Some("trust_list_missing")));
    let garbage = dir.join("garbage.png");
    std::fs::write(&garbage, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let (code, r) = run(&[garbage.to_str().unwrap()]);
    assert_eq!((code, r["error"]["code"].as_str()), (Some(1), Some("image_unreadable")));
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_serves_a_seeded_city_and_its_printed_logins_work() {
    let dir = temp_dir("demo");
    let log = dir.join("demo.log");
    let mut child = Command::new(BIN)
        .args(["demo", "--port", "0", "--people", "30", "--data"])
        .arg(dir.join("data"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = Vec::new();
    while !banner.iter().any(|l: &String| l.starts_with("Citizens log in")) {
        banner.push(rx.recv_timeout(Duration::from_secs(60)).expect("demo prints its banner"));
    }
    let field = |prefix: &str| -> String {
        let line = banner
            .iter()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {banner:?}"));
        line.split_whitespace().last().unwrap().to_string()
    };
    let base = banner[0].split_whitespace().last().unwrap().trim_end_matches('/').to_string();
    let client = reqwest::Client::new();
    let r: Value = client.get(format!("{base}/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["database"], "sqlite");

    // A seeded citizen logs in with the code printed in the log and finds their record.
    let phone = field("citizen");
    client.post(format!("{base}/api/v1/auth/otp")).json(&json!({"phone": phone})).send().await.unwrap();
    let text = wait_for(&log, &format!("otp phone={phone} code="));
    let code: String = text.split(&format!("otp phone={phone} code=")).nth(1).unwrap().chars().take(6).collect();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"phone": phone, "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["registered"], true);
    let me: Value = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subject = me["subject_id"].as_str().unwrap().to_string();
    assert!(me["household_region"]["name"].as_str().unwrap().starts_with("湖北省 武汉市"));

    // A code shown by the demo verifies offline with the files the banner names.
    let verify_line = banner.iter().find(|l| l.contains("verify a code offline")).unwrap();
    let args: Vec<&str> = verify_line.split("healthcode verify ").nth(1).unwrap().split_whitespace().collect();
    let png = client
        .get(format!("{base}/api/v1/me/code.png"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let code_png = dir.join("CODE.png");
    std::fs::write(&code_png, &png).unwrap();
    let out = Command::new(BIN).current_dir(&dir).arg("verify").args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("VALID health code"), "{stdout}");

    // The printed officer token reads that citizen (Wuhan is in scope); the auditor sees it.
    let officer = field("officer");
    let r =
        client.get(format!("{base}/api/v1/persons/{subject}?purpose=demo")).bearer_auth(&officer).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let auditor = field("auditor");
    let audit: Value =
        client.get(format!("{base}/api/v1/audit")).bearer_auth(&auditor).send().await.unwrap().json().await.unwrap();
    assert!(audit.as_array().unwrap().iter().any(|r| r["action"] == "person.read"));
    assert!(terminate(&mut child).success());

    // Started again on the same folder, the city is not seeded twice and the logins still work.
    let mut again = Command::new(BIN)
        .args(["demo", "--port", "0", "--people", "30", "--data"])
        .arg(dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(again.stdout.take().unwrap()).lines().map_while(Result::ok);
    let banner2: Vec<String> = lines.by_ref().take_while(|l| !l.starts_with("Citizens log in")).collect();
    assert!(banner2.iter().any(|l| l.contains(&officer)));
    assert!(terminate(&mut again).success());
    std::fs::remove_dir_all(&dir).ok();
}

/// One EU DCC case and one SMART Health Card example, checked by hand as an operator would.
#[test]
fn verify_checks_foreign_credentials_with_their_trust_material() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    let dir = temp_dir("foreign");
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("dgc-testdata/AT/2DCode/raw/1.json")).unwrap())
            .unwrap();
    let dsc = dir.join("dsc.b64");
    std::fs::write(&dsc, case["TESTCTX"]["CERTIFICATE"].as_str().unwrap()).unwrap();
    let png = dir.join("dcc.png");
    use base64::Engine;
    std::fs::write(&png, base64::engine::general_purpose::STANDARD.decode(case["2DCODE"].as_str().unwrap()).unwrap())
        .unwrap();
    for input in [case["PREFIX"].as_str().unwrap(), png.to_str().unwrap()] {
        let out = Command::new(BIN)
            .args(["verify", input, "--json", "--at", "2021-05-06T18:00:00Z", "--dsc"])
            .arg(&dsc)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{report}");
        assert_eq!(report["format"], "eu-dcc");
        assert_eq!(report["steps"]["signature"], true);
    }
    // Two years later the same certificate has expired.
    let out = Command::new(BIN)
        .args(["verify", case["PREFIX"].as_str().unwrap(), "--json", "--at", "2023-06-01T00:00:00Z", "--dsc"])
        .arg(&dsc)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((out.status.code(), report["steps"]["expiry"].as_bool()), (Some(1), Some(false)), "{report}");
    let out = Command::new(BIN).args(["verify", case["PREFIX"].as_str().unwrap(), "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["code"], "trust_material_missing");

    let shc = shared.join("smart-health-cards/examples");
    let jwks = shared.join("smart-health-cards/examples/issuer/.well-known/jwks.json");
    let qr = std::fs::read_to_string(shc.join("example-00-f-qr-code-numeric-value-0.txt")).unwrap();
    let out = Command::new(BIN)
        .args(["verify", qr.trim(), "--json", "--at", "2023-07-01T00:00:00Z", "--jwks"])
        .arg(&jwks)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["format"], "shc");
}

#[test]
fn import_reports_each_bad_row_and_a_second_run_changes_nothing() {
    let dir = temp_dir("import");
    let file = dir.join("stays.csv");
    std::fs::write(
        &file,
        "record_id,phone,region,start,end\n\
         a-1,13900000001,420102,2027-01-10 08:00:00,2027-01-10 13:00:00\n\
         a-2,13900000001,420102,2027-01-10 13:00:00,2027-01-10 08:00:00\n\
         a-3,13900000002,110101,2027-01-11T00:00:00Z,2027-01-11T02:00:00Z\n",
    )
    .unwrap();
    let (data_key, index_key) = (format!("k1:{}", key()), key());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("import")
            .args(args)
            .env("HEALTHCODE_DATABASE_URL", format!("sqlite://{}", dir.join("db.sqlite").display()))
            .env("HEALTHCODE_DATA_KEYS", &data_key)
            .env("HEALTHCODE_INDEX_KEY", &index_key)
            .output()
            .unwrap()
    };
    let out = run(&["telecom-stays", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "rows were rejected: {text}");
    assert!(text.contains("2 accepted, 0 duplicates, 1 rejected"), "{text}");
    assert!(text.contains("line 3: end:") && text.contains("end_before_start"), "{text}");
    let out = run(&["telecom-stays", file.to_str().unwrap(), "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["accepted"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(2)));
    let ndjson = dir.join("risk.ndjson");
    std::fs::write(&ndjson, "{\"record_id\": \"r1\", \"region\": \"420106\", \"level\": \"high\", \"effective_from\": \"2027-01-12T00:00:00+08:00\"}\n").unwrap();
    let out = run(&["region-risk", ndjson.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["horoscopes", ndjson.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown import kind"));
    let out = run(&["region-risk", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown column"), "a CSV of another kind is refused whole");
}

#[test]
fn rules_are_checked_with_line_and_column_and_their_examples_run() {
    let rules_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/rules");
    let default = rules_dir.join("default.toml");
    let out = Command::new(BIN).args(["rules", "check"]).arg(&default).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && text.contains("version "), "{text}");
    let out = Command::new(BIN).args(["rules", "test"]).arg(&default).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && text.contains(" 0 failed"), "{text}");
    let passed: usize = text.lines().last().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(passed >= 30, "the default set ships at least 30 examples: {passed}");

    // An error in a copy of the default names its line and column, and `serve` refuses it.
    let dir = temp_dir("rules");
    let broken = dir.join("broken.toml");
    let source = std::fs::read_to_string(&default).unwrap();
    let line = source.lines().position(|l| l.starts_with("color = ")).unwrap() + 1;
    std::fs::write(&broken, source.replacen("color = \"red\"", "color = \"purple\"", 1)).unwrap();
    let out = Command::new(BIN).args(["rules", "check"]).arg(&broken).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains(&format!("broken.toml:{line}:")), "expected line {line}: {text}");
    let out = Command::new(BIN)
        .arg("serve")
        .env("HEALTHCODE_RULES_FILE", &broken)
        .env("HEALTHCODE_INDEX_KEY", key())
        .env("HEALTHCODE_DATA_KEYS", format!("k1:{}", key()))
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("rule set has errors"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_rule_file_and_a_broken_one_leaves_the_rules_in_force() {
    let dir = temp_dir("reload");
    let log = dir.join("server.log");
    let keys = dir.join("keys");
    let out =
        Command::new(BIN).args(["keys", "generate", "--region", "420100"]).arg("--dir").arg(&keys).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let default = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/rules/default.toml");
    let source = std::fs::read_to_string(&default).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, &source).unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("HEALTHCODE_KEYS_DIR", &keys)
        .env("HEALTHCODE_DATABASE_URL", format!("sqlite://{}", dir.join("db.sqlite").display()))
        .env("HEALTHCODE_LISTEN", "127.0.0.1:0")
        .env("HEALTHCODE_DATA_KEYS", format!("k1:{}", key()))
        .env("HEALTHCODE_INDEX_KEY", key())
        .env("HEALTHCODE_RULES_FILE", &rules)
        .env_remove("RUST_LOG")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let text = wait_for(&log, "listening on http://");
    let base = text.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let version = || async {
        let v: Value = reqwest::get(format!("{base}/api/v1/rules")).await.unwrap().json().await.unwrap();
        v["version"].as_str().unwrap().to_string()
    };
    let hangup = || assert!(Command::new("kill").arg("-HUP").arg(child.id().to_string()).status().unwrap().success());
    let first = version().await;

    // A typo: refused with its line and column, and the rules in force stay.
    let line = source.lines().position(|l| l.starts_with("color = ")).unwrap() + 1;
    std::fs::write(&rules, source.replacen("color = \"red\"", "color = \"purple\"", 1)).unwrap();
    hangup();
    let text = wait_for(&log, "rule file refused");
    assert!(text.contains(&format!("rules.toml:{line}:")), "expected line {line}: {text}");
    assert_eq!(version().await, first);

    // A real change (a shorter close-contact window, as protocol edition 9 did) is taken.
    let changed = source.replacen("close_contact_window = \"14d\"", "close_contact_window = \"7d\"", 1);
    assert_ne!(changed, source);
    std::fs::write(&rules, &changed).unwrap();
    hangup();
    wait_for(&log, "rule set reloaded");
    let second = version().await;
    assert_ne!(second, first);
    let published: Value = reqwest::get(format!("{base}/api/v1/rules")).await.unwrap().json().await.unwrap();
    assert!(published.to_string().contains("7d"), "{published}");
    assert!(terminate(&mut child).success());
}
