//! Configuration of `serve`: a TOML file, then environment variables over it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use healthcode_server::{OtpSenderKind, Settings};
use serde::Deserialize;

/// The file format. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    otp_sender: Option<OtpSenderKind>,
    /// `KEYID:BASE64` entries; the first seals new data, all open old data.
    data_keys: Option<Vec<String>>,
    index_key: Option<String>,
    bootstrap_admin_token: Option<String>,
    session_ttl_hours: Option<i64>,
    body_limit_bytes: Option<usize>,
    /// Folder of the issuer and root keys (`healthcode keys generate`).
    keys_dir: Option<String>,
    /// Lifetime of a phone code, in seconds (default 180).
    code_ttl_seconds: Option<i64>,
    /// The published rule set (default: the shipped one).
    rules_file: Option<String>,
    /// Visits older than this many days are deleted (default 28, at least 14).
    visit_retention_days: Option<u32>,
    /// Declarations older than this many days are deleted (default and least: 60, the days of
    /// facts the rules read).
    declaration_retention_days: Option<u32>,
    log: Option<String>,
}

/// The resolved configuration.
pub struct Config {
    pub listen: String,
    pub database_url: String,
    pub data_keys: Vec<String>,
    pub index_key: String,
    pub keys_dir: std::path::PathBuf,
    pub settings: Settings,
    pub log: String,
    /// The rule file in force, re-read on SIGHUP.
    pub rules_file: Option<std::path::PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let file = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str::<FileConfig>(&text).with_context(|| format!("config file {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let otp_sender = match env("HEALTHCODE_OTP_SENDER").as_deref() {
            Some("log") => OtpSenderKind::Log,
            Some("disabled") => OtpSenderKind::Disabled,
            Some(other) => bail!("HEALTHCODE_OTP_SENDER={other:?}: expected `log` or `disabled`"),
            None => file.otp_sender.unwrap_or(OtpSenderKind::Disabled),
        };
        let data_keys = env("HEALTHCODE_DATA_KEYS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .or(file.data_keys)
            .unwrap_or_default();
        let Some(index_key) = env("HEALTHCODE_INDEX_KEY").or(file.index_key) else {
            bail!(
                "no index key: set HEALTHCODE_INDEX_KEY (or index_key in the config file) to 32 random bytes in base64, \
                 e.g. `head -c 32 /dev/urandom | base64`"
            );
        };
        if data_keys.is_empty() {
            bail!(
                "no data key: set HEALTHCODE_DATA_KEYS (or data_keys in the config file) to KEYID:BASE64, \
                 e.g. `k1:$(head -c 32 /dev/urandom | base64)`"
            );
        }
        let mut settings = Settings {
            otp_sender,
            bootstrap_admin_token: env("HEALTHCODE_BOOTSTRAP_ADMIN_TOKEN").or(file.bootstrap_admin_token),
            ..Settings::default()
        };
        if let Some(h) = file.session_ttl_hours {
            if h <= 0 {
                bail!("session_ttl_hours must be positive");
            }
            settings.session_ttl = chrono::Duration::hours(h);
        }
        if let Some(b) = file.body_limit_bytes {
            settings.body_limit = b;
        }
        let code_ttl = env("HEALTHCODE_CODE_TTL_SECONDS")
            .map(|v| v.parse::<i64>().with_context(|| format!("HEALTHCODE_CODE_TTL_SECONDS={v:?}")))
            .transpose()?
            .or(file.code_ttl_seconds);
        if let Some(t) = code_ttl {
            if !(10..=3600).contains(&t) {
                bail!("the code lifetime must be between 10 and 3600 seconds, not {t}");
            }
            settings.code_ttl = chrono::Duration::seconds(t);
        }
        let least = healthcode_server::retention::MIN_VISIT_RETENTION_DAYS;
        if let Some(days) = retention_days("HEALTHCODE_VISIT_RETENTION_DAYS", file.visit_retention_days, least)
            .context("visits are kept at least as long as tracing looks back")?
        {
            settings.visit_retention_days = days;
        }
        let least = healthcode_server::risk::LOOK_BACK_DAYS as u32;
        if let Some(days) =
            retention_days("HEALTHCODE_DECLARATION_RETENTION_DAYS", file.declaration_retention_days, least)
                .context("declarations are kept at least as long as the rules look back")?
        {
            settings.declaration_retention_days = days;
        }
        // Which colors each venue category admits, e.g. `hospital=green+yellow+red,park=green+yellow`.
        if let Some(p) = env("HEALTHCODE_SCAN_POLICY") {
            settings.scans.policy = healthcode_core::ScanPolicy::parse_overrides(&p)
                .with_context(|| format!("HEALTHCODE_SCAN_POLICY={p:?}"))?;
        }
        let rules_file = env("HEALTHCODE_RULES_FILE").or(file.rules_file);
        if let Some(path) = &rules_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading the rule set {path}"))?;
            let rules = healthcode_core::rules::RuleSet::parse(&text).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(|e| format!("{path}:{e}")).collect();
                anyhow::anyhow!("the rule set has errors:\n{}", lines.join("\n"))
            })?;
            settings.rules = std::sync::Arc::new(rules);
        }
        let database_url =
            env("HEALTHCODE_DATABASE_URL").or(file.database_url).unwrap_or_else(|| "sqlite://healthcode.sqlite".into());
        crate::store::check_url(&database_url)?;
        Ok(Self {
            listen: env("HEALTHCODE_LISTEN").or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url,
            data_keys,
            index_key,
            keys_dir: env("HEALTHCODE_KEYS_DIR").or(file.keys_dir).unwrap_or_else(|| "keys".into()).into(),
            settings,
            log: env("HEALTHCODE_LOG").or(file.log).unwrap_or_else(|| "info".into()),
            rules_file: rules_file.map(Into::into),
        })
    }
}

pub fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// A retention in days from the environment variable `name`, else from the file; refused
/// below `least`.
fn retention_days(name: &str, from_file: Option<u32>, least: u32) -> Result<Option<u32>> {
    let days = env(name).map(|v| v.parse::<u32>().with_context(|| format!("{name}={v:?}"))).transpose()?.or(from_file);
    match days {
        Some(d) if d < least => bail!("{name}: at least {least} days, not {d}"),
        _ => Ok(days),
    }
}
