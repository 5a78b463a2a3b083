//! `healthcode keys generate|rotate|list|trust-list`: the issuer's signing keys.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use clap::Subcommand;
use healthcode_core::RegionCode;
use healthcode_token::{Alg, Keyring, SignedTrustList};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the root key and an issuer key (keeps existing keys).
    Generate {
        /// The region this issuer issues for (six-digit GB/T 2260 code).
        #[arg(long)]
        region: String,
        /// This node's name within the region (letters, digits, - and _).
        #[arg(long, default_value = "hc1")]
        node: String,
        /// eddsa (default) or es256.
        #[arg(long, default_value = "eddsa")]
        alg: String,
        #[arg(long, env = "HEALTHCODE_KEYS_DIR", default_value = "keys")]
        dir: PathBuf,
    },
    /// Retire the active issuer key and create a new one; old tokens keep verifying.
    Rotate {
        /// Algorithm of the new key (default: that of the old one).
        #[arg(long)]
        alg: Option<String>,
        #[arg(long, env = "HEALTHCODE_KEYS_DIR", default_value = "keys")]
        dir: PathBuf,
    },
    /// List the keys (never their private parts) and the root public key.
    List {
        #[arg(long, env = "HEALTHCODE_KEYS_DIR", default_value = "keys")]
        dir: PathBuf,
    },
    /// Write the signed trust list (as served at /.well-known/healthcode/trust-list.json).
    TrustList {
        #[arg(long, env = "HEALTHCODE_KEYS_DIR", default_value = "keys")]
        dir: PathBuf,
        /// Days the list stays valid.
        #[arg(long, default_value_t = 7)]
        days: i64,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn alg(s: &str) -> Result<Alg> {
    Alg::parse(s).with_context(|| format!("--alg {s:?}: expected eddsa or es256"))
}

/// The longest token lifetime: a retired key stays trusted this long (the paper code's).
pub const MAX_TOKEN_LIFETIME_DAYS: i64 = 365;

pub fn run(cmd: KeysCommand) -> Result<()> {
    let now = Utc::now();
    match cmd {
        KeysCommand::Generate { region, node, alg: a, dir } => {
            let region = RegionCode::parse(&region).with_context(|| format!("--region {region}"))?;
            if node.is_empty()
                || node.len() > 32
                || !node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                bail!("--node must be 1–32 letters, digits, - or _");
            }
            let ring = Keyring::generate(&dir, alg(&a)?, region, &node, now)?;
            print_list(&ring);
        }
        KeysCommand::Rotate { alg: a, dir } => {
            let a = a.as_deref().map(alg).transpose()?;
            let (old, new) = Keyring::rotate(&dir, a, now)?;
            println!("retired {old} (trusted until every token it signed has expired)");
            println!("active  {new}");
            println!("restart the servers using {} to sign with the new key", dir.display());
        }
        KeysCommand::List { dir } => print_list(&Keyring::load(&dir)?),
        KeysCommand::TrustList { dir, days, out } => {
            let ring = Keyring::load(&dir)?;
            let json = signed_trust_list(&ring, Duration::days(days));
            write_or_print(out.as_deref(), &json)?;
        }
    }
    Ok(())
}

pub fn signed_trust_list(ring: &Keyring, validity: Duration) -> String {
    let payload = ring.trust_list(Utc::now(), Duration::days(MAX_TOKEN_LIFETIME_DAYS), validity);
    SignedTrustList::sign(&payload, ring.root()).to_json()
}

/// The root public key as verifiers pin it: `ALG:BASE64`.
pub fn root_public(ring: &Keyring) -> String {
    let public = ring.root().public();
    format!("{}:{}", public.alg(), STANDARD.encode(public.to_bytes()))
}

fn write_or_print(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn print_list(ring: &Keyring) {
    println!("key folder: {}", ring.dir().display());
    println!("root key (pin this in verifiers): {}", root_public(ring));
    println!("{:<18} {:<6} {:<14} {:<8} {:<25} trusted until", "kid", "alg", "issues for", "status", "created");
    let active = ring.active().map(|k| k.kid_hex());
    for k in ring.issuers() {
        let status = if Some(k.kid_hex()) == active {
            "active"
        } else if k.retired_at.is_some() {
            "retired"
        } else {
            "standby"
        };
        let until = k
            .trusted_until(Duration::days(MAX_TOKEN_LIFETIME_DAYS))
            .map_or_else(|| "while active".to_string(), |t| t.to_rfc3339());
        println!(
            "{:<18} {:<6} {:<14} {:<8} {:<25} {}",
            k.kid_hex(),
            k.secret.alg().to_string(),
            format!("{}/{}", k.region, k.node),
            status,
            k.created_at.to_rfc3339(),
            until
        );
    }
}
