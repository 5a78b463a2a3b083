//! Issuer signing keys and the root key, kept as files (mode 0600) in one folder.
//!
//! - `generate` creates the root key (Ed25519, signs trust lists) and an issuer key if there
//!   is no active one; running it again changes nothing.
//! - `rotate` retires the active issuer key (it signs nothing more) and creates a new one.
//!   A retired key stays in the trust list until every token it signed has expired: its
//!   `not_after` is the retirement time plus the longest token lifetime (the paper code's).
//!
//! Private keys never leave this module except to sign; `Debug` shows key ids only.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use healthcode_core::RegionCode;
use serde::{Deserialize, Serialize};

use crate::alg::{Alg, SecretKey, hex};
use crate::trust_list::{TrustListPayload, TrustedIssuer};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("key folder {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("key file {0}: {1}")]
    BadFile(PathBuf, String),
    #[error("no root key in {0}: run `healthcode keys generate` first")]
    NoRoot(PathBuf),
    #[error("no active issuer key in {0}: run `healthcode keys generate` or `healthcode keys rotate`")]
    NoIssuer(PathBuf),
    #[error("key file {0} is readable by others (mode {1:o}); it must be 0600")]
    Permissions(PathBuf, u32),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    role: String,
    alg: Alg,
    kid: String,
    secret: String,
    public: String,
    region: Option<String>,
    node: Option<String>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct IssuerKey {
    pub secret: SecretKey,
    pub region: RegionCode,
    pub node: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl IssuerKey {
    pub fn kid_hex(&self) -> String {
        hex(&self.secret.public().kid())
    }

    /// Until when tokens signed by this key are accepted.
    pub fn trusted_until(&self, max_token_lifetime: Duration) -> Option<DateTime<Utc>> {
        self.retired_at.map(|r| r + max_token_lifetime)
    }
}

#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
    root: SecretKey,
    root_created_at: DateTime<Utc>,
    /// Oldest first.
    issuers: Vec<IssuerKey>,
}

fn io(dir: &Path) -> impl Fn(std::io::Error) -> KeyringError + '_ {
    move |e| KeyringError::Io(dir.to_path_buf(), e)
}

/// Writes a file readable only by its owner, atomically (temporary file, then rename).
fn write_private(path: &Path, text: &str) -> Result<(), KeyringError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| KeyringError::Io(tmp.clone(), e))?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| KeyringError::Io(tmp.clone(), e))?;
    fs::rename(&tmp, path).map_err(|e| KeyringError::Io(path.to_path_buf(), e))
}

fn file_for(
    key: &SecretKey,
    role: &str,
    region: Option<&RegionCode>,
    node: Option<&str>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
) -> String {
    let kf = KeyFile {
        role: role.into(),
        alg: key.alg(),
        kid: hex(&key.public().kid()),
        secret: STANDARD.encode(key.to_bytes()),
        public: STANDARD.encode(key.public().to_bytes()),
        region: region.map(|r| r.to_string()),
        node: node.map(str::to_string),
        created_at,
        retired_at,
    };
    serde_json::to_string_pretty(&kf).expect("serialising a key file")
}

