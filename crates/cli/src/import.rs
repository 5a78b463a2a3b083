//! `healthcode import KIND FILE`: bulk facts straight into the database named by the
//! configuration (as `serve` reads it), with a per-row report and a progress line on a terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use healthcode_server::imports::{ImportContext, InputFormat, Kind, import};
use healthcode_vault::Vault;

use crate::config::Config;

#[derive(Args)]
pub struct ImportArgs {
    /// telecom-stays, region-risk, lab-tests, cases, trips or vaccinations.
    kind: String,
    /// A CSV (with a header) or NDJSON file.
    file: PathBuf,
    /// csv or ndjson (default: from the file's extension).
    #[arg(long)]
    format: Option<String>,
    /// A TOML config file, as for `serve`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ImportArgs) -> Result<bool> {
    let Some(kind) = Kind::parse(&args.kind) else {
        bail!(
            "unknown import kind {:?}: this version imports telecom-stays, region-risk, lab-tests, cases, trips and vaccinations",
            args.kind
        );
    };
    let format = match args.format.as_deref() {
        Some("csv") => InputFormat::Csv,
        Some("ndjson") | Some("jsonl") => InputFormat::Ndjson,
        Some(other) => bail!("--format {other:?}: expected csv or ndjson"),
        None => InputFormat::guess(&args.file.to_string_lossy())
            .context("cannot tell the format from the file name: give --format csv or --format ndjson")?,
    };
    let cfg = Config::load(args.config.as_deref())?;
    let vault = Vault::from_config(&cfg.data_keys, &cfg.index_key).context("data keys")?;
    let store = crate::store::open(&cfg.database_url).await?;
    let file = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let ctx = ImportContext { store: store.as_ref(), vault: &vault, regions: None, now: chrono::Utc::now() };
    let start = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let report = import(&ctx, kind, format, std::io::BufReader::with_capacity(1 << 20, file), |rows| {
        if terminal {
            let rate = rows as f64 / start.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r{rows} rows read, {rate:.0} rows/s   ");
            let _ = std::io::stderr().flush();
        }
    })
    .await
    .with_context(|| format!("{}", args.file.display()))?;
    if terminal {
        eprintln!();
    }
    let secs = start.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} accepted, {} duplicates, {} rejected in {secs:.2} s",
            kind.as_str(),
            report.accepted,
            report.duplicates,
            report.rejected_total
        );
        for r in &report.rejected {
            let field = r.field.as_deref().map(|f| format!(" {f}:")).unwrap_or_default();
            println!("  line {}:{field} {} ({})", r.line, r.message, r.code);
        }
        if report.rejected_total > report.rejected.len() as u64 {
            println!("  … and {} more", report.rejected_total - report.rejected.len() as u64);
        }
    }
    Ok(report.rejected_total == 0)
}
