//! A telecom-stays file longer than the first batch goes to the store in several batches,
//! each packed and sorted by the parser (`StayBatch`) while the last is written: every good
//! row is stored once, bad rows are reported with their lines, a record id repeated in a later
//! batch is a duplicate, and the same file again changes nothing, on both backends.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use healthcode_core::Phone;
use healthcode_server::imports::{ImportContext, InputFormat, Kind, import};
use healthcode_store::Store;
use healthcode_vault::Vault;

use crate::support::Backend;

/// Rows of the file: the first batch is 100,000 rows, the second up to 300,000.
const ROWS: u64 = 130_000;

async fn store(backend: Backend) -> (Arc<dyn Store>, Option<crate::support::Folder>) {
    crate::support::fresh_store(backend).await
}

/// The file: row `i` (line `i + 2`) is stay `cm-i` of phone `i % 1000`; line 50,002 has an
/// unknown region (first batch), line 120,002 ends before it starts (second batch), and line
/// 110,002 repeats the record id of line 7 (written in the first batch).
fn file() -> String {
    let mut csv = String::from("record_id,phone,region,start,end\n");
    for i in 0..ROWS {
        let record = if i == 110_000 { "cm-5".to_string() } else { format!("cm-{i}") };
        let region = if i == 50_000 { "429999" } else { ["420102", "420106", "110101"][(i % 3) as usize] };
        let (start, end) = if i == 120_000 { ("13", "08") } else { ("08", "13") };
        let day = 1 + i % 28;
        csv.push_str(&format!(
            "{record},139{:08},{region},2027-01-{day:02} {start}:00:00,2027-01-{day:02} {end}:00:00\n",
            i % 1000
        ));
    }
    csv
}

async fn a_file_in_several_batches_is_stored_once(backend: Backend) {
    let (store, _folder) = store(backend).await;
    let vault = Vault::new(vec![("t1".into(), [3; 32])], [4; 32]).unwrap();
    let now: DateTime<Utc> = "2027-02-01T00:00:00Z".parse().unwrap();
    let ctx = ImportContext {
        store: store.as_ref(),
        vault: &vault,
        regions: None,
        now,
        visit_retention_days: healthcode_server::Settings::default().visit_retention_days,
    };
    let csv = file();
    let report = import(&ctx, Kind::TelecomStays, InputFormat::Csv, csv.as_bytes(), |_| {}).await.unwrap();
    assert_eq!((report.accepted, report.duplicates, report.rejected_total), (ROWS - 3, 1, 2));
    let lines: Vec<_> = report.rejected.iter().map(|r| (r.line, r.field.as_deref())).collect();
    assert_eq!(lines, [(50_002, Some("region")), (120_002, Some("end"))]);
    // A phone's stays from both batches, each once.
    let phone = Phone::parse("13900000007").unwrap();
    let index = healthcode_server::identity::phone_index(&vault, &phone);
    let stays = store.stays_for(&index, at("2027-01-01T00:00:00Z")).await.unwrap();
    let mut ids: Vec<_> = stays.iter().map(|s| s.record_id.as_str()).collect();
    ids.sort_unstable();
    let mut expected: Vec<String> = (0..ROWS).filter(|i| i % 1000 == 7).map(|i| format!("cm-{i}")).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    // The same file again: nothing new.
    let again = import(&ctx, Kind::TelecomStays, InputFormat::Csv, csv.as_bytes(), |_| {}).await.unwrap();
    assert_eq!((again.accepted, again.duplicates, again.rejected_total), (0, ROWS - 2, 2));
    assert_eq!(store.stays_for(&index, at("2027-01-01T00:00:00Z")).await.unwrap(), stays);
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_file_in_several_batches_is_stored_once_sqlite() {
    a_file_in_several_batches_is_stored_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_file_in_several_batches_is_stored_once_postgres() {
    a_file_in_several_batches_is_stored_once(Backend::Postgres).await;
}
