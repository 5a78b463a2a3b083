//! Bulk facts from data partners (R5): CSV or NDJSON rows in, a per-row report out.
//!
//! - Every row carries the source's `record_id`: importing a file twice changes nothing
//!   (the second time every row is a duplicate).
//! - A bad row is reported with its line, field and reason, and not written; good rows are
//!   kept. Rows are written in batches, each in one transaction.
//! - A CSV header naming an unknown or missing column refuses the whole file (every row would
//!   be misread); in NDJSON an unknown key refuses that row.
//!
//! Kinds and their fields are in `docs/imports.md`.

mod fields;
mod kinds;
mod visits;

use std::io::{BufRead, Read};

use healthcode_store::{ImportOutcome, Store};
use healthcode_vault::Vault;
use serde::Serialize;

pub use kinds::Kind;

/// Rows handed to the store per transaction. Large: a transaction costs mostly the index
/// pages it rewrites, and a sorted batch of many rows rewrites each page once for all of them
/// (`docs/benchmarks.md`): the stays' region and phone indexes are keyed at random, so a
/// batch rewrites most of their pages however small it is. A million rows took a sixth less
/// of the writer's time than 200,000 on a 6 M-row import. At most three batches are in
/// memory (parsing, waiting, writing): about 1.3 GB at the peak for telecom stays.
const BATCH: usize = 1_000_000;
/// The first batch of a file: the writer waits while the parser fills it, so it is small,
/// and the batches after it grow threefold (the parser fills the next one while the last is
/// written, about three times as fast as the writer writes it) until the first [`BATCH`]
/// rows are shipped; every batch after ends at a multiple of [`BATCH`], as without the ramp
/// (a batch costs the pages it rewrites, about all of the random indexes' pages, so the
/// ramp must not add a batch to the rest of the file).
const FIRST_BATCH: usize = 100_000;

/// The size of the batch after `shipped` rows have gone in batches: 100,000, 300,000,
/// 600,000, then [`BATCH`] each.
fn next_batch(shipped: usize) -> usize {
    if shipped == 0 {
        FIRST_BATCH
    } else if shipped < BATCH {
        (shipped * 3).min(BATCH - shipped)
    } else {
        BATCH
    }
}
/// How often `progress` hears the rows read.
const PROGRESS_EVERY: u64 = 10_000;
/// Rejections listed in full; beyond this only counted.
const MAX_LISTED: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    Ndjson,
}

impl InputFormat {
    /// From a file name's extension or an HTTP content type.
    pub fn guess(name_or_type: &str) -> Option<Self> {
        let s = name_or_type.to_ascii_lowercase();
        if s.ends_with(".csv") || s.starts_with("text/csv") {
            Some(Self::Csv)
        } else if s.ends_with(".ndjson")
            || s.ends_with(".jsonl")
            || s.starts_with("application/x-ndjson")
            || s.starts_with("application/jsonl")
        {
            Some(Self::Ndjson)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub accepted: u64,
    pub duplicates: u64,
    /// The first rejected rows (up to 1,000), each with its line and reason.
    pub rejected: Vec<Rejected>,
    /// How many rows were rejected in all.
    pub rejected_total: u64,
    /// Whose facts the accepted rows are about (to recolor them); not part of the answer.
    #[serde(skip)]
    pub touched: crate::recolor::Touched,
}

impl ImportReport {
    fn reject(&mut self, r: Rejected) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(r);
        }
    }

    fn add(&mut self, o: ImportOutcome) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
    }
}

/// A problem with the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("line {line}: {message}")]
    Header { line: u64, code: &'static str, message: String },
    #[error("the file could not be read: {0}")]
    Read(String),
    #[error("database error: {0}")]
    Store(String),
}

impl FileError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Header { code, .. } => code,
            Self::Read(_) => "import_unreadable",
            Self::Store(_) => "internal",
        }
    }
}

/// One row's fields, with its line number.
pub struct RawRow {
    pub line: u64,
    pub fields: fields::Fields,
}

/// What an import needs besides the rows: the store, the vault (persons are found by the
/// blind index of the key the source has), and who may import which regions.
pub struct ImportContext<'a> {
    pub store: &'a dyn Store,
    pub vault: &'a Vault,
    /// `Some`: only rows about regions under these are accepted (an officer's scope).
    pub regions: Option<&'a [healthcode_core::RegionCode]>,
    /// The time of the import: bounds ID numbers' birth dates, dates case statuses without one.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Visits are kept this many days (`retention.rs`): older rows of the visits kind are
    /// refused rather than written and deleted at the next retention pass.
    pub visit_retention_days: u32,
}

