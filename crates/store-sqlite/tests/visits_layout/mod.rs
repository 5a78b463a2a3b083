//! Migration 0011 (visits clustered by venue and time) carries the visits of a database made
//! before it, and the bulk loader fills an empty table all or nothing.

use chrono::Duration;
use healthcode_core::{SubjectId, VenueId};
use healthcode_store::{Store, SubjectWindow, VenueWindow, VisitRecord, VisitSource};
use healthcode_store_sqlite::SqliteStore;

use super::{at, temp_db};

fn subject(n: u8) -> SubjectId {
    SubjectId::from_random([n; 16])
}

fn visit(key: &str, who: u8, venue: &str, from: i64, to: i64) -> VisitRecord {
    VisitRecord {
        visit_key: key.into(),
        subject_id: subject(who),
        venue_id: VenueId::parse(venue).unwrap(),
        entered_at: at(from),
        left_at: at(to),
        closed: false,
        source: VisitSource::Scan,
    }
}

#[tokio::test]
async fn migration_0011_keeps_the_visits_of_an_older_database() {
    let (dir, path) = temp_db();
    // A database at schema version 10 (the visits table as migration 0006 made it) with visits.
    {
        let pool = super::database_at_version(&path, 10).await;
        for (key, who, venue, from, to, closed) in
            [("k1", 1u8, "v_b", 100, 700, 1), ("k2", 2, "v_a", 200, 900, 0), ("k1", 1, "v_a", 50, 60, 0)]
        {
            sqlx::query(
                "INSERT INTO visits (visit_key, subject_id, venue_id, entered_at, left_at, closed, source) \
                 VALUES (?, ?, ?, ?, ?, ?, 'scan')",
            )
            .bind(key)
            .bind(subject(who).as_str())
            .bind(venue)
            .bind(at(from).timestamp_micros())
            .bind(at(to).timestamp_micros())
            .bind(closed)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    // Opening it applies 0011 only; every visit is still there, read by venue and by person.
    let store = SqliteStore::open(&path).await.unwrap();
    let at_a = store.visits_at_venue(&VenueId::parse("v_a").unwrap(), at(0), at(1000)).await.unwrap();
    let keys: Vec<_> = at_a.iter().map(|v| (v.visit_key.as_str(), v.entered_at, v.left_at, v.closed)).collect();
    assert_eq!(keys, [("k1", at(50), at(60), false), ("k2", at(200), at(900), false)]);
    let of_1 = store.visits_for_subject(&subject(1), at(0), at(1000)).await.unwrap();
    assert_eq!(
        of_1.iter().map(|v| (v.venue_id.as_str(), v.closed)).collect::<Vec<_>>(),
        [("v_a", false), ("v_b", true)]
    );
    let traced = store
        .trace_visits_at(&[VenueWindow { venue_id: "v_b".into(), from: at(600), to: at(650) }], Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(traced.iter().map(|v| v.visit_key.as_str()).collect::<Vec<_>>(), ["k1"]);
    // The carried rows still decide duplicates: the same venue, key and entry is not stored
    // twice (migration 0015: the table's primary key does it).
    let outcome = store.visits_insert(&[visit("k2", 9, "v_a", 200, 300)]).await.unwrap();
    assert_eq!(outcome.accepted, 0);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_bulk_loader_fills_an_empty_table_with_its_indexes_or_nothing() {
    let (dir, path) = temp_db();
    let store = SqliteStore::open(&path).await.unwrap();
    let batches =
        vec![vec![visit("a", 1, "v_a", 0, 600), visit("b", 2, "v_a", 300, 900)], vec![visit("c", 1, "v_b", 700, 800)]];
    assert_eq!(store.visits_load(batches).await.unwrap(), 3);
    // Read back through the person index (covering) and the primary key (duplicates).
    let of_1 =
        store.trace_visits_of(&[SubjectWindow { subject_id: subject(1), from: at(0), to: at(1000) }]).await.unwrap();
    let mut keys: Vec<_> = of_1.iter().map(|v| v.visit_key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["a", "c"]);
    assert_eq!(store.visits_insert(&[visit("b", 2, "v_a", 300, 400)]).await.unwrap().accepted, 0);
    // Not into a table that holds visits.
    assert!(store.visits_load(vec![vec![visit("d", 3, "v_a", 0, 60)]]).await.is_err());
    drop(store);

    // A visit repeated in the load (venue, key and entry) is stored once; the same key at
    // another venue is another visit. Duplicates are then decided as for any write.
    let (dir2, path2) = temp_db();
    let store = SqliteStore::open(&path2).await.unwrap();
    let batches =
        vec![vec![visit("a", 1, "v_a", 0, 600), visit("a", 1, "v_a", 0, 600)], vec![visit("a", 2, "v_b", 0, 60)]];
    assert_eq!(store.visits_load(batches).await.unwrap(), 2);
    assert_eq!(store.visits_at_venue(&VenueId::parse("v_a").unwrap(), at(0), at(1000)).await.unwrap().len(), 1);
    assert_eq!(store.visits_insert(&[visit("a", 1, "v_a", 0, 600)]).await.unwrap().accepted, 0);
    assert_eq!(store.visits_insert(&[visit("a", 2, "v_b", 0, 60)]).await.unwrap().accepted, 0);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&dir2).ok();
}
