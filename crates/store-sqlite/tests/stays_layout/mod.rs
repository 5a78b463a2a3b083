//! Migration 0013 (record ids in a table of their own) carries the stays of a database made
//! before it, and the import, which writes each B-tree in its own order, keeps every stay
//! findable by phone, keeps the first of a record id repeated in a batch, and lets a deleted
//! stay's record id be imported again.

use healthcode_core::RegionCode;
use healthcode_store::{ImportOutcome, StayRecord, Store};
use healthcode_store_sqlite::SqliteStore;

use super::{at, temp_db};

fn stay(id: &str, phone: &[u8], region: &str, start: i64, end: i64) -> StayRecord {
    StayRecord {
        record_id: id.into(),
        phone_index: phone.to_vec(),
        region: RegionCode::parse(region).unwrap(),
        start: at(start),
        end: at(end),
    }
}

#[tokio::test]
async fn migration_0013_keeps_the_stays_of_an_older_database() {
    let (dir, path) = temp_db();
    let phone = [7u8; 32];
    // A database from before 0013: stays written in the table as 0002 made it, then 0009 to
    // 0011 applied (later migrations but 0013 apply when the store opens it).
    {
        let pool = super::database_at_version(&path, 8).await;
        for (id, region, start, end) in [("old-2", "420106", 100, 200), ("old-1", "420102", 0, 50)] {
            sqlx::query(
                "INSERT INTO telecom_stays (record_id, phone_index, region, start_at, end_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&phone[..])
            .bind(region)
            .bind(at(start).timestamp_micros())
            .bind(at(end).timestamp_micros())
            .execute(&pool)
            .await
            .unwrap();
        }
        healthcode_store_sqlite::migrate_up_to(&pool, 11).await.unwrap();
        pool.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let mine = store.stays_for(&phone, at(0)).await.unwrap();
    assert_eq!(mine, [stay("old-1", &phone, "420102", 0, 50), stay("old-2", &phone, "420106", 100, 200)]);
    // The carried record ids still decide duplicates; a new one goes in after the old stays.
    let again = [stay("old-2", &phone, "420104", 0, 1), stay("new-1", &phone, "420104", 300, 400)];
    assert_eq!(store.stays_import(&again).await.unwrap(), ImportOutcome { accepted: 1, duplicates: 1 });
    let ids: Vec<_> = store.stays_for(&phone, at(0)).await.unwrap().into_iter().map(|s| s.record_id).collect();
    assert_eq!(ids, ["old-1", "old-2", "new-1"]);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn stays_written_in_region_order_are_all_found_by_phone() {
    let (dir, path) = temp_db();
    let store = SqliteStore::open(&path).await.unwrap();
    // Arrival, record-id and region orders all differ; ids repeat within the batch.
    let phones: Vec<[u8; 32]> = (0..7u8).map(|p| [p.wrapping_mul(37); 32]).collect();
    let regions = ["420111", "110101", "420102", "420105", "420103"];
    let mut batch = Vec::new();
    for n in (0..300i64).rev() {
        let p = &phones[(n % 7) as usize];
        batch.push(stay(&format!("r-{n}"), p, regions[(n % 5) as usize], n * 10, n * 10 + 5 + n % 3));
    }
    // A record id seen again in the same batch: the first row is the one kept.
    batch.push(stay("r-5", &phones[0], "420111", 0, 1));
    assert_eq!(store.stays_import(&batch).await.unwrap(), ImportOutcome { accepted: 300, duplicates: 1 });
    for (k, phone) in phones.iter().enumerate() {
        let mut expected: Vec<_> = batch[..300].iter().filter(|s| s.phone_index == phone).cloned().collect();
        expected.sort_by(|a, b| (a.start, &a.record_id).cmp(&(b.start, &b.record_id)));
        assert_eq!(store.stays_for(phone, at(0)).await.unwrap(), expected, "phone {k}");
    }
    // A second batch goes in after the first, with its own duplicates of the first.
    let more = [stay("r-0", &phones[1], "420102", 0, 1), stay("s-1", &phones[1], "110101", 5000, 5001)];
    assert_eq!(store.stays_import(&more).await.unwrap(), ImportOutcome { accepted: 1, duplicates: 1 });
    assert_eq!(store.stays_for(&phones[1], at(5000)).await.unwrap(), [more[1].clone()]);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_deleted_stay_takes_its_record_id_and_phone_entry_along() {
    let (dir, path) = temp_db();
    let store = SqliteStore::open(&path).await.unwrap();
    let phone = [3u8; 32];
    let first = [stay("a", &phone, "420102", 0, 10), stay("b", &phone, "420103", 20, 30)];
    assert_eq!(store.stays_import(&first).await.unwrap().accepted, 2);
    drop(store);
    {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        sqlx::query("DELETE FROM telecom_stays WHERE record_id = 'a'").execute(&pool).await.unwrap();
        for (table, left) in [("telecom_stays_by_record", 1), ("telecom_stays_by_phone", 1)] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&pool).await.unwrap();
            assert_eq!(n, left, "{table}");
        }
        pool.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let back = [stay("a", &phone, "420104", 40, 50)];
    assert_eq!(store.stays_import(&back).await.unwrap().accepted, 1, "the record id is free again");
    let ids: Vec<_> = store.stays_for(&phone, at(0)).await.unwrap().into_iter().map(|s| s.record_id).collect();
    assert_eq!(ids, ["b", "a"]);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}