/// Reads all rows of `input` and imports them; `progress` is told the rows read so far.
///
/// Parsing (with its blind-index hashing) overlaps with writing: full batches go through a
/// channel of one to a writer in the same task, whose store call does its work on another
/// thread (the SQLite bulk path's blocking task, sqlx's worker), so on two cores the parser
/// fills the next batch while the last one is written. Each batch is one transaction.
pub async fn import(
    ctx: &ImportContext<'_>,
    kind: Kind,
    format: InputFormat,
    input: impl Read,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, FileError> {
    let (to_writer, mut from_parser) = tokio::sync::mpsc::channel::<kinds::Batch>(1);
    let store = ctx.store;
    let write = async move {
        let (mut written, mut rejected) = (ImportOutcome::default(), Vec::new());
        while let Some(mut batch) = from_parser.recv().await {
            written += batch.flush(store).await?;
            rejected.append(&mut batch.rejected);
        }
        Ok::<_, healthcode_store::StoreError>((written, rejected))
    };
    let parse = async move {
        let mut report = ImportReport::default();
        let mut batch = kinds::Batch::default();
        let mut rows = 0u64;
        let mut shipped = 0;
        // Hands a full batch (or, with `last`, what is left) to the writer; false once the
        // writer has stopped on an error, which it reports itself.
        let ship = async |batch: &mut kinds::Batch, shipped: &mut usize, last: bool| {
            if batch.len() < next_batch(*shipped) && !(last && batch.len() > 0) {
                return true;
            }
            *shipped += batch.len();
            let mut full = std::mem::take(batch);
            batch.touched = std::mem::take(&mut full.touched);
            // Packed and sorted here, while the writer may still be on the previous batch.
            full.prepare();
            let sent = to_writer.send(full).await.is_ok();
            // Let the writer start on it now rather than when the next batch is full.
            tokio::task::yield_now().await;
            sent
        };
        let handle =
            |raw: &RawRow, report: &mut ImportReport, batch: &mut kinds::Batch| match kinds::parse(ctx, kind, raw) {
                Ok(row) => batch.push(row),
                Err((field, code, message)) => report.reject(Rejected { line: raw.line, field, code, message }),
            };
        match format {
            InputFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input);
                let header: Vec<String> = reader
                    .headers()
                    .map_err(|e| FileError::Read(e.to_string()))?
                    .iter()
                    .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                    .collect();
                kinds::check_header(kind, &header)?;
                let mut record = csv::StringRecord::new();
                // One row's fields, refilled in place (the CSV reader checks every row has the
                // header's width).
                let mut raw = RawRow { line: 0, fields: fields::Fields::named(&header) };
                loop {
                    match reader.read_record(&mut record) {
                        Ok(false) => break,
                        Ok(true) => {
                            raw.line = record.position().map_or(0, |p| p.line());
                            raw.fields.refill(record.iter());
                            handle(&raw, &mut report, &mut batch);
                        }
                        Err(e) => {
                            let line = e.position().map_or(0, |p| p.line());
                            report.reject(Rejected {
                                line,
                                field: None,
                                code: "csv_malformed",
                                message: e.to_string(),
                            });
                        }
                    }
                    rows += 1;
                    if rows.is_multiple_of(PROGRESS_EVERY) {
                        progress(rows);
                        // The writer is a future of this same task: it advances (its store
                        // call acquiring a connection, handing the batch to its thread, taking
                        // the next) only while the parser waits. Without a pause here it did
                        // so once a batch, so writing and parsing took turns instead of
                        // overlapping (one core busy of two).
                        tokio::task::yield_now().await;
                    }
                    if !ship(&mut batch, &mut shipped, false).await {
                        break;
                    }
                }
            }
            InputFormat::Ndjson => {
                let reader = std::io::BufReader::new(input);
                for (i, line) in reader.lines().enumerate() {
                    let line_no = i as u64 + 1;
                    let text = line.map_err(|e| FileError::Read(format!("line {line_no}: {e}")))?;
                    if text.trim().is_empty() {
                        continue;
                    }
                    match fields::ndjson_row(&text) {
                        Ok(fields) => handle(&RawRow { line: line_no, fields }, &mut report, &mut batch),
                        Err(message) => {
                            report.reject(Rejected { line: line_no, field: None, code: "json_malformed", message })
                        }
                    }
                    rows += 1;
                    if rows.is_multiple_of(PROGRESS_EVERY) {
                        progress(rows);
                        // The writer is a future of this same task: it advances (its store
                        // call acquiring a connection, handing the batch to its thread, taking
                        // the next) only while the parser waits. Without a pause here it did
                        // so once a batch, so writing and parsing took turns instead of
                        // overlapping (one core busy of two).
                        tokio::task::yield_now().await;
                    }
                    if !ship(&mut batch, &mut shipped, false).await {
                        break;
                    }
                }
            }
        }
        ship(&mut batch, &mut shipped, true).await;
        progress(rows);
        report.touched = batch.touched;
        Ok::<_, FileError>(report)
    };
    let (parsed, written) = tokio::join!(parse, write);
    // A store error stops the parser too, so it comes first.
    let (written, rejected) = written.map_err(|e| FileError::Store(e.to_string()))?;
    let mut report = parsed?;
    report.add(written);
    // Rows the writer refused (visits of people not registered) come after the parser's.
    for r in rejected {
        report.reject(r);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_ramp_up_then_end_at_multiples_of_batch() {
        let mut shipped = 0;
        let mut ends = Vec::new();
        while shipped < 3 * BATCH {
            shipped += next_batch(shipped);
            ends.push(shipped);
        }
        assert_eq!(ends, [100_000, 400_000, 1_000_000, 2_000_000, 3_000_000]);
    }
}