/// Key times are kept to the second, the precision of token times.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl Keyring {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads every `*.key.json` in `dir`. Refuses files others can read.
    pub fn load(dir: &Path) -> Result<Self, KeyringError> {
        let mut root = None;
        let mut issuers = Vec::new();
        let mut entries: Vec<_> = fs::read_dir(dir).map_err(io(dir))?.collect::<Result<_, _>>().map_err(io(dir))?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".key.json")) {
                continue;
            }
            let mode = entry.metadata().map_err(io(dir))?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyringError::Permissions(path, mode));
            }
            let text = fs::read_to_string(&path).map_err(|e| KeyringError::Io(path.clone(), e))?;
            let bad = |why: String| KeyringError::BadFile(path.clone(), why);
            let kf: KeyFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            let raw = STANDARD.decode(&kf.secret).map_err(|_| bad("secret is not base64".into()))?;
            let secret = SecretKey::from_bytes(kf.alg, &raw).map_err(|e| bad(e.to_string()))?;
            if hex(&secret.public().kid()) != kf.kid {
                return Err(bad("kid does not match the key".into()));
            }
            match kf.role.as_str() {
                "root" => root = Some((secret, kf.created_at)),
                "issuer" => {
                    let region = kf.region.as_deref().ok_or_else(|| bad("issuer key without region".into()))?;
                    issuers.push(IssuerKey {
                        secret,
                        region: RegionCode::parse(region).map_err(|e| bad(e.to_string()))?,
                        node: kf.node.ok_or_else(|| bad("issuer key without node".into()))?,
                        created_at: kf.created_at,
                        retired_at: kf.retired_at,
                    });
                }
                other => return Err(bad(format!("unknown role {other:?}"))),
            }
        }
        let (root, root_created_at) = root.ok_or_else(|| KeyringError::NoRoot(dir.to_path_buf()))?;
        issuers.sort_by_key(|k| k.created_at);
        let ring = Self { dir: dir.to_path_buf(), root, root_created_at, issuers };
        if ring.active().is_none() {
            return Err(KeyringError::NoIssuer(dir.to_path_buf()));
        }
        Ok(ring)
    }

    /// Creates the folder, the root key and an issuer key as needed; keeps what exists.
    pub fn generate(
        dir: &Path,
        alg: Alg,
        region: RegionCode,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, KeyringError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        match Self::load(dir) {
            Ok(ring) => return Ok(ring),
            Err(KeyringError::NoRoot(_)) => {
                let root = SecretKey::generate(Alg::EdDSA);
                let path = dir.join(format!("root-{}.key.json", hex(&root.public().kid())));
                write_private(&path, &file_for(&root, "root", None, None, now, None))?;
            }
            Err(KeyringError::NoIssuer(_)) => {}
            Err(e) => return Err(e),
        }
        match Self::load(dir) {
            Err(KeyringError::NoIssuer(_)) => {
                Self::write_issuer(dir, &SecretKey::generate(alg), region, node, now)?;
                Self::load(dir)
            }
            other => other,
        }
    }

    fn write_issuer(
        dir: &Path,
        key: &SecretKey,
        region: RegionCode,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<(), KeyringError> {
        let path = dir.join(format!("issuer-{}.key.json", hex(&key.public().kid())));
        write_private(&path, &file_for(key, "issuer", Some(&region), Some(node), now, None))
    }

    /// Retires the active issuer key and creates a new one for the same region and node.
    /// Returns (retired kid, new kid).
    pub fn rotate(dir: &Path, alg: Option<Alg>, now: DateTime<Utc>) -> Result<(String, String), KeyringError> {
        let now = whole_seconds(now);
        let ring = Self::load(dir)?;
        let old = ring.active().expect("load checked").clone();
        let new = SecretKey::generate(alg.unwrap_or(old.secret.alg()));
        // The new key first: a crash between the two writes leaves two active keys (the
        // newest signs), never none.
        Self::write_issuer(dir, &new, old.region, &old.node, now)?;
        let path = dir.join(format!("issuer-{}.key.json", old.kid_hex()));
        write_private(
            &path,
            &file_for(&old.secret, "issuer", Some(&old.region), Some(&old.node), old.created_at, Some(now)),
        )?;
        Ok((old.kid_hex(), hex(&new.public().kid())))
    }

    /// The newest issuer key that is not retired: the one that signs.
    pub fn active(&self) -> Option<&IssuerKey> {
        self.issuers.iter().rev().find(|k| k.retired_at.is_none())
    }

    pub fn issuers(&self) -> &[IssuerKey] {
        &self.issuers
    }

    pub fn root(&self) -> &SecretKey {
        &self.root
    }

    pub fn root_created_at(&self) -> DateTime<Utc> {
        self.root_created_at
    }

    /// The trust-list payload at `now`: every key whose tokens may still be valid.
    pub fn trust_list(&self, now: DateTime<Utc>, max_token_lifetime: Duration, validity: Duration) -> TrustListPayload {
        let issuers = self
            .issuers
            .iter()
            .filter_map(|k| {
                let not_after = match k.trusted_until(max_token_lifetime) {
                    Some(t) if t <= now => return None,
                    Some(t) => t,
                    // The active key signs until it is retired; the list's own expiry bounds it.
                    None => now + validity + max_token_lifetime,
                };
                Some(TrustedIssuer {
                    kid: k.kid_hex(),
                    alg: k.secret.alg(),
                    public_key: STANDARD.encode(k.secret.public().to_bytes()),
                    region: k.region.to_string(),
                    node: k.node.clone(),
                    not_before: k.created_at,
                    not_after,
                })
            })
            .collect();
        let publisher = self.active().map_or_else(|| "healthcode".to_string(), |k| format!("{}/{}", k.region, k.node));
        TrustListPayload { version: 1, publisher, issued_at: now, expires_at: now + validity, issuers }
    }
}
