//! `healthcode import KIND FILE`: bulk facts straight into the database named by the
//! configuration (as `serve` reads it), with a per-row report and a progress line on a terminal.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use healthcode_server::imports::{ImportContext, InputFormat, Kind, import};
use healthcode_server::recolor::subjects_touched_in;
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
            "unknown import kind {:?}: this version imports telecom-stays, region-risk, lab-tests, cases, trips, vaccinations and visits",
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
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = Arc::new(AtomicU64::new(0));
    let input = Counted { inner: std::io::BufReader::with_capacity(1 << 20, file), read: read.clone() };
    let ctx = ImportContext {
        store: store.as_ref(),
        vault: &vault,
        regions: None,
        now: chrono::Utc::now(),
        visit_retention_days: cfg.settings.visit_retention_days,
    };
    let start = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let report = import(&ctx, kind, format, input, |rows| {
        if terminal {
            eprint!("\r{}", progress_line(read.load(Ordering::Relaxed), size, rows, start.elapsed().as_secs_f64()));
            let _ = std::io::stderr().flush();
        }
    })
    .await
    .with_context(|| format!("{}", args.file.display()))?;
    if terminal {
        eprintln!();
    }
    let secs = start.elapsed().as_secs_f64();
    // No server runs here: the people these facts are about go on the database's review
    // queue, which a running server's scheduler takes within seconds (or the next to start).
    let people: Vec<_> = subjects_touched_in(store.as_ref(), &report.touched)
        .await
        .context("finding the people the facts are about")?
        .into_iter()
        .collect();
    let queued = store.reviews_request(&people, chrono::Utc::now()).await.context("queueing recolors")?;
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
        println!("  {} registered people to recolor ({queued} newly queued for the server)", people.len());
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

/// A reader that counts the bytes read, for the progress bar.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `[#########-----------]  45%  4500000 rows  312000 rows/s`: the share of the file read
/// (the reader runs ahead of parsing by at most its buffer).
fn progress_line(read: u64, size: u64, rows: u64, secs: f64) -> String {
    const WIDTH: usize = 30;
    let share = if size == 0 { 1.0 } else { (read as f64 / size as f64).min(1.0) };
    let done = (share * WIDTH as f64).round() as usize;
    let rate = rows as f64 / secs.max(1e-9);
    format!(
        "[{}{}] {:3.0}%  {rows} rows  {rate:.0} rows/s   ",
        "#".repeat(done),
        "-".repeat(WIDTH - done),
        share * 100.0
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_progress_bar_shows_the_share_read() {
        assert_eq!(super::progress_line(0, 100, 0, 1.0), format!("[{}]   0%  0 rows  0 rows/s   ", "-".repeat(30)));
        let half = super::progress_line(50, 100, 1_000, 2.0);
        assert!(
            half.starts_with(&format!("[{}{}]  50%  1000 rows  500 rows/s", "#".repeat(15), "-".repeat(15))),
            "{half}"
        );
        assert!(super::progress_line(200, 100, 1, 1.0).contains("100%"), "never past the end");
    }
}
