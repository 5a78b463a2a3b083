-- Telecom stays: the record-id index becomes a table of its own (docs/benchmarks.md, "Import").
--
-- SQLite updates a table's indexes row by row in the order rows arrive, and only one order can
-- suit two indexes. The region index `(region, end_at)` took most of an import's time when
-- stays went in as they arrived: every row landed on a different one of thousands of
-- insertion points. Now the import inserts each batch in region order (its region index
-- grows in key order) and checks record ids in a table of their own,
-- `telecom_stays_by_record`, which it fills in record-id order before the stays (a conflict
-- there is a duplicate, so the stay is not written). Stay ids are planned per batch, so they
-- may have gaps; nothing reads meaning into them.
--
-- Rebuilding the table drops its indexes and trigger; they are made again below. The ids of
-- the stays are kept (the phone table points at them).

CREATE TABLE telecom_stays_v13 (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL,
    phone_index BLOB NOT NULL,
    region      TEXT NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    CHECK (end_at >= start_at)
);
INSERT INTO telecom_stays_v13 (id, record_id, phone_index, region, start_at, end_at)
    SELECT id, record_id, phone_index, region, start_at, end_at FROM telecom_stays ORDER BY id;

CREATE TABLE telecom_stays_by_record (
    record_id TEXT PRIMARY KEY,
    stay_id   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO telecom_stays_by_record (record_id, stay_id)
    SELECT record_id, id FROM telecom_stays ORDER BY record_id;

DROP TABLE telecom_stays;
ALTER TABLE telecom_stays_v13 RENAME TO telecom_stays;
CREATE INDEX telecom_stays_region ON telecom_stays (region, end_at);

-- Deleting a stay (retention) takes its entries in both tables along, so its record id may
-- be imported again.
CREATE TRIGGER telecom_stays_unindex AFTER DELETE ON telecom_stays BEGIN
    DELETE FROM telecom_stays_by_phone WHERE phone_key = substr(old.phone_index, 1, 8) AND stay_id = old.id;
    DELETE FROM telecom_stays_by_record WHERE record_id = old.record_id AND stay_id = old.id;
END;
