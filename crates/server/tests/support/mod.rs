//! `spawn_app()`: a server on port 0 with a fresh database, a manual clock and a sender that
//! keeps the codes it was asked to deliver (standing in for the SMS gateway, which cannot
//! run here).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use healthcode_core::Phone;
use healthcode_core::id_number::check_character;
use healthcode_server::clock::ManualClock;
use healthcode_server::otp_sender::{OtpSender, SendError};
use healthcode_server::{AppState, OtpSenderKind, Settings};
use healthcode_store::Store;
use healthcode_vault::Vault;
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Default)]
pub struct CapturingSender(Mutex<HashMap<String, String>>);

impl CapturingSender {
    pub fn last_code(&self, phone: &str) -> Option<String> {
        self.0.lock().unwrap().get(phone).cloned()
    }
}

#[async_trait]
impl OtpSender for CapturingSender {
    async fn send(&self, phone: &Phone, code: &str) -> Result<(), SendError> {
        self.0.lock().unwrap().insert(phone.expose().to_string(), code.to_string());
        Ok(())
    }
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub otp: Arc<CapturingSender>,
    pub admin_token: String,
    pub data_dir: Option<PathBuf>,
    pub keys: healthcode_token::Keyring,
    /// The server's store, for tests that check what was written.
    pub store: Arc<dyn Store>,
    shutdown: Mutex<Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
    /// The test's folders (database, keys), removed when it ends.
    _folders: [Option<Folder>; 2],
}

/// A folder of a test's own, removed (with what is in it) when dropped.
pub struct Folder(pub PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{nanos}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A fresh, empty store of the backend, and its SQLite folder (none for PostgreSQL), removed
/// when the folder is dropped: keep it while the store is in use.
pub async fn fresh_store(backend: Backend) -> (Arc<dyn Store>, Option<Folder>) {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("healthcode-api-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            let s = healthcode_store_sqlite::SqliteStore::open(&dir.join("db.sqlite")).await.unwrap();
            (Arc::new(s), Some(Folder(dir)))
        }
        Backend::Postgres => {
            let url = healthcode_store_postgres::testing::fresh_database().await;
            (Arc::new(healthcode_store_postgres::PostgresStore::connect(&url).await.unwrap()), None)
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// As [`spawn_app`], with settings changed by `adjust` first.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (store, data_folder) = fresh_store(backend).await;
    let keys_dir = std::env::temp_dir().join(format!("healthcode-api-keys-{}", unique()));
    let region = healthcode_core::RegionCode::parse("420100").unwrap();
    let start: chrono::DateTime<chrono::Utc> = "2027-01-15T02:00:00Z".parse().unwrap();
    let keys =
        healthcode_token::Keyring::generate(&keys_dir, healthcode_token::Alg::EdDSA, region, "test", start).unwrap();
    let vault = Vault::new(vec![("t1".into(), healthcode_vault::random())], healthcode_vault::random()).unwrap();
    let admin_token = healthcode_vault::new_token("hca_");
    let settings = Settings {
        otp_sender: OtpSenderKind::Log,
        bootstrap_admin_token: Some(admin_token.clone()),
        // Short, so that tests see scheduled reviews within a fraction of a second.
        review_interval: std::time::Duration::from_millis(50),
        ..Settings::default()
    };
    let mut settings = settings;
    adjust(&mut settings);
    let clock = Arc::new(ManualClock::new(start));
    let otp = Arc::new(CapturingSender::default());
    let state = AppState::with_parts(
        store.clone(),
        Arc::new(vault),
        Arc::new(keys.clone()),
        settings,
        otp.clone(),
        clock.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        healthcode_server::run(listener, state, async {
            rx.await.ok();
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        client: reqwest::Client::new(),
        clock,
        otp,
        admin_token,
        data_dir: data_folder.as_ref().map(|f| f.0.clone()),
        keys,
        store,
        shutdown: Mutex::new(Some((tx, handle))),
        _folders: [data_folder, Some(Folder(keys_dir))],
    }
}

/// A valid ID number born on 15 May of `year`, made unique by `n`.
pub fn id_number(region: &str, year: i32, n: usize) -> String {
    let first17 = format!("{region}{year}0515{:03}", n % 1000);
    format!("{first17}{}", check_character(first17.as_bytes()) as char)
}

impl TestApp {
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use healthcode_server::clock::Clock;
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn raw_post(&self, path: &str, token: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Logs a phone in through the OTP flow; returns the login answer.
    pub async fn login_body(&self, phone: &str) -> Value {
        let r = self.post("/api/v1/auth/otp", None, &json!({"phone": phone})).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let code = self.otp.last_code(phone).unwrap();
        let r = self.post("/api/v1/auth/login", None, &json!({"phone": phone, "code": code})).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn login(&self, phone: &str) -> String {
        self.login_body(phone).await["token"].as_str().unwrap().to_string()
    }

    /// Logs in and registers 张小三 with ID number `n`; returns the session token.
    pub async fn register(&self, phone: &str, n: usize) -> String {
        let token = self.login(phone).await;
        let body = json!({"name": "张小三", "id_number": id_number("420102", 1990, n), "phone": phone, "household_region": "420102"});
        let r = self.post("/api/v1/persons", Some(&token), &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        token
    }

    pub async fn subject_of(&self, token: &str) -> String {
        let me: Value = self.get("/api/v1/me", Some(token)).await.json().await.unwrap();
        me["subject_id"].as_str().unwrap().to_string()
    }

    /// Creates a staff account as the bootstrap admin; returns its token.
    pub async fn staff(&self, role: &str, extra: Value) -> String {
        let mut body = json!({"role": role, "name": format!("{role} account")});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.post("/api/v1/staff", Some(&self.admin_token), &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    /// Registers a venue of `category` in 420102 (as a new venue admin); returns its id.
    pub async fn venue(&self, category: &str) -> String {
        let admin = self.staff("venue_admin", json!({})).await;
        let body = json!({"name": "江汉路小吃店", "address": "江汉路 1 号", "region": "420102", "category": category});
        let r = self.post("/api/v1/venues", Some(&admin), &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["venue_id"].as_str().unwrap().to_string()
    }

    /// Polls `path` until `done` holds for its JSON (5 s at most); returns the last answer.
    pub async fn eventually(&self, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = std::time::Instant::now();
        loop {
            let v: Value = self.get(path, Some(token)).await.json().await.unwrap();
            if done(&v) || start.elapsed() > std::time::Duration::from_secs(5) {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(&self) {
        let pair = self.shutdown.lock().unwrap().take();
        if let Some((tx, handle)) = pair {
            tx.send(()).ok();
            handle.await.unwrap();
        }
    }
}
