-- Telecom stays, laid out for bulk imports of millions of rows (docs/benchmarks.md).
--
-- SQLite updates every index of a table row by row, in the order rows arrive. The phone's
-- blind index is a random 32-byte HMAC, so an index on it is written at a random page for
-- every row, which made it most of an import's cost. Here it is a table of its own,
-- `telecom_stays_by_phone`, which the import fills itself after each batch, sorted by key,
-- so each of its pages is written once per batch. Stays get an explicit integer id (an
-- implicit rowid may change on VACUUM) that the phone table points at.

CREATE TABLE telecom_stays_v9 (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL UNIQUE,
    phone_index BLOB NOT NULL,
    region      TEXT NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    CHECK (end_at >= start_at)
);
INSERT INTO telecom_stays_v9 (record_id, phone_index, region, start_at, end_at)
    SELECT record_id, phone_index, region, start_at, end_at FROM telecom_stays ORDER BY rowid;
DROP TABLE telecom_stays;
ALTER TABLE telecom_stays_v9 RENAME TO telecom_stays;
CREATE INDEX telecom_stays_region ON telecom_stays (region, end_at);

-- The phone index: the first 8 bytes of the blind index (readers also compare the whole
-- blind index in the stay itself), and the stay.
CREATE TABLE telecom_stays_by_phone (
    phone_key BLOB NOT NULL,
    stay_id   INTEGER NOT NULL,
    PRIMARY KEY (phone_key, stay_id)
) WITHOUT ROWID;
INSERT INTO telecom_stays_by_phone (phone_key, stay_id)
    SELECT substr(phone_index, 1, 8), id FROM telecom_stays ORDER BY 1, 2;

-- Deleting a stay (retention) takes its entry along.
CREATE TRIGGER telecom_stays_unindex AFTER DELETE ON telecom_stays BEGIN
    DELETE FROM telecom_stays_by_phone WHERE phone_key = substr(old.phone_index, 1, 8) AND stay_id = old.id;
END;
