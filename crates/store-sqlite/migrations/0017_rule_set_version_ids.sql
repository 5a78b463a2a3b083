-- Decision records and color changes name their rule-set version by a number, and records
-- no longer repeat what their record and the person's row hold (issue 4; docs/benchmarks.md,
-- "Recolor").
--
-- Turning a district high-risk stores a million records of ~900 bytes of JSON each. The row
-- also held the 64-character version and the color, start and next review (all in the JSON,
-- and the last decision's in `decisions` too): ~1,060 bytes, three to a 4 KiB page with a
-- quarter of it empty. Without them a row is ~950 bytes, four to a page: a quarter fewer pages
-- to write to the WAL and copy into the file. Color changes carry the number too (~50 bytes a
-- row instead of ~110).
--
-- Neither table declares foreign keys any more: SQLite checks a declared key on every insert,
-- a seek into `persons` (ten million random keys) per color change, while the writer only
-- ever writes a change for the person whose decision it saves in the same transaction, and a
-- version number it has just looked up or added. And color changes get plain rowids
-- (AUTOINCREMENT updated `sqlite_sequence` on every insert); ids still grow with time, as no
-- change is ever deleted.

CREATE TABLE rule_set_versions (
    id      INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE
);
INSERT INTO rule_set_versions (version)
SELECT rule_set_version FROM decision_records UNION SELECT rule_set_version FROM color_changes;

CREATE TABLE decision_records_v17 (
    id           INTEGER PRIMARY KEY,
    subject_id   TEXT NOT NULL,
    version_id   INTEGER NOT NULL,        -- rule_set_versions.id
    evaluated_at INTEGER NOT NULL,
    record       TEXT NOT NULL
);
INSERT INTO decision_records_v17 (id, subject_id, version_id, evaluated_at, record)
SELECT r.id, r.subject_id, v.id, r.evaluated_at, r.record
FROM decision_records r JOIN rule_set_versions v ON v.version = r.rule_set_version ORDER BY r.id;
DROP TABLE decision_records;
ALTER TABLE decision_records_v17 RENAME TO decision_records;
CREATE INDEX decision_records_time ON decision_records (evaluated_at);

CREATE TABLE color_changes_v17 (
    id         INTEGER PRIMARY KEY,
    subject_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    from_color TEXT,
    to_color   TEXT NOT NULL,
    version_id INTEGER NOT NULL           -- rule_set_versions.id
);
INSERT INTO color_changes_v17 (id, subject_id, at, from_color, to_color, version_id)
SELECT c.id, c.subject_id, c.at, c.from_color, c.to_color, v.id
FROM color_changes c JOIN rule_set_versions v ON v.version = c.rule_set_version ORDER BY c.id;
DROP TABLE color_changes;
ALTER TABLE color_changes_v17 RENAME TO color_changes;
CREATE INDEX color_changes_subject ON color_changes (subject_id, id);
