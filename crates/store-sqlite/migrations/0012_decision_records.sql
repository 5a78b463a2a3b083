-- Decisions laid out for recoloring a million people at once (issue 4; docs/benchmarks.md).
--
-- Until now each person's last decision was one row holding the full record (reasons in both
-- languages and evidence, ~1.2 KB of JSON) in a rowid table, found through an index on the
-- subject id. Subject ids are random, so the rows of people recolored together lay on
-- unrelated pages: turning a district high-risk (a million people, in subject-id order)
-- rewrote most of the table's pages in every transaction, ~20 KB written per decision.
--
-- Now a decision is two writes that stay local:
-- * `decision_records`: the record as the engine gave it, appended (rowid order is time
--   order), so its pages are written once, in sequence. Superseded records are the history
--   of what was decided and why; retention deletes the ones nothing points at any more.
-- * `decisions`: one small row per person (the color, since when, the next review and the
--   record it rests on), clustered by subject id (WITHOUT ROWID), so people recolored in
--   subject-id order update adjacent rows. The rule-set version lives in the record only
--   (64 characters per person here would double this table); re-marking decisions due after
--   a rule change, which is rare, looks it up there.

CREATE TABLE decision_records (
    id               INTEGER PRIMARY KEY,
    subject_id       TEXT NOT NULL,
    color            TEXT NOT NULL,
    since            INTEGER NOT NULL,
    rule_set_version TEXT NOT NULL,
    next_review_at   INTEGER,
    evaluated_at     INTEGER NOT NULL,
    record           TEXT NOT NULL
);

INSERT INTO decision_records (subject_id, color, since, rule_set_version, next_review_at, evaluated_at, record)
SELECT subject_id, color, since, rule_set_version, next_review_at, evaluated_at, record FROM decisions
ORDER BY evaluated_at, subject_id;
-- Retention's question: which records are older than the retention? (Appended in time order,
-- so this index grows at its end too.)
CREATE INDEX decision_records_time ON decision_records (evaluated_at);

CREATE TABLE decisions_v12 (
    subject_id     TEXT PRIMARY KEY REFERENCES persons (subject_id),
    record_id      INTEGER NOT NULL,
    color          TEXT NOT NULL,
    since          INTEGER NOT NULL,
    next_review_at INTEGER
) WITHOUT ROWID;

INSERT INTO decisions_v12 (subject_id, record_id, color, since, next_review_at)
SELECT subject_id, id, color, since, next_review_at FROM decision_records ORDER BY subject_id;

DROP TABLE decisions;
ALTER TABLE decisions_v12 RENAME TO decisions;
-- The scheduler's question: who is due for review?
CREATE INDEX decisions_next_review ON decisions (next_review_at) WHERE next_review_at IS NOT NULL;

-- Recoloring reads the keys of a million people (the subject id, the blind indexes their
-- facts are filed under, the registration time), and finds who stayed in a region by the
-- phone's blind index. A person's row also holds the sealed ID number, name and phone, ten
-- times the bytes, each row on a page of its own among gigabytes: these two covering indexes
-- answer both questions without the rows (about 180 bytes a person; docs/benchmarks.md).
CREATE INDEX persons_keys ON persons (subject_id, id_index, phone_index, created_at);
CREATE INDEX persons_phone_subject ON persons (phone_index, subject_id);
