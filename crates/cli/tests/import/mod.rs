//! `healthcode import` on the bulk path: several batches' worth of behaviour in one file (many
//! stays per phone, bad rows here and there), imported twice.

use std::fmt::Write as _;
use std::process::Command;

use chrono::{DateTime, Utc};
use healthcode_core::Phone;
use healthcode_store::Store;
use serde_json::Value;

use super::{BIN, key, temp_dir};

#[tokio::test]
async fn a_bulk_import_keeps_the_good_rows_and_a_second_run_is_all_duplicates() {
    let dir = temp_dir("bulk-import");
    let file = dir.join("stays.csv");
    let mut csv = String::from("record_id,phone,region,start,end\n");
    let mut bad_lines = Vec::new();
    for i in 0..3_000u32 {
        let line = i + 2;
        let phone = if i % 250 == 7 {
            bad_lines.push(line);
            "1234".to_string()
        } else {
            format!("1390000{:04}", i % 700)
        };
        let (day, hour) = (1 + i % 28, i % 20);
        writeln!(csv, "op-{i},{phone},420106,2027-01-{day:02} {hour:02}:00:00,2027-01-{day:02} {:02}:30:00", hour + 2)
            .unwrap();
    }
    std::fs::write(&file, csv).unwrap();
    let db = dir.join("db.sqlite");
    let (data_key, index_key) = (format!("k1:{}", key()), key());
    let run = || {
        let out = Command::new(BIN)
            .args(["import", "telecom-stays", file.to_str().unwrap(), "--json"])
            .env("HEALTHCODE_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("HEALTHCODE_DATA_KEYS", &data_key)
            .env("HEALTHCODE_INDEX_KEY", &index_key)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "rows were rejected: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let good = 3_000 - bad_lines.len() as u64;
    let first = run();
    assert_eq!((first["accepted"].as_u64(), first["duplicates"].as_u64()), (Some(good), Some(0)), "{first}");
    let lines: Vec<u64> = first["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, bad_lines.iter().map(|&l| u64::from(l)).collect::<Vec<_>>());
    assert!(first["rejected"].as_array().unwrap().iter().all(|r| r["field"] == "phone"));
    let again = run();
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(good)), "{again}");
    assert_eq!(again["rejected_total"].as_u64(), Some(bad_lines.len() as u64));

    // Every kept stay is found by its phone, oldest first, exactly once.
    let store = healthcode_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let vault = healthcode_vault::Vault::from_config(std::slice::from_ref(&data_key), &index_key).unwrap();
    let phone = Phone::parse("13900000003").unwrap();
    let index = healthcode_server::identity::phone_index(&vault, &phone);
    let stays = store.stays_for(&index, DateTime::<Utc>::MIN_UTC).await.unwrap();
    let want: Vec<String> = (0..3_000u32).filter(|i| i % 700 == 3 && i % 250 != 7).map(|i| format!("op-{i}")).collect();
    let mut got: Vec<String> = stays.iter().map(|s| s.record_id.clone()).collect();
    assert!(stays.windows(2).all(|w| w[0].start <= w[1].start), "oldest first");
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    assert!(stays.iter().all(|s| s.phone_index == index));
}
